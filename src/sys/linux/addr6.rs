//! IPv6 service addresses: add and remove through ioctl on an AF_INET6
//! socket (`struct in6_ifreq`), list through `/proc/net/if_inet6`, and the
//! interface's duplicate address detection switch.

use super::addr::Change;
use super::socket;
use std::io;
use std::net::Ipv6Addr;
use std::os::fd::AsRawFd;

/// IFA_F_TENTATIVE: duplicate address detection has not finished yet.
const TENTATIVE: u32 = 0x40;

/// One line of `/proc/net/if_inet6`.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct Entry {
    pub ifname: String,
    pub addr: Ipv6Addr,
    pub prefix: u8,
    pub tentative: bool,
}

/// Parses `/proc/net/if_inet6`: address (32 hex digits), ifindex, prefix
/// length, scope and flags (hex), interface name.
pub(crate) fn parse_if_inet6(text: &str) -> Vec<Entry> {
    text.lines()
        .filter_map(|line| {
            let w: Vec<&str> = line.split_whitespace().collect();
            let [hex, _, prefix, _, flags, name] = w[..] else { return None };
            let addr = u128::from_str_radix(hex, 16).ok().filter(|_| hex.len() == 32)?;
            Some(Entry {
                ifname: name.to_string(),
                addr: Ipv6Addr::from(addr),
                prefix: u8::from_str_radix(prefix, 16).ok()?,
                tentative: u32::from_str_radix(flags, 16).ok()? & TENTATIVE != 0,
            })
        })
        .collect()
}

/// Every IPv6 address of every interface.
pub(crate) fn list_ipv6() -> io::Result<Vec<Entry>> {
    match std::fs::read_to_string("/proc/net/if_inet6") {
        Ok(text) => Ok(parse_if_inet6(&text)),
        // IPv6 disabled on this host: no addresses.
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(Vec::new()),
        Err(e) => Err(e),
    }
}

pub(crate) fn has_ipv6(ifname: &str, addr: Ipv6Addr) -> io::Result<bool> {
    Ok(list_ipv6()?.iter().any(|e| e.ifname == ifname && e.addr == addr))
}

/// `ioctl(2)` SIOCSIFADDR or SIOCDIFADDR with a `struct in6_ifreq`.
fn ioctl6(request: libc::c_ulong, ifname: &str, addr: Ipv6Addr, prefix: u8) -> io::Result<()> {
    let index = super::net::if_index(ifname)?;
    let fd = socket(libc::AF_INET6, libc::SOCK_DGRAM, 0)?;
    let mut req = libc::in6_ifreq {
        ifr6_addr: libc::in6_addr { s6_addr: addr.octets() },
        ifr6_prefixlen: u32::from(prefix),
        ifr6_ifindex: index as libc::c_int,
    };
    // SAFETY: both requests take a `struct in6_ifreq *`, which points to a
    // live, initialised in6_ifreq for the duration of the call.
    super::cvt(unsafe { libc::ioctl(fd.as_raw_fd(), request as _, &mut req as *mut libc::in6_ifreq) })?;
    Ok(())
}

/// Adds `addr/prefix` to `ifname` (ioctl SIOCSIFADDR on AF_INET6).
pub(crate) fn add_ipv6(ifname: &str, addr: Ipv6Addr, prefix: u8) -> io::Result<Change> {
    if has_ipv6(ifname, addr)? {
        return Ok(Change::AlreadyThere);
    }
    match ioctl6(libc::SIOCSIFADDR, ifname, addr, prefix) {
        Ok(()) => Ok(Change::Done),
        Err(e) if e.raw_os_error() == Some(libc::EEXIST) => Ok(Change::AlreadyThere),
        Err(e) => Err(e),
    }
}

/// Removes `addr/prefix` from `ifname` (ioctl SIOCDIFADDR on AF_INET6). An
/// address or interface that is gone is `AlreadyThere`.
pub(crate) fn remove_ipv6(ifname: &str, addr: Ipv6Addr, prefix: u8) -> io::Result<Change> {
    if !has_ipv6(ifname, addr)? {
        return Ok(Change::AlreadyThere);
    }
    match ioctl6(libc::SIOCDIFADDR, ifname, addr, prefix) {
        Ok(()) => Ok(Change::Done),
        Err(e) if matches!(e.raw_os_error(), Some(libc::EADDRNOTAVAIL) | Some(libc::ENODEV)) => {
            Ok(Change::AlreadyThere)
        }
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(Change::AlreadyThere),
        Err(e) => Err(e),
    }
}

/// Sets `/proc/sys/net/ipv6/conf/<ifname>/accept_dad` and returns the value
/// it had. With 0, addresses added afterwards are usable at once instead of
/// staying tentative for about a second.
pub(crate) fn set_accept_dad(ifname: &str, value: i32) -> io::Result<i32> {
    if ifname.contains('/') || ifname.starts_with('.') {
        return Err(io::Error::new(io::ErrorKind::InvalidInput, format!("bad interface name {ifname:?}")));
    }
    let path = format!("/proc/sys/net/ipv6/conf/{ifname}/accept_dad");
    let old = std::fs::read_to_string(&path)?;
    let old: i32 = old
        .trim()
        .parse()
        .map_err(|_| io::Error::new(io::ErrorKind::InvalidData, format!("{path}: {old:?}")))?;
    if old != value {
        std::fs::write(&path, format!("{value}\n"))?;
    }
    Ok(old)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn if_inet6_lines() {
        let text = "fd000018000000000000000000000010 03 40 00 c0     pub0\n\
                    fe80000000000000a8c1abfffe1e3a8d 02 40 20 80    priv0\n\
                    00000000000000000000000000000001 01 80 10 80       lo\n\
                    garbage\n";
        let e = parse_if_inet6(text);
        assert_eq!(e.len(), 3);
        assert_eq!(e[0].addr, "fd00:18::10".parse::<Ipv6Addr>().unwrap());
        assert_eq!((e[0].prefix, e[0].tentative, e[0].ifname.as_str()), (64, true, "pub0"));
        assert!(!e[1].tentative);
        assert_eq!((e[2].addr, e[2].prefix), (Ipv6Addr::LOCALHOST, 128));
    }

    #[test]
    fn the_kernels_list_is_read_whole() {
        let text = match std::fs::read_to_string("/proc/net/if_inet6") {
            Ok(text) => text,
            Err(e) => {
                eprintln!("skipped: /proc/net/if_inet6: {e} (IPv6 is off on this host)");
                return;
            }
        };
        let list = list_ipv6().expect("the list that was just readable");
        assert_eq!(list.len(), text.lines().filter(|l| !l.trim().is_empty()).count(), "{text}");
        if text.contains("00000000000000000000000000000001") {
            assert!(list.iter().any(|e| e.addr == Ipv6Addr::LOCALHOST), "{text}");
        }
    }
}
