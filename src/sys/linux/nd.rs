//! IPv6 neighbour discovery (RFC 4861) through a raw ICMPv6 socket: the
//! unsolicited neighbour advertisement that announces a moved address, and
//! the neighbour solicitation that probes whether anyone holds one. The
//! kernel fills in the IPv6 header and the ICMPv6 checksum.

use super::socket;
use std::io;
use std::net::Ipv6Addr;
use std::os::fd::OwnedFd;
use std::time::{Duration, Instant};

const SOLICITATION: u8 = 135;
const ADVERTISEMENT: u8 = 136;
/// Neighbour advertisement flag: override existing cache entries.
const OVERRIDE: u8 = 0x20;
const OPT_SOURCE_LL: u8 = 1;
const OPT_TARGET_LL: u8 = 2;
const ALL_NODES: Ipv6Addr = Ipv6Addr::new(0xff02, 0, 0, 0, 0, 0, 0, 1);

/// An unsolicited advertisement for `target` from `mac`: override set,
/// solicited clear, with the target link-layer address option.
pub(crate) fn advertisement(target: Ipv6Addr, mac: [u8; 6]) -> [u8; 32] {
    let mut p = [0u8; 32];
    p[0] = ADVERTISEMENT;
    p[4] = OVERRIDE;
    p[8..24].copy_from_slice(&target.octets());
    p[24] = OPT_TARGET_LL;
    p[25] = 1;
    p[26..32].copy_from_slice(&mac);
    p
}

/// A solicitation for `target` with our link-layer address.
pub(crate) fn solicitation(target: Ipv6Addr, mac: [u8; 6]) -> [u8; 32] {
    let mut p = advertisement(target, mac);
    p[0] = SOLICITATION;
    p[4] = 0;
    p[24] = OPT_SOURCE_LL;
    p
}

/// The solicited-node multicast group of `addr` (ff02::1:ffXX:XXXX).
pub(crate) fn solicited_node(addr: Ipv6Addr) -> Ipv6Addr {
    let o = addr.octets();
    Ipv6Addr::new(0xff02, 0, 0, 0, 0, 1, 0xff00 | u16::from(o[13]), u16::from_be_bytes([o[14], o[15]]))
}

/// For an advertisement of `target`: the link-layer address it carries
/// (zero if it carries none).
pub(crate) fn advertised(p: &[u8], target: Ipv6Addr) -> Option<[u8; 6]> {
    if p.len() < 24 || p[0] != ADVERTISEMENT || p[8..24] != target.octets() {
        return None;
    }
    let mut mac = [0u8; 6];
    let mut opts = &p[24..];
    while opts.len() >= 8 && opts[1] != 0 {
        let len = usize::from(opts[1]) * 8;
        if opts[0] == OPT_TARGET_LL && len >= 8 && opts.len() >= len {
            mac.copy_from_slice(&opts[2..8]);
        }
        opts = opts.get(len..).unwrap_or(&[]);
    }
    Some(mac)
}

/// RFC 4861 7.1.2: a node must drop an advertisement whose IPv6 hop limit
/// is not 255; it then cannot have crossed a router. For an
/// advertisement of `target` received with `hop_limit`, the link-layer
/// address it carries, as `advertised`.
pub(crate) fn accepted_advertisement(p: &[u8], hop_limit: Option<i32>, target: Ipv6Addr) -> Option<[u8; 6]> {
    if hop_limit != Some(255) {
        return None;
    }
    advertised(p, target)
}

pub(crate) struct NdSocket {
    fd: OwnedFd,
    index: u32,
    mac: [u8; 6],
}

fn setsockopt(fd: &OwnedFd, level: libc::c_int, name: libc::c_int, value: libc::c_int) -> io::Result<()> {
    super::net::setsockopt(fd, level, name, &value)
}

impl NdSocket {
    /// `socket(2)` AF_INET6, SOCK_RAW, IPPROTO_ICMPV6 on `ifname`
    /// (SO_BINDTODEVICE), hop limit 255 as RFC 4861 requires
    /// (IPV6_MULTICAST_HOPS, IPV6_UNICAST_HOPS), multicast out of
    /// `ifname` (IPV6_MULTICAST_IF), our own packets not looped back, and
    /// the hop limit of what we receive reported (IPV6_RECVHOPLIMIT).
    pub(crate) fn open(ifname: &str) -> io::Result<NdSocket> {
        let index = super::net::if_index(ifname)?;
        let mac = super::net::hw_addr(ifname)?;
        let fd = socket(libc::AF_INET6, libc::SOCK_RAW, libc::IPPROTO_ICMPV6)?;
        let name = super::ifreq(ifname)?.ifr_name;
        super::net::setsockopt(&fd, libc::SOL_SOCKET, libc::SO_BINDTODEVICE, &name)?;
        setsockopt(&fd, libc::IPPROTO_IPV6, libc::IPV6_MULTICAST_HOPS, 255)?;
        setsockopt(&fd, libc::IPPROTO_IPV6, libc::IPV6_UNICAST_HOPS, 255)?;
        setsockopt(&fd, libc::IPPROTO_IPV6, libc::IPV6_MULTICAST_IF, index as libc::c_int)?;
        setsockopt(&fd, libc::IPPROTO_IPV6, libc::IPV6_MULTICAST_LOOP, 0)?;
        setsockopt(&fd, libc::IPPROTO_IPV6, libc::IPV6_RECVHOPLIMIT, 1)?;
        Ok(NdSocket { fd, index, mac })
    }

    /// `sendto(2)` one ICMPv6 message to `dest` on our interface.
    fn send(&self, msg: &[u8], dest: Ipv6Addr) -> io::Result<()> {
        let sin6 = libc::sockaddr_in6 {
            sin6_family: libc::AF_INET6 as libc::sa_family_t,
            sin6_port: 0,
            sin6_flowinfo: 0,
            sin6_addr: libc::in6_addr { s6_addr: dest.octets() },
            sin6_scope_id: self.index,
        };
        super::send_to(&self.fd, msg, &sin6)
    }

    /// An unsolicited neighbour advertisement for `addr` to all nodes
    /// (ff02::1): every neighbour cache that has `addr` now points at us.
    pub(crate) fn send_unsolicited_na(&self, addr: Ipv6Addr) -> io::Result<()> {
        self.send(&advertisement(addr, self.mac), ALL_NODES)
    }

    /// A neighbour solicitation for each of `addrs` to its solicited-node
    /// group, sent `super::PROBES` times spread evenly over `wait` (as the
    /// ARP probe), with advertisements of them from another host awaited
    /// in between (`poll(2)`, `recvmsg(2)`); only advertisements received
    /// with hop limit 255 count (`accepted_advertisement`). Returns each
    /// address that answered with the MAC it carries; stops early once
    /// all did.
    pub(crate) fn probe(&self, addrs: &[Ipv6Addr], wait: Duration) -> io::Result<Vec<(Ipv6Addr, [u8; 6])>> {
        let mut found: Vec<(Ipv6Addr, [u8; 6])> = Vec::new();
        let mut buf = [0u8; 1500];
        for end in super::probe_rounds(Instant::now(), wait) {
            for addr in addrs.iter().filter(|a| !found.iter().any(|(f, _)| f == *a)) {
                self.send(&solicitation(*addr, self.mac), solicited_node(*addr))?;
            }
            while found.len() < addrs.len() {
                let left = end.saturating_duration_since(Instant::now());
                if left.is_zero() {
                    break;
                }
                if !super::net::wait_readable(Some(&self.fd), None::<&OwnedFd>, left)?.first {
                    continue;
                }
                let Ok((n, hop_limit)) = recv_with_hop_limit(&self.fd, &mut buf) else { continue };
                for a in addrs {
                    if let Some(mac) = accepted_advertisement(&buf[..n], hop_limit, *a) {
                        if mac != self.mac && !found.iter().any(|(f, _)| f == a) {
                            found.push((*a, mac));
                        }
                    }
                }
            }
            if found.len() == addrs.len() {
                break;
            }
        }
        Ok(found)
    }
}

/// `recvmsg(2)` with MSG_DONTWAIT of one ICMPv6 message into `buf`, with
/// the hop limit it arrived with (the IPV6_HOPLIMIT control message that
/// IPV6_RECVHOPLIMIT asks for), if the kernel gave one.
fn recv_with_hop_limit(fd: &OwnedFd, buf: &mut [u8]) -> io::Result<(usize, Option<i32>)> {
    use std::os::fd::AsRawFd;
    let mut iov = libc::iovec { iov_base: buf.as_mut_ptr().cast(), iov_len: buf.len() };
    // u64s: aligned for cmsghdr; room for the hop limit and then some.
    let mut control = [0u64; 16];
    // SAFETY: msghdr is plain data; all-zero is a valid empty header.
    let mut msg: libc::msghdr = unsafe { std::mem::zeroed() };
    msg.msg_iov = &mut iov;
    msg.msg_iovlen = 1;
    msg.msg_control = control.as_mut_ptr().cast();
    msg.msg_controllen = std::mem::size_of_val(&control) as _;
    // SAFETY: msg points to one iovec over `buf` and to `control`, all
    // live and writable for the lengths given.
    let n = unsafe { libc::recvmsg(fd.as_raw_fd(), &mut msg, libc::MSG_DONTWAIT) };
    if n < 0 {
        return Err(io::Error::last_os_error());
    }
    let mut hop_limit = None;
    // SAFETY: msg is the header recvmsg filled in; CMSG_FIRSTHDR and
    // CMSG_NXTHDR stay within msg_controllen of `control` and return null
    // at its end.
    let mut cmsg = unsafe { libc::CMSG_FIRSTHDR(&msg) };
    while !cmsg.is_null() {
        // SAFETY: cmsg is non-null and points into `control`, at a header
        // the kernel wrote.
        let header = unsafe { &*cmsg };
        if header.cmsg_level == libc::IPPROTO_IPV6 && header.cmsg_type == libc::IPV6_HOPLIMIT {
            // SAFETY: an IPV6_HOPLIMIT message carries one int, inside
            // `control`; read unaligned as CMSG_DATA promises no alignment.
            hop_limit = Some(unsafe { libc::CMSG_DATA(cmsg).cast::<libc::c_int>().read_unaligned() });
        }
        // SAFETY: as for CMSG_FIRSTHDR.
        cmsg = unsafe { libc::CMSG_NXTHDR(&msg, cmsg) };
    }
    Ok((n as usize, hop_limit))
}

#[cfg(test)]
mod tests {
    use super::*;

    const MAC: [u8; 6] = [0x02, 0, 0x5e, 0x10, 0x20, 0x30];

    #[test]
    fn advertisement_layout() {
        let t: Ipv6Addr = "fd00:18::10".parse().unwrap();
        let p = advertisement(t, MAC);
        assert_eq!(&p[..8], &[136, 0, 0, 0, 0x20, 0, 0, 0]);
        assert_eq!(&p[8..24], &t.octets());
        assert_eq!(&p[24..32], &[2, 1, 0x02, 0, 0x5e, 0x10, 0x20, 0x30]);
        assert_eq!(advertised(&p, t), Some(MAC));
        assert_eq!(advertised(&p, "fd00:18::11".parse().unwrap()), None);
        assert_eq!(advertised(&p[..20], t), None);
        // Without options: an answer with no MAC.
        assert_eq!(advertised(&p[..24], t), Some([0; 6]));
        // A zero-length option must not loop forever.
        let mut bad = p;
        bad[25] = 0;
        assert_eq!(advertised(&bad, t), Some([0; 6]));
    }

    #[test]
    fn only_hop_limit_255_advertisements_count() {
        let t: Ipv6Addr = "fd00:18::10".parse().unwrap();
        let p = advertisement(t, MAC);
        assert_eq!(accepted_advertisement(&p, Some(255), t), Some(MAC));
        for hop in [Some(254), Some(64), Some(1), Some(0), None] {
            assert_eq!(accepted_advertisement(&p, hop, t), None, "{hop:?}");
        }
        assert_eq!(accepted_advertisement(&p, Some(255), "fd00:18::11".parse().unwrap()), None);
    }

    #[test]
    fn solicitation_layout() {
        let t: Ipv6Addr = "fd00:18::10".parse().unwrap();
        let p = solicitation(t, MAC);
        assert_eq!(&p[..8], &[135, 0, 0, 0, 0, 0, 0, 0]);
        assert_eq!(p[24], 1);
        assert_eq!(advertised(&p, t), None);
        assert_eq!(solicited_node(t), "ff02::1:ff00:10".parse::<Ipv6Addr>().unwrap());
        let a: Ipv6Addr = "2001:db8::abcd:1234:5678".parse().unwrap();
        assert_eq!(solicited_node(a), "ff02::1:ff34:5678".parse::<Ipv6Addr>().unwrap());
    }
}
