//! Being told at once when an address of this network namespace is added
//! or removed (by us, by `ip addr`, by NetworkManager, by anyone): a
//! routing netlink socket subscribed to the IPv4 and IPv6 address groups.
//! The moves themselves stay ioctls (`addr.rs`, `addr6.rs`); this only
//! watches. `parse` reads the messages (pure, no `unsafe`).

use super::{recv_now, socket};
use std::io;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::os::fd::{AsRawFd, OwnedFd, RawFd};

/// One address added to or removed from an interface, as the kernel said.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct AddrChange {
    /// RTM_NEWADDR (true) or RTM_DELADDR (false).
    pub added: bool,
    /// The interface's index (`ifa_index`).
    pub ifindex: u32,
    pub addr: IpAddr,
}

/// What one read of the socket brought.
#[derive(Debug, Default, PartialEq, Eq)]
pub(crate) struct Batch {
    pub changes: Vec<AddrChange>,
    /// The kernel dropped messages (ENOBUFS): anything may have changed,
    /// look again.
    pub overrun: bool,
}

/// A socket that becomes readable whenever an IPv4 or IPv6 address is
/// added or removed in this network namespace: `socket(2)` AF_NETLINK /
/// NETLINK_ROUTE, `bind(2)` to RTMGRP_IPV4_IFADDR | RTMGRP_IPV6_IFADDR.
pub(crate) struct AddrEvents {
    fd: OwnedFd,
}

impl AddrEvents {
    pub(crate) fn open() -> io::Result<AddrEvents> {
        let fd = socket(libc::AF_NETLINK, libc::SOCK_RAW | libc::SOCK_NONBLOCK, libc::NETLINK_ROUTE)?;
        // SAFETY: sockaddr_nl is a plain C struct; all-zero is valid.
        let mut sa: libc::sockaddr_nl = unsafe { std::mem::zeroed() };
        sa.nl_family = libc::AF_NETLINK as libc::sa_family_t;
        sa.nl_groups = (libc::RTMGRP_IPV4_IFADDR | libc::RTMGRP_IPV6_IFADDR) as u32;
        super::bind(&fd, &sa)?;
        Ok(AddrEvents { fd })
    }

    /// Reads every pending message (`recv(2)`, MSG_DONTWAIT) and returns the
    /// address changes they carry; ENOBUFS sets `overrun`.
    pub(crate) fn drain(&self) -> io::Result<Batch> {
        let mut buf = [0u8; 16384];
        let mut batch = Batch::default();
        loop {
            match recv_now(&self.fd, &mut buf) {
                Ok(0) => return Ok(batch),
                Ok(n) => batch.changes.extend(parse(&buf[..n])),
                Err(e) if e.raw_os_error() == Some(libc::ENOBUFS) => batch.overrun = true,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(batch),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
    }
}

impl AsRawFd for AddrEvents {
    fn as_raw_fd(&self) -> RawFd {
        self.fd.as_raw_fd()
    }
}

/// `struct nlmsghdr`: len u32, type u16, flags u16, seq u32, pid u32.
const NLMSG_HDR: usize = 16;
/// `struct ifaddrmsg`: family u8, prefixlen u8, flags u8, scope u8, index u32.
const IFADDRMSG: usize = 8;
/// `struct rtattr`: len u16, type u16.
const RTA_HDR: usize = 4;

fn align4(n: usize) -> usize {
    (n + 3) & !3
}

fn u16_at(b: &[u8], at: usize) -> Option<u16> {
    Some(u16::from_ne_bytes(b.get(at..at + 2)?.try_into().ok()?))
}

fn u32_at(b: &[u8], at: usize) -> Option<u32> {
    Some(u32::from_ne_bytes(b.get(at..at + 4)?.try_into().ok()?))
}

/// The address changes in one netlink datagram (several messages may share
/// it). Anything else, and anything malformed, is skipped: a message that
/// cannot be read ends the datagram.
///
/// The address is IFA_LOCAL when present (IPv4: the address itself;
/// IFA_ADDRESS is the peer's on a point-to-point link), IFA_ADDRESS
/// otherwise (IPv6 sends only that).
pub(crate) fn parse(buf: &[u8]) -> Vec<AddrChange> {
    let mut out = Vec::new();
    let mut at = 0;
    while at + NLMSG_HDR <= buf.len() {
        let (Some(len), Some(ty)) = (u32_at(buf, at), u16_at(buf, at + 4)) else { break };
        let len = len as usize;
        if len < NLMSG_HDR || at + len > buf.len() {
            break;
        }
        let msg = &buf[at + NLMSG_HDR..at + len];
        let added = match ty {
            libc::RTM_NEWADDR => Some(true),
            libc::RTM_DELADDR => Some(false),
            _ => None,
        };
        if let Some(added) = added {
            out.extend(one(msg, added));
        }
        at += align4(len);
    }
    out
}

/// One RTM_NEWADDR or RTM_DELADDR body: ifaddrmsg, then attributes.
fn one(msg: &[u8], added: bool) -> Option<AddrChange> {
    if msg.len() < IFADDRMSG {
        return None;
    }
    let family = i32::from(msg[0]);
    let ifindex = u32_at(msg, 4)?;
    let (mut local, mut address) = (None, None);
    let mut at = IFADDRMSG;
    while at + RTA_HDR <= msg.len() {
        let len = usize::from(u16_at(msg, at)?);
        let ty = u16_at(msg, at + 2)?;
        if len < RTA_HDR || at + len > msg.len() {
            break;
        }
        let data = &msg[at + RTA_HDR..at + len];
        let ip = match (family, data.len()) {
            (libc::AF_INET, 4) => Some(IpAddr::V4(Ipv4Addr::new(data[0], data[1], data[2], data[3]))),
            (libc::AF_INET6, 16) => {
                let b: [u8; 16] = data.try_into().ok()?;
                Some(IpAddr::V6(Ipv6Addr::from(b)))
            }
            _ => None,
        };
        match ty {
            libc::IFA_LOCAL => local = ip,
            libc::IFA_ADDRESS => address = ip,
            _ => {}
        }
        at += align4(len);
    }
    Some(AddrChange { added, ifindex, addr: local.or(address)? })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn attr(ty: u16, data: &[u8]) -> Vec<u8> {
        let mut a = Vec::new();
        a.extend(((RTA_HDR + data.len()) as u16).to_ne_bytes());
        a.extend(ty.to_ne_bytes());
        a.extend(data);
        while a.len() % 4 != 0 {
            a.push(0);
        }
        a
    }

    /// An RTM_*ADDR message as the kernel builds it.
    fn message(ty: u16, family: u8, ifindex: u32, attrs: &[Vec<u8>]) -> Vec<u8> {
        let mut body = vec![family, 24, 0, 0];
        body.extend(ifindex.to_ne_bytes());
        for a in attrs {
            body.extend(a);
        }
        let mut m = Vec::new();
        m.extend(((NLMSG_HDR + body.len()) as u32).to_ne_bytes());
        m.extend(ty.to_ne_bytes());
        m.extend(0u16.to_ne_bytes());
        m.extend(7u32.to_ne_bytes());
        m.extend(0u32.to_ne_bytes());
        m.extend(body);
        m
    }

    #[test]
    fn reads_ipv4_and_ipv6_changes_several_to_a_datagram() {
        let v4 = [198, 18, 0, 10];
        let peer = [198, 18, 0, 99];
        let label = attr(libc::IFA_LABEL, b"pub0\0");
        let mut buf = message(
            libc::RTM_DELADDR,
            libc::AF_INET as u8,
            3,
            &[attr(libc::IFA_ADDRESS, &peer), attr(libc::IFA_LOCAL, &v4), label],
        );
        let v6: Ipv6Addr = "fd00:18::10".parse().unwrap();
        buf.extend(message(
            libc::RTM_NEWADDR,
            libc::AF_INET6 as u8,
            4,
            &[attr(libc::IFA_ADDRESS, &v6.octets())],
        ));
        // A link message in between is skipped.
        buf.extend(message(libc::RTM_NEWLINK, 0, 4, &[]));
        assert_eq!(
            parse(&buf),
            vec![
                // IFA_LOCAL wins over IFA_ADDRESS (a point-to-point peer).
                AddrChange { added: false, ifindex: 3, addr: IpAddr::V4(Ipv4Addr::from(v4)) },
                AddrChange { added: true, ifindex: 4, addr: IpAddr::V6(v6) },
            ]
        );
    }

    #[test]
    fn malformed_messages_end_the_datagram_without_panic() {
        let good =
            message(libc::RTM_NEWADDR, libc::AF_INET as u8, 2, &[attr(libc::IFA_LOCAL, &[10, 0, 0, 1])]);
        for cut in 0..good.len() {
            // Every truncation: nothing, or at most the whole message.
            assert!(parse(&good[..cut]).is_empty(), "cut at {cut}");
        }
        // A length that points past the end, or below the header.
        let mut bad = good.clone();
        bad[0..4].copy_from_slice(&1000u32.to_ne_bytes());
        assert!(parse(&bad).is_empty());
        bad[0..4].copy_from_slice(&3u32.to_ne_bytes());
        assert!(parse(&bad).is_empty());
        // An attribute whose length is wrong for the family is no address.
        let odd = message(libc::RTM_NEWADDR, libc::AF_INET as u8, 2, &[attr(libc::IFA_LOCAL, &[1, 2, 3])]);
        assert!(parse(&odd).is_empty());
        // Without any address attribute: nothing.
        let none = message(libc::RTM_DELADDR, libc::AF_INET as u8, 2, &[]);
        assert!(parse(&none).is_empty());
    }

    #[test]
    fn the_socket_opens_unprivileged_and_drains_empty() {
        let ev = AddrEvents::open().unwrap();
        let b = ev.drain().unwrap();
        assert!(!b.overrun);
    }
}
