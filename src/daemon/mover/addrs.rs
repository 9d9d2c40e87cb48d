//! Putting the service addresses on this node and taking them off, through
//! `sys::addr` (ioctl). Idempotent and loud: an address already there (or
//! already gone) is success; every failure is one log line naming the
//! operation, interface, address and error.
//!
//! IPv6: an address added by ioctl would stay tentative (unusable) for
//! about a second while the kernel runs duplicate address detection. A
//! takeover must not leave clients without service that long, so while
//! this node holds an IPv6 service address on an interface, that
//! interface's `accept_dad` is 0 (the address is usable at once); the value
//! it had is restored when the last one is released. The check DAD would
//! make is made before: the primary probes with a neighbour solicitation
//! before it adds, and the secondary adds only when the primary is silent
//! on both networks or has declared the addresses free.

use super::announce::Request;
use crate::config::ServiceAddr;
use crate::log;
use std::cell::RefCell;
use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::mpsc::Sender;

/// Lives as long as the mover: the `accept_dad` values it remembers must
/// survive reloads, or they could never be restored.
pub(in crate::daemon) struct Addresses {
    announcer: Sender<Request>,
    /// Interfaces whose `accept_dad` we changed, and its earlier value.
    dad: RefCell<HashMap<String, i32>>,
}

/// How to announce an address that was added.
#[derive(Clone, Copy, Debug)]
pub(in crate::daemon) struct Announce {
    pub count: u32,
    pub interval: std::time::Duration,
}

impl Addresses {
    pub(in crate::daemon) fn new(announcer: Sender<Request>) -> Addresses {
        Addresses { announcer, dad: RefCell::new(HashMap::new()) }
    }

    /// Turns duplicate address detection off on `ifname` (once).
    fn dad_off(&self, ifname: &str) {
        let mut dad = self.dad.borrow_mut();
        if dad.contains_key(ifname) {
            return;
        }
        match crate::sys::addr6::set_accept_dad(ifname, 0) {
            Ok(old) => {
                dad.insert(ifname.to_string(), old);
            }
            Err(e) => log::warn!(
                "cannot turn duplicate address detection off on {ifname}: {e}; IPv6 addresses stay tentative for about a second after a move"
            ),
        }
    }

    /// Restores `accept_dad` on `ifname` once no IPv6 service address of
    /// `list` is left on it.
    fn dad_restore(&self, ifname: &str, list: &[ServiceAddr]) {
        let still = list.iter().any(|a| {
            a.interface.as_str() == ifname
                && matches!(a.addr, IpAddr::V6(v6) if crate::sys::addr6::has_ipv6(ifname, v6).unwrap_or(false))
        });
        if still {
            return;
        }
        if let Some(old) = self.dad.borrow_mut().remove(ifname) {
            if let Err(e) = crate::sys::addr6::set_accept_dad(ifname, old) {
                log::warn!("cannot restore accept_dad {old} on {ifname}: {e}");
            }
        }
    }

    /// Announces again an address a move found on its interface already
    /// and left alone (no ioctl, no hook): the network learns that it is
    /// here, as it did when such an address was added again.
    pub(in crate::daemon) fn announce_kept(&self, a: &ServiceAddr, announce: Announce) {
        let ifname = a.interface.as_str().to_string();
        let (count, interval) = (announce.count, announce.interval);
        let _ = self.announcer.send(Request::Announce { ifname, addr: a.addr, count, interval });
    }

    /// Adds one address and starts its announcement. The line says what
    /// happened (also on failure).
    pub(in crate::daemon) fn acquire_one(
        &self,
        a: &ServiceAddr,
        why: &str,
        announce: Announce,
        adds: &mut Adds,
    ) -> Result<String, String> {
        if a.addr.is_ipv6() {
            self.dad_off(a.interface.as_str());
        }
        match adds.add(a) {
            Ok(change) => {
                let verb = match change {
                    crate::sys::addr::Change::Done => "added",
                    crate::sys::addr::Change::AlreadyThere => "kept (already present)",
                };
                let line = format!("{verb} {}/{} on {}", a.addr, a.prefix, a.interface);
                log::notice!("{line} ({why})");
                let ifname = a.interface.as_str().to_string();
                let (count, interval) = (announce.count, announce.interval);
                let _ = self.announcer.send(Request::Announce { ifname, addr: a.addr, count, interval });
                Ok(line)
            }
            Err(e) => {
                let line = format!("cannot add {}/{} to {}: {e}", a.addr, a.prefix, a.interface);
                log::error!("{line}");
                Err(line)
            }
        }
    }

    /// Removes one address; its pending announcements are cancelled first
    /// so that no gratuitous ARP follows the address to its new owner.
    /// `list`: every address this node may hold (for `accept_dad`).
    pub(in crate::daemon) fn release_one(
        &self,
        a: &ServiceAddr,
        why: &str,
        list: &[ServiceAddr],
    ) -> Result<String, String> {
        let _ = self.announcer.send(Request::Cancel { addr: a.addr });
        // Only an address someone else added where it must not be is taken
        // off without an alias label too (`remove`); one of ours under the
        // interface's own label is a failed removal, and this node keeps
        // saying it holds it (ipfailoverd(8), Moves).
        let foreign = why == crate::engine::Reason::AddressAdded.as_str();
        let result = remove(a, foreign);
        if a.addr.is_ipv6() {
            self.dad_restore(a.interface.as_str(), list);
        }
        match result {
            Ok(change) => {
                let verb = match change {
                    crate::sys::addr::Change::Done => "removed",
                    crate::sys::addr::Change::AlreadyThere => "already gone:",
                };
                let line = format!("{verb} {}/{} from {}", a.addr, a.prefix, a.interface);
                log::notice!("{line} ({why})");
                Ok(line)
            }
            Err(e) => {
                let line = format!("cannot remove {}/{} from {}: {e}", a.addr, a.prefix, a.interface);
                log::error!("{line}");
                Err(line)
            }
        }
    }
}

/// The addresses of `list` that are on their interface right now (the
/// truth for `status`, whatever the engine believes).
/// An address whose presence cannot be read counts as present: the
/// engine must never believe an address gone that may still be here.
pub(in crate::daemon) fn present(list: &[ServiceAddr]) -> Vec<&ServiceAddr> {
    let kernel = Kernel::look(list);
    list.iter().filter(|a| kernel.has(a).unwrap_or(true)).collect()
}

/// The kernel's addresses at one look: one listing of the IPv4 labels
/// (ioctl SIOCGIFCONF) and one of the IPv6 addresses (/proc/net/if_inet6),
/// each only if `list` has such addresses, whatever the number of service
/// addresses. A look per address made each look at 256 addresses cost 256
/// listings of 256 entries (issue 32: the monitor's look after each address
/// notification of a takeover held the mover's CPU for seconds).
/// Each address is found by a hash lookup, not a search of the listing.
pub(in crate::daemon) struct Kernel {
    /// Every address, and the interfaces it is on.
    on: HashMap<IpAddr, Vec<String>>,
    /// The IPv4 (0) and IPv6 (1) addresses were listed.
    read: [bool; 2],
}

impl Kernel {
    pub(in crate::daemon) fn look(list: &[ServiceAddr]) -> Kernel {
        let mut on: HashMap<IpAddr, Vec<String>> = HashMap::new();
        let mut read = [false; 2];
        if list.iter().any(|a| a.addr.is_ipv4()) {
            if let Ok(labels) = crate::sys::addr::labels_v4() {
                read[0] = true;
                for (label, a) in labels {
                    on.entry(IpAddr::V4(a)).or_default().push(crate::sys::addr::base(&label).to_string());
                }
            }
        }
        if list.iter().any(|a| a.addr.is_ipv6()) {
            if let Ok(entries) = crate::sys::addr6::list_ipv6() {
                read[1] = true;
                for e in entries {
                    on.entry(IpAddr::V6(e.addr)).or_default().push(e.ifname);
                }
            }
        }
        Kernel { on, read }
    }

    /// Whether `a` is on its interface; None when its family was not
    /// listed (could not be read, or had no address in the list looked at).
    pub(in crate::daemon) fn has(&self, a: &ServiceAddr) -> Option<bool> {
        if !self.read[usize::from(a.addr.is_ipv6())] {
            return None;
        }
        Some(self.on.get(&a.addr).is_some_and(|ifs| ifs.iter().any(|i| i == a.interface.as_str())))
    }
}

/// How many of `list` the kernel shows on this node.
pub(in crate::daemon) fn held(list: &[ServiceAddr]) -> crate::engine::Held {
    held_of(present(list).len(), list.len())
}

/// `present` addresses of a list of `of`, as the engine counts them.
pub(in crate::daemon) fn held_of(present: usize, of: usize) -> crate::engine::Held {
    match present {
        0 => crate::engine::Held::None,
        n if n == of => crate::engine::Held::All,
        _ => crate::engine::Held::Some,
    }
}

/// The adds of one move: the IPv4 ones share one socket and one listing
/// of the labels (`sys::addr::Adder`), made at the first.
#[derive(Default)]
pub(in crate::daemon) struct Adds(Option<crate::sys::addr::Adder>);

impl Adds {
    fn add(&mut self, a: &ServiceAddr) -> std::io::Result<crate::sys::addr::Change> {
        match a.addr {
            IpAddr::V4(v4) => {
                let adder = match &mut self.0 {
                    Some(adder) => adder,
                    none => none.insert(crate::sys::addr::Adder::new()?),
                };
                adder.add(a.interface.as_str(), v4, a.prefix)
            }
            IpAddr::V6(v6) => crate::sys::addr6::add_ipv6(a.interface.as_str(), v6, a.prefix),
        }
    }
}

fn remove(a: &ServiceAddr, foreign: bool) -> std::io::Result<crate::sys::addr::Change> {
    match a.addr {
        // Without an alias label (added by `ip addr add` or NetworkManager,
        // not by us) only netlink reaches it; that removes this address
        // alone.
        IpAddr::V4(v4) if foreign => {
            crate::sys::addr::remove_ipv4_added_elsewhere(a.interface.as_str(), v4, a.prefix)
        }
        IpAddr::V4(v4) => crate::sys::addr::remove_ipv4(a.interface.as_str(), v4, a.prefix),
        IpAddr::V6(v6) => crate::sys::addr6::remove_ipv6(a.interface.as_str(), v6, a.prefix),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::IfName;

    fn on(ifname: &str, addr: &str) -> ServiceAddr {
        ServiceAddr { interface: IfName::new(ifname).unwrap(), addr: addr.parse().unwrap(), prefix: 8 }
    }

    /// One look answers for every address of its list (the loopback's own
    /// address is there on any Linux host; 198.18.0.0/15 never is on lo).
    #[test]
    fn one_look_answers_for_every_address() {
        let list = [on("lo", "127.0.0.1"), on("lo", "198.18.255.254"), on("ipfo-none0", "127.0.0.1")];
        let kernel = Kernel::look(&list);
        assert_eq!(kernel.has(&list[0]), Some(true));
        assert_eq!(kernel.has(&list[1]), Some(false));
        assert_eq!(kernel.has(&list[2]), Some(false), "on another interface is not on this one");
        assert_eq!(kernel.has(&on("lo", "::1")), None, "IPv6 was not listed: unknown, not absent");
        assert_eq!(present(&list), vec![&list[0]]);
    }
}
