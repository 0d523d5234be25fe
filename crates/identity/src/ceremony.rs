//! The state of WebAuthn ceremonies between `start` and `finish` (and, later, of OIDC logins
//! between the redirect and the callback). The rules: a ceremony's state stays on the server for
//! at most [`CEREMONY_TTL`]; [`Ceremonies::take`] removes it, so each challenge is answered once
//! (a replayed `finish` finds nothing); it is bound to the site origin it started under, and an
//! answer under another origin uses it up without getting it; at most [`MAX_CEREMONIES`] are in
//! flight, so memory stays bounded. What a ceremony holds (`K`) is the caller's: the HTTP edge
//! keeps webauthn-rs's challenge state in it. Time is a parameter; the only effect is drawing a
//! random id per ceremony.

use std::collections::HashMap;
use std::sync::Mutex;

use time::{Duration, OffsetDateTime};
use uuid::Uuid;

use crate::origin::SiteOrigin;

/// How long a ceremony may take between start and finish.
pub const CEREMONY_TTL: Duration = Duration::minutes(5);
/// The most ceremonies in flight at once (a bound on memory).
pub const MAX_CEREMONIES: usize = 10_000;

/// Why a ceremony could not be started.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum CeremonyError {
    /// [`MAX_CEREMONIES`] are in flight and none has expired.
    #[error("too many logins in progress")]
    Full,
}

/// One ceremony's server-side state.
struct Pending<K> {
    expires: OffsetDateTime,
    origin: SiteOrigin,
    kind: K,
}

/// The ceremonies in flight, by id (per process).
pub struct Ceremonies<K> {
    map: Mutex<HashMap<Uuid, Pending<K>>>,
}

impl<K> Default for Ceremonies<K> {
    fn default() -> Self {
        Self {
            map: Mutex::new(HashMap::new()),
        }
    }
}

impl<K> std::fmt::Debug for Ceremonies<K> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Ceremonies(..)")
    }
}

impl<K> Ceremonies<K> {
    fn with<R>(&self, f: impl FnOnce(&mut HashMap<Uuid, Pending<K>>) -> R) -> R {
        // A poisoned lock only means another request panicked; the map is still consistent.
        let mut map = self.map.lock().unwrap_or_else(|e| e.into_inner());
        f(&mut map)
    }

    /// Keeps a new ceremony's state until `now + CEREMONY_TTL`; returns its id. Expired
    /// ceremonies are dropped first.
    pub fn insert(
        &self,
        origin: SiteOrigin,
        kind: K,
        now: OffsetDateTime,
    ) -> Result<Uuid, CeremonyError> {
        self.with(|map| {
            map.retain(|_, p| p.expires > now);
            if map.len() >= MAX_CEREMONIES {
                return Err(CeremonyError::Full);
            }
            let id = Uuid::new_v4();
            map.insert(
                id,
                Pending {
                    expires: now + CEREMONY_TTL,
                    origin,
                    kind,
                },
            );
            Ok(id)
        })
    }

    /// Takes a ceremony out (single use): its state if it exists, has not expired at `now` and
    /// was started under `origin`. Taken in every case, so a second answer finds nothing.
    pub fn take(&self, id: Uuid, origin: &SiteOrigin, now: OffsetDateTime) -> Option<K> {
        self.with(|map| map.remove(&id))
            .filter(|p| p.expires > now && p.origin == *origin)
            .map(|p| p.kind)
    }

    /// How many ceremonies are kept (expired ones included until the next insert).
    pub fn len(&self) -> usize {
        self.with(|m| m.len())
    }

    /// Whether none is kept.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
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

    #[test]
    fn ceremonies_are_single_use_and_expire() {
        let c = Ceremonies::default();
        let now = t0();
        let id = c.insert(origin(1), "login", now).unwrap();
        assert_eq!(c.take(id, &origin(1), now), Some("login"));
        assert_eq!(c.take(id, &origin(1), now), None, "single use");
        let id = c.insert(origin(1), "login", now).unwrap();
        assert_eq!(
            c.take(id, &origin(1), now + CEREMONY_TTL - Duration::seconds(1)),
            Some("login")
        );
        let id = c.insert(origin(1), "login", now).unwrap();
        assert_eq!(c.take(id, &origin(1), now + CEREMONY_TTL), None, "expired");
    }

    #[test]
    fn a_ceremony_is_bound_to_its_origin_and_used_up_by_a_foreign_one() {
        let c = Ceremonies::default();
        let now = t0();
        let id = c.insert(origin(1), 7u8, now).unwrap();
        assert_eq!(c.take(id, &origin(2), now), None);
        assert_eq!(c.take(id, &origin(1), now), None, "used up");
    }

    #[test]
    fn ceremonies_are_bounded_and_expired_ones_make_room() {
        let c = Ceremonies::default();
        let now = t0();
        for _ in 0..MAX_CEREMONIES {
            c.insert(origin(1), (), now).unwrap();
        }
        assert_eq!(c.insert(origin(1), (), now), Err(CeremonyError::Full));
        assert!(c.insert(origin(1), (), now + CEREMONY_TTL).is_ok());
        assert_eq!(c.len(), 1);
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
