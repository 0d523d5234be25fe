//! Trygg's login rules, without HTTP and without a database (in the spirit of Kanidm's
//! `server/lib` and str0m's sans-IO design): the account lock and the client-address throttle
//! ([`lockout`]), the session rules ([`session`]: methods and assurance codes, the idle and
//! absolute timeouts, the CSRF token), the sealed ceremony tokens that carry a WebAuthn ceremony's
//! state between start and finish so that the server keeps none ([`ceremony`]), enrolment link tokens ([`link`]), organisation-owned devices' enrolment codes, keys and signatures ([`device`]), the OpenID Connect relying party's requests and
//! ID-token checks ([`oidc`]: ID-porten, HelseID, a generic provider) and the choice of the
//! WebAuthn relying party and the site's origin ([`origin`]). Every rule takes its state, its settings and `now` as
//! parameters and returns a decision or the new state; the caller (the HTTP edge in
//! `trygg-server`, the OIDC login and the signalling socket) reads the clock, stores the state and
//! writes the audit events. Nothing here reads the clock, a file, a socket or a database; the only
//! effects are drawing ceremony ids and nonces.
#![deny(missing_docs)]

pub mod ceremony;
pub mod device;
pub mod invitation;
pub mod link;
pub mod lockout;
pub mod oidc;
pub mod origin;
pub mod session;

pub use ceremony::{CeremonyError, CeremonyKey, CeremonyKind, CEREMONY_TTL};
pub use lockout::{AccountState, AddressThrottle, Budget, Gate, LoginLimits, Policy};
pub use origin::{OriginError, Site, SiteOrigin};
pub use session::{AuthMethod, Expiry, OidcProvider, SessionTimes, Timeouts};
