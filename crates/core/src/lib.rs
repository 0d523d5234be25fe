//! Trygg's domain: the types and rules that every other crate shares, with no IO.
//!
//! Nothing here opens a file, a socket or reads the clock: time is a parameter. The crate is the
//! place for rules that must hold wherever data enters the system, such as what a valid national
//! identity number is ([`national_id`]) or what an organisation's short name may look like
//! ([`org`]).
#![deny(missing_docs)]

pub mod access;
pub mod compliance;
pub mod consultation;
pub mod incident;
pub mod lang;
pub mod local_time;
pub mod message;
pub mod national_id;
pub mod net;
pub mod notice;
pub mod operation;
pub mod org;
pub mod person;
pub mod retention;
pub mod signalling;
pub mod snooping;
pub mod words;

pub use lang::Lang;
pub use national_id::{NationalId, NationalIdError, NationalIdKind};
pub use operation::Operation;
pub use org::{OrgSlug, OrgSlugError};
pub use person::{
    BuiltinRole, EmailAddress, EmailAddressError, Employment, PersonName, PersonNameError,
    PhoneNumber, PhoneNumberError,
};
