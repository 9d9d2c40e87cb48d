//! ARP through an AF_PACKET socket: gratuitous ARP to announce an address
//! we took over, and RFC 5227 probes to see whether anyone holds one.

use super::socket;
use std::io;
use std::net::Ipv4Addr;
use std::os::fd::OwnedFd;
use std::time::{Duration, Instant};

const ETH_P_ARP: u16 = 0x0806;
const ARP_LEN: usize = 28;
const BROADCAST: [u8; 6] = [0xff; 6];

/// An ARP packet (Ethernet/IPv4), without the Ethernet header, which the
/// SOCK_DGRAM packet socket adds.
pub(crate) fn arp_packet(op: u16, sha: [u8; 6], spa: Ipv4Addr, tha: [u8; 6], tpa: Ipv4Addr) -> [u8; ARP_LEN] {
    let mut p = [0u8; ARP_LEN];
    p[0..2].copy_from_slice(&1u16.to_be_bytes()); // hardware: Ethernet
    p[2..4].copy_from_slice(&0x0800u16.to_be_bytes()); // protocol: IPv4
    p[4] = 6;
    p[5] = 4;
    p[6..8].copy_from_slice(&op.to_be_bytes());
    p[8..14].copy_from_slice(&sha);
    p[14..18].copy_from_slice(&spa.octets());
    p[18..24].copy_from_slice(&tha);
    p[24..28].copy_from_slice(&tpa.octets());
    p
}

/// The sender (MAC, IPv4) of an ARP packet, if it is one.
pub(crate) fn arp_sender(p: &[u8]) -> Option<([u8; 6], Ipv4Addr)> {
    if p.len() < ARP_LEN || p[0..2] != [0, 1] || p[2..4] != [8, 0] || p[4] != 6 || p[5] != 4 {
        return None;
    }
    let mut mac = [0u8; 6];
    mac.copy_from_slice(&p[8..14]);
    Some((mac, Ipv4Addr::new(p[14], p[15], p[16], p[17])))
}

/// An AF_PACKET/SOCK_DGRAM socket for ARP on one interface.
pub(crate) struct ArpSocket {
    fd: OwnedFd,
    index: i32,
    mac: [u8; 6],
}

impl ArpSocket {
    /// A socket that only sends: `socket(2)` AF_PACKET, SOCK_DGRAM with
    /// protocol 0 and no `bind(2)`; each `sendto(2)` names the interface
    /// and ETH_P_ARP. Opening one that receives ARP (`open`) registers a
    /// protocol hook in the kernel, which waits for an RCU grace period:
    /// 7-15 ms measured, on the takeover path before the first gratuitous
    /// ARP. This one costs microseconds.
    pub(crate) fn sender(ifname: &str) -> io::Result<ArpSocket> {
        let index = super::net::if_index(ifname)? as i32;
        let mac = super::net::hw_addr(ifname)?;
        let fd = socket(libc::AF_PACKET, libc::SOCK_DGRAM, 0)?;
        Ok(ArpSocket { fd, index, mac })
    }

    /// `socket(2)` AF_PACKET, SOCK_DGRAM with protocol 0, then `bind(2)`
    /// to the interface's index and ETH_P_ARP: sends, and receives ARP for
    /// `probe`. Created with protocol 0, the socket has no protocol hook
    /// yet, so the bind only registers one; created with ETH_P_ARP, the
    /// bind would first unregister that hook and wait for an RCU grace
    /// period (16 ms measured on the takeover probe's path). Closing still
    /// waits for one: callers report their result before they drop it.
    pub(crate) fn open(ifname: &str) -> io::Result<ArpSocket> {
        let index = super::net::if_index(ifname)? as i32;
        let mac = super::net::hw_addr(ifname)?;
        let fd = socket(libc::AF_PACKET, libc::SOCK_DGRAM, 0)?;
        let sll = link_addr(index, [0; 6]);
        super::bind(&fd, &sll)?;
        Ok(ArpSocket { fd, index, mac })
    }

    fn send(&self, packet: &[u8; ARP_LEN]) -> io::Result<()> {
        let sll = link_addr(self.index, BROADCAST);
        super::send_to(&self.fd, packet, &sll)
    }

    /// A gratuitous ARP request for `addr` (sender and target address both
    /// `addr`), broadcast with `sendto(2)`. Requests rather than replies:
    /// every host updates its cache from a request, and it is what
    /// keepalived sends.
    pub(crate) fn send_garp(&self, addr: Ipv4Addr) -> io::Result<()> {
        self.send(&arp_packet(1, self.mac, addr, [0; 6], addr))
    }

    /// RFC 5227 probes: an ARP request with sender address 0.0.0.0 for
    /// each of `addrs`, sent `super::PROBES` times spread evenly over
    /// `wait` (`super::probe_rounds`; a lost request or reply is made up by
    /// the next one, and the total wait does not grow), with
    /// `poll(2)`/`recv(2)` for ARP packets whose sender is one of them in
    /// between. Returns each address that answered (any answer counts) with
    /// its MAC; stops early once all did.
    pub(crate) fn probe(&self, addrs: &[Ipv4Addr], wait: Duration) -> io::Result<Vec<(Ipv4Addr, [u8; 6])>> {
        let mut found: Vec<(Ipv4Addr, [u8; 6])> = Vec::new();
        for end in super::probe_rounds(Instant::now(), wait) {
            for addr in addrs.iter().filter(|a| !found.iter().any(|(f, _)| f == *a)) {
                self.send(&arp_packet(1, self.mac, Ipv4Addr::UNSPECIFIED, [0; 6], *addr))?;
            }
            super::recv_until(&self.fd, end, |p| {
                if let Some((mac, ip)) = arp_sender(p) {
                    if mac != self.mac && addrs.contains(&ip) && !found.iter().any(|(a, _)| *a == ip) {
                        found.push((ip, mac));
                    }
                }
                found.len() == addrs.len()
            })?;
            if found.len() == addrs.len() {
                break;
            }
        }
        Ok(found)
    }
}

fn link_addr(index: i32, dest: [u8; 6]) -> libc::sockaddr_ll {
    let mut addr = [0u8; 8];
    addr[..6].copy_from_slice(&dest);
    libc::sockaddr_ll {
        sll_family: libc::AF_PACKET as u16,
        sll_protocol: ETH_P_ARP.to_be(),
        sll_ifindex: index,
        sll_hatype: 0,
        sll_pkttype: 0,
        sll_halen: 6,
        sll_addr: addr,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn garp_layout() {
        let mac = [2, 0, 0, 0, 0, 1];
        let a = Ipv4Addr::new(198, 18, 0, 10);
        let p = arp_packet(1, mac, a, [0; 6], a);
        assert_eq!(&p[..8], &[0, 1, 8, 0, 6, 4, 0, 1]);
        assert_eq!(&p[8..14], &mac);
        assert_eq!(&p[14..18], &[198, 18, 0, 10]);
        assert_eq!(&p[18..24], &[0; 6]);
        assert_eq!(&p[24..28], &[198, 18, 0, 10]);
        assert_eq!(arp_sender(&p), Some((mac, a)));
        assert_eq!(arp_sender(&p[..27]), None);
    }
}
