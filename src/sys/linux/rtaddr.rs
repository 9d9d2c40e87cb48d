//! IPv4 addresses added and removed through routing netlink
//! (RTM_NEWADDR / RTM_DELADDR), for the interfaces whose names leave no
//! room for an alias label: `<ifname>:<n>` must fit in 15 bytes, so the
//! ioctls of `addr.rs` cannot add a second address to `enx0c37965ad2a4`
//! or `enp175s0f0np0`. An address added here carries the interface's own
//! name as its label (the kernel's default), as `ip addr add` does.
//!
//! One request, one acknowledgement: the message is built and the answer
//! read by pure functions (`request`, `ack`), tested byte for byte; `add`
//! and `remove` only send and receive.

use super::socket;
use std::io;
use std::net::Ipv4Addr;
use std::os::fd::OwnedFd;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

/// `struct nlmsghdr`: length, type, flags, sequence, port id.
const NLMSG_HDRLEN: usize = 16;
/// `struct rtattr`: length, type.
const RTA_HDRLEN: usize = 4;

// linux/netlink.h
const NLMSG_ERROR: u16 = 2;
const NLM_F_REQUEST: u16 = 0x1;
const NLM_F_ACK: u16 = 0x4;
const NLM_F_EXCL: u16 = 0x200;
const NLM_F_CREATE: u16 = 0x400;
// linux/rtnetlink.h
const RTM_NEWADDR: u16 = 20;
const RTM_DELADDR: u16 = 21;
// linux/if_addr.h
const IFA_ADDRESS: u16 = 1;
const IFA_LOCAL: u16 = 2;
const IFA_LABEL: u16 = 3;
const IFA_BROADCAST: u16 = 4;

/// How long the kernel's acknowledgement may take. It answers within the
/// call in practice; the bound only keeps a mover from waiting forever.
const ACK_WAIT: Duration = Duration::from_secs(5);

/// What to ask of the kernel.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Op {
    /// Add `addr/prefix` (and its broadcast address, if any), failing with
    /// EEXIST when it is there already (NLM_F_CREATE|NLM_F_EXCL).
    Add { broadcast: Option<Ipv4Addr> },
    /// Remove the copy of `addr` whose label is the interface's own name
    /// (IFA_LABEL): never an alias `<ifname>:<n>` of the same address, and
    /// whatever its prefix (no IFA_ADDRESS, so the kernel does not compare
    /// prefix lengths: an address put there as /32 is still removed, never
    /// reported gone while it stays).
    Remove,
}

/// Appends one attribute, padded to 4 bytes (RTA_ALIGN).
fn attr(buf: &mut Vec<u8>, kind: u16, payload: &[u8]) {
    let len = RTA_HDRLEN + payload.len();
    buf.extend_from_slice(&(len as u16).to_ne_bytes());
    buf.extend_from_slice(&kind.to_ne_bytes());
    buf.extend_from_slice(payload);
    buf.resize(buf.len() + (4 - len % 4) % 4, 0);
}

/// The request message for `op` on interface `index` (`ifname` is its name,
/// for Remove's label), sequence number `seq`: nlmsghdr, ifaddrmsg, then
/// IFA_LOCAL and IFA_ADDRESS (and IFA_BROADCAST) for Add, IFA_LOCAL and
/// IFA_LABEL for Remove. Scope universe (0), no flags: as `ip addr add
/// ADDR/PREFIX brd + dev IFNAME` asks. Native byte order for the netlink
/// header fields, network order for addresses.
pub(crate) fn request(op: Op, seq: u32, index: u32, ifname: &str, addr: Ipv4Addr, prefix: u8) -> Vec<u8> {
    let (kind, flags) = match op {
        Op::Add { .. } => (RTM_NEWADDR, NLM_F_REQUEST | NLM_F_ACK | NLM_F_CREATE | NLM_F_EXCL),
        Op::Remove => (RTM_DELADDR, NLM_F_REQUEST | NLM_F_ACK),
    };
    let mut buf = Vec::with_capacity(64);
    buf.extend_from_slice(&0u32.to_ne_bytes()); // length, set below
    buf.extend_from_slice(&kind.to_ne_bytes());
    buf.extend_from_slice(&flags.to_ne_bytes());
    buf.extend_from_slice(&seq.to_ne_bytes());
    buf.extend_from_slice(&0u32.to_ne_bytes()); // port id: the kernel fills it in
                                                // struct ifaddrmsg: family, prefix length, flags, scope, index.
    buf.push(libc::AF_INET as u8);
    buf.push(prefix);
    buf.push(0); // ifa_flags
    buf.push(0); // ifa_scope: RT_SCOPE_UNIVERSE
    buf.extend_from_slice(&index.to_ne_bytes());
    attr(&mut buf, IFA_LOCAL, &addr.octets());
    match op {
        Op::Add { broadcast } => {
            attr(&mut buf, IFA_ADDRESS, &addr.octets());
            if let Some(b) = broadcast {
                attr(&mut buf, IFA_BROADCAST, &b.octets());
            }
        }
        Op::Remove => {
            let mut label = ifname.as_bytes().to_vec();
            label.push(0);
            attr(&mut buf, IFA_LABEL, &label);
        }
    }
    let len = buf.len() as u32;
    buf[..4].copy_from_slice(&len.to_ne_bytes());
    buf
}

/// What one datagram from the kernel says about request `seq`:
/// `Some(Ok(()))` for the acknowledgement (NLMSG_ERROR with error 0),
/// `Some(Err(errno))` for a refusal, `None` when it holds no answer to
/// `seq` (another message, or one cut short).
pub(crate) fn ack(datagram: &[u8], seq: u32) -> Option<Result<(), i32>> {
    let mut rest = datagram;
    while rest.len() >= NLMSG_HDRLEN {
        let u32_at = |b: &[u8], i: usize| u32::from_ne_bytes([b[i], b[i + 1], b[i + 2], b[i + 3]]);
        let len = u32_at(rest, 0) as usize;
        if len < NLMSG_HDRLEN || len > rest.len() {
            return None;
        }
        let kind = u16::from_ne_bytes([rest[4], rest[5]]);
        // struct nlmsgerr: int error, then the request's header.
        if kind == NLMSG_ERROR && u32_at(rest, 8) == seq && len >= NLMSG_HDRLEN + 4 {
            let error = u32_at(rest, NLMSG_HDRLEN) as i32;
            return Some(if error == 0 { Ok(()) } else { Err(-error) });
        }
        // NLMSG_ALIGN: messages start on 4-byte boundaries.
        let next = (len + 3) & !3;
        rest = rest.get(next..)?;
    }
    None
}

/// A sequence number per request: the acknowledgement names it.
fn next_seq() -> u32 {
    static SEQ: AtomicU32 = AtomicU32::new(1);
    SEQ.fetch_add(1, Ordering::Relaxed)
}

/// Sends `msg` on a new NETLINK_ROUTE socket and waits for its
/// acknowledgement: `socket(2)`, `sendto(2)` to the kernel, `poll(2)` and
/// `recv(2)`. The error is the kernel's errno for the request.
fn exchange(msg: &[u8], seq: u32) -> io::Result<()> {
    let fd: OwnedFd = socket(libc::AF_NETLINK, libc::SOCK_RAW, libc::NETLINK_ROUTE)?;
    // SAFETY: sockaddr_nl is a plain C struct; all-zero is valid (port id
    // 0 and no groups: the kernel).
    let mut kernel: libc::sockaddr_nl = unsafe { std::mem::zeroed() };
    kernel.nl_family = libc::AF_NETLINK as libc::sa_family_t;
    super::send_to(&fd, msg, &kernel)?;
    let end = Instant::now() + ACK_WAIT;
    let mut buf = vec![0u8; 8192];
    loop {
        let left = end.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Err(io::Error::new(io::ErrorKind::TimedOut, "no answer from the kernel (netlink)"));
        }
        if !super::net::wait_readable(Some(&fd), None::<&OwnedFd>, left)?.first {
            continue;
        }
        let n = match super::recv_now(&fd, &mut buf) {
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => continue,
            Err(e) => return Err(e),
        };
        match ack(&buf[..n], seq) {
            Some(Ok(())) => return Ok(()),
            Some(Err(errno)) => return Err(io::Error::from_raw_os_error(errno)),
            None => continue,
        }
    }
}

/// Adds `addr/prefix` to interface `index` without an alias label
/// (netlink RTM_NEWADDR with IFA_LOCAL, IFA_ADDRESS and, below /31,
/// IFA_BROADCAST). Ok(false): the kernel said EEXIST, it is there already.
pub(crate) fn add(
    index: u32,
    ifname: &str,
    addr: Ipv4Addr,
    prefix: u8,
    broadcast: Option<Ipv4Addr>,
) -> io::Result<bool> {
    let seq = next_seq();
    match exchange(&request(Op::Add { broadcast }, seq, index, ifname, addr, prefix), seq) {
        Ok(()) => Ok(true),
        Err(e) if e.raw_os_error() == Some(libc::EEXIST) => Ok(false),
        Err(e) => Err(e),
    }
}

/// Removes the copy of `addr` labelled with the interface's own name from
/// interface `index` (netlink RTM_DELADDR with IFA_LOCAL and IFA_LABEL):
/// exactly that address, never the interface's other addresses. Ok(false):
/// the kernel said EADDRNOTAVAIL, it was gone already.
pub(crate) fn remove(index: u32, ifname: &str, addr: Ipv4Addr, prefix: u8) -> io::Result<bool> {
    let seq = next_seq();
    match exchange(&request(Op::Remove, seq, index, ifname, addr, prefix), seq) {
        Ok(()) => Ok(true),
        Err(e) if e.raw_os_error() == Some(libc::EADDRNOTAVAIL) => Ok(false),
        Err(e) => Err(e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // The expected bytes are a little-endian host's (x86_64, aarch64).
    #[test]
    #[cfg(target_endian = "little")]
    fn add_is_header_ifaddrmsg_local_address_broadcast() {
        let a = Ipv4Addr::new(198, 18, 0, 10);
        let m = request(Op::Add { broadcast: Some(Ipv4Addr::new(198, 18, 0, 255)) }, 7, 3, "x", a, 24);
        #[rustfmt::skip]
        let want: Vec<u8> = vec![
            48, 0, 0, 0,   20, 0,   0x05, 0x06,   7, 0, 0, 0,   0, 0, 0, 0, // nlmsghdr
            2, 24, 0, 0,   3, 0, 0, 0,                                      // ifaddrmsg
            8, 0, 2, 0,   198, 18, 0, 10,                                   // IFA_LOCAL
            8, 0, 1, 0,   198, 18, 0, 10,                                   // IFA_ADDRESS
            8, 0, 4, 0,   198, 18, 0, 255,                                  // IFA_BROADCAST
        ];
        assert_eq!(m, want);
        // A /31 or /32 has no broadcast address.
        let m = request(Op::Add { broadcast: None }, 7, 3, "x", a, 32);
        assert_eq!(m.len(), 40);
        assert_eq!(&m[..4], &[40, 0, 0, 0]);
        assert_eq!(m[17], 32);
    }

    #[test]
    #[cfg(target_endian = "little")]
    fn remove_names_the_address_and_the_bare_label() {
        let a = Ipv4Addr::new(198, 18, 0, 10);
        let m = request(Op::Remove, 0x0102_0304, 9, "enx0c37965ad2a4", a, 24);
        #[rustfmt::skip]
        let mut want: Vec<u8> = vec![
            52, 0, 0, 0,   21, 0,   0x05, 0x00,   4, 3, 2, 1,   0, 0, 0, 0, // nlmsghdr
            2, 24, 0, 0,   9, 0, 0, 0,                                      // ifaddrmsg
            8, 0, 2, 0,   198, 18, 0, 10,                                   // IFA_LOCAL
            20, 0, 3, 0,                                                    // IFA_LABEL: 15 bytes + NUL
        ];
        want.extend_from_slice(b"enx0c37965ad2a4\0");
        assert_eq!(m, want);
        // A label whose length is not a multiple of 4 is padded.
        let m = request(Op::Remove, 1, 9, "eth0", a, 24);
        assert_eq!(&m[32..], &[9, 0, 3, 0, b'e', b't', b'h', b'0', 0, 0, 0, 0]);
        assert_eq!(m.len(), 44);
        assert_eq!(&m[..4], &[44, 0, 0, 0]);
    }

    /// An NLMSG_ERROR message answering `seq` with `error` (0: ack).
    fn error_msg(seq: u32, error: i32) -> Vec<u8> {
        let mut m = Vec::new();
        m.extend_from_slice(&36u32.to_ne_bytes());
        m.extend_from_slice(&NLMSG_ERROR.to_ne_bytes());
        m.extend_from_slice(&0u16.to_ne_bytes());
        m.extend_from_slice(&seq.to_ne_bytes());
        m.extend_from_slice(&4242u32.to_ne_bytes());
        m.extend_from_slice(&error.to_ne_bytes());
        m.extend_from_slice(&[0u8; 16]); // the request's header, echoed
        m
    }

    #[test]
    fn acknowledgements_are_read_for_their_request_only() {
        assert_eq!(ack(&error_msg(5, 0), 5), Some(Ok(())));
        assert_eq!(ack(&error_msg(5, -libc::EEXIST), 5), Some(Err(libc::EEXIST)));
        assert_eq!(ack(&error_msg(5, -libc::EADDRNOTAVAIL), 5), Some(Err(libc::EADDRNOTAVAIL)));
        // Another request's answer, or a cut message: no answer to ours.
        assert_eq!(ack(&error_msg(6, 0), 5), None);
        assert_eq!(ack(&error_msg(5, 0)[..18], 5), None);
        assert_eq!(ack(&[], 5), None);
        // A message of another kind first, then ours, in one datagram.
        let mut other = error_msg(5, 0);
        other[4] = 16; // RTM_NEWLINK
        let mut both = other.clone();
        both.extend_from_slice(&error_msg(5, -libc::EPERM));
        assert_eq!(ack(&both, 5), Some(Err(libc::EPERM)));
        // A length that points past the datagram is not trusted.
        let mut bad = error_msg(5, 0);
        bad[0] = 200;
        assert_eq!(ack(&bad, 5), None);
    }
}
