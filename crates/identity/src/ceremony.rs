//! The state of WebAuthn ceremonies between `start` and `finish`, kept by nobody but the client
//! (issue 17; VC-AUTH-3, guide risk scenario 17). `start` seals the ceremony's state (webauthn-rs's
//! challenge state and what the use case needs at `finish`) into a **ceremony token** with
//! AES-256-GCM under a key derived for this purpose alone ([`CeremonyKey`], from the deployment's
//! master key); the AAD binds the token to the RP ID and origin it started under, the kind of
//! ceremony ([`CeremonyKind`]) and its expiry, [`CEREMONY_TTL`] after `start`. `finish` opens it
//! ([`open`]) and refuses an expired, tampered, foreign or mis-kinded one alike. The server holds
//! nothing between the two requests, so no anonymous request can fill its memory (a second
//! review filled a table of 10,000 ceremonies in a second and shut every login out), and a
//! ceremony started on one node finishes on any node with the same keys. Single use is the
//! caller's: the login records the token's id in the organisation's database once the user is
//! known (a replay conflicts), an enrolment uses up its single-use link. Time is a parameter; the
//! only effects are drawing the nonce and the ceremony id.

use aws_lc_rs::aead::{Aad, LessSafeKey, Nonce, UnboundKey, AES_256_GCM, NONCE_LEN};
use base64::Engine as _;
use time::{Duration, OffsetDateTime};
use uuid::Uuid;

use crate::origin::SiteOrigin;

/// How long a ceremony may take between start and finish.
pub const CEREMONY_TTL: Duration = Duration::minutes(5);
/// The longest ceremony token accepted (a bound on work for hostile input).
pub const MAX_TOKEN_LEN: usize = 32 * 1024;
const VERSION: u8 = 1;
const HEADER: usize = 1 + 8 + NONCE_LEN;

/// The kind of ceremony a token was sealed for; a token of one kind never opens as another.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CeremonyKind {
    /// A passkey login (discoverable credential).
    Login,
    /// A passkey registration through an enrolment link.
    Enrol,
}

impl CeremonyKind {
    fn label(self) -> &'static str {
        match self {
            Self::Login => "login",
            Self::Enrol => "enrol",
        }
    }
}

/// Why a ceremony token was refused (all answer the same to the client).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum CeremonyError {
    /// Not a token: bad encoding, too short or too long, unknown version.
    #[error("malformed ceremony token")]
    Malformed,
    /// Its expiry has passed.
    #[error("expired ceremony token")]
    Expired,
    /// It does not open: tampered, sealed under another key, origin or kind.
    #[error("ceremony token does not open")]
    Invalid,
    /// The random number generator or the cipher failed.
    #[error("ceremony token cannot be sealed")]
    Crypto,
}

/// The key ceremony tokens are sealed with (AES-256-GCM), derived for this purpose only; its
/// `Debug` never prints it.
pub struct CeremonyKey(LessSafeKey);

impl std::fmt::Debug for CeremonyKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("CeremonyKey(..)")
    }
}

impl CeremonyKey {
    /// The key from its 32 bytes (the store derives them with HKDF from the master key, info
    /// `trygg:ceremony:v1`).
    pub fn new(bytes: &[u8; 32]) -> Result<Self, CeremonyError> {
        UnboundKey::new(&AES_256_GCM, bytes)
            .map(|k| Self(LessSafeKey::new(k)))
            .map_err(|_| CeremonyError::Crypto)
    }
}

/// A sealed ceremony: the token for the client and the id that makes it single use.
#[derive(Debug, Clone)]
pub struct Sealed {
    /// The token (base64url) the client sends back with `finish`.
    pub token: String,
    /// The ceremony's random id, also inside the sealed state.
    pub id: Uuid,
    /// When the token stops opening.
    pub expires: OffsetDateTime,
}

/// An opened ceremony: its id, expiry and the state sealed at `start`.
#[derive(Debug)]
pub struct Opened {
    /// The ceremony's id (record it to make the token single use).
    pub id: Uuid,
    /// When the token stops opening (a used-id record may be dropped after it).
    pub expires: OffsetDateTime,
    /// The state given to [`seal`].
    pub state: Vec<u8>,
}

fn aad(site: &SiteOrigin, kind: CeremonyKind, expires: i64) -> Vec<u8> {
    format!(
        "trygg:ceremony:v1\0{}\0{}\0{}\0{expires}",
        kind.label(),
        site.rp_id,
        site.origin.as_str()
    )
    .into_bytes()
}

/// Seals `state` into a ceremony token for `site` and `kind`, valid until `now + CEREMONY_TTL`.
pub fn seal(
    key: &CeremonyKey,
    site: &SiteOrigin,
    kind: CeremonyKind,
    state: &[u8],
    now: OffsetDateTime,
) -> Result<Sealed, CeremonyError> {
    let expires = now + CEREMONY_TTL;
    let exp = expires.unix_timestamp();
    let id = Uuid::new_v4();
    let mut nonce = [0u8; NONCE_LEN];
    aws_lc_rs::rand::fill(&mut nonce).map_err(|_| CeremonyError::Crypto)?;
    let mut buf = Vec::with_capacity(16 + state.len() + 16);
    buf.extend_from_slice(id.as_bytes());
    buf.extend_from_slice(state);
    key.0
        .seal_in_place_append_tag(
            Nonce::assume_unique_for_key(nonce),
            Aad::from(aad(site, kind, exp)),
            &mut buf,
        )
        .map_err(|_| CeremonyError::Crypto)?;
    let mut out = Vec::with_capacity(HEADER + buf.len());
    out.push(VERSION);
    out.extend_from_slice(&exp.to_be_bytes());
    out.extend_from_slice(&nonce);
    out.extend_from_slice(&buf);
    Ok(Sealed {
        token: base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(out),
        id,
        expires: OffsetDateTime::from_unix_timestamp(exp).map_err(|_| CeremonyError::Crypto)?,
    })
}

/// Opens a ceremony token for `site` and `kind` at `now`: refused when it is malformed, expired
/// (at or after its expiry), tampered, or sealed under another key, origin or kind.
pub fn open(
    key: &CeremonyKey,
    site: &SiteOrigin,
    kind: CeremonyKind,
    token: &str,
    now: OffsetDateTime,
) -> Result<Opened, CeremonyError> {
    if token.len() > MAX_TOKEN_LEN {
        return Err(CeremonyError::Malformed);
    }
    let raw = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(token)
        .map_err(|_| CeremonyError::Malformed)?;
    if raw.len() < HEADER + 16 + 16 || raw.first() != Some(&VERSION) {
        return Err(CeremonyError::Malformed);
    }
    let (head, body) = raw.split_at(HEADER);
    let mut exp_bytes = [0u8; 8];
    exp_bytes.copy_from_slice(&head[1..9]);
    let exp = i64::from_be_bytes(exp_bytes);
    if now.unix_timestamp() >= exp {
        return Err(CeremonyError::Expired);
    }
    let expires = OffsetDateTime::from_unix_timestamp(exp).map_err(|_| CeremonyError::Malformed)?;
    let nonce =
        Nonce::try_assume_unique_for_key(&head[9..HEADER]).map_err(|_| CeremonyError::Malformed)?;
    let mut buf = body.to_vec();
    let plain = key
        .0
        .open_in_place(nonce, Aad::from(aad(site, kind, exp)), &mut buf)
        .map_err(|_| CeremonyError::Invalid)?;
    if plain.len() < 16 {
        return Err(CeremonyError::Invalid);
    }
    let (id, state) = plain.split_at(16);
    let id = Uuid::from_slice(id).map_err(|_| CeremonyError::Invalid)?;
    Ok(Opened {
        id,
        expires,
        state: state.to_vec(),
    })
}

/// Asks the authenticator for a discoverable credential with user verification, so passkeys are
/// found without a user name and are two factors in one (VC-AUTH-3): sets
/// `publicKey.authenticatorSelection` in registration options.
pub fn require_resident_key(options: &mut serde_json::Value) {
    if let Some(sel) = options
        .get_mut("publicKey")
        .and_then(|p| p.as_object_mut())
        .map(|p| {
            p.entry("authenticatorSelection")
                .or_insert_with(|| serde_json::json!({}))
        })
        .and_then(|s| s.as_object_mut())
    {
        sel.insert("residentKey".into(), "required".into());
        sel.insert("requireResidentKey".into(), true.into());
        sel.insert("userVerification".into(), "required".into());
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use webauthn_rs::prelude::Url;

    fn origin(port: u16) -> SiteOrigin {
        SiteOrigin {
            origin: Url::parse(&format!("http://localhost:{port}")).unwrap(),
            rp_id: "localhost".into(),
        }
    }

    fn t0() -> OffsetDateTime {
        OffsetDateTime::UNIX_EPOCH + Duration::days(20000)
    }

    fn key(b: u8) -> CeremonyKey {
        CeremonyKey::new(&[b; 32]).unwrap()
    }

    #[test]
    fn a_token_opens_once_sealed_until_it_expires() {
        let k = key(1);
        let s = seal(&k, &origin(1), CeremonyKind::Login, b"state", t0()).unwrap();
        let o = open(&k, &origin(1), CeremonyKind::Login, &s.token, t0()).unwrap();
        assert_eq!((o.id, o.state.as_slice()), (s.id, &b"state"[..]));
        assert_eq!(o.expires, t0() + CEREMONY_TTL);
        let late = t0() + CEREMONY_TTL - Duration::seconds(1);
        assert!(open(&k, &origin(1), CeremonyKind::Login, &s.token, late).is_ok());
        assert_eq!(
            open(
                &k,
                &origin(1),
                CeremonyKind::Login,
                &s.token,
                t0() + CEREMONY_TTL
            )
            .unwrap_err(),
            CeremonyError::Expired
        );
    }

    #[test]
    fn a_token_is_bound_to_its_key_origin_and_kind() {
        let k = key(1);
        let s = seal(&k, &origin(1), CeremonyKind::Login, b"x", t0()).unwrap();
        let bad = |k: &CeremonyKey, o: &SiteOrigin, kind| open(k, o, kind, &s.token, t0());
        assert_eq!(
            bad(&key(2), &origin(1), CeremonyKind::Login).unwrap_err(),
            CeremonyError::Invalid
        );
        assert_eq!(
            bad(&k, &origin(2), CeremonyKind::Login).unwrap_err(),
            CeremonyError::Invalid
        );
        assert_eq!(
            bad(&k, &origin(1), CeremonyKind::Enrol).unwrap_err(),
            CeremonyError::Invalid
        );
    }

    #[test]
    fn a_tampered_token_is_refused() {
        let k = key(1);
        let s = seal(&k, &origin(1), CeremonyKind::Enrol, b"state", t0()).unwrap();
        let raw = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(&s.token)
            .unwrap();
        for i in 0..raw.len() {
            let mut r = raw.clone();
            r[i] ^= 1;
            let t = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(r);
            assert!(
                open(&k, &origin(1), CeremonyKind::Enrol, &t, t0()).is_err(),
                "byte {i}"
            );
        }
        for t in ["", "a", "!!!", &"A".repeat(MAX_TOKEN_LEN + 1)] {
            assert_eq!(
                open(&k, &origin(1), CeremonyKind::Enrol, t, t0()).unwrap_err(),
                CeremonyError::Malformed
            );
        }
    }

    #[test]
    fn registration_asks_for_a_discoverable_credential() {
        let mut o = serde_json::json!({"publicKey": {"authenticatorSelection": {"residentKey": "discouraged"}}});
        require_resident_key(&mut o);
        let sel = &o["publicKey"]["authenticatorSelection"];
        assert_eq!(sel["residentKey"], "required");
        assert_eq!(sel["requireResidentKey"], true);
        assert_eq!(sel["userVerification"], "required");
        let mut bare = serde_json::json!({"publicKey": {}});
        require_resident_key(&mut bare);
        assert_eq!(
            bare["publicKey"]["authenticatorSelection"]["residentKey"],
            "required"
        );
    }
}
