"""Writes the "## Confidentiality guard" section of bench/RESULTS.md from the two tools' JSON.

Usage: report.py TRYGG.json PRESIDIO.json RESULTS.md COMMAND
"""

import datetime
import json
import os
import platform
import re
import sys

HEADING = "## Confidentiality guard"


def cpu_model():
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def reasons_table(t, p):
    rows = ["| reason | trygg-guard P | trygg-guard R | Presidio P | Presidio R |", "|---|---|---|---|---|"]
    tr = {r: s for r, s in t["report"]["per_reason"]}
    pr = p["report"]["per_reason"]
    for r in sorted(set(tr) | set(pr)):
        a, b = tr.get(r), pr.get(r)
        fmt = lambda s, k: f"{s[k]:.3f}" if s else "–"
        rows.append(f"| {r} | {fmt(a, 'precision')} | {fmt(a, 'recall')} | {fmt(b, 'precision')} | {fmt(b, 'recall')} |")
    return "\n".join(rows)


def verdict_table(t, p):
    rows = ["| verdict | trygg-guard P | trygg-guard R | Presidio P | Presidio R |", "|---|---|---|---|---|"]
    tv = {v: s for v, s in t["report"]["per_verdict"]}
    for v in ("allow", "review", "block"):
        a, b = tv[v], p["report"]["per_verdict"][v]
        rows.append(f"| {v} | {a['precision']:.3f} | {a['recall']:.3f} | {b['precision']:.3f} | {b['recall']:.3f} |")
    return "\n".join(rows)


def main():
    t = json.load(open(sys.argv[1], encoding="utf-8"))
    p = json.load(open(sys.argv[2], encoding="utf-8"))
    path, command = sys.argv[3], sys.argv[4]
    tr, pr = t["report"], p["report"]
    ratio = t["sms_per_sec"] / p["sms_per_sec"]
    ratio_all = t["messages_per_sec"] / p["messages_per_sec"]
    date = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    section = f"""{HEADING}

Messages screened per second on one core (single thread), trygg-guard (`crates/guard`) against
Microsoft Presidio (`presidio-analyzer`, pattern recognizers only, `NoOpNlpEngine`, a fødselsnummer
PatternRecognizer with mod-11 and date checks, Norwegian phone, ICD-10 and ATC patterns, and
trygg-guard's own term lists as deny lists) on the same texts: the {tr['messages']} messages of the dev
corpus (mean {t['mean_bytes']:.0f} bytes), repeated. trygg-guard's rate is the median of 0.2 s windows
(the best window in brackets; the machine is shared with builds).

| | trygg-guard | Presidio | ratio |
|---|---|---|---|
| SMS per second per core | {t['sms_per_sec']:,.0f} (best {t['sms_per_sec_best']:,.0f}) | {p['sms_per_sec']:,.0f} | {ratio:,.0f}x |
| all messages (SMS and e-mail) per second per core | {t['messages_per_sec']:,.0f} (best {t['messages_per_sec_best']:,.0f}) | {p['messages_per_sec']:,.0f} | {ratio_all:,.0f}x |
| exact verdict on the dev corpus | {tr['exact']}/{tr['messages']} ({100 * tr['accuracy']:.1f} %) | {pr['exact']}/{pr['messages']} ({100 * pr['accuracy']:.1f} %) | |
| block/review judged allow | {tr['missed']} | {pr['missed']} | |
| allow messages flagged | {tr['allow_flagged']}/{tr['allow_messages']} ({100 * tr['allow_flag_rate']:.1f} %) | {pr['allow_flagged']}/{pr['allow_messages']} ({100 * pr['allow_flag_rate']:.1f} %) | |

The cost of Unicode normalisation (issue #9): {t['messages_needing_normalisation']} of the {tr['messages']} dev messages have a
character that normalisation may change (an en dash, a no-break space …) and are screened as a
normalised copy; the others take the fast path (one vectorised scan). With every SMS forced onto
the slow path (its first space replaced by a no-break space):

| | rate per core |
|---|---|
| SMS screened, as written | {t['sms_per_sec']:,.0f} |
| SMS screened, every one normalised first | {t['normalised_sms_per_sec']:,.0f} (best {t['normalised_sms_per_sec_best']:,.0f}) |
| normalisation alone (copy and offset map) | {t['normalise_only_per_sec']:,.0f} |

Precision (P) and recall (R) per verdict:

{verdict_table(t, p)}

Per reason:

{reasons_table(t, p)}

The dev corpus is also what trygg-guard's rules were developed against, so its accuracy here is an
upper bound; its acceptance test (`crates/guard/tests/corpus.rs`) asserts the same numbers.

- Machine: {os.cpu_count()} CPUs (`nproc`), {cpu_model()}, {platform.system()} {platform.release()};
  load average {os.getloadavg()[0]:.1f} when the run ended (other work on the machine lowers the rates)
- Date: {date}
- Command: `{command}`
"""
    text = open(path, encoding="utf-8").read() if os.path.exists(path) else "# Benchmark results\n"
    pattern = re.compile(r"^## Confidentiality guard\n.*?(?=^## |\Z)", re.S | re.M)
    if pattern.search(text):
        text = pattern.sub(section + "\n", text)
    else:
        text = text.rstrip("\n") + "\n\n" + section
    with open(path, "w", encoding="utf-8") as f:
        f.write(text)


if __name__ == "__main__":
    main()
