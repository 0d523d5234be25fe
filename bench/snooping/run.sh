#!/usr/bin/env bash
# The snooping detector (issue #16): a deterministic synthetic hospital day
# (crates/core/examples/snooping_bench.rs: CLINICIANS clinicians, 100 patients each, ENTRIES
# accesses, 20 groups of planted snoopers of four kinds) judged by trygg_core::snooping, side by
# side with two peers on the same log: a plain pass (distinct patients per person) for speed, and
# random sampling with the same review budget for finding. Writes "## Snooping detector" of
# bench/RESULTS.md. Usage: CLINICIANS=2000 ENTRIES=2000000 bench/snooping/run.sh
set -euo pipefail
cd "$(dirname "$0")/../.."
CLINICIANS=${CLINICIANS:-2000}
ENTRIES=${ENTRIES:-2000000}
json=$(cargo run -q --release -p trygg-core --example snooping_bench -- "$CLINICIANS" "$ENTRIES" | tail -n 1)
python3 - "$json" "$CLINICIANS" "$ENTRIES" <<'PY'
import json, os, platform, re, sys, datetime
r = json.loads(sys.argv[1])
cpu = next((l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name")), platform.processor())
rows = "\n".join(
    f"| {k} | {v['reason']} | {v['planted']} | {v['recall']:.2f} | {v['precision']:.2f} |"
    for k, v in r["per_kind"].items()
)
section = f"""## Snooping detector

Command: `CLINICIANS={sys.argv[2]} ENTRIES={sys.argv[3]} bench/snooping/run.sh` ({datetime.date.today().isoformat()}, {os.cpu_count()} cores, {cpu}).
One synthetic hospital day of {r['entries']} access-log entries by {r['clinicians']} clinicians, judged on one core.

| measure | Trygg | peer | ratio |
|---|---|---|---|
| entries per minute (peer: a plain pass counting each person's distinct patients) | {r['entries_per_minute']:.0f} | {r['plain_entries_per_minute']:.0f} | {r['ratio_to_plain']:.2f} |
| planted snoopers found (peer: random sampling of as many entries as there were cases) | {r['snoopers_found']} of {r['snoopers']} | {r['sampling_snoopers_found']} of {r['snoopers']} | – |
| false alarms per 1,000 explained accesses | {r['false_alarms_per_1000_explained']:.3f} | – | – |

Explained {r['explained']}, unexplained {r['unexplained']}, cases {r['cases']} (false alarms {r['false_alarms']}).

| planted kind | rule | planted | recall | precision |
|---|---|---|---|---|
{rows}
"""
path = "bench/RESULTS.md"
text = open(path).read()
pattern = re.compile(r"^## Snooping detector\n.*?(?=^## |\Z)", re.S | re.M)
text = pattern.sub(section, text) if pattern.search(text) else text.rstrip() + "\n\n" + section
open(path, "w").write(text)
print(section)
PY
