#!/usr/bin/env bash
# Signed-in read benchmark (issue 17, item 3): requests per second of `GET /api/v1/auth/session`
# (a signed-in request that only reads) against `trygg demo`, before and after "no write per
# signed-in request", run side by side on the same machine with the same load generator
# (bench/sessions/load.mjs: node, keep-alive, CONCURRENCY connections, DURATION seconds each,
# alternating before/after ROUNDS times; the median per binary is reported). No `wrk`/`oha` is
# installed here, so the load tool is this small node script.
# BEFORE: a trygg binary built from the commit before the change (default: /work/main's debug
# build, or set BEFORE_BIN); AFTER: this tree's (default target/debug/trygg, or AFTER_BIN).
# Writes the section "## Signed-in reads" of bench/RESULTS.md.
# Usage: bench/sessions/run.sh   (from the repository root)
set -euo pipefail
cd "$(dirname "$0")/../.."
BEFORE_BIN=${BEFORE_BIN:-/work/main/target/debug/trygg}
AFTER_BIN=${AFTER_BIN:-target/debug/trygg}
DURATION=${DURATION:-10}
CONCURRENCY=${CONCURRENCY:-8}
ROUNDS=${ROUNDS:-3}
[ -x "$AFTER_BIN" ] || cargo build -q --bin trygg
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
for _ in $(seq "$ROUNDS"); do
  node bench/sessions/load.mjs "$BEFORE_BIN" "$DURATION" "$CONCURRENCY" >>"$out/before"
  node bench/sessions/load.mjs "$AFTER_BIN" "$DURATION" "$CONCURRENCY" >>"$out/after"
done
python3 - "$BEFORE_BIN" "$AFTER_BIN" "$DURATION" "$CONCURRENCY" "$out/before" "$out/after" <<'PY'
import json, os, platform, re, subprocess, sys, datetime, statistics
bb, ab, dur, conc, before, after = sys.argv[1:]
parse = lambda p: [json.loads(l) for l in open(p) if l.strip()]
b, a = parse(before), parse(after)
med = lambda rs, k: statistics.median(r[k] for r in rs)
# The before binary's tree: its checkout's commit where this branch started from it.
def rev(p):
    git = lambda *a: subprocess.run(["git", *a], capture_output=True, text=True).stdout.strip()
    head = git("-C", os.path.dirname(os.path.abspath(p)), "rev-parse", "HEAD")
    return git("rev-parse", "--short", git("merge-base", "HEAD", head) or head) or "?"
cpu = next((l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name")), platform.processor())
load = os.getloadavg()[0]
section = f"""## Signed-in reads

Command: `bench/sessions/run.sh` ({datetime.date.today().isoformat()}, {os.cpu_count()} cores, {cpu};
load average {load:.1f} at the end: the machine is shared with builds, so compare the ratio).
`GET /api/v1/auth/session` with one developer-login session, {conc} keep-alive connections,
{dur} s per run, {len(b)} runs per binary alternating; medians. Both binaries are debug builds of
`trygg demo`. Before: `{bb}` (main at {rev(bb)}, last-seen written on every
request). After: `{ab}` (issue 17: last-seen written at most once a minute).
Load tool: `bench/sessions/load.mjs` (node; no `wrk`/`oha` is installed here).

| measure | before | after | ratio |
|---|---|---|---|
| signed-in reads per second | {med(b,'rps'):.0f} | {med(a,'rps'):.0f} | {med(a,'rps')/med(b,'rps'):.2f} |
| p50 latency, ms | {med(b,'p50_ms'):.2f} | {med(a,'p50_ms'):.2f} | |
| p99 latency, ms | {med(b,'p99_ms'):.2f} | {med(a,'p99_ms'):.2f} | |
| non-200 answers | {sum(r['errors'] for r in b)} | {sum(r['errors'] for r in a)} | |
"""
path = "bench/RESULTS.md"
text = open(path).read()
pattern = re.compile(r"^## Signed-in reads\n.*?(?=^## |\Z)", re.S | re.M)
text = pattern.sub(section, text) if pattern.search(text) else text.rstrip() + "\n\n" + section
open(path, "w").write(text)
print(section)
PY
