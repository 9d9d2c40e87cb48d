//! Putting the service addresses on this node and taking them off, through
//! `sys::addr` (ioctl). Idempotent and loud: an address already there (or
//! already gone) is success; every failure is one log line naming the
//! operation, interface, address and error.

use super::announce::Request;
use crate::config::ServiceAddr;
use crate::log;
use std::net::IpAddr;
use std::sync::mpsc::Sender;

pub struct Addresses {
    list: Vec<ServiceAddr>,
    announcer: Sender<Request>,
}

impl Addresses {
    pub fn new(list: Vec<ServiceAddr>, announcer: Sender<Request>) -> Addresses {
        Addresses { list, announcer }
    }

    pub fn list(&self) -> &[ServiceAddr] {
        &self.list
    }

    /// Adds one address and starts its announcement. The line says what
    /// happened (also on failure).
    pub fn acquire_one(&self, a: &ServiceAddr, why: &str) -> Result<String, String> {
        match add(a) {
            Ok(change) => {
                let verb = match change {
                    crate::sys::addr::Change::Done => "added",
                    crate::sys::addr::Change::AlreadyThere => "kept (already present)",
                };
                let line = format!("{verb} {}/{} on {}", a.addr, a.prefix, a.interface);
                log::notice(&format!("{line} ({why})"));
                if let IpAddr::V4(v4) = a.addr {
                    let ifname = a.interface.as_str().to_string();
                    let _ = self.announcer.send(Request::Announce { ifname, addr: v4 });
                }
                Ok(line)
            }
            Err(e) => {
                let line = format!("cannot add {}/{} to {}: {e}", a.addr, a.prefix, a.interface);
                log::error(&line);
                Err(line)
            }
        }
    }

    /// Removes one address; its pending announcements are cancelled first
    /// so that no gratuitous ARP follows the address to its new owner.
    pub fn release_one(&self, a: &ServiceAddr, why: &str) -> Result<String, String> {
        if let IpAddr::V4(v4) = a.addr {
            let _ = self.announcer.send(Request::Cancel { addr: v4 });
        }
        match remove(a) {
            Ok(change) => {
                let verb = match change {
                    crate::sys::addr::Change::Done => "removed",
                    crate::sys::addr::Change::AlreadyThere => "already gone:",
                };
                let line = format!("{verb} {}/{} from {}", a.addr, a.prefix, a.interface);
                log::notice(&format!("{line} ({why})"));
                Ok(line)
            }
            Err(e) => {
                let line = format!("cannot remove {}/{} from {}: {e}", a.addr, a.prefix, a.interface);
                log::error(&line);
                Err(line)
            }
        }
    }
}

/// The addresses of `list` that are on their interface right now (the
/// truth for `status`, whatever the engine believes).
pub fn present(list: &[ServiceAddr]) -> Vec<&ServiceAddr> {
    {
        list.iter()
            .filter(|a| match a.addr {
                IpAddr::V4(v4) => crate::sys::addr::has_ipv4(a.interface.as_str(), v4).unwrap_or(false),
                IpAddr::V6(_) => false,
            })
            .collect()
    }
}

fn add(a: &ServiceAddr) -> std::io::Result<crate::sys::addr::Change> {
    match a.addr {
        IpAddr::V4(v4) => crate::sys::addr::add_ipv4(a.interface.as_str(), v4, a.prefix),
        IpAddr::V6(_) => {
            Err(std::io::Error::new(std::io::ErrorKind::Unsupported, "IPv6 is not supported yet"))
        }
    }
}

fn remove(a: &ServiceAddr) -> std::io::Result<crate::sys::addr::Change> {
    match a.addr {
        IpAddr::V4(v4) => crate::sys::addr::remove_ipv4(a.interface.as_str(), v4, a.prefix),
        IpAddr::V6(_) => {
            Err(std::io::Error::new(std::io::ErrorKind::Unsupported, "IPv6 is not supported yet"))
        }
    }
}
