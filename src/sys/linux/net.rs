//! Sockets bound to one interface, and what the kernel says about
//! interfaces.

use super::{bind, cvt, ifreq, ioctl_ifreq, socket, v4_of};
use std::ffi::CStr;
use std::io;
use std::net::{Ipv4Addr, UdpSocket};
use std::os::fd::{AsRawFd, OwnedFd};
use std::time::Duration;

pub(super) fn setsockopt<T>(
    fd: &impl AsRawFd,
    level: libc::c_int,
    name: libc::c_int,
    value: &T,
) -> io::Result<()> {
    // SAFETY: `value` points to a live T whose size is passed along.
    cvt(unsafe {
        libc::setsockopt(
            fd.as_raw_fd(),
            level,
            name,
            (value as *const T).cast(),
            std::mem::size_of::<T>() as libc::socklen_t,
        )
    })?;
    Ok(())
}

/// An IPv4 UDP socket bound to `port` on interface `ifname` only:
/// `socket(2)`, `setsockopt(2)` SO_BINDTODEVICE (before `bind(2)`, so that
/// one port can be bound once per interface), optionally SO_BROADCAST, and
/// SO_REUSEPORT when `shared` (see `share_port`), then `bind(2)` to
/// 0.0.0.0:port.
///
/// Never SO_REUSEADDR: Linux lets any user share a UDP port with a socket
/// that has it, with no uid check, and the newest socket then receives the
/// unicast datagrams. Without it, a local user's bind to our port on our
/// interface (or on none) fails with EADDRINUSE.
pub(crate) fn udp_socket(ifname: &str, port: u16, broadcast: bool, shared: bool) -> io::Result<UdpSocket> {
    let fd = socket(libc::AF_INET, libc::SOCK_DGRAM, 0)?;
    let one: libc::c_int = 1;
    let name = ifreq(ifname)?.ifr_name;
    setsockopt(&fd, libc::SOL_SOCKET, libc::SO_BINDTODEVICE, &name)?;
    share_port(&fd, shared)?;
    if broadcast {
        setsockopt(&fd, libc::SOL_SOCKET, libc::SO_BROADCAST, &one)?;
    }
    let sin = libc::sockaddr_in {
        sin_family: libc::AF_INET as libc::sa_family_t,
        sin_port: port.to_be(),
        sin_addr: libc::in_addr { s_addr: 0 },
        sin_zero: [0; 8],
    };
    bind(&fd, &sin)?;
    Ok(UdpSocket::from(fd))
}

/// An IPv6 UDP socket bound to `[::]:port` on interface `ifname` only:
/// IPV6_V6ONLY, SO_BINDTODEVICE, SO_REUSEPORT when `shared` (never
/// SO_REUSEADDR, see `udp_socket`), multicast sent out of `ifname`
/// (IPV6_MULTICAST_IF) and not looped back (IPV6_MULTICAST_LOOP), and, with
/// `group`, membership of that multicast group on `ifname`
/// (IPV6_ADD_MEMBERSHIP) so that heartbeats sent to it are received.
pub(crate) fn udp6_socket(
    ifname: &str,
    port: u16,
    group: Option<std::net::Ipv6Addr>,
    shared: bool,
) -> io::Result<UdpSocket> {
    let index = if_index(ifname)?;
    let fd = socket(libc::AF_INET6, libc::SOCK_DGRAM, 0)?;
    let one: libc::c_int = 1;
    let zero: libc::c_int = 0;
    setsockopt(&fd, libc::IPPROTO_IPV6, libc::IPV6_V6ONLY, &one)?;
    let name = ifreq(ifname)?.ifr_name;
    setsockopt(&fd, libc::SOL_SOCKET, libc::SO_BINDTODEVICE, &name)?;
    share_port(&fd, shared)?;
    setsockopt(&fd, libc::IPPROTO_IPV6, libc::IPV6_MULTICAST_IF, &(index as libc::c_int))?;
    setsockopt(&fd, libc::IPPROTO_IPV6, libc::IPV6_MULTICAST_LOOP, &zero)?;
    let sin6 = libc::sockaddr_in6 {
        sin6_family: libc::AF_INET6 as libc::sa_family_t,
        sin6_port: port.to_be(),
        sin6_flowinfo: 0,
        sin6_addr: libc::in6_addr { s6_addr: [0; 16] },
        sin6_scope_id: 0,
    };
    bind(&fd, &sin6)?;
    if let Some(g) = group {
        let mreq = libc::ipv6_mreq {
            ipv6mr_multiaddr: libc::in6_addr { s6_addr: g.octets() },
            ipv6mr_interface: index,
        };
        setsockopt(&fd, libc::IPPROTO_IPV6, libc::IPV6_ADD_MEMBERSHIP, &mreq)?;
    }
    Ok(UdpSocket::from(fd))
}

/// `setsockopt(2)` SO_ATTACH_FILTER: a classic BPF program that drops
/// every datagram whose UDP payload holds all of `pattern` (bytes at
/// offsets) and lets everything else through, a datagram too short to
/// hold them included. The kernel runs a UDP socket's filter on the
/// datagram from its UDP header on, so payload offsets are 8 further.
pub(crate) fn drop_matching(sock: &UdpSocket, pattern: &[(usize, Vec<u8>)]) -> io::Result<()> {
    let prog = drop_program(pattern)?;
    let fprog = libc::sock_fprog { len: prog.len() as u16, filter: prog.as_ptr().cast_mut() };
    // The kernel copies the program during the call: `prog` outlives it.
    setsockopt(sock, libc::SOL_SOCKET, SO_ATTACH_FILTER, &fprog)
}

/// `SO_ATTACH_FILTER` from <asm-generic/socket.h> (x86, ARM, RISC-V; not
/// exported by the libc crate for glibc targets).
const SO_ATTACH_FILTER: libc::c_int = 26;
/// The UDP header in front of the payload, as a socket filter sees it.
const UDP_HEADER: u32 = 8;

fn drop_program(pattern: &[(usize, Vec<u8>)]) -> io::Result<Vec<libc::sock_filter>> {
    let op = |code: u32, k: u32| libc::sock_filter { code: code as u16, jt: 0, jf: 0, k };
    // Each compare: load (4 bytes at a time, then single bytes), then
    // "equal: next; else: accept", the accept's offset fixed below.
    let mut compares = Vec::new();
    let mut end = 0;
    for (at, bytes) in pattern {
        end = end.max(at + bytes.len());
        let mut words = bytes.chunks_exact(4);
        let mut offset = *at as u32 + UDP_HEADER;
        for w in words.by_ref() {
            compares.push((
                libc::BPF_LD | libc::BPF_W | libc::BPF_ABS,
                offset,
                u32::from_be_bytes([w[0], w[1], w[2], w[3]]),
            ));
            offset += 4;
        }
        for &b in words.remainder() {
            compares.push((libc::BPF_LD | libc::BPF_B | libc::BPF_ABS, offset, u32::from(b)));
            offset += 1;
        }
    }
    let mut prog = vec![
        op(libc::BPF_LD | libc::BPF_W | libc::BPF_LEN, 0),
        op(libc::BPF_JMP | libc::BPF_JGE | libc::BPF_K, end as u32 + UDP_HEADER),
    ];
    for (load, offset, value) in compares {
        prog.push(op(load, offset));
        prog.push(op(libc::BPF_JMP | libc::BPF_JEQ | libc::BPF_K, value));
    }
    prog.push(op(libc::BPF_RET | libc::BPF_K, 0));
    prog.push(op(libc::BPF_RET | libc::BPF_K, u32::MAX));
    let accept = prog.len() - 1;
    for i in (1..accept).step_by(2) {
        let skip = accept - (i + 1);
        prog[i].jf = u8::try_from(skip)
            .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "pattern too long"))?;
    }
    Ok(prog)
}

/// When both networks listen on one interface, their two sockets need the
/// same port on the same device: `setsockopt(2)` SO_REUSEPORT on both.
/// Unlike SO_REUSEADDR, Linux lets a socket join such a group only under
/// the same effective uid, so a local user still gets EADDRINUSE.
fn share_port(fd: &OwnedFd, shared: bool) -> io::Result<()> {
    if shared {
        let one: libc::c_int = 1;
        setsockopt(fd, libc::SOL_SOCKET, libc::SO_REUSEPORT, &one)?;
    }
    Ok(())
}

fn not_found(ifname: &str, e: io::Error) -> io::Error {
    match e.raw_os_error() {
        Some(libc::ENODEV) | Some(libc::ENXIO) => {
            io::Error::new(io::ErrorKind::NotFound, format!("no such interface {ifname}"))
        }
        _ => e,
    }
}

/// The interface's index, from `if_nametoindex(3)`.
pub(crate) fn if_index(ifname: &str) -> io::Result<u32> {
    let c = std::ffi::CString::new(ifname)
        .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "NUL in interface name"))?;
    // SAFETY: c is a valid NUL-terminated string for the duration of the call.
    let idx = unsafe { libc::if_nametoindex(c.as_ptr()) };
    if idx == 0 {
        return Err(not_found(ifname, io::Error::last_os_error()));
    }
    Ok(idx)
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct LinkState {
    pub index: u32,
    /// Administratively up (IFF_UP).
    pub up: bool,
    /// Carrier present (IFF_RUNNING).
    pub running: bool,
}

/// Index and flags of an interface: ioctl SIOCGIFINDEX and SIOCGIFFLAGS.
pub(crate) fn link_state(ifname: &str) -> io::Result<LinkState> {
    let fd = socket(libc::AF_INET, libc::SOCK_DGRAM, 0)?;
    let mut req = ifreq(ifname)?;
    ioctl_ifreq(&fd, libc::SIOCGIFINDEX, &mut req).map_err(|e| not_found(ifname, e))?;
    // SAFETY: SIOCGIFINDEX filled the ifindex member of the union.
    let index = unsafe { req.ifr_ifru.ifru_ifindex } as u32;
    let mut req = ifreq(ifname)?;
    ioctl_ifreq(&fd, libc::SIOCGIFFLAGS, &mut req).map_err(|e| not_found(ifname, e))?;
    // SAFETY: SIOCGIFFLAGS filled the flags member of the union.
    let flags = unsafe { req.ifr_ifru.ifru_flags } as libc::c_int;
    Ok(LinkState { index, up: flags & libc::IFF_UP != 0, running: flags & libc::IFF_RUNNING != 0 })
}

/// The interface's hardware address: ioctl SIOCGIFHWADDR.
pub(crate) fn hw_addr(ifname: &str) -> io::Result<[u8; 6]> {
    let fd = socket(libc::AF_INET, libc::SOCK_DGRAM, 0)?;
    let mut req = ifreq(ifname)?;
    ioctl_ifreq(&fd, libc::SIOCGIFHWADDR, &mut req).map_err(|e| not_found(ifname, e))?;
    // SAFETY: SIOCGIFHWADDR filled the hwaddr member of the union.
    let data = unsafe { req.ifr_ifru.ifru_hwaddr.sa_data };
    let mut mac = [0u8; 6];
    for (m, d) in mac.iter_mut().zip(data.iter()) {
        *m = *d as u8;
    }
    Ok(mac)
}

/// Every IPv4 address of the host: (label, address, prefix), from
/// `getifaddrs(3)`. Alias addresses carry their label, e.g. `eth0:1`.
pub(crate) fn list_ipv4() -> io::Result<Vec<(String, Ipv4Addr, u8)>> {
    let mut head: *mut libc::ifaddrs = std::ptr::null_mut();
    // SAFETY: getifaddrs writes a list head into `head`; freed below.
    cvt(unsafe { libc::getifaddrs(&mut head) })?;
    let mut out = Vec::new();
    let mut cur = head;
    while !cur.is_null() {
        // SAFETY: cur is a node of the list getifaddrs returned, which stays
        // valid until freeifaddrs.
        let ifa = unsafe { &*cur };
        cur = ifa.ifa_next;
        if ifa.ifa_addr.is_null() || ifa.ifa_name.is_null() {
            continue;
        }
        // SAFETY: ifa_addr is non-null and points to a sockaddr of the list.
        let addr = unsafe { &*ifa.ifa_addr };
        if i32::from(addr.sa_family) != libc::AF_INET {
            continue;
        }
        let prefix = if ifa.ifa_netmask.is_null() {
            32
        } else {
            // SAFETY: non-null netmask of an AF_INET entry is an AF_INET sockaddr.
            u32::from(v4_of(unsafe { &*ifa.ifa_netmask })).count_ones() as u8
        };
        // SAFETY: ifa_name is a NUL-terminated string owned by the list.
        let name = unsafe { CStr::from_ptr(ifa.ifa_name) }.to_string_lossy().into_owned();
        out.push((name, v4_of(addr), prefix));
    }
    // SAFETY: head came from getifaddrs and is freed exactly once.
    unsafe { libc::freeifaddrs(head) };
    Ok(out)
}

/// The interface (without alias suffix) whose IPv4 subnet contains `ip`.
pub(crate) fn interface_for(ip: Ipv4Addr) -> io::Result<Option<String>> {
    Ok(list_ipv4()?.into_iter().find_map(|(label, addr, prefix)| {
        let mask = prefix_mask(prefix);
        (u32::from(addr) & mask == u32::from(ip) & mask)
            .then(|| label.split(':').next().unwrap_or(&label).to_string())
    }))
}

/// The netmask of a prefix length, host order.
pub(crate) fn prefix_mask(prefix: u8) -> u32 {
    match prefix {
        0 => 0,
        p if p >= 32 => u32::MAX,
        p => u32::MAX << (32 - u32::from(p)),
    }
}

/// Which of two descriptors became readable.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct Ready {
    pub first: bool,
    pub second: bool,
}

/// Waits until `first` or `second` (either may be absent) is readable, or
/// `timeout` has passed: `poll(2)`. An interrupted wait returns nothing
/// ready; the caller loops anyway.
pub(crate) fn wait_readable(
    first: Option<&impl AsRawFd>,
    second: Option<&impl AsRawFd>,
    timeout: Duration,
) -> io::Result<Ready> {
    let fd_of = |fd: Option<i32>| libc::pollfd { fd: fd.unwrap_or(-1), events: libc::POLLIN, revents: 0 };
    // poll(2) skips entries with a negative fd.
    let mut fds = [fd_of(first.map(|f| f.as_raw_fd())), fd_of(second.map(|f| f.as_raw_fd()))];
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

    #[test]
    fn masks() {
        assert_eq!(prefix_mask(0), 0);
        assert_eq!(prefix_mask(24), 0xffff_ff00);
        assert_eq!(prefix_mask(32), u32::MAX);
        assert_eq!(prefix_mask(1), 0x8000_0000);
    }

    #[test]
    fn the_drop_program_compares_every_byte_and_accepts_the_rest() {
        let pattern = vec![(6, vec![2]), (12, vec![0xde, 0xad, 0xbe, 0xef, 0, 0, 0, 0, 0, 0, 0x12, 0x34])];
        let prog = drop_program(&pattern).unwrap();
        let ops: Vec<(u16, u8, u8, u32)> = prog.iter().map(|i| (i.code, i.jt, i.jf, i.k)).collect();
        let (ld_w, ld_b) = (
            (libc::BPF_LD | libc::BPF_W | libc::BPF_ABS) as u16,
            (libc::BPF_LD | libc::BPF_B | libc::BPF_ABS) as u16,
        );
        let jeq = (libc::BPF_JMP | libc::BPF_JEQ | libc::BPF_K) as u16;
        let ret = (libc::BPF_RET | libc::BPF_K) as u16;
        assert_eq!(
            ops,
            vec![
                ((libc::BPF_LD | libc::BPF_W | libc::BPF_LEN) as u16, 0, 0, 0),
                // Shorter than UDP header + 24 bytes: accept (the reader counts it).
                ((libc::BPF_JMP | libc::BPF_JGE | libc::BPF_K) as u16, 0, 9, 32),
                (ld_b, 0, 0, 14),
                (jeq, 0, 7, 2),
                (ld_w, 0, 0, 20),
                (jeq, 0, 5, 0xdead_beef),
                (ld_w, 0, 0, 24),
                (jeq, 0, 3, 0),
                (ld_w, 0, 0, 28),
                (jeq, 0, 1, 0x1234),
                (ret, 0, 0, 0),
                (ret, 0, 0, u32::MAX),
            ]
        );
    }

    fn free_port() -> u16 {
        std::net::UdpSocket::bind("0.0.0.0:0").unwrap().local_addr().unwrap().port()
    }

    /// What a local user would do to share the port: SO_REUSEADDR, on the
    /// device or on none, then bind to the wildcard address.
    fn thief(port: u16, device: Option<&str>) -> io::Result<OwnedFd> {
        let fd = socket(libc::AF_INET, libc::SOCK_DGRAM, 0)?;
        setsockopt(&fd, libc::SOL_SOCKET, libc::SO_REUSEADDR, &(1 as libc::c_int))?;
        if let Some(d) = device {
            setsockopt(&fd, libc::SOL_SOCKET, libc::SO_BINDTODEVICE, &ifreq(d)?.ifr_name)?;
        }
        let sin = libc::sockaddr_in {
            sin_family: libc::AF_INET as libc::sa_family_t,
            sin_port: port.to_be(),
            sin_addr: libc::in_addr { s_addr: 0 },
            sin_zero: [0; 8],
        };
        bind(&fd, &sin)?;
        Ok(fd)
    }

    fn in_use(r: io::Result<impl Sized>) -> bool {
        matches!(r, Err(e) if e.kind() == io::ErrorKind::AddrInUse)
    }

    #[test]
    fn our_port_cannot_be_shared_by_reuseaddr() {
        let port = free_port();
        let _ours = udp_socket("lo", port, false, false).unwrap();
        assert!(in_use(thief(port, Some("lo"))), "bound beside us on our device");
        assert!(in_use(thief(port, None)), "bound beside us on every device");
        assert!(in_use(std::net::UdpSocket::bind(("0.0.0.0", port))));
        // A second socket of ours on the same device needs `shared`.
        assert!(in_use(udp_socket("lo", port, false, false)));
        let port = free_port();
        let _a = udp_socket("lo", port, false, true).unwrap();
        let _b = udp_socket("lo", port, false, true).unwrap();
        assert!(in_use(thief(port, Some("lo"))));
        assert!(in_use(thief(port, None)));
        // IPv4 and IPv6 listeners of one interface share a port without it.
        let port = free_port();
        let _v4 = udp_socket("lo", port, false, false).unwrap();
        let _v6 = udp6_socket("lo", port, None, false).unwrap();
        let _v6b = udp6_socket("lo", free_port(), None, true).unwrap();
        assert!(in_use(udp6_socket("lo", port, None, false)));
    }

    #[test]
    fn loopback_is_listed() {
        let all = list_ipv4().unwrap();
        assert!(all.iter().any(|(_, a, p)| a.is_loopback() && *p == 8), "{all:?}");
        assert_eq!(interface_for(Ipv4Addr::new(127, 0, 0, 9)).unwrap().as_deref(), Some("lo"));
        assert!(link_state("lo").unwrap().up);
        assert_eq!(link_state("nosuchif0").unwrap_err().kind(), io::ErrorKind::NotFound);
    }
}
