//! The account lock and the client-address throttle. The rules and their state machines are
//! `trygg_identity::lockout` (sans-IO, guide risk scenario 17, review finding 5), and what ties
//! them to Trygg (the limits from the one settings table, the conversion to and from the
//! store's `login_accounts` row) is `trygg_app::login`'s; both re-exported here.

pub use trygg_app::login::{address_budget, limits, row_of, state_of};
pub use trygg_identity::lockout::*;
