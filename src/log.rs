//! Logging: stderr in the foreground (`-d`), syslog otherwise.
//!
//! The target is chosen once at start; after that every thread may log.
//! Messages are plain text; syslog is called with a constant "%s" format
//! inside `sys`.

use crate::sys;
use std::io::Write;
use std::sync::OnceLock;

pub use crate::sys::log::Level;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Target {
    Stderr,
    Syslog,
}

static TARGET: OnceLock<Target> = OnceLock::new();

/// Log to stderr with a timestamp. Used with `-d` and by the command-line
/// tools.
pub fn to_stderr() {
    let _ = TARGET.set(Target::Stderr);
}

/// Log to syslog with the configured facility.
pub fn to_syslog(facility: &str) -> std::io::Result<()> {
    sys::log::openlog("ipfailoverd", facility)?;
    let _ = TARGET.set(Target::Syslog);
    Ok(())
}

pub fn log(level: Level, msg: &str) {
    match TARGET.get().copied().unwrap_or(Target::Stderr) {
        Target::Syslog => sys::log::syslog(level, msg),
        Target::Stderr => {
            let stamp = crate::timefmt::utc_iso8601(std::time::SystemTime::now());
            let line = format!(
                "{stamp} ipfailoverd[{}]: {}: {msg}\n",
                std::process::id(),
                name(level)
            );
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
