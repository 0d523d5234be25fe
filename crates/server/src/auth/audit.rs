//! The audit events of login are built by the use cases: see [`trygg_app::auth_events`]
//! (VC-DEV-2, PC-AUTHN-1, guide risk scenario 17). Re-exported here for the HTTP edge.

pub use trygg_app::auth_events::*;
