//! Being told at once when an interface changes, instead of finding out at
//! the next look: a routing netlink socket subscribed to link messages.

use super::{cvt, socket};
use std::io;
use std::os::fd::{AsRawFd, OwnedFd};
use std::time::Duration;

/// A socket that becomes readable whenever an interface of this network
/// namespace is added, removed, renamed, set up or down, or gains or loses
/// its carrier: `socket(2)` AF_NETLINK / NETLINK_ROUTE, `bind(2)` to the
/// RTMGRP_LINK multicast group. The messages are not parsed: they only
/// say "look again", and the caller looks with `net::link_state`.
pub struct LinkEvents {
    fd: OwnedFd,
}

impl LinkEvents {
    pub fn open() -> io::Result<LinkEvents> {
        let fd = socket(libc::AF_NETLINK, libc::SOCK_RAW | libc::SOCK_NONBLOCK, libc::NETLINK_ROUTE)?;
        // SAFETY: sockaddr_nl is a plain C struct; all-zero is valid.
        let mut sa: libc::sockaddr_nl = unsafe { std::mem::zeroed() };
        sa.nl_family = libc::AF_NETLINK as libc::sa_family_t;
        sa.nl_groups = libc::RTMGRP_LINK as u32;
        super::bind(&fd, &sa)?;
        Ok(LinkEvents { fd })
    }

    /// Reads and discards every pending message (`recv(2)` with
    /// MSG_DONTWAIT); true if there was any, or if the kernel dropped
    /// some (ENOBUFS): either way the interfaces must be looked at again.
    pub fn drain(&self) -> bool {
        let mut buf = [0u8; 8192];
        let mut any = false;
        loop {
            // SAFETY: buf is writable for its length.
            let n = unsafe {
                libc::recv(self.fd.as_raw_fd(), buf.as_mut_ptr().cast(), buf.len(), libc::MSG_DONTWAIT)
            };
            if n > 0 {
                any = true;
                continue;
            }
            if n < 0 && io::Error::last_os_error().raw_os_error() == Some(libc::ENOBUFS) {
                any = true;
                continue;
            }
            return any;
        }
    }
}

/// Which of two descriptors became readable.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Ready {
    pub first: bool,
    pub second: bool,
}

/// Waits until `first` or `second` (either may be absent) is readable, or
/// `timeout` has passed: `poll(2)`. An interrupted wait returns nothing
/// ready; the caller loops anyway.
pub fn wait_readable(
    first: Option<&impl AsRawFd>,
    second: Option<&LinkEvents>,
    timeout: Duration,
) -> io::Result<Ready> {
    let fd_of = |fd: Option<i32>| libc::pollfd { fd: fd.unwrap_or(-1), events: libc::POLLIN, revents: 0 };
    // poll(2) skips entries with a negative fd.
    let mut fds = [fd_of(first.map(|f| f.as_raw_fd())), fd_of(second.map(|l| l.fd.as_raw_fd()))];
    let ms = timeout.as_millis().clamp(1, i32::MAX as u128) as libc::c_int;
    // SAFETY: fds is an array of two valid pollfd structs, length passed.
    match cvt(unsafe { libc::poll(fds.as_mut_ptr(), fds.len() as libc::nfds_t, ms) }) {
        Ok(_) => {}
        Err(e) if e.kind() == io::ErrorKind::Interrupted => return Ok(Ready::default()),
        Err(e) => return Err(e),
    }
    // POLLERR/POLLHUP count as ready: the read that follows reports them.
    let ready = |p: &libc::pollfd| p.revents != 0;
    Ok(Ready { first: ready(&fds[0]), second: ready(&fds[1]) })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::UdpSocket;

    #[test]
    fn wait_sees_a_datagram_and_times_out_without_one() {
        let a = UdpSocket::bind("127.0.0.1:0").unwrap();
        let none: Option<&LinkEvents> = None;
        let r = wait_readable(Some(&a), none, Duration::from_millis(20)).unwrap();
        assert_eq!(r, Ready::default());
        a.send_to(b"x", a.local_addr().unwrap()).unwrap();
        let r = wait_readable(Some(&a), none, Duration::from_secs(5)).unwrap();
        assert_eq!(r, Ready { first: true, second: false });
        // With the link socket beside it (opening it needs no privilege):
        // still readable, and whatever link messages came are drained.
        let ev = LinkEvents::open().unwrap();
        let r = wait_readable(Some(&a), Some(&ev), Duration::from_secs(5)).unwrap();
        assert!(r.first);
        ev.drain();
        let mut buf = [0u8; 4];
        assert_eq!(a.recv(&mut buf).unwrap(), 1);
    }
}
