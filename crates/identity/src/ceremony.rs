//! The state of WebAuthn ceremonies between `start` and `finish` (and, later, of OIDC logins
//! between the redirect and the callback). The rules: a ceremony's state stays on the server for
//! at most [`CEREMONY_TTL`]; [`Ceremonies::take`] removes it, so each challenge is answered once
//! (a replayed `finish` finds nothing); it is bound to the site origin it started under, and an
//! answer under another origin uses it up without getting it; at most [`MAX_CEREMONIES`] are in
//! flight, so memory stays bounded, and at most [`MAX_PER_ADDRESS`] per client address (IPv6 per
//! /64). A new ceremony is never refused: past either bound the oldest one of the same address
//! (or, globally, the oldest of all) makes room. So one address cannot fill the table and lock
//! every login of the instance out (found in a second review); it can only push out its own. What a ceremony holds (`K`) is the caller's: the HTTP edge
//! keeps webauthn-rs's challenge state in it. Time is a parameter; the only effect is drawing a
//! random id per ceremony.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;

use time::{Duration, OffsetDateTime};
use uuid::Uuid;

use crate::lockout::address_key;
use crate::origin::SiteOrigin;

/// How long a ceremony may take between start and finish.
pub const CEREMONY_TTL: Duration = Duration::minutes(5);
/// The most ceremonies in flight at once (a bound on memory).
pub const MAX_CEREMONIES: usize = 10_000;
/// The most ceremonies in flight from one client address (IPv6: one /64): enough for a clinic
/// behind NAT logging in at the start of the day, far below [`MAX_CEREMONIES`].
pub const MAX_PER_ADDRESS: usize = 32;

/// One ceremony's server-side state.
struct Pending<K> {
    expires: OffsetDateTime,
    origin: SiteOrigin,
    owner: Option<IpAddr>,
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

    /// Keeps a new ceremony's state until `now + CEREMONY_TTL` for a client at `address`;
    /// returns its id. Expired ceremonies are dropped first; past [`MAX_PER_ADDRESS`] for the
    /// address, its oldest ceremony goes, and past [`MAX_CEREMONIES`] the oldest of all.
    pub fn insert(
        &self,
        origin: SiteOrigin,
        kind: K,
        address: Option<IpAddr>,
        now: OffsetDateTime,
    ) -> Uuid {
        let owner = address.map(address_key);
        self.with(|map| {
            map.retain(|_, p| p.expires > now);
            if owner.is_some() {
                let mine = || map.iter().filter(|(_, p)| p.owner == owner);
                if mine().count() >= MAX_PER_ADDRESS {
                    if let Some(oldest) = mine().min_by_key(|(_, p)| p.expires).map(|(id, _)| *id) {
                        map.remove(&oldest);
                    }
                }
            }
            if map.len() >= MAX_CEREMONIES {
                if let Some(oldest) = map.iter().min_by_key(|(_, p)| p.expires).map(|(id, _)| *id) {
                    map.remove(&oldest);
                }
            }
            let id = Uuid::new_v4();
            map.insert(
                id,
                Pending {
                    expires: now + CEREMONY_TTL,
                    origin,
                    owner,
                    kind,
                },
            );
            id
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
        let id = c.insert(origin(1), "login", None, now);
        assert_eq!(c.take(id, &origin(1), now), Some("login"));
        assert_eq!(c.take(id, &origin(1), now), None, "single use");
        let id = c.insert(origin(1), "login", None, now);
        assert_eq!(
            c.take(id, &origin(1), now + CEREMONY_TTL - Duration::seconds(1)),
            Some("login")
        );
        let id = c.insert(origin(1), "login", None, now);
        assert_eq!(c.take(id, &origin(1), now + CEREMONY_TTL), None, "expired");
    }

    #[test]
    fn a_ceremony_is_bound_to_its_origin_and_used_up_by_a_foreign_one() {
        let c = Ceremonies::default();
        let now = t0();
        let id = c.insert(origin(1), 7u8, None, now);
        assert_eq!(c.take(id, &origin(2), now), None);
        assert_eq!(c.take(id, &origin(1), now), None, "used up");
    }

    #[test]
    fn ceremonies_are_bounded_and_expired_ones_make_room() {
        let c = Ceremonies::default();
        let now = t0();
        let first = c.insert(origin(1), 0usize, None, now);
        for i in 1..MAX_CEREMONIES {
            c.insert(origin(1), i, None, now + Duration::milliseconds(i as i64));
        }
        assert_eq!(c.len(), MAX_CEREMONIES);
        // Full: the oldest makes room, the newest is kept.
        let last = c.insert(origin(1), MAX_CEREMONIES, None, now + Duration::seconds(20));
        assert_eq!(c.len(), MAX_CEREMONIES);
        assert_eq!(c.take(first, &origin(1), now), None, "the oldest went");
        assert!(c.take(last, &origin(1), now).is_some());
        // Expired ones make room first.
        c.insert(
            origin(1),
            0,
            None,
            now + CEREMONY_TTL + Duration::seconds(30),
        );
        assert_eq!(c.len(), 1);
    }

    #[test]
    fn one_address_cannot_push_out_anyone_elses_login() {
        // Review: 10,000 starts from one address filled the table and every login of the
        // instance answered 503 for five minutes.
        let c = Ceremonies::default();
        let now = t0();
        let clinic: IpAddr = "198.51.100.7".parse().unwrap();
        let mine = c.insert(origin(1), "doctor", Some(clinic), now);
        let attacker: IpAddr = "2001:db8:1:2::1".parse().unwrap();
        for i in 0..(2 * MAX_CEREMONIES) {
            // Other hosts in the attacker's /64 count as the same address.
            let host: IpAddr = format!("2001:db8:1:2::{:x}", i % 1000 + 1).parse().unwrap();
            let a = if i % 2 == 0 { attacker } else { host };
            c.insert(origin(1), "flood", Some(a), now);
        }
        assert!(c.len() <= MAX_PER_ADDRESS + 1, "{}", c.len());
        assert_eq!(c.take(mine, &origin(1), now), Some("doctor"));
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
