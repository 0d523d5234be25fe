//! Trygg's HTTP edge: the axum application (API, pages, login), its route table and layers, and
//! the listener. This is the only crate that knows HTTP. Handlers extract a request, call a use
//! case of `trygg-app` with the state's clock, and map the answer; the binary (`trygg`) puts the
//! application together and runs it.

pub mod access;
pub mod admin;
pub mod api;
pub mod app;
pub mod auth;
pub mod client_addr;
pub mod compliance_pages;
pub mod device_pages;
pub use trygg_app::config;
pub mod conn_limit;
pub mod consultation_pages;
pub mod error;
pub mod i18n;
pub mod message_pages;
pub mod metrics;
pub mod my_consultations;
pub mod nav;
pub mod pages;
pub mod portal_messages;
pub mod portal_pages;
pub mod serve;
pub mod signalling;
pub mod snooping_pages;
