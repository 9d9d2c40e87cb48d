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
pub fn advertisement(target: Ipv6Addr, mac: [u8; 6]) -> [u8; 32] {
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
pub fn solicitation(target: Ipv6Addr, mac: [u8; 6]) -> [u8; 32] {
    let mut p = advertisement(target, mac);
    p[0] = SOLICITATION;
    p[4] = 0;
    p[24] = OPT_SOURCE_LL;
    p
}

/// The solicited-node multicast group of `addr` (ff02::1:ffXX:XXXX).
pub fn solicited_node(addr: Ipv6Addr) -> Ipv6Addr {
    let o = addr.octets();
    Ipv6Addr::new(0xff02, 0, 0, 0, 0, 1, 0xff00 | u16::from(o[13]), u16::from_be_bytes([o[14], o[15]]))
}

/// For an advertisement of `target`: the link-layer address it carries
/// (zero if it carries none).
pub fn advertised(p: &[u8], target: Ipv6Addr) -> Option<[u8; 6]> {
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

pub struct NdSocket {
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
    /// `ifname` (IPV6_MULTICAST_IF), our own packets not looped back.
    pub fn open(ifname: &str) -> io::Result<NdSocket> {
        let index = super::net::if_index(ifname)?;
        let mac = super::net::hw_addr(ifname)?;
        let fd = socket(libc::AF_INET6, libc::SOCK_RAW, libc::IPPROTO_ICMPV6)?;
        let name = super::ifreq(ifname)?.ifr_name;
        super::net::setsockopt(&fd, libc::SOL_SOCKET, libc::SO_BINDTODEVICE, &name)?;
        setsockopt(&fd, libc::IPPROTO_IPV6, libc::IPV6_MULTICAST_HOPS, 255)?;
        setsockopt(&fd, libc::IPPROTO_IPV6, libc::IPV6_UNICAST_HOPS, 255)?;
        setsockopt(&fd, libc::IPPROTO_IPV6, libc::IPV6_MULTICAST_IF, index as libc::c_int)?;
        setsockopt(&fd, libc::IPPROTO_IPV6, libc::IPV6_MULTICAST_LOOP, 0)?;
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
    pub fn send_unsolicited_na(&self, addr: Ipv6Addr) -> io::Result<()> {
        self.send(&advertisement(addr, self.mac), ALL_NODES)
    }

    /// A neighbour solicitation for each of `addrs` to its solicited-node
    /// group, all sent at once, then `poll(2)`/`recv(2)` for up to `wait`
    /// for advertisements of them from another host. Returns each address
    /// that answered with the MAC it carries; stops early once all did.
    pub fn probe(&self, addrs: &[Ipv6Addr], wait: Duration) -> io::Result<Vec<(Ipv6Addr, [u8; 6])>> {
        for addr in addrs {
            self.send(&solicitation(*addr, self.mac), solicited_node(*addr))?;
        }
        let mut found = Vec::new();
        super::recv_until(&self.fd, Instant::now() + wait, |p| {
            for a in addrs {
                if let Some(mac) = advertised(p, *a) {
                    if mac != self.mac && !found.iter().any(|(f, _)| f == a) {
                        found.push((*a, mac));
                    }
                }
            }
            found.len() == addrs.len()
        })?;
        Ok(found)
    }
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
