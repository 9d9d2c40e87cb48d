//! IPv4 service addresses, added and removed with the classic interface
//! ioctls on alias labels (`eth0:0`, `eth0:1`, ...), the way `ifconfig`
//! does it. Idempotent: adding what is there and removing what is gone
//! succeed with `Change::AlreadyThere`.
//!
//! Where no alias label fits (`<ifname>:<n>` must fit in 15 bytes: never
//! on a 14- or 15-byte name such as `enx0c37965ad2a4`, nor once a 13-byte
//! name's ten labels are taken), the address is added without one through
//! netlink (`rtaddr.rs`) and then carries the interface's own name as its
//! label, as after `ip addr add`. The ioctls are never used on the bare
//! name: there they act on the interface's primary address (and clearing
//! IFF_UP takes the whole interface down).

use super::net::prefix_mask;
use super::{ifreq, ioctl_ifreq, sockaddr_v4, socket, v4_of};
use std::io;
use std::net::Ipv4Addr;
use std::os::fd::AsRawFd;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Change {
    Done,
    AlreadyThere,
}

/// Every IPv4 label and its address, from one ioctl SIOCGIFCONF: far
/// cheaper than `getifaddrs(3)` (two netlink dumps). One listing answers
/// for every address (daemon/mover/addrs.rs `Kernel`); a takeover
/// of hundreds of addresses lists once (`Adder`).
pub(crate) fn labels_v4() -> io::Result<Vec<(String, Ipv4Addr)>> {
    labels_on(&socket(libc::AF_INET, libc::SOCK_DGRAM, 0)?)
}

fn labels_on(fd: &std::os::fd::OwnedFd) -> io::Result<Vec<(String, Ipv4Addr)>> {
    let mut room = 64usize;
    loop {
        // SAFETY: ifreq is plain C data; all-zero is a valid value.
        let mut reqs: Vec<libc::ifreq> = vec![unsafe { std::mem::zeroed() }; room];
        let bytes = room * std::mem::size_of::<libc::ifreq>();
        let mut conf = libc::ifconf {
            ifc_len: bytes as libc::c_int,
            ifc_ifcu: libc::__c_anonymous_ifc_ifcu { ifcu_req: reqs.as_mut_ptr() },
        };
        // SAFETY: SIOCGIFCONF takes a `struct ifconf *` whose buffer (reqs)
        // is valid for ifc_len bytes; the kernel writes at most that much.
        super::cvt(unsafe { libc::ioctl(fd.as_raw_fd(), libc::SIOCGIFCONF as _, &mut conf) })?;
        let used = conf.ifc_len as usize / std::mem::size_of::<libc::ifreq>();
        if used < room {
            return Ok(reqs[..used]
                .iter()
                .map(|r| {
                    let name: Vec<u8> =
                        r.ifr_name.iter().take_while(|c| **c != 0).map(|c| *c as u8).collect();
                    // SAFETY: SIOCGIFCONF fills ifru_addr with an AF_INET address.
                    let addr = v4_of(unsafe { &r.ifr_ifru.ifru_addr });
                    (String::from_utf8_lossy(&name).into_owned(), addr)
                })
                .collect());
        }
        // Full: there may be more; ask again with twice the room.
        room *= 2;
    }
}

/// The interface a label belongs to: `eth0` of `eth0:3`.
pub(crate) fn base(label: &str) -> &str {
    label.split(':').next().unwrap_or(label)
}

/// Whether `addr` is on `ifname` under any label in `labels`, a listing
/// from `labels_v4` (no system call: one listing answers for every
/// address, where a look per address made a takeover of n addresses cost
/// n listings of up to n labels each).
pub(crate) fn listed(labels: &[(String, Ipv4Addr)], ifname: &str, addr: Ipv4Addr) -> bool {
    labels.iter().any(|(l, a)| *a == addr && base(l) == ifname)
}

/// The smallest `<ifname>:<n>` not in `used`; it must fit in IFNAMSIZ - 1.
/// Linear in `used`: a takeover of hundreds of addresses calls it for each.
pub(crate) fn free_label(ifname: &str, used: &[String]) -> io::Result<String> {
    free_label_among(ifname, used.iter().map(String::as_str))
}

/// `free_label` over any list of label names (no copies of them).
fn free_label_among<'a>(ifname: &str, used: impl Iterator<Item = &'a str>) -> io::Result<String> {
    let prefix = format!("{ifname}:");
    // Only labels we could have made: no sign, no leading zero.
    let number = |l: &str| -> Option<u32> {
        let n = l.strip_prefix(&prefix)?;
        let canonical = n.bytes().all(|b| b.is_ascii_digit()) && (n == "0" || !n.starts_with('0'));
        canonical.then(|| n.parse().ok())?
    };
    let mut taken: Vec<u32> = used.filter_map(number).collect();
    taken.sort_unstable();
    taken.dedup();
    // The first n that is not taken: where the sorted list stops being 0, 1, 2...
    let n = taken.iter().enumerate().find(|&(i, &t)| t != i as u32).map_or(taken.len(), |(i, _)| i);
    Some(format!("{prefix}{n}")).filter(|l| l.len() < libc::IFNAMSIZ).ok_or_else(|| {
        io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("no alias label fits: {ifname:?} is too long to carry extra addresses through ioctl (at most 13 bytes)"),
        )
    })
}

/// The subnet broadcast address, or None for /31 and /32.
pub(crate) fn broadcast(addr: Ipv4Addr, prefix: u8) -> Option<Ipv4Addr> {
    (prefix < 31).then(|| Ipv4Addr::from(u32::from(addr) | !prefix_mask(prefix)))
}

/// Adds IPv4 addresses one after another on one socket and one listing of
/// the labels (ioctl SIOCGIFCONF, once), which each add brings up to date
/// itself: a takeover of n addresses costs n adds, not n listings of up to
/// n labels each (issue 32: 256 addresses).
pub(crate) struct Adder {
    fd: std::os::fd::OwnedFd,
    labels: Vec<(String, Ipv4Addr)>,
}

impl Adder {
    /// A socket and the labels as they are now (ioctl SIOCGIFCONF).
    pub(crate) fn new() -> io::Result<Adder> {
        let fd = socket(libc::AF_INET, libc::SOCK_DGRAM, 0)?;
        let labels = labels_on(&fd)?;
        Ok(Adder { fd, labels })
    }

    /// Adds `addr/prefix` to `ifname` on a free alias label: ioctl
    /// SIOCGIFADDR on the label it picks (to make sure it is still free),
    /// SIOCSIFADDR (on Linux the new alias address is in use at once), then
    /// SIOCSIFNETMASK and SIOCSIFBRDADDR (each a no-op in the kernel when
    /// the value is already right); netlink RTM_NEWADDR where no label
    /// fits. No SIOCSIFFLAGS: IFF_UP would also bring up an interface an
    /// operator took down.
    pub(crate) fn add(&mut self, ifname: &str, addr: Ipv4Addr, prefix: u8) -> io::Result<Change> {
        if listed(&self.labels, ifname, addr) {
            return Ok(Change::AlreadyThere);
        }
        let label = loop {
            let Ok(label) = free_label_among(ifname, self.labels.iter().map(|(l, _)| l.as_str())) else {
                let change = add_bare(ifname, addr, prefix)?;
                self.labels.push((ifname.to_string(), addr));
                return Ok(change);
            };
            // The listing may be older than this add: a label another
            // program (a second instance on this interface) made since is
            // not free, and SIOCSIFADDR on it would replace its address.
            match self.label_address(&label) {
                Some(other) => self.labels.push((label, other)),
                None => break label,
            }
        };
        let set = |request, value: Ipv4Addr| -> io::Result<()> {
            let mut req = ifreq(&label)?;
            req.ifr_ifru.ifru_addr = sockaddr_v4(value);
            ioctl_ifreq(&self.fd, request, &mut req)
        };
        match set(libc::SIOCSIFADDR, addr) {
            Err(e) if e.raw_os_error() == Some(libc::EEXIST) => return Ok(Change::AlreadyThere),
            Err(e) if e.raw_os_error() == Some(libc::ENODEV) => {
                return Err(io::Error::new(io::ErrorKind::NotFound, format!("no such interface {ifname}")))
            }
            r => r?,
        }
        let undo = |e: io::Error| {
            let _ = remove_label(&label);
            e
        };
        set(libc::SIOCSIFNETMASK, Ipv4Addr::from(prefix_mask(prefix))).map_err(undo)?;
        if let Some(b) = broadcast(addr, prefix) {
            set(libc::SIOCSIFBRDADDR, b).map_err(undo)?;
        }
        self.labels.push((label, addr));
        Ok(Change::Done)
    }

    /// The address behind an alias label, if the label is in use (ioctl
    /// SIOCGIFADDR; a label not in use answers EADDRNOTAVAIL).
    fn label_address(&self, label: &str) -> Option<Ipv4Addr> {
        let mut req = ifreq(label).ok()?;
        ioctl_ifreq(&self.fd, libc::SIOCGIFADDR, &mut req).ok()?;
        // SAFETY: SIOCGIFADDR filled ifru_addr with an AF_INET address.
        Some(v4_of(unsafe { &req.ifr_ifru.ifru_addr }))
    }
}

/// Adds `addr/prefix` to `ifname` without an alias label, where none fits:
/// netlink RTM_NEWADDR (`rtaddr::add`), with the subnet's broadcast
/// address as `ip addr add ... brd +` sets it.
fn add_bare(ifname: &str, addr: Ipv4Addr, prefix: u8) -> io::Result<Change> {
    let index = super::net::if_index(ifname)?;
    Ok(match super::rtaddr::add(index, ifname, addr, prefix, broadcast(addr, prefix))? {
        true => Change::Done,
        false => Change::AlreadyThere,
    })
}

/// Deletes the address behind an alias label: on Linux, clearing IFF_UP on
/// an alias label (ioctl SIOCSIFFLAGS) removes that address only.
fn remove_label(label: &str) -> io::Result<()> {
    let fd = socket(libc::AF_INET, libc::SOCK_DGRAM, 0)?;
    let mut req = ifreq(label)?;
    ioctl_ifreq(&fd, libc::SIOCGIFFLAGS, &mut req)?;
    // SAFETY: SIOCGIFFLAGS filled the flags member; we update that member.
    unsafe { req.ifr_ifru.ifru_flags &= !(libc::IFF_UP as libc::c_short) };
    ioctl_ifreq(&fd, libc::SIOCSIFFLAGS, &mut req)
}

/// Removes `addr` from `ifname`: ioctl SIOCSIFFLAGS on each alias label
/// that carries it, and netlink RTM_DELADDR (`rtaddr::remove`, exactly that
/// address) for a copy under the interface's own name where no alias label
/// fits, which is how `Adder::add` adds it there. An address that is not
/// there, or an interface that is gone, is `AlreadyThere`: nothing holds
/// the address. A copy under the interface's own name where a label would
/// fit is refused: this daemon did not add it (an operator did, or it is
/// the interface's own address), and the caller then knows the address is
/// still here.
pub(crate) fn remove_ipv4(ifname: &str, addr: Ipv4Addr, prefix: u8) -> io::Result<Change> {
    remove_v4(ifname, addr, prefix, false)
}

/// Removes `addr` from `ifname` like `remove_ipv4`, and also a copy under
/// the interface's own name where an alias label would fit (netlink
/// RTM_DELADDR, `rtaddr::remove`: exactly that address): for a service
/// address someone else added where this node must not have it (`ip addr
/// add`, NetworkManager; `engine/kernel.rs`), which the ioctls cannot
/// reach. Never the interface's other addresses.
pub(crate) fn remove_ipv4_added_elsewhere(ifname: &str, addr: Ipv4Addr, prefix: u8) -> io::Result<Change> {
    remove_v4(ifname, addr, prefix, true)
}

fn remove_v4(ifname: &str, addr: Ipv4Addr, prefix: u8, any_bare: bool) -> io::Result<Change> {
    let all = labels_v4()?;
    let labels: Vec<&String> =
        all.iter().filter(|(label, a)| *a == addr && base(label) == ifname).map(|(label, _)| label).collect();
    if labels.is_empty() {
        return Ok(Change::AlreadyThere);
    }
    let bare = labels.iter().any(|l| !l.contains(':'));
    if bare && !any_bare {
        let used: Vec<String> = all.iter().map(|(l, _)| l.clone()).collect();
        if free_label(ifname, &used).is_ok() {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!(
                    "{addr} is on {ifname} under the interface's own label, not an alias label: this daemon \
                     did not add it there (an alias label fits); refusing to remove it"
                ),
            ));
        }
    }
    for label in &labels {
        let gone = if label.contains(':') {
            remove_label(label)
        } else {
            super::net::if_index(ifname)
                .and_then(|index| super::rtaddr::remove(index, ifname, addr, prefix).map(drop))
        };
        match gone {
            Ok(()) => {}
            Err(e) if matches!(e.raw_os_error(), Some(libc::ENODEV) | Some(libc::EADDRNOTAVAIL)) => {}
            Err(e) if e.kind() == io::ErrorKind::NotFound => {}
            Err(e) => return Err(e),
        }
    }
    Ok(Change::Done)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels() {
        assert_eq!(free_label("eth0", &[]).unwrap(), "eth0:0");
        let used = vec!["eth0".into(), "eth0:0".into(), "eth0:2".into()];
        assert_eq!(free_label("eth0", &used).unwrap(), "eth0:1");
        assert!(free_label("a-very-long-if", &[]).is_err());
        assert_eq!(free_label("thirteen-byte", &[]).unwrap(), "thirteen-byte:0");
        let full: Vec<String> = (0..10).map(|n| format!("thirteen-byte:{n}")).collect();
        assert!(free_label("thirteen-byte", &full).is_err()); // ":10" does not fit
    }

    #[test]
    fn labels_agree_with_the_definition() {
        // The smallest n whose label is not in use, found the slow way.
        let slow = |ifname: &str, used: &[String]| {
            (0..).map(|n| format!("{ifname}:{n}")).find(|l| !used.contains(l)).unwrap()
        };
        let mut x = 0x9e37_79b9_7f4a_7c15u64;
        for _ in 0..500 {
            let mut used: Vec<String> =
                ["eth0", "eth1:0", "eth0:x", "eth0:01", "eth0:+2", "eth0:"].map(String::from).to_vec();
            for _ in 0..x % 40 {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                used.push(format!("eth{}:{}", x % 2, (x >> 8) % 48));
            }
            assert_eq!(free_label("eth0", &used).unwrap(), slow("eth0", &used), "{used:?}");
        }
    }

    #[test]
    fn broadcasts() {
        let a = Ipv4Addr::new(198, 18, 0, 10);
        assert_eq!(broadcast(a, 24), Some(Ipv4Addr::new(198, 18, 0, 255)));
        assert_eq!(broadcast(a, 16), Some(Ipv4Addr::new(198, 18, 255, 255)));
        assert_eq!(broadcast(a, 31), None);
        assert_eq!(broadcast(a, 32), None);
    }
}
