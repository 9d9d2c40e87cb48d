//! syslog(3), always with a constant "%s" format.

use std::ffi::CString;
use std::io;
use std::sync::OnceLock;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Level {
    Err,
    Warning,
    Notice,
    Info,
    Debug,
}

/// openlog keeps the ident pointer: it must live as long as the process.
static IDENT: OnceLock<CString> = OnceLock::new();

fn facility(name: &str) -> Option<libc::c_int> {
    Some(match name {
        "auth" => libc::LOG_AUTH,
        "authpriv" => libc::LOG_AUTHPRIV,
        "cron" => libc::LOG_CRON,
        "daemon" => libc::LOG_DAEMON,
        "kern" => libc::LOG_KERN,
        "local0" => libc::LOG_LOCAL0,
        "local1" => libc::LOG_LOCAL1,
        "local2" => libc::LOG_LOCAL2,
        "local3" => libc::LOG_LOCAL3,
        "local4" => libc::LOG_LOCAL4,
        "local5" => libc::LOG_LOCAL5,
        "local6" => libc::LOG_LOCAL6,
        "local7" => libc::LOG_LOCAL7,
        "lpr" => libc::LOG_LPR,
        "mail" => libc::LOG_MAIL,
        "news" => libc::LOG_NEWS,
        "syslog" => libc::LOG_SYSLOG,
        "user" => libc::LOG_USER,
        "uucp" => libc::LOG_UUCP,
        _ => return None,
    })
}

/// `openlog(3)` with LOG_PID and the named facility.
pub(crate) fn openlog(ident: &str, facility_name: &str) -> io::Result<()> {
    let fac = facility(facility_name).ok_or_else(|| {
        io::Error::new(io::ErrorKind::InvalidInput, format!("unknown syslog facility {facility_name}"))
    })?;
    let ident = IDENT.get_or_init(|| CString::new(ident.replace('\0', "")).unwrap_or_default());
    // SAFETY: ident points into a CString stored in a static, so it stays
    // valid for the rest of the process as openlog requires.
    unsafe { libc::openlog(ident.as_ptr(), libc::LOG_PID | libc::LOG_NDELAY, fac) };
    Ok(())
}

/// Where syslog(3) sends its datagrams.
pub(crate) const SYSLOG_SOCKET: &str = "/dev/log";

/// Whether a syslog daemon listens: `/dev/log` exists and is a socket.
/// Without one, syslog(3) drops every line without a word (`stat(2)`).
pub(crate) fn syslog_listening() -> bool {
    use std::os::unix::fs::FileTypeExt;
    std::fs::metadata(SYSLOG_SOCKET).is_ok_and(|m| m.file_type().is_socket())
}

/// Writes one line to the system console, opened for this line with
/// `open(2)` O_WRONLY|O_NOCTTY (a detached daemon must not acquire it as
/// its controlling terminal) and closed again. Errors are dropped: there is
/// nowhere left to report them.
pub(crate) fn console(line: &str) {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let file = std::fs::OpenOptions::new().write(true).custom_flags(libc::O_NOCTTY).open("/dev/console");
    if let Ok(mut f) = file {
        let _ = f.write_all(line.as_bytes());
    }
}

/// `syslog(3)` with the format "%s": the message is never a format string.
pub(crate) fn syslog(level: Level, msg: &str) {
    let prio = match level {
        Level::Err => libc::LOG_ERR,
        Level::Warning => libc::LOG_WARNING,
        Level::Notice => libc::LOG_NOTICE,
        Level::Info => libc::LOG_INFO,
        Level::Debug => libc::LOG_DEBUG,
    };
    let text = CString::new(msg.replace('\0', "\\0")).unwrap_or_default();
    // SAFETY: both strings are NUL-terminated and live across the call; the
    // format consumes exactly one string argument.
    unsafe { libc::syslog(prio, c"%s".as_ptr(), text.as_ptr()) };
}

#[cfg(test)]
mod tests {
    #[test]
    fn facilities() {
        assert_eq!(super::facility("daemon"), Some(libc::LOG_DAEMON));
        assert_eq!(super::facility("local7"), Some(libc::LOG_LOCAL7));
        assert_eq!(super::facility("bogus"), None);
    }
}
