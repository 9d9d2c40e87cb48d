//! ipfailover: a two-node IP failover daemon.
//!
//! The crate is arranged in three rings (see `docs/architecture.md`):
//!
//! - `sys`: the only place that calls libc or holds `unsafe` code. Every
//!   public function there is safe, returns `io::Result` and names the
//!   syscall or ioctl it wraps.
//! - pure logic with no I/O: `config` (parsing), `crypto`, `proto` (the
//!   datagram codec and replay defence) and `engine` (the state machine).
//! - `daemon`: threads that move bytes between the sockets, the engine and
//!   the system, and `cli`, the command line.
#![deny(unsafe_code)]

pub mod cli;
pub mod config;
pub mod crypto;
pub mod daemon;
pub mod engine;
pub mod hooks;
pub mod log;
pub mod mail;
pub mod personality;
pub mod proto;
pub mod runner;
#[doc(hidden)]
pub mod sim;
#[allow(unsafe_code)]
pub mod sys;
pub mod timefmt;

/// Version string shown by `ipfailoverd -V`.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");
