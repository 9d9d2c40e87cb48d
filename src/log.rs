//! Logging: stderr in the foreground (`-d`), syslog otherwise.
//!
//! The target is chosen once at start; after that every thread may log.
//! Messages are plain text; syslog is called with a constant "%s" format
//! inside `sys`.

use crate::sys;
use std::io::Write;
use std::sync::atomic::{AtomicBool, Ordering};

pub use crate::sys::log::Level;

/// Stderr until the daemon detaches, so that start-up errors reach the
/// terminal of whoever started it; syslog after that.
static SYSLOG: AtomicBool = AtomicBool::new(false);

/// Log to syslog with the configured facility from now on.
pub fn to_syslog(facility: &str) -> std::io::Result<()> {
    sys::log::openlog("ipfailoverd", facility)?;
    SYSLOG.store(true, Ordering::SeqCst);
    Ok(())
}

pub fn log(level: Level, msg: &str) {
    match SYSLOG.load(Ordering::Relaxed) {
        true => sys::log::syslog(level, msg),
        false => {
            let stamp = crate::timefmt::utc_iso8601(std::time::SystemTime::now());
            let line = format!("{stamp} ipfailoverd[{}]: {}: {msg}\n", std::process::id(), name(level));
            // One write per line so lines from threads do not interleave.
            let _ = std::io::stderr().lock().write_all(line.as_bytes());
        }
    }
}

fn name(level: Level) -> &'static str {
    match level {
        Level::Err => "error",
        Level::Warning => "warning",
        Level::Notice => "notice",
        Level::Info => "info",
        Level::Debug => "debug",
    }
}

pub fn error(msg: &str) {
    log(Level::Err, msg)
}

pub fn warn(msg: &str) {
    log(Level::Warning, msg)
}

pub fn notice(msg: &str) {
    log(Level::Notice, msg)
}

pub fn info(msg: &str) {
    log(Level::Info, msg)
}
