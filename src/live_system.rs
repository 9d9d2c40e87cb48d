//! The configuration's view of this host (`config::SystemView`), answered
//! by the live kernel through `sys`. It lives outside `config`, which stays
//! pure (its tests use fakes), and outside `cli`, so that the command
//! lines, `-n` (`preflight/`) and the daemon's start and reload all use it
//! without depending on each other.
#![forbid(unsafe_code)]

use crate::config::{IfName, SystemView};
use std::net::IpAddr;

/// The live system, as the configuration parser needs it.
pub(crate) struct LiveSystem;

impl SystemView for LiveSystem {
    fn interface_for(&self, ip: IpAddr) -> Option<IfName> {
        let IpAddr::V4(v4) = ip else { return None };
        let label = crate::sys::net::interface_for(v4).ok().flatten()?;
        // An alias label such as eth0:1 belongs to eth0.
        IfName::new(label.split(':').next().unwrap_or(&label)).ok()
    }

    /// `None` for an interface that does not exist: `-n` says so already
    /// (`preflight/interfaces.rs`), and "has no IPv4 address" would only
    /// repeat it.
    fn ipv4_subnets(&self, ifname: &str) -> Option<Vec<(std::net::Ipv4Addr, u8)>> {
        if crate::sys::net::if_index(ifname).is_err() {
            return None;
        }
        let all = crate::sys::net::list_ipv4().ok()?;
        Some(
            all.into_iter()
                .filter(|(label, _, _)| label.split(':').next() == Some(ifname))
                .map(|(_, addr, prefix)| (addr, prefix))
                .collect(),
        )
    }

    fn addresses(&self) -> Option<Vec<(String, IpAddr)>> {
        let v4 = crate::sys::net::list_ipv4().ok()?;
        let v6 = crate::sys::addr6::list_ipv6().ok()?;
        Some(
            v4.into_iter()
                .map(|(label, addr, _)| (label, IpAddr::V4(addr)))
                .chain(v6.into_iter().map(|e| (e.ifname, IpAddr::V6(e.addr))))
                .collect(),
        )
    }
}
