#!/usr/bin/env bash
# Audit log benchmark: durable audited commits per second side by side with a plain durable SQLite
# insert of the same bytes (the peer), whole-log verification rate, and inclusion-proof
# verification rate. Writes the section "## Audit log" of bench/RESULTS.md.
# Usage: bench/audit/run.sh   (from the repository root)
set -euo pipefail
cd "$(dirname "$0")/../.."
json=$(cargo bench -q -p trygg-store --bench audit_append 2>/dev/null | tail -n 1)
python3 - "$json" <<'PY'
import json, os, platform, re, subprocess, sys, datetime
r = json.loads(sys.argv[1])
cpu = next((l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name")), platform.processor())
section = f"""## Audit log

Command: `bench/audit/run.sh` ({datetime.date.today().isoformat()}, {os.cpu_count()} cores, {cpu}).
Every commit is durable (SQLite WAL, `synchronous = FULL`). One event per commit, the worst case.

| measure | Trygg | peer: plain SQLite insert | ratio |
|---|---|---|---|
| commits per second | {r['trygg_audited_commits_per_s']:.0f} | {r['peer_plain_commits_per_s']:.0f} | {r['ratio_trygg_to_peer']:.2f} |
| whole-log verification, entries per second | {r['verify_entries_per_s']:.0f} | – | – |
| inclusion proofs verified per second (100,000-leaf tree) | {r['inclusion_proofs_verified_per_s']:.0f} | – | – |

A Trygg commit writes the entry, its tree nodes and a signed checkpoint in the organisation's
database (one fsync), then copies the checkpoint to the control database (no fsync of its own since
issue #8); with one writer every batch is one unit, so this is group commit's worst case (see
"Store throughput" for many writers). Verification checks every checkpoint signature (one per
commit).
"""
path = "bench/RESULTS.md"
text = open(path).read() if os.path.exists(path) else "# Benchmark results\n\nEach section is written by the script it names; numbers are from one run on the machine named.\n"
pattern = re.compile(r"^## Audit log\n.*?(?=^## |\Z)", re.S | re.M)
text = pattern.sub(section, text) if pattern.search(text) else text.rstrip() + "\n\n" + section
open(path, "w").write(text)
print(section)
PY
