//! Audit events are built by the use cases: see [`trygg_app::audit`]. Re-exported for the login
//! handlers, which build their own events.

pub use trygg_app::audit::*;
