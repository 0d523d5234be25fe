//! The guard's vocabulary: channels, verdicts, reasons, findings and the screening result.
//!
//! PC-CONF-1: a [`Screening`] says whether an outbound SMS or ordinary e-mail may be sent
//! (`allow`), needs a person to confirm it with a logged reason (`review`), or must not be sent
//! (`block`), and shows each finding with its reason, byte span and a short explanation in
//! Norwegian bokmål and English. The verdict is the strongest verdict among the findings'
//! reasons, so the whole message counts.

use serde::{Deserialize, Serialize};
use std::fmt;

/// The channel a message goes out on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Channel {
    /// SMS.
    Sms,
    /// Ordinary e-mail, not end-to-end encrypted.
    Email,
}

impl fmt::Display for Channel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Channel::Sms => "sms",
            Channel::Email => "email",
        })
    }
}

/// What may happen to a message. Ordered: `Allow < Review < Block`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Verdict {
    /// The message holds only content the guide permits.
    Allow,
    /// A person must confirm the message, with a logged reason, before it is sent.
    Review,
    /// The message must not be sent over this channel.
    Block,
}

impl Verdict {
    /// All verdicts, weakest first.
    pub const ALL: [Verdict; 3] = [Verdict::Allow, Verdict::Review, Verdict::Block];

    /// The kebab-case name used in JSON.
    pub fn as_str(self) -> &'static str {
        match self {
            Verdict::Allow => "allow",
            Verdict::Review => "review",
            Verdict::Block => "block",
        }
    }
}

impl fmt::Display for Verdict {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Why a part of a message matters. The first six are the corpus's reasons; the last two are the
/// guard's own and need the organisation's [`Context`](crate::Context) to fire.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Reason {
    /// A diagnosis, symptom, condition, pregnancy, health object or the content of a test
    /// result, in words or as an ICD-10 or ICPC-2 code. Block.
    HealthInfo,
    /// A named medicine or substance, an ATC code, a dose or dosing, or what a prescription
    /// contains. Block.
    Medication,
    /// A unit whose name ties the patient to a condition (guide risk scenario 31). Block.
    RevealingUnit,
    /// A valid national identity number. Block in e-mail, review in SMS.
    NationalId,
    /// The sender's phone number. Review.
    SenderPhone,
    /// A unit that may hint at a condition without being clearly diagnostic. Review.
    GreyUnit,
    /// A link or address at a domain the organisation does not own or trust. Review.
    ForeignLink,
    /// A one-way message without the line saying the patient cannot reply. Review.
    MissingNoReply,
}

impl Reason {
    /// Every reason, in the order findings' reasons are listed.
    pub const ALL: [Reason; 8] = [
        Reason::HealthInfo,
        Reason::Medication,
        Reason::RevealingUnit,
        Reason::NationalId,
        Reason::SenderPhone,
        Reason::GreyUnit,
        Reason::ForeignLink,
        Reason::MissingNoReply,
    ];

    /// The kebab-case code used in JSON and in the corpus.
    pub fn as_str(self) -> &'static str {
        match self {
            Reason::HealthInfo => "health-info",
            Reason::Medication => "medication",
            Reason::RevealingUnit => "revealing-unit",
            Reason::NationalId => "national-id",
            Reason::SenderPhone => "sender-phone",
            Reason::GreyUnit => "grey-unit",
            Reason::ForeignLink => "foreign-link",
            Reason::MissingNoReply => "missing-no-reply",
        }
    }

    /// The verdict this reason gives on a channel.
    ///
    /// PC-CONF-1 and guide risk scenarios 3, 9 and 31: health data, prescriptions and revealing
    /// units must not be sent; the national identity number must not go by e-mail and should
    /// not go by SMS; the sender's phone number should not be sent.
    pub fn verdict(self, channel: Channel) -> Verdict {
        match self {
            Reason::HealthInfo | Reason::Medication | Reason::RevealingUnit => Verdict::Block,
            Reason::NationalId => match channel {
                Channel::Email => Verdict::Block,
                Channel::Sms => Verdict::Review,
            },
            Reason::SenderPhone
            | Reason::GreyUnit
            | Reason::ForeignLink
            | Reason::MissingNoReply => Verdict::Review,
        }
    }

    fn index(self) -> usize {
        self as usize
    }
}

impl fmt::Display for Reason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One thing the guard found: the reason, the byte span in the screened text (UTF-8 byte
/// offsets, `start..end`) and a short explanation. The explanation never repeats the text.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Finding {
    /// Why the span matters.
    pub reason: Reason,
    /// First byte of the span.
    pub start: usize,
    /// One past the last byte of the span.
    pub end: usize,
    /// The explanation in Norwegian bokmål.
    pub text_nb: &'static str,
    /// The explanation in English.
    pub text_en: &'static str,
}

/// The result of screening one message.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Screening {
    /// The strongest verdict among the findings' reasons; `allow` when there are none.
    pub verdict: Verdict,
    /// The distinct reasons of the findings, in [`Reason::ALL`] order.
    pub reasons: Vec<Reason>,
    /// The findings, ordered by start.
    pub findings: Vec<Finding>,
}

impl Screening {
    /// Builds the screening from findings: sorts them, lists their reasons and takes the
    /// strongest verdict on the channel.
    pub(crate) fn from_findings(channel: Channel, mut findings: Vec<Finding>) -> Self {
        findings.sort_by_key(|f| (f.start, f.end, f.reason));
        let mut seen = [false; Reason::ALL.len()];
        let mut verdict = Verdict::Allow;
        for f in &findings {
            if let Some(s) = seen.get_mut(f.reason.index()) {
                *s = true;
            }
            verdict = verdict.max(f.reason.verdict(channel));
        }
        // A plain loop: most messages have no findings, and then nothing is allocated.
        let mut reasons = Vec::new();
        for (r, s) in Reason::ALL.iter().zip(seen) {
            if s {
                reasons.push(*r);
            }
        }
        Screening {
            verdict,
            reasons,
            findings,
        }
    }

    /// Whether the message may go out without a person confirming it.
    pub fn is_allowed(&self) -> bool {
        self.verdict == Verdict::Allow
    }
}
