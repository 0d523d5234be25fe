//! The hook every sender calls: a message leaves Trygg only as a [`Cleared`] value, and only the
//! guard makes one (PC-CONF-1). `allow` clears at once; `review` gives a [`PendingReview`] that a
//! person must confirm with their id and a reason (both for the audit log); `block` gives the
//! screening back and nothing to send. Senders (the notify crate) take `Cleared`, so no code path
//! can send text that skipped the guard.

use crate::{Channel, Context, Guard, Screening, Verdict};

/// A message the guard has cleared for sending on one channel.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cleared {
    channel: Channel,
    text: String,
    screening: Screening,
    review: Option<(String, String)>,
}

impl Cleared {
    /// The channel it was cleared for.
    pub fn channel(&self) -> Channel {
        self.channel
    }

    /// The text to send.
    pub fn text(&self) -> &str {
        &self.text
    }

    /// The screening it passed.
    pub fn screening(&self) -> &Screening {
        &self.screening
    }

    /// Who confirmed it after review, and why, if it needed review.
    pub fn review(&self) -> Option<(&str, &str)> {
        self.review.as_ref().map(|(a, b)| (a.as_str(), b.as_str()))
    }
}

/// A message held for a person to confirm.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PendingReview {
    channel: Channel,
    text: String,
    screening: Screening,
}

impl PendingReview {
    /// The findings to show the reviewer.
    pub fn screening(&self) -> &Screening {
        &self.screening
    }

    /// A person confirms the message may go: `reviewer` is their opaque id and `reason` a short
    /// reason, both recorded with the message.
    pub fn confirm(self, reviewer: &str, reason: &str) -> Cleared {
        Cleared {
            channel: self.channel,
            text: self.text,
            screening: self.screening,
            review: Some((reviewer.to_owned(), reason.to_owned())),
        }
    }
}

/// Why a message is not cleared.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Held {
    /// Must not be sent at all; rewrite it.
    Blocked(Screening),
    /// May be sent once a person confirms.
    Review(PendingReview),
}

impl Guard {
    /// Screens a message and clears it for sending, or holds it.
    pub fn clear(&self, channel: Channel, text: &str, context: &Context) -> Result<Cleared, Held> {
        let screening = self.screen(channel, text, context);
        match screening.verdict {
            Verdict::Allow => Ok(Cleared {
                channel,
                text: text.to_owned(),
                screening,
                review: None,
            }),
            Verdict::Review => Err(Held::Review(PendingReview {
                channel,
                text: text.to_owned(),
                screening,
            })),
            Verdict::Block => Err(Held::Blocked(screening)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_allowed_or_confirmed_messages_are_cleared() {
        let g = Guard::builtin().unwrap();
        let ctx = Context::default();
        let ok = g
            .clear(Channel::Sms, "Du har time tirsdag 5. mars kl. 14.30.", &ctx)
            .unwrap();
        assert_eq!(ok.review(), None);
        match g.clear(Channel::Sms, "Husk å ta med blodsukkermåleren.", &ctx) {
            Err(Held::Blocked(s)) => assert_eq!(s.verdict, Verdict::Block),
            other => panic!("expected block, got {other:?}"),
        }
        let nid = trygg_core::NationalId::synthetic(3, 4, 56, 100)
            .unwrap()
            .expose();
        match g.clear(Channel::Sms, &format!("Hei! Referanse {nid}."), &ctx) {
            Err(Held::Review(p)) => {
                let c = p.confirm("personnel:1", "patient-asked");
                assert_eq!(c.review(), Some(("personnel:1", "patient-asked")));
            }
            other => panic!("expected review, got {other:?}"),
        }
    }
}
