//! ipfailover: a two-node IP failover daemon.
//!
//! The crate is arranged in three rings (see `docs/architecture.md`):
//!
//! - `sys`: the only place that calls libc or holds `unsafe` code. Every
//!   public function there is safe, returns `io::Result` and names the
//!   syscall or ioctl it wraps.
//! - pure logic with no I/O: `config` (parsing; it reads only its own
//!   file, and sees the host's addresses through `config::SystemView`),
//!   `crypto`, `proto` (the datagram codec and replay defence) and `engine`
//!   (the state machine).
//! - `daemon`: threads that move bytes between the sockets, the engine and
//!   the system (`daemon/mod.rs` maps each thread to its folder); and the
//!   command lines, `cli` (ipfailoverd's) and `personality` (Apple's
//!   `heartbeatd`, `failoverd`), which parse and hand over to `verbs` (run
//!   the daemon, check with `-n`, or ask it). `preflight` is what `-n`
//!   checks on the machine (files, interfaces, hooks, other instances);
//!   `keyfile` reads the shared key; `live_system` is the live
//!   `config::SystemView`, for the command lines, `-n` and the daemon's
//!   start and reload; `runner` runs a hook, a check or sendmail as a
//!   bounded child process.
#![deny(unsafe_code)]
#![warn(unreachable_pub)]

// `pub` is the API of the binary, `examples/`, `tests/` and `fuzz/`; the
// rest is `pub(crate)` or narrower, so that the compiler reports what no
// one uses (`unreachable_pub`, dead_code).
pub mod cli;
pub mod config;
pub mod crypto;
pub mod daemon;
pub(crate) mod engine;
pub(crate) mod hooks;
pub(crate) mod keyfile;
pub(crate) mod live_system;
pub(crate) mod log;
pub mod personality;
pub(crate) mod preflight;
pub mod proto;
pub(crate) mod runner;
#[doc(hidden)]
pub mod sim;
#[allow(unsafe_code)]
pub(crate) mod sys;
pub(crate) mod timefmt;
pub(crate) mod verbs;

/// Version string shown by `ipfailoverd -V`.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");

/// For unit tests of rules that only root can meet (files owned by root,
/// as the daemon requires of its key, hooks, state and pidfile): false,
/// after saying once on the terminal that they are skipped, when the tests
/// run as a normal user (`cargo test`); `scripts/test` runs them as root.
#[cfg(test)]
pub(crate) fn root_or_skip(test: &str) -> bool {
    use std::io::Write;
    if sys::host::is_root() {
        return true;
    }
    // Not eprintln!: the test harness would capture it.
    let _ = writeln!(std::io::stderr(), "note: {test}: SKIPPED: needs root (files owned by root)");
    false
}
