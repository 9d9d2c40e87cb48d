//! Removing an IPv4 address that carries no alias label (added by
//! `ip addr add ... dev eth0` or NetworkManager, not by this daemon), which
//! the alias ioctls of `addr.rs` cannot reach: one netlink RTM_DELADDR. The
//! daemon's own moves stay ioctls; this serves only the removal of a
//! service address someone else put where it must not be
//! (`engine/kernel.rs`).

use super::{recv_now, send_to, socket};
use std::io;
use std::net::Ipv4Addr;
use std::time::Duration;

/// Deletes `addr/prefix` from `ifname`: `socket(2)` AF_NETLINK /
/// NETLINK_ROUTE, `sendto(2)` of an RTM_DELADDR request with NLM_F_ACK,
/// `poll(2)` and `recv(2)` of the kernel's answer (at most 1 s).
/// EADDRNOTAVAIL (nothing to delete) is success.
pub(crate) fn delete_ipv4(ifname: &str, addr: Ipv4Addr, prefix: u8) -> io::Result<()> {
    let index = super::net::if_index(ifname)?;
    let fd = socket(libc::AF_NETLINK, libc::SOCK_RAW, libc::NETLINK_ROUTE)?;
    // SAFETY: sockaddr_nl is a plain C struct; all-zero is valid.
    let mut kernel: libc::sockaddr_nl = unsafe { std::mem::zeroed() };
    kernel.nl_family = libc::AF_NETLINK as libc::sa_family_t;
    send_to(&fd, &request(index, addr, prefix), &kernel)?;
    let mut buf = [0u8; 1024];
    loop {
        if !super::net::wait_readable(Some(&fd), None::<&std::os::fd::OwnedFd>, ACK_WAIT)?.first {
            return Err(io::Error::new(io::ErrorKind::TimedOut, "no answer from the kernel to RTM_DELADDR"));
        }
        let n = match recv_now(&fd, &mut buf) {
            Ok(n) => n,
            Err(e) if matches!(e.kind(), io::ErrorKind::WouldBlock | io::ErrorKind::Interrupted) => continue,
            Err(e) => return Err(e),
        };
        match ack(&buf[..n]) {
            Some(0) => return Ok(()),
            Some(e) if -e == libc::EADDRNOTAVAIL => return Ok(()),
            Some(e) => return Err(io::Error::from_raw_os_error(-e)),
            None => continue,
        }
    }
}

const ACK_WAIT: Duration = Duration::from_secs(1);
const SEQ: u32 = 1;

/// The RTM_DELADDR request: nlmsghdr, ifaddrmsg, IFA_LOCAL, IFA_ADDRESS.
fn request(index: u32, addr: Ipv4Addr, prefix: u8) -> Vec<u8> {
    let mut body = vec![libc::AF_INET as u8, prefix, 0, 0];
    body.extend(index.to_ne_bytes());
    for ty in [libc::IFA_LOCAL, libc::IFA_ADDRESS] {
        body.extend(8u16.to_ne_bytes());
        body.extend(ty.to_ne_bytes());
        body.extend(addr.octets());
    }
    let mut m = Vec::with_capacity(16 + body.len());
    m.extend(((16 + body.len()) as u32).to_ne_bytes());
    m.extend(libc::RTM_DELADDR.to_ne_bytes());
    m.extend(((libc::NLM_F_REQUEST | libc::NLM_F_ACK) as u16).to_ne_bytes());
    m.extend(SEQ.to_ne_bytes());
    m.extend(0u32.to_ne_bytes());
    m.extend(body);
    m
}

/// The error code of the NLMSG_ERROR answering our request (0: done,
/// -errno otherwise), or None for anything else.
fn ack(buf: &[u8]) -> Option<i32> {
    let word = |at: usize| buf.get(at..at + 4).and_then(|b| b.try_into().ok()).map(u32::from_ne_bytes);
    let ty = buf.get(4..6).and_then(|b| b.try_into().ok()).map(u16::from_ne_bytes)?;
    if ty != libc::NLMSG_ERROR as u16 || word(8)? != SEQ {
        return None;
    }
    Some(word(16)? as i32)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_request_names_the_address_twice_and_asks_for_an_ack() {
        let r = request(3, Ipv4Addr::new(198, 18, 0, 10), 24);
        assert_eq!(r.len(), 16 + 8 + 8 + 8);
        assert_eq!(u32::from_ne_bytes(r[0..4].try_into().unwrap()) as usize, r.len());
        assert_eq!(u16::from_ne_bytes(r[4..6].try_into().unwrap()), libc::RTM_DELADDR);
        let flags = u16::from_ne_bytes(r[6..8].try_into().unwrap());
        assert_eq!(flags, (libc::NLM_F_REQUEST | libc::NLM_F_ACK) as u16);
        assert_eq!(&r[16..20], &[libc::AF_INET as u8, 24, 0, 0]);
        assert_eq!(u32::from_ne_bytes(r[20..24].try_into().unwrap()), 3);
        // The parser of notifications reads it back as a removal.
        let seen = super::super::addrwatch::parse(&r);
        assert_eq!(seen.len(), 1);
        assert_eq!(seen[0].addr, std::net::IpAddr::V4(Ipv4Addr::new(198, 18, 0, 10)));
        assert!(!seen[0].added);
    }

    #[test]
    fn acks_and_errors_are_read_and_anything_else_skipped() {
        let answer = |ty: u16, seq: u32, err: i32| {
            let mut m = Vec::new();
            m.extend(36u32.to_ne_bytes());
            m.extend(ty.to_ne_bytes());
            m.extend(0u16.to_ne_bytes());
            m.extend(seq.to_ne_bytes());
            m.extend(0u32.to_ne_bytes());
            m.extend(err.to_ne_bytes());
            m.extend([0u8; 16]);
            m
        };
        let error = libc::NLMSG_ERROR as u16;
        assert_eq!(ack(&answer(error, SEQ, 0)), Some(0));
        assert_eq!(ack(&answer(error, SEQ, -libc::EPERM)), Some(-libc::EPERM));
        assert_eq!(ack(&answer(error, SEQ + 1, 0)), None);
        assert_eq!(ack(&answer(libc::RTM_NEWADDR, SEQ, 0)), None);
        assert_eq!(ack(&[1, 2, 3]), None);
    }
}
