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

/// What a move did, for the engine (`ok`) and for the log and mail.
pub struct Outcome {
    pub ok: bool,
    pub failures: Vec<String>,
}

impl Addresses {
    pub fn new(list: Vec<ServiceAddr>, announcer: Sender<Request>) -> Addresses {
        Addresses { list, announcer }
    }

    pub fn list(&self) -> &[ServiceAddr] {
        &self.list
    }

    /// Adds every address and starts its announcement. `ok` when at least
    /// one address is held: serving some is better than serving none.
    pub fn acquire(&self, why: &str) -> Outcome {
        let mut failures = Vec::new();
        let mut held = 0;
        for a in &self.list {
            match add(a) {
                Ok(change) => {
                    held += 1;
                    let verb = match change {
                        crate::sys::addr::Change::Done => "added",
                        crate::sys::addr::Change::AlreadyThere => "kept (already present)",
                    };
                    log::notice(&format!(
                        "{verb} {}/{} on {} ({why})",
                        a.addr, a.prefix, a.interface
                    ));
                    if let IpAddr::V4(v4) = a.addr {
                        let _ = self.announcer.send(Request::Announce {
                            ifname: a.interface.as_str().to_string(),
                            addr: v4,
                        });
                    }
                }
                Err(e) => {
                    let line =
                        format!("cannot add {}/{} to {}: {e}", a.addr, a.prefix, a.interface);
                    log::error(&line);
                    failures.push(line);
                }
            }
        }
        Outcome {
            ok: held > 0 || self.list.is_empty(),
            failures,
        }
    }

    /// Removes every address; pending announcements are cancelled first so
    /// that no gratuitous ARP follows the address to its new owner.
    pub fn release(&self, why: &str) -> Outcome {
        let mut failures = Vec::new();
        for a in &self.list {
            if let IpAddr::V4(v4) = a.addr {
                let _ = self.announcer.send(Request::Cancel { addr: v4 });
            }
            match remove(a) {
                Ok(crate::sys::addr::Change::Done) => log::notice(&format!(
                    "removed {}/{} from {} ({why})",
                    a.addr, a.prefix, a.interface
                )),
                Ok(crate::sys::addr::Change::AlreadyThere) => {}
                Err(e) => {
                    let line = format!(
                        "cannot remove {}/{} from {}: {e}",
                        a.addr, a.prefix, a.interface
                    );
                    log::error(&line);
                    failures.push(line);
                }
            }
        }
        Outcome {
            ok: failures.is_empty(),
            failures,
        }
    }

    /// The addresses that are on their interface right now (the truth for
    /// `status`, whatever the engine believes).
    pub fn present(&self) -> Vec<&ServiceAddr> {
        self.list
            .iter()
            .filter(|a| match a.addr {
                IpAddr::V4(v4) => {
                    crate::sys::addr::has_ipv4(a.interface.as_str(), v4).unwrap_or(false)
                }
                IpAddr::V6(_) => false,
            })
            .collect()
    }
}

fn add(a: &ServiceAddr) -> std::io::Result<crate::sys::addr::Change> {
    match a.addr {
        IpAddr::V4(v4) => crate::sys::addr::add_ipv4(a.interface.as_str(), v4, a.prefix),
        IpAddr::V6(_) => Err(std::io::Error::new(
            std::io::ErrorKind::Unsupported,
            "IPv6 is not supported yet",
        )),
    }
}

fn remove(a: &ServiceAddr) -> std::io::Result<crate::sys::addr::Change> {
    match a.addr {
        IpAddr::V4(v4) => crate::sys::addr::remove_ipv4(a.interface.as_str(), v4, a.prefix),
        IpAddr::V6(_) => Err(std::io::Error::new(
            std::io::ErrorKind::Unsupported,
            "IPv6 is not supported yet",
        )),
    }
}
