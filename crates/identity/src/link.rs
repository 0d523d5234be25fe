//! Enrolment link tokens (VC-DEV-2): the token in `/enrol/<token>` is `<org-slug>.<secret>`, the
//! slug naming the organisation's database and the secret (256 random bits, base64url without
//! padding: 43 characters) looked up there by its keyed hash. [`parse_link_token`] is strict, so a
//! malformed token never reaches a database.

use trygg_core::OrgSlug;

/// The length of a link secret: 32 bytes in base64url without padding.
pub const LINK_SECRET_LEN: usize = 43;

/// Splits an enrolment token into the organisation and the secret, or `None` if it is not one.
pub fn parse_link_token(token: &str) -> Option<(OrgSlug, &str)> {
    let (org, secret) = token.split_once('.')?;
    let ok = secret.len() == LINK_SECRET_LEN
        && secret
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
    ok.then_some(())?;
    Some((OrgSlug::parse(org).ok()?, secret))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn link_tokens_are_strict() {
        let s = "A".repeat(42) + "_";
        let t = format!("normland.{s}");
        let (org, secret) = parse_link_token(&t).unwrap();
        assert_eq!(org.as_str(), "normland");
        assert_eq!(secret, s);
        assert!(parse_link_token("normland.short").is_none());
        assert!(parse_link_token(&format!("Normland.{s}")).is_none());
        assert!(parse_link_token(&s).is_none());
        assert!(parse_link_token(&format!("normland.{}", "A".repeat(42) + "=")).is_none());
        assert!(parse_link_token(&format!("normland.{s}A")).is_none());
    }
}
