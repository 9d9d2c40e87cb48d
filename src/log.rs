//! Logging: stderr in the foreground (`-d`), syslog otherwise; without a
//! syslog daemon (no `/dev/log`), stderr until the daemon detaches and the
//! console after, said once at start, so that no line vanishes.
//!
//! The target is chosen once at start; after that every thread may log.
//! Messages are plain text; syslog is called with a constant "%s" format
//! inside `sys`.
//!
//! Lines are written with the macros `error!`, `warn!`, `notice!`,
//! `info!` and `debug!` (as `log::info!("... {x}")`), which take
//! `format!` arguments: a message is formatted once, into the line, never
//! into a `String` first. Debug lines (`-v`) answer "what did the daemon
//! see?": they are off by default, and `debug!` neither formats nor
//! evaluates its arguments then.

use crate::sys;
use std::fmt;
use std::io::Write;
use std::sync::atomic::{AtomicBool, Ordering};

pub(crate) use crate::sys::log::Level;

/// Stderr until the daemon detaches, so that start-up errors reach the
/// terminal of whoever started it; syslog after that.
static SYSLOG: AtomicBool = AtomicBool::new(false);
/// The name on stderr lines, set once at start (`set_ident`).
static IDENT: std::sync::OnceLock<String> = std::sync::OnceLock::new();
/// The daemon has detached: stderr is /dev/null now.
static DETACHED: AtomicBool = AtomicBool::new(false);
/// Debug lines are written (`-v`).
static DEBUG: AtomicBool = AtomicBool::new(false);

/// Log to syslog with the configured facility from now on, when a syslog
/// daemon listens. Without one, syslog(3) would drop every line: stderr
/// stays the target (the console once detached), and this is said once.
pub(crate) fn to_syslog(ident: &str, facility: &str) -> std::io::Result<()> {
    if !sys::log::syslog_listening() {
        self::warn!(
            "no syslog daemon ({} is not a socket): logging to stderr, and to /dev/console once detached",
            sys::log::SYSLOG_SOCKET
        );
        return Ok(());
    }
    sys::log::openlog(ident, facility)?;
    SYSLOG.store(true, Ordering::SeqCst);
    Ok(())
}

/// Names this daemon on stderr and the console as syslog would
/// (`Config::ident`); the first call wins.
pub(crate) fn set_ident(ident: &str) {
    let _ = IDENT.set(ident.to_string());
}

/// The daemon detached: lines not going to syslog go to the console.
pub(crate) fn detached() {
    DETACHED.store(true, Ordering::SeqCst);
}

/// Turns debug lines on (`-v`) or off.
pub(crate) fn set_debug(on: bool) {
    DEBUG.store(on, Ordering::Relaxed);
}

/// Whether debug lines are written; `debug!` asks before it formats.
pub(crate) fn debugging() -> bool {
    DEBUG.load(Ordering::Relaxed)
}

/// Writes one line; the macros call this. A line at `Level::Debug` is
/// written only when `debugging()`.
pub(crate) fn write(level: Level, msg: fmt::Arguments<'_>) {
    if level == Level::Debug && !debugging() {
        return;
    }
    if SYSLOG.load(Ordering::Relaxed) {
        return match msg.as_str() {
            Some(text) => sys::log::syslog(level, text),
            None => sys::log::syslog(level, &msg.to_string()),
        };
    }
    let stamp = crate::timefmt::utc_iso8601(std::time::SystemTime::now());
    let ident = IDENT.get().map_or("ipfailoverd", String::as_str);
    let line = format!("{stamp} {ident}[{}]: {}: {msg}\n", std::process::id(), name(level));
    if DETACHED.load(Ordering::Relaxed) {
        sys::log::console(&line);
    } else {
        // One write per line so lines from threads do not interleave.
        let _ = std::io::stderr().lock().write_all(line.as_bytes());
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

/// `log!(level, "format", args...)`: a line at a level chosen at run time.
macro_rules! log {
    ($level:expr, $($arg:tt)+) => {
        $crate::log::write($level, format_args!($($arg)+))
    };
}

macro_rules! error {
    ($($arg:tt)+) => { $crate::log::log!($crate::log::Level::Err, $($arg)+) };
}

// Named `warn!` on export: `warn` alone would clash with the attribute.
macro_rules! warn_line {
    ($($arg:tt)+) => { $crate::log::log!($crate::log::Level::Warning, $($arg)+) };
}

macro_rules! notice {
    ($($arg:tt)+) => { $crate::log::log!($crate::log::Level::Notice, $($arg)+) };
}

macro_rules! info {
    ($($arg:tt)+) => { $crate::log::log!($crate::log::Level::Info, $($arg)+) };
}

/// Only with `-v`; when off, its arguments are not even evaluated.
macro_rules! debug {
    ($($arg:tt)+) => {
        if $crate::log::debugging() {
            $crate::log::write($crate::log::Level::Debug, format_args!($($arg)+))
        }
    };
}

pub(crate) use {debug, error, info, log, notice, warn_line as warn};

#[cfg(test)]
mod tests {
    use std::cell::Cell;
    use std::fmt;

    /// Counts how often it is formatted.
    struct Counted<'a>(&'a Cell<u32>);

    impl fmt::Display for Counted<'_> {
        fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            self.0.set(self.0.get() + 1);
            f.write_str("counted")
        }
    }

    #[test]
    fn debug_lines_are_not_formatted_when_off() {
        // Nothing in the unit tests turns debug on (only `-v` does).
        assert!(!super::debugging());
        let formatted = Cell::new(0);
        let evaluated = Cell::new(0);
        let expensive = || {
            evaluated.set(evaluated.get() + 1);
            Counted(&formatted)
        };
        super::debug!("saw {} and {}", Counted(&formatted), expensive());
        assert_eq!((formatted.get(), evaluated.get()), (0, 0));
        super::log!(super::Level::Debug, "saw {}", Counted(&formatted));
        assert_eq!(formatted.get(), 0);
        // Not for want of counting: formatting it counts.
        assert_eq!(format!("{}", Counted(&formatted)), "counted");
        assert_eq!(formatted.get(), 1);
    }
}
