"""Microsoft Presidio on the confidentiality guard's task, for comparison with trygg-guard.

Presidio (PyPI `presidio-analyzer`) runs with pattern recognizers only and the `NoOpNlpEngine`
(no NLP model): a fødselsnummer PatternRecognizer that checks both mod-11 control digits and the
date part, a Norwegian phone-number pattern, dotted ICD-10 and ATC code patterns, and the same
term lists as trygg-guard (exported by its bench with `--export-terms`) as deny lists. A deny list
matches whole words only, so wildcard terms (`diabetes*`) are used in their base form.

Usage: presidio_bench.py CORPUS.jsonl TERMS.json SECONDS  -> one JSON line on stdout.
"""

import json
import sys
import time

from presidio_analyzer import AnalyzerEngine, Pattern, PatternRecognizer, RecognizerRegistry
from presidio_analyzer.nlp_engine import NoOpNlpEngine

LANG = "nb"
K1 = [3, 7, 6, 1, 8, 9, 4, 5, 2]
K2 = [5, 4, 3, 2, 7, 6, 5, 4, 3, 2]


def control(digits, weights):
    k = 11 - sum(d * w for d, w in zip(digits, weights)) % 11
    return 0 if k == 11 else (None if k == 10 else k)


def date_ok(d):
    day, month = d[0] * 10 + d[1], d[2] * 10 + d[3]
    if day > 40:
        day -= 40
    if 41 <= month <= 52:
        month -= 40
    elif 81 <= month <= 92:
        month -= 80
    return 1 <= month <= 12 and 1 <= day <= 31


class FodselsnummerRecognizer(PatternRecognizer):
    """11 digits (optionally a space after six) with a valid date part and control digits."""

    def __init__(self):
        super().__init__(
            supported_entity="NATIONAL_ID",
            patterns=[Pattern("fnr", r"\b\d{6} ?\d{5}\b", 0.5)],
            supported_language=LANG,
        )

    def validate_result(self, pattern_text):
        d = [int(c) for c in pattern_text if c.isdigit()]
        if len(d) != 11 or not date_ok(d):
            return False
        return control(d[:9], K1) == d[9] and control(d[:10], K2) == d[10]


ENTITY_REASON = {
    "HEALTH": "health-info",
    "ICD10": "health-info",
    "MEDICATION": "medication",
    "ATC": "medication",
    "UNIT": "revealing-unit",
    "NATIONAL_ID": "national-id",
    "PHONE": "sender-phone",
    "GREY_UNIT": "grey-unit",
}
BLOCK = {"health-info", "medication", "revealing-unit"}
REVIEW = {"sender-phone", "grey-unit"}
LIST_ENTITY = {
    "health-info": "HEALTH",
    "health-soft": "HEALTH",
    "medication": "MEDICATION",
    "revealing-unit": "UNIT",
    "grey-unit": "GREY_UNIT",
}


def build(terms):
    registry = RecognizerRegistry(supported_languages=[LANG])
    lists = {}
    for t in terms:
        entity = LIST_ENTITY.get(t["list"])
        if entity:
            lists.setdefault(entity, set()).add(t["term"])
    for entity, words in lists.items():
        registry.add_recognizer(
            PatternRecognizer(
                supported_entity=entity, deny_list=sorted(words), supported_language=LANG
            )
        )
    registry.add_recognizer(FodselsnummerRecognizer())
    registry.add_recognizer(
        PatternRecognizer(
            supported_entity="PHONE",
            patterns=[
                Pattern(
                    "no-phone",
                    r"(?<!\d)(?:\+47 ?|0047 ?)?(?:\d{2} \d{2} \d{2} \d{2}|\d{3} \d{2} \d{3}|\d{8})(?!\d)",
                    0.4,
                )
            ],
            supported_language=LANG,
        )
    )
    registry.add_recognizer(
        PatternRecognizer(
            supported_entity="ICD10",
            patterns=[Pattern("icd10-dotted", r"\b[A-Z]\d\d\.\d{1,2}\b", 0.6)],
            supported_language=LANG,
        )
    )
    registry.add_recognizer(
        PatternRecognizer(
            supported_entity="ATC",
            patterns=[Pattern("atc", r"\b[A-Z]\d\d[A-Z]{2}(?:\d\d)?\b", 0.6)],
            supported_language=LANG,
        )
    )
    nlp = NoOpNlpEngine(models=[{"lang_code": LANG, "model_name": "none"}])
    return AnalyzerEngine(nlp_engine=nlp, registry=registry, supported_languages=[LANG])


def judge(engine, channel, text):
    reasons = set()
    for r in engine.analyze(text=text, language=LANG):
        reason = ENTITY_REASON.get(r.entity_type)
        if reason:
            reasons.add(reason)
    if reasons & BLOCK or ("national-id" in reasons and channel == "email"):
        verdict = "block"
    elif reasons:
        verdict = "review"
    else:
        verdict = "allow"
    return verdict, reasons


def score(tp, fp, fn):
    return {
        "true_positives": tp,
        "false_positives": fp,
        "false_negatives": fn,
        "precision": tp / (tp + fp) if tp + fp else 1.0,
        "recall": tp / (tp + fn) if tp + fn else 1.0,
    }


def evaluate(engine, msgs):
    exact = missed = allow_n = allow_flagged = 0
    verdicts = {v: [0, 0, 0] for v in ("allow", "review", "block")}
    reasons = {}
    for m in msgs:
        v, rs = judge(engine, m["channel"], m["text"])
        exact += v == m["verdict"]
        missed += m["verdict"] != "allow" and v == "allow"
        if m["verdict"] == "allow":
            allow_n += 1
            allow_flagged += v != "allow"
        for name, c in verdicts.items():
            c[0] += v == name and m["verdict"] == name
            c[1] += v == name and m["verdict"] != name
            c[2] += v != name and m["verdict"] == name
        for r in set(m["reasons"]) | rs:
            c = reasons.setdefault(r, [0, 0, 0])
            c[0] += r in rs and r in m["reasons"]
            c[1] += r in rs and r not in m["reasons"]
            c[2] += r not in rs and r in m["reasons"]
    return {
        "messages": len(msgs),
        "exact": exact,
        "accuracy": exact / len(msgs),
        "missed": missed,
        "allow_messages": allow_n,
        "allow_flagged": allow_flagged,
        "allow_flag_rate": allow_flagged / allow_n if allow_n else 0.0,
        "per_verdict": {k: score(*c) for k, c in verdicts.items()},
        "per_reason": {k: score(*c) for k, c in sorted(reasons.items())},
    }


def rate(engine, msgs, seconds):
    for m in msgs[:50]:
        engine.analyze(text=m["text"], language=LANG)
    n = 0
    start = time.perf_counter()
    while time.perf_counter() - start < seconds:
        for m in msgs:
            engine.analyze(text=m["text"], language=LANG)
        n += len(msgs)
    return n / (time.perf_counter() - start)


def main():
    corpus, terms_path, seconds = sys.argv[1], sys.argv[2], float(sys.argv[3])
    with open(corpus, encoding="utf-8") as f:
        msgs = [json.loads(line) for line in f if line.strip()]
    with open(terms_path, encoding="utf-8") as f:
        terms = json.load(f)
    engine = build(terms)
    report = evaluate(engine, msgs)
    sms = [m for m in msgs if m["channel"] == "sms"]
    out = {
        "tool": "presidio-analyzer",
        "messages_per_sec": rate(engine, msgs, seconds),
        "sms_per_sec": rate(engine, sms, seconds),
        "report": report,
    }
    print(json.dumps(out))


if __name__ == "__main__":
    main()
