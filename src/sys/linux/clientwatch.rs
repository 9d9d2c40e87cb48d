//! Watching for the first client packet after a move (ipfailoverd(8),
//! CLIENT CONFIRMATION): one AF_PACKET socket that sees every packet that
//! arrives on any interface (ETH_P_ALL), cut down in the kernel by a
//! classic BPF filter to the packets from another host that ask for or go
//! to the watched addresses: an ARP request for one, an IPv4 or IPv6
//! packet to one, a neighbour solicitation for one. Packets this host
//! sends (our gratuitous ARPs, the kernel's own answers) are dropped by
//! the filter (PACKET_OUTGOING). Each packet carries the kernel's arrival
//! time (SO_TIMESTAMPNS), so a watcher that reads it late still measures
//! the right delay.

use super::socket;
use std::io;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::os::fd::{AsRawFd, OwnedFd};
use std::time::{Duration, SystemTime};

const ETH_P_ALL: u16 = 0x0003;
const ETH_P_IP: u16 = 0x0800;
const ETH_P_ARP: u16 = 0x0806;
const ETH_P_IPV6: u16 = 0x86dd;
const PACKET_OUTGOING: u8 = 4;
/// linux/filter.h: the classic BPF opcodes used here.
const LD_W_ABS: u16 = 0x20; // BPF_LD | BPF_W | BPF_ABS
const LD_H_ABS: u16 = 0x28; // BPF_LD | BPF_H | BPF_ABS
const LD_B_ABS: u16 = 0x30; // BPF_LD | BPF_B | BPF_ABS
const JEQ_K: u16 = 0x15; // BPF_JMP | BPF_JEQ | BPF_K
const JA: u16 = 0x05; // BPF_JMP | BPF_JA
const RET_K: u16 = 0x06; // BPF_RET | BPF_K
/// Ancillary loads (SKF_AD_OFF + ...): skb->protocol, skb->pkt_type.
const AD_PROTOCOL: u32 = (-0x1000i32) as u32;
const AD_PKTTYPE: u32 = (-0x1000i32 + 4) as u32;
/// linux/bpf_common.h BPF_MAXINSNS.
const MAX_INSNS: usize = 4096;
/// Bytes of a packet kept: the headers the classification reads.
const KEEP: u32 = 128;

/// What kind of packet reached a watched address.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Kind {
    /// An ARP request whose target is the address.
    ArpRequest,
    /// An IPv4 packet to the address.
    Ipv4,
    /// A neighbour solicitation for the address.
    Solicitation,
    /// An IPv6 packet to the address.
    Ipv6,
}

impl Kind {
    pub(crate) fn words(self) -> &'static str {
        match self {
            Kind::ArpRequest => "an ARP request",
            Kind::Ipv4 => "an IPv4 packet",
            Kind::Solicitation => "a neighbour solicitation",
            Kind::Ipv6 => "an IPv6 packet",
        }
    }

    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Kind::ArpRequest => "arp",
            Kind::Ipv4 => "ipv4",
            Kind::Solicitation => "ns",
            Kind::Ipv6 => "ipv6",
        }
    }
}

/// A packet from another host for a watched address.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Seen {
    pub kind: Kind,
    /// The address it asked for or went to.
    pub to: IpAddr,
    /// Its sender (the ARP or IP source address).
    pub from: IpAddr,
    /// The interface it arrived on.
    pub ifindex: u32,
    /// When the kernel received it (CLOCK_REALTIME).
    pub at: SystemTime,
}

/// The one question the classifier answers, on the network-layer bytes
/// `p` of protocol `proto`: which address does this packet ask for or go
/// to, from whom, and as what. Only requests count for ARP, and not a
/// gratuitous one (sender = target: a host announcing the address, not a
/// client) nor an RFC 5227 probe (sender 0.0.0.0: a host asking whether
/// it is free); neither does a neighbour solicitation from :: (duplicate
/// address detection).
pub(crate) fn classify(proto: u16, p: &[u8]) -> Option<(Kind, IpAddr, IpAddr)> {
    match proto {
        ETH_P_ARP => {
            if p.len() < 28
                || p[0..2] != [0, 1]
                || p[2..4] != [8, 0]
                || p[4] != 6
                || p[5] != 4
                || p[6..8] != [0, 1]
            {
                return None;
            }
            let spa = Ipv4Addr::new(p[14], p[15], p[16], p[17]);
            let tpa = Ipv4Addr::new(p[24], p[25], p[26], p[27]);
            if spa == tpa || spa.is_unspecified() {
                return None;
            }
            Some((Kind::ArpRequest, IpAddr::V4(tpa), IpAddr::V4(spa)))
        }
        ETH_P_IP => {
            if p.len() < 20 || p[0] >> 4 != 4 {
                return None;
            }
            let src = Ipv4Addr::new(p[12], p[13], p[14], p[15]);
            let dst = Ipv4Addr::new(p[16], p[17], p[18], p[19]);
            Some((Kind::Ipv4, IpAddr::V4(dst), IpAddr::V4(src)))
        }
        ETH_P_IPV6 => {
            if p.len() < 40 || p[0] >> 4 != 6 {
                return None;
            }
            let v6 = |at: usize| {
                let mut o = [0u8; 16];
                o.copy_from_slice(&p[at..at + 16]);
                Ipv6Addr::from(o)
            };
            let src = v6(8);
            // ICMPv6 (58) type 135 right after the header: a solicitation,
            // whose target follows its 8-byte header.
            if p[6] == 58 && p.len() >= 64 && p[40] == 135 {
                if src.is_unspecified() {
                    return None;
                }
                return Some((Kind::Solicitation, IpAddr::V6(v6(48)), IpAddr::V6(src)));
            }
            Some((Kind::Ipv6, IpAddr::V6(v6(24)), IpAddr::V6(src)))
        }
        _ => None,
    }
}

fn insn(code: u16, jt: u8, jf: u8, k: u32) -> libc::sock_filter {
    libc::sock_filter { code, jt, jf, k }
}

/// The last 32 bits of an IPv6 address, as BPF loads them.
fn low_word(a: &Ipv6Addr) -> u32 {
    let o = a.octets();
    u32::from_be_bytes([o[12], o[13], o[14], o[15]])
}

/// The classic BPF program: drop what this host sends; keep (the first
/// `KEEP` bytes of) ARP whose target address, IPv4 whose destination, and
/// IPv6 whose destination or (for a solicitation) target ends like one of
/// the watched addresses; drop the rest. It only has to be cheap and
/// never drop a packet that counts: `classify` and the caller decide. A
/// program too long for the kernel (thousands of addresses) keeps every
/// incoming ARP, IPv4 and IPv6 packet.
pub(crate) fn filter(v4: &[Ipv4Addr], v6: &[Ipv6Addr]) -> Vec<libc::sock_filter> {
    let section = |load: u32, words: &mut dyn Iterator<Item = u32>, out: &mut Vec<libc::sock_filter>| {
        out.push(insn(LD_W_ABS, 0, 0, load));
        for w in words {
            out.push(insn(JEQ_K, 0, 1, w));
            out.push(insn(RET_K, 0, 0, KEEP));
        }
    };
    let mut arp = Vec::new();
    section(24, &mut v4.iter().map(|a| u32::from(*a)), &mut arp);
    arp.push(insn(RET_K, 0, 0, 0));
    let mut ip4 = Vec::new();
    section(16, &mut v4.iter().map(|a| u32::from(*a)), &mut ip4);
    ip4.push(insn(RET_K, 0, 0, 0));
    let mut ip6 = Vec::new();
    section(36, &mut v6.iter().map(low_word), &mut ip6);
    section(60, &mut v6.iter().map(low_word), &mut ip6);
    ip6.push(insn(RET_K, 0, 0, 0));
    let head = |arp: u32, ip4: u32, ip6: u32| {
        vec![
            insn(LD_B_ABS, 0, 0, AD_PKTTYPE),
            insn(JEQ_K, 0, 1, u32::from(PACKET_OUTGOING)),
            insn(RET_K, 0, 0, 0),
            insn(LD_H_ABS, 0, 0, AD_PROTOCOL),
            insn(JEQ_K, 0, 1, u32::from(ETH_P_ARP)),
            insn(JA, 0, 0, arp),
            insn(JEQ_K, 0, 1, u32::from(ETH_P_IP)),
            insn(JA, 0, 0, ip4),
            insn(JEQ_K, 0, 1, u32::from(ETH_P_IPV6)),
            insn(JA, 0, 0, ip6),
            insn(RET_K, 0, 0, 0),
        ]
    };
    // The jumps count from the instruction after each `ja`: the ARP
    // section starts right after the head (index 11).
    let (a, b) = (arp.len() as u32, ip4.len() as u32);
    let mut prog = head(5, 3 + a, 1 + a + b);
    if prog.len() + arp.len() + ip4.len() + ip6.len() > MAX_INSNS {
        let mut short = head(0, 0, 0);
        for i in [5, 7, 9] {
            short[i] = insn(RET_K, 0, 0, KEEP);
        }
        return short;
    }
    prog.extend(arp);
    prog.extend(ip4);
    prog.extend(ip6);
    prog
}

/// A socket that sees the packets other hosts send to the watched
/// addresses, on any interface.
pub(crate) struct ClientWatch {
    fd: OwnedFd,
}

impl ClientWatch {
    /// `socket(2)` AF_PACKET, SOCK_DGRAM with protocol 0 (no protocol hook
    /// yet, as `packet::ArpSocket::open` explains), `setsockopt(2)`
    /// SO_ATTACH_FILTER with `filter(v4, v6)` and SO_TIMESTAMPNS, then
    /// `bind(2)` to ETH_P_ALL on every interface (index 0): from then on
    /// the kernel queues what passes the filter.
    pub(crate) fn open(v4: &[Ipv4Addr], v6: &[Ipv6Addr]) -> io::Result<ClientWatch> {
        let fd = socket(libc::AF_PACKET, libc::SOCK_DGRAM, 0)?;
        let mut prog = filter(v4, v6);
        let fprog = libc::sock_fprog { len: prog.len() as u16, filter: prog.as_mut_ptr() };
        super::net::setsockopt(&fd, libc::SOL_SOCKET, libc::SO_ATTACH_FILTER, &fprog)?;
        super::net::setsockopt(&fd, libc::SOL_SOCKET, libc::SO_TIMESTAMPNS, &(1 as libc::c_int))?;
        let sll = libc::sockaddr_ll {
            sll_family: libc::AF_PACKET as u16,
            sll_protocol: ETH_P_ALL.to_be(),
            sll_ifindex: 0,
            sll_hatype: 0,
            sll_pkttype: 0,
            sll_halen: 0,
            sll_addr: [0; 8],
        };
        super::bind(&fd, &sll)?;
        Ok(ClientWatch { fd })
    }

    /// The next queued packet that `classify` recognises, waiting up to
    /// `wait` for one (`poll(2)` on the socket and on `stop`, then
    /// `recvmsg(2)` with MSG_DONTWAIT); `None` when none came in time or
    /// `stop` became readable (the caller's cancellation: a pipe whose
    /// write end was closed). What it returns is not yet checked against
    /// the watched addresses: the caller knows which count.
    pub(crate) fn next(&self, wait: Duration, stop: &impl AsRawFd) -> io::Result<Option<Seen>> {
        let mut buf = [0u8; KEEP as usize];
        let end = std::time::Instant::now() + wait;
        loop {
            match self.recv(&mut buf)? {
                Some(seen) => return Ok(Some(seen)),
                None => {
                    let left = end.saturating_duration_since(std::time::Instant::now());
                    if left.is_zero() {
                        return Ok(None);
                    }
                    if super::net::wait_readable(Some(&self.fd), Some(stop), left)?.second {
                        return Ok(None);
                    }
                }
            }
        }
    }

    /// Reads queued packets until one is recognised; `None` when the queue
    /// is empty.
    fn recv(&self, buf: &mut [u8]) -> io::Result<Option<Seen>> {
        loop {
            let mut iov = libc::iovec { iov_base: buf.as_mut_ptr().cast(), iov_len: buf.len() };
            // u64s: aligned for cmsghdr; room for a timespec and then some.
            let mut control = [0u64; 16];
            // SAFETY: sockaddr_ll is plain data; all-zero is a valid value.
            let mut from: libc::sockaddr_ll = unsafe { std::mem::zeroed() };
            // SAFETY: msghdr is plain data; all-zero is a valid empty header.
            let mut msg: libc::msghdr = unsafe { std::mem::zeroed() };
            msg.msg_name = (&mut from as *mut libc::sockaddr_ll).cast();
            msg.msg_namelen = std::mem::size_of::<libc::sockaddr_ll>() as libc::socklen_t;
            msg.msg_iov = &mut iov;
            msg.msg_iovlen = 1;
            msg.msg_control = control.as_mut_ptr().cast();
            msg.msg_controllen = std::mem::size_of_val(&control) as _;
            // SAFETY: msg points to `from`, one iovec over `buf` and
            // `control`, all live and writable for the lengths given.
            let n = unsafe { libc::recvmsg(self.fd.as_raw_fd(), &mut msg, libc::MSG_DONTWAIT) };
            if n < 0 {
                let e = io::Error::last_os_error();
                return match e.kind() {
                    io::ErrorKind::WouldBlock => Ok(None),
                    io::ErrorKind::Interrupted => continue,
                    _ => Err(e),
                };
            }
            let mut at = None;
            // SAFETY: msg is the header recvmsg filled in; CMSG_FIRSTHDR and
            // CMSG_NXTHDR stay within msg_controllen of `control` and return
            // null at its end.
            let mut cmsg = unsafe { libc::CMSG_FIRSTHDR(&msg) };
            while !cmsg.is_null() {
                // SAFETY: cmsg is non-null and points into `control`, at a
                // header the kernel wrote.
                let header = unsafe { &*cmsg };
                if header.cmsg_level == libc::SOL_SOCKET && header.cmsg_type == libc::SCM_TIMESTAMPNS {
                    // SAFETY: an SCM_TIMESTAMPNS message carries one
                    // timespec inside `control`; read unaligned as CMSG_DATA
                    // promises no alignment.
                    let ts = unsafe { timespec_of(cmsg) };
                    at = Some(SystemTime::UNIX_EPOCH + Duration::new(ts.tv_sec as u64, ts.tv_nsec as u32));
                }
                // SAFETY: as for CMSG_FIRSTHDR.
                cmsg = unsafe { libc::CMSG_NXTHDR(&msg, cmsg) };
            }
            if from.sll_pkttype == PACKET_OUTGOING {
                continue;
            }
            let len = (n as usize).min(buf.len());
            let proto = u16::from_be(from.sll_protocol);
            if let Some((kind, to, sender)) = classify(proto, &buf[..len]) {
                let at = at.unwrap_or_else(SystemTime::now);
                return Ok(Some(Seen { kind, to, from: sender, ifindex: from.sll_ifindex as u32, at }));
            }
        }
    }
}

/// The timespec inside an SCM_TIMESTAMPNS control message.
///
/// # Safety
/// `cmsg` points to a control message of that type, inside a live buffer.
unsafe fn timespec_of(cmsg: *const libc::cmsghdr) -> libc::timespec {
    // SAFETY: the caller promises a timespec follows the header; read
    // unaligned.
    unsafe { libc::CMSG_DATA(cmsg).cast::<libc::timespec>().read_unaligned() }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn arp(op: u16, spa: [u8; 4], tpa: [u8; 4]) -> Vec<u8> {
        let mut p = vec![0, 1, 8, 0, 6, 4];
        p.extend(op.to_be_bytes());
        p.extend([2, 0, 0, 0, 0, 9]);
        p.extend(spa);
        p.extend([0; 6]);
        p.extend(tpa);
        p
    }

    #[test]
    fn only_a_clients_arp_request_counts() {
        let a = IpAddr::V4(Ipv4Addr::new(198, 18, 0, 10));
        let c = IpAddr::V4(Ipv4Addr::new(198, 18, 0, 100));
        let req = arp(1, [198, 18, 0, 100], [198, 18, 0, 10]);
        assert_eq!(classify(ETH_P_ARP, &req), Some((Kind::ArpRequest, a, c)));
        // A reply, a gratuitous ARP, a probe: not a client asking.
        assert_eq!(classify(ETH_P_ARP, &arp(2, [198, 18, 0, 100], [198, 18, 0, 10])), None);
        assert_eq!(classify(ETH_P_ARP, &arp(1, [198, 18, 0, 10], [198, 18, 0, 10])), None);
        assert_eq!(classify(ETH_P_ARP, &arp(1, [0; 4], [198, 18, 0, 10])), None);
        assert_eq!(classify(ETH_P_ARP, &req[..27]), None);
    }

    #[test]
    fn ip_packets_by_destination() {
        let mut v4 = vec![0x45, 0, 0, 20, 0, 0, 0, 0, 64, 17, 0, 0, 198, 18, 0, 100, 198, 18, 0, 10];
        let (k, to, from) = classify(ETH_P_IP, &v4).unwrap();
        assert_eq!(
            (k, to.to_string(), from.to_string()),
            (Kind::Ipv4, "198.18.0.10".into(), "198.18.0.100".into())
        );
        v4[0] = 0x65;
        assert_eq!(classify(ETH_P_IP, &v4), None);
        let src: Ipv6Addr = "fd00:18::100".parse().unwrap();
        let dst: Ipv6Addr = "fd00:18::10".parse().unwrap();
        let mut v6 = vec![0x60, 0, 0, 0, 0, 24, 17, 64];
        v6.extend(src.octets());
        v6.extend(dst.octets());
        v6.extend([0u8; 24]);
        assert_eq!(classify(ETH_P_IPV6, &v6), Some((Kind::Ipv6, IpAddr::V6(dst), IpAddr::V6(src))));
        // A solicitation for the address, to its solicited-node group.
        let mut ns = v6.clone();
        ns[6] = 58;
        ns[24..40].copy_from_slice(&crate::sys::nd::solicited_node(dst).octets());
        ns[40] = 135;
        ns[48..64].copy_from_slice(&dst.octets());
        assert_eq!(classify(ETH_P_IPV6, &ns), Some((Kind::Solicitation, IpAddr::V6(dst), IpAddr::V6(src))));
        // Duplicate address detection (from ::) is no client.
        ns[8..24].copy_from_slice(&[0; 16]);
        assert_eq!(classify(ETH_P_IPV6, &ns), None);
    }

    /// Runs the program on a packet as the kernel would for the few
    /// opcodes it uses, `pkttype` and `proto` standing in for the skb.
    fn run(prog: &[libc::sock_filter], pkttype: u8, proto: u16, p: &[u8]) -> u32 {
        let (mut pc, mut acc) = (0usize, 0u32);
        loop {
            let i = prog[pc];
            pc += 1;
            match i.code {
                LD_B_ABS if i.k == AD_PKTTYPE => acc = u32::from(pkttype),
                LD_H_ABS if i.k == AD_PROTOCOL => acc = u32::from(proto),
                LD_W_ABS => {
                    let k = i.k as usize;
                    match p.get(k..k + 4) {
                        Some(w) => acc = u32::from_be_bytes([w[0], w[1], w[2], w[3]]),
                        None => return 0,
                    }
                }
                JEQ_K => pc += usize::from(if acc == i.k { i.jt } else { i.jf }),
                JA => pc += i.k as usize,
                RET_K => return i.k,
                other => panic!("opcode {other:#x}"),
            }
        }
    }

    #[test]
    fn the_filter_keeps_what_counts_and_drops_the_rest() {
        let v4 = [Ipv4Addr::new(198, 18, 0, 10), Ipv4Addr::new(198, 18, 0, 11)];
        let v6: [Ipv6Addr; 1] = ["fd00:18::10".parse().unwrap()];
        let prog = filter(&v4, &v6);
        let req = arp(1, [198, 18, 0, 100], [198, 18, 0, 11]);
        assert_eq!(run(&prog, 0, ETH_P_ARP, &req), KEEP);
        assert_eq!(run(&prog, 1, ETH_P_ARP, &req), KEEP, "broadcast");
        assert_eq!(run(&prog, PACKET_OUTGOING, ETH_P_ARP, &req), 0, "our own");
        assert_eq!(run(&prog, 0, ETH_P_ARP, &arp(1, [198, 18, 0, 100], [198, 18, 0, 12])), 0);
        let mut ip = vec![0x45, 0, 0, 20, 0, 0, 0, 0, 64, 17, 0, 0, 198, 18, 0, 100, 198, 18, 0, 10];
        assert_eq!(run(&prog, 0, ETH_P_IP, &ip), KEEP);
        ip[19] = 1;
        assert_eq!(run(&prog, 0, ETH_P_IP, &ip), 0);
        let mut v6p = vec![0x60, 0, 0, 0, 0, 24, 17, 64];
        v6p.extend([0u8; 16]);
        v6p.extend(v6[0].octets());
        v6p.extend([0u8; 24]);
        assert_eq!(run(&prog, 0, ETH_P_IPV6, &v6p), KEEP);
        v6p[39] = 0x11;
        assert_eq!(run(&prog, 0, ETH_P_IPV6, &v6p), 0);
        v6p[60..64].copy_from_slice(&v6[0].octets()[12..]);
        assert_eq!(run(&prog, 0, ETH_P_IPV6, &v6p), KEEP, "a solicitation's target");
        assert_eq!(run(&prog, 0, 0x88cc, &v6p), 0, "LLDP");
        // Thousands of addresses: the short program keeps what comes in.
        let many: Vec<Ipv4Addr> = (0..3000u32).map(|i| Ipv4Addr::from(0xc612_0000 + i)).collect();
        let short = filter(&many, &[]);
        assert!(short.len() < 20);
        assert_eq!(run(&short, 0, ETH_P_IP, &ip), KEEP);
        assert_eq!(run(&short, PACKET_OUTGOING, ETH_P_IP, &ip), 0);
    }
}
