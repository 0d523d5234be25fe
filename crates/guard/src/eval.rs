//! Evaluation against a labelled corpus (the format of `crates/guard/corpus/guard-dev.jsonl`).
//!
//! [`parse_jsonl`] reads JSON Lines of `{"id","channel","text","verdict","reasons"}` and checks
//! each line (an error names the line); [`evaluate`] screens every message and compares:
//! precision and recall per verdict and per reason, exact-verdict accuracy, how many `block` or
//! `review` messages were judged `allow` (misses, the number that must be zero) and the share of
//! `allow` messages that were flagged. [`Report`] prints as a table (`Display`) and serialises to
//! JSON. Reports hold message ids and counts, never message text.

use crate::{Channel, Context, Guard, Reason, Verdict};
use serde::{Deserialize, Serialize};
use std::fmt;

/// One labelled message.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LabelledMessage {
    /// The message id, e.g. `dev-001`.
    pub id: String,
    /// The channel.
    pub channel: Channel,
    /// The body (e-mails may start with `Emne: …`).
    pub text: String,
    /// The expected verdict.
    pub verdict: Verdict,
    /// Every reason that applies; empty exactly when the verdict is `allow`.
    pub reasons: Vec<Reason>,
}

/// An error in a labelled corpus.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EvalError {
    /// A line is not a valid labelled message.
    #[error("line {line}: {message}")]
    Json {
        /// The 1-based line number.
        line: usize,
        /// What the JSON parser said.
        message: String,
    },
    /// The reasons do not fit the verdict (empty exactly when `allow`, and the verdict the
    /// strongest of the reasons).
    #[error("line {line}: verdict {verdict} does not fit reasons [{reasons}]")]
    Inconsistent {
        /// The 1-based line number.
        line: usize,
        /// The labelled verdict.
        verdict: Verdict,
        /// The labelled reasons, comma-separated.
        reasons: String,
    },
    /// Two lines have the same id.
    #[error("line {line}: duplicate id {id}")]
    DuplicateId {
        /// The 1-based line number.
        line: usize,
        /// The id.
        id: String,
    },
    /// The corpus has no message.
    #[error("the corpus has no message")]
    Empty,
}

/// Parses a JSON Lines corpus. Blank lines are skipped.
pub fn parse_jsonl(text: &str) -> Result<Vec<LabelledMessage>, EvalError> {
    let mut out: Vec<LabelledMessage> = Vec::new();
    let mut ids = std::collections::HashSet::new();
    for (i, line) in text.lines().enumerate() {
        let line_no = i + 1;
        if line.trim().is_empty() {
            continue;
        }
        let m: LabelledMessage = serde_json::from_str(line).map_err(|e| EvalError::Json {
            line: line_no,
            message: e.to_string(),
        })?;
        let strongest = m
            .reasons
            .iter()
            .map(|r| r.verdict(m.channel))
            .max()
            .unwrap_or(Verdict::Allow);
        if strongest != m.verdict {
            return Err(EvalError::Inconsistent {
                line: line_no,
                verdict: m.verdict,
                reasons: m
                    .reasons
                    .iter()
                    .map(|r| r.as_str())
                    .collect::<Vec<_>>()
                    .join(","),
            });
        }
        if !ids.insert(m.id.clone()) {
            return Err(EvalError::DuplicateId {
                line: line_no,
                id: m.id,
            });
        }
        out.push(m);
    }
    if out.is_empty() {
        return Err(EvalError::Empty);
    }
    Ok(out)
}

/// Precision and recall for one class.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct ClassScore {
    /// Predicted and labelled.
    pub true_positives: usize,
    /// Predicted, not labelled.
    pub false_positives: usize,
    /// Labelled, not predicted.
    pub false_negatives: usize,
    /// `tp / (tp + fp)`; 1.0 when nothing was predicted.
    pub precision: f64,
    /// `tp / (tp + fn)`; 1.0 when nothing was labelled.
    pub recall: f64,
}

impl ClassScore {
    fn new(tp: usize, fp: usize, fn_: usize) -> Self {
        let ratio = |a: usize, b: usize| if b == 0 { 1.0 } else { a as f64 / b as f64 };
        ClassScore {
            true_positives: tp,
            false_positives: fp,
            false_negatives: fn_,
            precision: ratio(tp, tp + fp),
            recall: ratio(tp, tp + fn_),
        }
    }
}

/// The outcome for one message that was judged differently from its label.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Mismatch {
    /// The message id.
    pub id: String,
    /// The labelled verdict.
    pub expected: Verdict,
    /// The guard's verdict.
    pub actual: Verdict,
    /// The labelled reasons.
    pub expected_reasons: Vec<Reason>,
    /// The guard's reasons.
    pub actual_reasons: Vec<Reason>,
}

/// The evaluation report.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Report {
    /// Messages evaluated.
    pub messages: usize,
    /// Messages whose verdict was exactly right.
    pub exact: usize,
    /// `exact / messages`.
    pub accuracy: f64,
    /// `block` or `review` messages judged `allow`.
    pub missed: usize,
    /// Labelled `allow` messages.
    pub allow_messages: usize,
    /// Labelled `allow` messages judged `review` or `block`.
    pub allow_flagged: usize,
    /// `allow_flagged / allow_messages` (0 when there are none).
    pub allow_flag_rate: f64,
    /// Per verdict, in [`Verdict::ALL`] order.
    pub per_verdict: Vec<(Verdict, ClassScore)>,
    /// Per reason that was labelled or predicted, in [`Reason::ALL`] order.
    pub per_reason: Vec<(Reason, ClassScore)>,
    /// Messages whose verdict or reasons differ from the label.
    pub mismatches: Vec<Mismatch>,
}

/// Screens every message with an empty [`Context`] and compares with the labels.
pub fn evaluate(guard: &Guard, messages: &[LabelledMessage]) -> Report {
    let ctx = Context::default();
    let mut exact = 0;
    let mut missed = 0;
    let mut allow_messages = 0;
    let mut allow_flagged = 0;
    let mut verdict_counts = [(0usize, 0usize, 0usize); 3];
    let mut reason_counts = [(0usize, 0usize, 0usize); Reason::ALL.len()];
    let mut mismatches = Vec::new();
    for m in messages {
        let s = guard.screen(m.channel, &m.text, &ctx);
        if s.verdict == m.verdict {
            exact += 1;
        }
        if m.verdict != Verdict::Allow && s.verdict == Verdict::Allow {
            missed += 1;
        }
        if m.verdict == Verdict::Allow {
            allow_messages += 1;
            if s.verdict != Verdict::Allow {
                allow_flagged += 1;
            }
        }
        for (v, c) in Verdict::ALL.iter().zip(verdict_counts.iter_mut()) {
            tally(c, s.verdict == *v, m.verdict == *v);
        }
        for (r, c) in Reason::ALL.iter().zip(reason_counts.iter_mut()) {
            tally(c, s.reasons.contains(r), m.reasons.contains(r));
        }
        let mut expected_reasons = m.reasons.clone();
        expected_reasons.sort();
        expected_reasons.dedup();
        if s.verdict != m.verdict || s.reasons != expected_reasons {
            mismatches.push(Mismatch {
                id: m.id.clone(),
                expected: m.verdict,
                actual: s.verdict,
                expected_reasons,
                actual_reasons: s.reasons,
            });
        }
    }
    let n = messages.len();
    Report {
        messages: n,
        exact,
        accuracy: if n == 0 { 0.0 } else { exact as f64 / n as f64 },
        missed,
        allow_messages,
        allow_flagged,
        allow_flag_rate: if allow_messages == 0 {
            0.0
        } else {
            allow_flagged as f64 / allow_messages as f64
        },
        per_verdict: Verdict::ALL
            .iter()
            .zip(verdict_counts)
            .map(|(v, (tp, fp, fn_))| (*v, ClassScore::new(tp, fp, fn_)))
            .collect(),
        per_reason: Reason::ALL
            .iter()
            .zip(reason_counts)
            .filter(|(_, (tp, fp, fn_))| tp + fp + fn_ > 0)
            .map(|(r, (tp, fp, fn_))| (*r, ClassScore::new(tp, fp, fn_)))
            .collect(),
        mismatches,
    }
}

fn tally(c: &mut (usize, usize, usize), predicted: bool, labelled: bool) {
    match (predicted, labelled) {
        (true, true) => c.0 += 1,
        (true, false) => c.1 += 1,
        (false, true) => c.2 += 1,
        (false, false) => {}
    }
}

impl fmt::Display for Report {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "messages {}  exact verdict {}/{} ({:.1} %)  missed (block/review judged allow) {}  allow flagged {}/{} ({:.1} %)",
            self.messages,
            self.exact,
            self.messages,
            100.0 * self.accuracy,
            self.missed,
            self.allow_flagged,
            self.allow_messages,
            100.0 * self.allow_flag_rate
        )?;
        writeln!(f)?;
        writeln!(
            f,
            "{:<18} {:>4} {:>4} {:>4} {:>9} {:>7}",
            "class", "tp", "fp", "fn", "precision", "recall"
        )?;
        let rows = self
            .per_verdict
            .iter()
            .map(|(v, s)| (format!("verdict {v}"), s))
            .chain(self.per_reason.iter().map(|(r, s)| (r.to_string(), s)));
        for (name, s) in rows {
            writeln!(
                f,
                "{:<18} {:>4} {:>4} {:>4} {:>9.3} {:>7.3}",
                name, s.true_positives, s.false_positives, s.false_negatives, s.precision, s.recall
            )?;
        }
        if !self.mismatches.is_empty() {
            writeln!(f)?;
            writeln!(f, "mismatches:")?;
            for m in &self.mismatches {
                let list =
                    |rs: &[Reason]| rs.iter().map(|r| r.as_str()).collect::<Vec<_>>().join(",");
                writeln!(
                    f,
                    "  {:<10} expected {:<6} [{}]  got {:<6} [{}]",
                    m.id,
                    m.expected,
                    list(&m.expected_reasons),
                    m.actual,
                    list(&m.actual_reasons)
                )?;
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_errors_name_the_line() {
        let ok = r#"{"id":"a","channel":"sms","text":"Hei","verdict":"allow","reasons":[]}"#;
        let bad_json = format!("{ok}\n\n{{\"id\":1}}\n");
        match parse_jsonl(&bad_json) {
            Err(EvalError::Json { line: 3, .. }) => {}
            other => panic!("unexpected {other:?}"),
        }
        let incons =
            r#"{"id":"b","channel":"sms","text":"x","verdict":"block","reasons":["sender-phone"]}"#;
        match parse_jsonl(incons) {
            Err(EvalError::Inconsistent { line: 1, .. }) => {}
            other => panic!("unexpected {other:?}"),
        }
        let unknown = r#"{"id":"b","channel":"fax","text":"x","verdict":"allow","reasons":[]}"#;
        assert!(matches!(
            parse_jsonl(unknown),
            Err(EvalError::Json { line: 1, .. })
        ));
        assert_eq!(
            parse_jsonl(&format!("{ok}\n{ok}")),
            Err(EvalError::DuplicateId {
                line: 2,
                id: "a".into()
            })
        );
        assert_eq!(parse_jsonl("\n"), Err(EvalError::Empty));
    }

    #[test]
    fn report_counts_misses_and_flags() {
        let guard = Guard::builtin().unwrap();
        let corpus = parse_jsonl(concat!(
            r#"{"id":"a","channel":"sms","text":"Du har time tirsdag kl. 10.00.","verdict":"allow","reasons":[]}"#, "\n",
            r#"{"id":"b","channel":"sms","text":"Husk blodsukkermåleren.","verdict":"block","reasons":["health-info"]}"#, "\n",
            r#"{"id":"c","channel":"sms","text":"Husk timen din.","verdict":"block","reasons":["health-info"]}"#, "\n",
            r#"{"id":"d","channel":"email","text":"Emne: Hei\n\nDiagnose F32.1.","verdict":"allow","reasons":[]}"#, "\n",
        ))
        .unwrap();
        let r = evaluate(&guard, &corpus);
        assert_eq!(r.messages, 4);
        assert_eq!(r.exact, 2);
        assert_eq!(r.missed, 1);
        assert_eq!(r.allow_messages, 2);
        assert_eq!(r.allow_flagged, 1);
        let health = r
            .per_reason
            .iter()
            .find(|(x, _)| *x == Reason::HealthInfo)
            .unwrap()
            .1;
        assert_eq!(
            (
                health.true_positives,
                health.false_positives,
                health.false_negatives
            ),
            (1, 1, 1)
        );
        let json = serde_json::to_value(&r).unwrap();
        assert_eq!(json["missed"], 1);
        let table = r.to_string();
        assert!(table.contains("exact verdict 2/4"), "{table}");
        assert!(table.contains("health-info"));
    }
}
