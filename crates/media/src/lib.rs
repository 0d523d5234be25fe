//! Trygg's media server: a selective forwarding unit (SFU) on str0m that forwards the media of a
//! consultation's admitted participants to each other without being able to read it.
//!
//! The browsers encrypt every frame end to end before it leaves them (VC-ENC-2; the keys are
//! agreed between the browsers and never reach the server), and the SFU forwards the
//! encrypted frames inside SRTP (VC-ENC-1), writing nothing to disk (VC-STORE-1). The crate is
//! built in str0m's sans-IO style: [`route`] decides who receives what (pure), [`sfu`] holds
//! the str0m sessions and is fed datagrams and time, and [`driver`] owns the UDP socket and the
//! thread. [`turn`] issues the time-limited TURN credentials for coturn.

pub mod codec;
pub mod driver;
pub mod metrics;
pub mod route;
pub mod sfu;
pub mod turn;

pub use driver::{MediaServer, RoomSignal, StartError};
pub use metrics::Metrics;
pub use route::RoomKey;
pub use sfu::{MediaError, Member, Signal};
