//! Integration tests: one binary (faster to link), each module starting the real server on an
//! ephemeral port with a temporary data directory, or running the real `trygg` binary.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, dead_code)]

mod admin_pages;
mod api;
mod auth;
mod binary;
mod common;
mod compliance;
mod consultation;
mod crash;
mod devices;
mod exit;
mod guard;
mod matrix;
mod messages;
mod notices;
mod oidc;
mod pages;
mod review_access;
mod review_edge;
mod snooping;
mod snooping_facts;
mod tamper;
mod tenants;
