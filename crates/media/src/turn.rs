//! Time-limited TURN credentials for coturn's `use-auth-secret` mode (the "TURN REST API"
//! scheme): the username is the expiry time and an opaque label, the password an HMAC-SHA1 of
//! the username under the secret Trygg shares with coturn. A patient behind a strict NAT relays
//! through coturn with credentials that stop working after `ttl`; no name or id is in them.

use aws_lc_rs::hmac;
use base64::Engine as _;

/// A TURN server and the secret shared with it.
#[derive(Clone)]
pub struct TurnConfig {
    /// The TURN URLs given to browsers (`turn:host:3478?transport=udp`, `turns:...`).
    pub urls: Vec<String>,
    /// coturn's `static-auth-secret`.
    pub secret: String,
    /// How long a credential is valid, in seconds.
    pub ttl: u64,
}

impl std::fmt::Debug for TurnConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TurnConfig")
            .field("urls", &self.urls)
            .field("secret", &"[redacted]")
            .field("ttl", &self.ttl)
            .finish()
    }
}

/// One browser's TURN credential.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct TurnCredential {
    /// The URLs.
    pub urls: Vec<String>,
    /// `<expiry>:<label>`.
    pub username: String,
    /// base64(HMAC-SHA1(secret, username)).
    pub credential: String,
}

/// A credential valid until `now_unix + ttl`, labelled `label` (opaque: never a name or id).
pub fn credential(cfg: &TurnConfig, now_unix: u64, label: &str) -> TurnCredential {
    let username = format!("{}:{label}", now_unix.saturating_add(cfg.ttl));
    let key = hmac::Key::new(hmac::HMAC_SHA1_FOR_LEGACY_USE_ONLY, cfg.secret.as_bytes());
    let tag = hmac::sign(&key, username.as_bytes());
    TurnCredential {
        urls: cfg.urls.clone(),
        username,
        credential: base64::engine::general_purpose::STANDARD.encode(tag.as_ref()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn credentials_follow_the_turn_rest_scheme() {
        let cfg = TurnConfig {
            urls: vec!["turn:127.0.0.1:3478".into()],
            secret: "north".into(),
            ttl: 600,
        };
        let c = credential(&cfg, 1_000, "x1");
        assert_eq!(c.username, "1600:x1");
        // `echo -n 1600:x1 | openssl dgst -sha1 -hmac north -binary | base64`
        assert_eq!(c.credential, "X3wtyIeNhs6uqU9h6381vDTIUnU=");
        assert!(!format!("{cfg:?}").contains("north"));
    }
}
