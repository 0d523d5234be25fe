//! Trygg's use cases. Every operation a person, an operator or an integration can ask for is a
//! function of the caller, the input and the time, `(caller, input, now) -> Result<output,
//! AppError>`, with the access decision and the audit entry inside it. The HTTP API, the admin
//! pages, the command line and the signalling socket call the same functions, so a rule
//! holds wherever the request comes from. Nothing here knows HTTP.
#![deny(missing_docs)]

pub mod access;
pub mod audit;
pub mod auth_events;
pub mod clock;
pub mod compliance;
pub mod config;
pub mod consultations;
pub mod context;
pub mod credentials;
pub mod devices;
pub mod error;
pub mod exit;
pub mod helseid;
pub mod incidents;
pub mod login;
pub mod messages;
pub mod node;
pub mod notices;
pub mod operator;
pub mod orgs;
pub mod patients;
pub mod portal;
pub mod register;
pub mod retention;
pub mod rights;
pub mod rooms;
pub mod screening;
pub mod sessions;
pub mod signed;
pub mod snooping;

pub use access::Caller;
pub use clock::{Clock, ManualClock, SharedClock, ShiftedClock, SystemClock};
pub use context::App;
pub use error::{AppError, ErrorKind};
