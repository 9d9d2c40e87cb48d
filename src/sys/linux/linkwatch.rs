//! Being told at once when an interface changes, instead of finding out at
//! the next look: a routing netlink socket subscribed to link messages.

use super::{recv_now, socket};
use std::io;
use std::os::fd::{AsRawFd, OwnedFd, RawFd};

/// A socket that becomes readable whenever an interface of this network
/// namespace is added, removed, renamed, set up or down, or gains or loses
/// its carrier: `socket(2)` AF_NETLINK / NETLINK_ROUTE, `bind(2)` to the
/// RTMGRP_LINK multicast group. The messages are not parsed: they only
/// say "look again", and the caller looks with `net::link_state`.
pub(crate) struct LinkEvents {
    fd: OwnedFd,
}

impl LinkEvents {
    pub(crate) fn open() -> io::Result<LinkEvents> {
        let fd = socket(libc::AF_NETLINK, libc::SOCK_RAW | libc::SOCK_NONBLOCK, libc::NETLINK_ROUTE)?;
        // SAFETY: sockaddr_nl is a plain C struct; all-zero is valid.
        let mut sa: libc::sockaddr_nl = unsafe { std::mem::zeroed() };
        sa.nl_family = libc::AF_NETLINK as libc::sa_family_t;
        sa.nl_groups = libc::RTMGRP_LINK as u32;
        super::bind(&fd, &sa)?;
        Ok(LinkEvents { fd })
    }

    /// Reads and discards every pending message; true if there was any,
    /// or if the kernel dropped some (ENOBUFS): either way the interfaces
    /// must be looked at again.
    pub(crate) fn drain(&self) -> bool {
        let mut buf = [0u8; 8192];
        let mut any = false;
        loop {
            match recv_now(&self.fd, &mut buf) {
                Ok(n) if n > 0 => any = true,
                Err(e) if e.raw_os_error() == Some(libc::ENOBUFS) => any = true,
                _ => return any,
            }
        }
    }
}

impl AsRawFd for LinkEvents {
    fn as_raw_fd(&self) -> RawFd {
        self.fd.as_raw_fd()
    }
}

#[cfg(test)]
mod tests {
    use super::super::net::{wait_readable, Ready};
    use super::*;
    use std::net::UdpSocket;
    use std::time::Duration;

    #[test]
    fn wait_sees_a_datagram_beside_the_link_socket() {
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
