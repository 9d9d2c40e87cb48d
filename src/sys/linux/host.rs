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

/// Gives the heap's free memory back to the kernel, from `malloc_trim(3)`
/// (glibc): a transient peak (the start-up's configuration and checks, a
/// metrics scrape's sample and body) would otherwise stay resident for the
/// daemon's life, since glibc only shrinks the heap from its top. Returns
/// whether any memory was released.
pub(crate) fn trim_heap() -> bool {
    // SAFETY: malloc_trim takes no pointers; it locks the allocator's
    // arenas itself and is safe to call from any thread at any time.
    unsafe { libc::malloc_trim(0) == 1 }
}

#[cfg(test)]
mod tests {
    /// Freed memory below the heap's top is given back: a megabyte in
    /// small blocks (below glibc's mmap threshold, so on the heap), kept
    /// alive by a block after it, then freed.
    #[test]
    fn trim_heap_gives_freed_memory_back() {
        let blocks: Vec<Vec<u8>> = (0..256).map(|i| vec![i as u8; 4096]).collect();
        let keep = Box::new([1u8; 64]);
        drop(blocks);
        assert!(super::trim_heap(), "a freed megabyte was not given back");
        assert_eq!(keep[0], 1);
    }
}
