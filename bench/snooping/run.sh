#!/usr/bin/env bash
# The snooping detector (issue #16): a deterministic synthetic hospital day
# (crates/core/examples/snooping_bench.rs: CLINICIANS clinicians, 100 patients each, ENTRIES
# accesses of ordinary work, 20 groups of planted snoopers of eleven kinds, one per rule, each
# with innocent look-alikes) judged by trygg_core::snooping, side by side with two peers on the
# same log: a plain pass (distinct patients per person) for speed, and random sampling with the
# same review budget for finding. Writes "## Snooping detector" of bench/RESULTS.md.
# Usage: CLINICIANS=2000 ENTRIES=2000000 bench/snooping/run.sh
set -euo pipefail
cd "$(dirname "$0")/../.."
CLINICIANS=${CLINICIANS:-2000}
ENTRIES=${ENTRIES:-2000000}
json=$(cargo run -q --release -p trygg-core --example snooping_bench -- "$CLINICIANS" "$ENTRIES" | tail -n 1)
python3 - "$json" "$CLINICIANS" "$ENTRIES" <<'PY'
import json, os, platform, re, sys, datetime
r = json.loads(sys.argv[1])
cpu = next((l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name")), platform.processor())
def num(x):
    return "–" if x is None else f"{x:.2f}"
rows = "\n".join(
    f"| {v['kind']} | {v['reason']} | {'–' if v['planted'] is None else v['planted']} | {num(v['recall'])} | {num(v['precision'])} | {v['cases']} |"
    for v in r["per_kind"]
)
section = f"""## Snooping detector

Command: `CLINICIANS={sys.argv[2]} ENTRIES={sys.argv[3]} bench/snooping/run.sh` ({datetime.date.today().isoformat()}, {os.cpu_count()} cores, {cpu}).
One synthetic hospital day of {r['entries']} access-log entries by {r['clinicians']} clinicians, judged on one core.

| measure | Trygg | peer | ratio |
|---|---|---|---|
| entries per minute (peer: a plain pass counting each person's distinct patients) | {r['entries_per_minute']:.0f} | {r['plain_entries_per_minute']:.0f} | {r['ratio_to_plain']:.2f} |
| planted snoopers found (peer: random sampling of as many entries as there were cases) | {r['snoopers_found']} of {r['snoopers']} | {r['sampling_snoopers_found']} of {r['snoopers']} | – |
| false alarms per 1,000 explained accesses | {r['false_alarms_per_1000_explained']:.3f} | – | – |
| look-alikes with a case | {r['lookalikes_alerting']} of {r['lookalikes']} | – | – |

Explained {r['explained']}, unexplained {r['unexplained']}, cases {r['cases']} (false alarms {r['false_alarms']}).
One planted kind per rule; look-alikes are innocent people like each kind (a surname, an address,
next of kin, a colleague or a protected person in their care; a follow-up after care ended or care
begun again; emergency access noted in time; a search for a new patient with an appointment; night
shifts and last night's on-call; a busy day all in care), and one ordinary access in a hundred is
unexplained. Recall: planted snoopers of the kind found with the rule's reason. Precision: cases
carrying the reason whose person is a planted snooper (of any kind: a relative also shares the
address, a celebrity is also searched for, a spree at 20:00 is outside hours and touches colleagues).
Unexplained has no plant: it is what no rule explains, and never a case alone.

| planted kind | rule | planted | recall | precision | cases with the reason |
|---|---|---|---|---|---|
{rows}
"""
path = "bench/RESULTS.md"
text = open(path).read()
pattern = re.compile(r"^## Snooping detector\n.*?(?=^## |\Z)", re.S | re.M)
text = pattern.sub(section, text) if pattern.search(text) else text.rstrip() + "\n\n" + section
open(path, "w").write(text)
print(section)
PY
