//! Consultation invitations (issue #10, VC-AUTH-1): one link per participant, bound to that
//! person, unguessable, expiring after the consultation, revocable.
//!
//! The token in `/join/<token>` has the shape of an enrolment link (`<org-slug>.<secret>`, 256
//! random bits in base64url; [`crate::link`]): the slug names the organisation's database, where
//! the secret is looked up by its keyed hash only. Whether a found invitation may be used is
//! [`check`], a pure rule of its stored state and the time. Every refusal — unknown, expired,
//! revoked, consultation over — is the same [`Refused`], so that a link reveals nothing about a
//! consultation it does not open.

use time::{Duration, OffsetDateTime};
use trygg_core::OrgSlug;

/// How long after the planned end of a consultation its invitations stay valid (a consultation
/// may run late).
pub const GRACE_AFTER_END: Duration = Duration::hours(2);

/// Splits an invitation token into the organisation and the secret, or `None` if it is not one
/// (strict, as [`crate::link::parse_link_token`]).
pub fn parse_invitation_token(token: &str) -> Option<(OrgSlug, &str)> {
    crate::link::parse_link_token(token)
}

/// When an invitation to a consultation planned at `start` for `minutes` expires.
pub fn expiry(start: OffsetDateTime, minutes: u32) -> OffsetDateTime {
    start + Duration::minutes(i64::from(minutes)) + GRACE_AFTER_END
}

/// What is stored about an invitation, as far as its validity goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct InvitationState {
    /// When it expires ([`expiry`]).
    pub expires_at: OffsetDateTime,
    /// When it was revoked, if it was.
    pub revoked_at: Option<OffsetDateTime>,
    /// Whether the consultation has ended or was cancelled.
    pub consultation_over: bool,
}

/// The one answer to an invitation that may not be used, whatever the reason.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("this invitation is not valid")]
pub struct Refused;

/// Whether an invitation found by its token may be used at `now`. `None` (no invitation with that
/// token) is refused exactly like an expired or revoked one.
pub fn check(found: Option<InvitationState>, now: OffsetDateTime) -> Result<(), Refused> {
    let state = found.ok_or(Refused)?;
    let revoked = state.revoked_at.is_some_and(|at| at <= now);
    if revoked || state.consultation_over || now >= state.expires_at {
        return Err(Refused);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use time::macros::datetime;

    #[test]
    fn invitations_are_refused_alike_for_every_reason() {
        let start = datetime!(2026-12-07 10:00 UTC);
        let ok = InvitationState {
            expires_at: expiry(start, 30),
            revoked_at: None,
            consultation_over: false,
        };
        assert_eq!(ok.expires_at, datetime!(2026-12-07 12:30 UTC));
        assert_eq!(check(Some(ok), start), Ok(()));
        let refused = [
            (None, start),
            (Some(ok), datetime!(2026-12-07 12:30 UTC)),
            (
                Some(InvitationState {
                    revoked_at: Some(start),
                    ..ok
                }),
                start,
            ),
            (
                Some(InvitationState {
                    consultation_over: true,
                    ..ok
                }),
                start,
            ),
        ];
        for (found, now) in refused {
            assert_eq!(check(found, now), Err(Refused));
        }
        // Refused alike: the message does not say why.
        assert_eq!(Refused.to_string(), "this invitation is not valid");
        let token = format!("normland.{}", "A".repeat(43));
        assert!(parse_invitation_token(&token).is_some());
        assert!(parse_invitation_token("normland.guess").is_none());
    }
}
