#!/usr/bin/env bash
# A thousand organisations on one node (issue #18): start-up time, memory and file descriptors
# after start and after one request to every organisation, and the first request's latency to a
# cold (closed) organisation against a warm one, with 1,000 and 10,000 organisations created by
# a script (bench/tenants/tenants.py, through the operator API).
# Peer, side by side in the same run: the binary from before open-on-use (BEFORE_BIN, default
# a build of main at 8368d1e in /work/before-target), which opened every organisation at start;
# it runs at 1,000 organisations only (at 10,000 it would need about 50,000 descriptors).
# Both are debug builds unless AFTER_BIN/BEFORE_BIN say otherwise. Targets (issue #18): start-up
# under 1 s and under 100 MB at 10,000; descriptors never above the bound plus a constant; a
# cold organisation's first request p99 under 50 ms.
# Writes the section "## Organisations on one node" of bench/RESULTS.md.
# Usage: bench/tenants/run.sh   (from the repository root; SIZES="1000 10000" by default)
set -euo pipefail
cd "$(dirname "$0")/../.."
AFTER_BIN=${AFTER_BIN:-target/debug/trygg}
BEFORE_BIN=${BEFORE_BIN:-/work/before-target/debug/trygg}
SIZES=${SIZES:-"1000 10000"}
[ -x "$AFTER_BIN" ] || cargo build -q --bin trygg
if [ ! -x "$BEFORE_BIN" ]; then
  echo "no peer binary at $BEFORE_BIN: the 'before' rows are left out. Build it with" >&2
  echo "  git worktree add ../before 8368d1e && (cd ../before && CARGO_TARGET_DIR=/work/before-target cargo build --bin trygg)" >&2
fi
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
results="$work/results.jsonl"
: >"$results"
for n in $SIZES; do
  python3 bench/tenants/tenants.py create "$AFTER_BIN" "$work/after-$n" "$n" >"$work/create-after-$n.json"
  python3 bench/tenants/tenants.py measure "$AFTER_BIN" "$work/after-$n" "$n" |
    python3 -c 'import json,sys; v=json.load(sys.stdin); v["who"]="after"; print(json.dumps(v))' >>"$results"
  rm -rf "$work/after-$n"
  if [ "$n" -le 1000 ] && [ -x "$BEFORE_BIN" ]; then
    python3 bench/tenants/tenants.py create "$BEFORE_BIN" "$work/before-$n" "$n" >"$work/create-before-$n.json"
    python3 bench/tenants/tenants.py measure "$BEFORE_BIN" "$work/before-$n" "$n" |
      python3 -c 'import json,sys; v=json.load(sys.stdin); v["who"]="before"; print(json.dumps(v))' >>"$results"
    rm -rf "$work/before-$n"
  fi
done
python3 - "$results" "$AFTER_BIN" "$BEFORE_BIN" "$work" <<'PY'
import datetime, json, os, platform, sys
results, ab, bb, work = sys.argv[1:]
rows = [json.loads(l) for l in open(results) if l.strip()]
cpu = next((l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name")), platform.processor())
def created(who, n):
    try:
        return json.load(open(f"{work}/create-{who}-{n}.json"))["seconds"]
    except (OSError, ValueError, KeyError):
        return None
lines = []
for r in rows:
    n, who = r["orgs"], r["who"]
    bound = r.get("max_open")
    lines.append(
        f"| {n:,} | {who} | {r['startup_s']:.2f} | {r['after_start']['rss_mb']:.0f} | "
        f"{r['after_start']['fds']} ({r['after_start']['org_fds']}) | "
        f"{r['settled']['rss_mb']:.0f} / {r['settled']['fds']} ({r['settled']['org_fds']}) | "
        f"{r['after_requests']['rss_mb']:.0f} | {r['peak']['fds']} ({r['peak']['org_fds']}) | "
        f"{bound if bound is not None else 'all'} | "
        f"{r['cold_p50_ms']:.1f} / {r['cold_p99_ms']:.1f} | {r['warm_p50_ms']:.1f} / {r['warm_p99_ms']:.1f} | "
        f"{r['cold_p99_ms'] / r['warm_p99_ms']:.1f} | {r['non_404']} |")
def pick(who, n):
    return next((r for r in rows if r["who"] == who and r["orgs"] == n), None)
ratios = []
a, b = pick("after", 1000), pick("before", 1000)
if a and b:
    ratios.append(
        f"At 1,000 organisations, after/before: start-up {a['startup_s'] / b['startup_s']:.3f}, "
        f"memory after start {a['after_start']['rss_mb'] / b['after_start']['rss_mb']:.2f}, "
        f"descriptors after start {a['after_start']['fds'] / b['after_start']['fds']:.3f}; "
        f"3 s later (the old binary's jobs had begun opening every organisation) memory "
        f"{a['settled']['rss_mb'] / b['settled']['rss_mb']:.2f} and descriptors "
        f"{a['settled']['fds'] / b['settled']['fds']:.3f}; "
        f"peak descriptors {a['peak']['fds'] / b['peak']['fds']:.3f}.")
big = pick("after", 10000)
if big:
    per_org = 11
    limit = big["max_open"] * per_org if big.get("max_open") else None
    ok = lambda c: "met" if c else "NOT met"
    ratios.append(
        f"Targets at 10,000: start-up under 1 s — {ok(big['startup_s'] < 1)} ({big['startup_s']:.2f} s); "
        f"under 100 MB after start — {ok(big['after_start']['rss_mb'] < 100)} ({big['after_start']['rss_mb']:.0f} MB); "
        f"descriptors on organisations' files never above the bound × 11 — "
        f"{ok(limit is not None and big['peak']['org_fds'] <= limit)} (peak {big['peak']['org_fds']}, bound {limit}); "
        f"cold first request p99 under 50 ms — {ok(big['cold_p99_ms'] < 50)} ({big['cold_p99_ms']:.1f} ms).")
made = ", ".join(f"{n:,} in {created('after', n)} s" for n in sorted({r['orgs'] for r in rows if r['who'] == 'after'}) if created('after', n))
section = f"""## Organisations on one node

Command: `bench/tenants/run.sh` ({datetime.date.today().isoformat()}, {os.cpu_count()} cores, {cpu};
load average {os.getloadavg()[0]:.1f} at the end). Organisations created by the script through
the operator API ({made}), then the server restarted and measured. After start: right after the
"listening" line. Then one request to every organisation in random order, from a client address
of its own (`X-Forwarded-For`): the first finds it closed (cold), an immediate second finds it
open (warm, the peer in the same run). The request is `GET /enrol/<org>.<unknown secret>`, which
opens the organisation's database to look the link up and logs the refusal (a write with its
fsync). Descriptors: all of the process's (in brackets: on organisations' files), peak sampled
every 20 ms. Bound: `store_max_open_orgs` (default 256; each open organisation holds at most 11
descriptors). "before" is `{bb}` (main at 8368d1e: it printed "listening" first, then its
jobs opened every organisation and kept it open); "after" is `{ab}` (issue #18). Debug builds.

| organisations | binary | start-up, s | MB after start | descriptors after start | MB / descriptors 3 s later | MB after requests | peak descriptors | bound | cold p50 / p99, ms | warm p50 / p99, ms | cold/warm p99 | not 404/410 |
|---|---|---|---|---|---|---|---|---|---|---|---|---|
""" + "\n".join(lines) + "\n\n" + "\n\n".join(ratios) + "\n"
sys.path.insert(0, "bench")
from results import write_section
write_section("Organisations on one node", section)
print(section)
PY
