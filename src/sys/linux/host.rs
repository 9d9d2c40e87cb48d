//! Facts about this host and process.

use std::io;

/// The host name, from `gethostname(2)`.
pub(crate) fn hostname() -> io::Result<String> {
    let mut buf = [0u8; 256];
    // SAFETY: the buffer is writable for its full length; gethostname
    // truncates and we add our own terminator below.
    super::cvt(unsafe { libc::gethostname(buf.as_mut_ptr().cast(), buf.len() - 1) })?;
    let end = buf.iter().position(|&b| b == 0).unwrap_or(buf.len() - 1);
    Ok(String::from_utf8_lossy(&buf[..end]).into_owned())
}

/// Whether we run as root, from `geteuid(2)`. Only unit tests ask
/// (`root_or_skip`).
#[cfg(test)]
pub(crate) fn is_root() -> bool {
    // SAFETY: geteuid cannot fail and has no arguments.
    unsafe { libc::geteuid() == 0 }
}

/// The local time's offset east of UTC, in seconds, at `unix` seconds,
/// from `localtime_r(3)`. 0 when it cannot be found.
pub(crate) fn utc_offset(unix: i64) -> i32 {
    let t: libc::time_t = unix as libc::time_t;
    // SAFETY: tm is plain data; all-zero is valid.
    let mut tm: libc::tm = unsafe { std::mem::zeroed() };
    // SAFETY: both pointers are valid for the call; localtime_r is the
    // thread-safe variant and writes only into `tm`.
    let r = unsafe { libc::localtime_r(&t, &mut tm) };
    if r.is_null() {
        0
    } else {
        tm.tm_gmtoff as i32
    }
}
