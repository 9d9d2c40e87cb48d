//! `ipfailoverd -n`, second half: the configuration against this host's
//! addresses and directories, the mistakes a new operator makes with the
//! example files. Errors stop the daemon from working; warnings are
//! settings that work but probably not as meant. The host's addresses come
//! from `SystemView`, so the checks run in unit tests without a network.

use super::{Config, ConfigError, NetId, Role, SystemView};
use std::net::{IpAddr, Ipv4Addr};
use std::path::Path;

/// What `-n` found, errors apart from warnings.
#[derive(Debug, Default)]
pub(crate) struct Findings {
    pub errors: Vec<ConfigError>,
    pub warnings: Vec<ConfigError>,
}

fn mask(prefix: u8) -> u32 {
    u32::MAX.checked_shl(32 - u32::from(prefix.min(32))).unwrap_or(0)
}

fn contains(net: (Ipv4Addr, u8), ip: Ipv4Addr) -> bool {
    let m = mask(net.1);
    u32::from(net.0) & m == u32::from(ip) & m
}

fn broadcast(net: (Ipv4Addr, u8)) -> Ipv4Addr {
    Ipv4Addr::from(u32::from(net.0) | !mask(net.1))
}

fn subnets_text(nets: &[(Ipv4Addr, u8)]) -> String {
    nets.iter().map(|(a, p)| format!("{a}/{p}")).collect::<Vec<_>>().join(", ")
}

/// The configuration against the host's addresses and directories.
pub(crate) fn check_layout(cfg: &Config, sys: &dyn SystemView) -> Findings {
    let mut out = Findings::default();
    let at = |line: usize, message: String| ConfigError { file: cfg.file.clone(), line, message };
    for n in &cfg.networks {
        let IpAddr::V4(dest) = n.dest else { continue };
        let Some(nets) = sys.ipv4_subnets(n.interface.as_str()) else { continue };
        let line = cfg.line_of_network(n.id);
        let name = n.id.as_str();
        let ifname = n.interface.as_str();
        if nets.is_empty() {
            out.errors.push(at(line, format!("network {name}: {ifname} has no IPv4 address, so heartbeats to {dest} cannot be sent from it")));
            continue;
        }
        let inside: Vec<(Ipv4Addr, u8)> = nets.iter().copied().filter(|&net| contains(net, dest)).collect();
        if inside.is_empty() {
            out.errors.push(at(
                line,
                format!(
                    "network {name}: {dest} is not in the subnet of {ifname} ({}): heartbeats would leave \
                     by the default route or not at all; use the subnet's broadcast address ({}) or the \
                     peer's address on {ifname}",
                    subnets_text(&nets),
                    broadcast(nets[0])
                ),
            ));
        } else if dest.octets()[3] == 255
            && cfg.peer != Some(n.dest)
            && !inside.iter().any(|&net| broadcast(net) == dest)
        {
            let net = inside[0];
            out.errors.push(at(
                line,
                format!(
                    "network {name}: {dest} is not the broadcast address of {ifname} ({}/{}), which is {}: \
                     the peer would not receive the heartbeats",
                    net.0,
                    net.1,
                    broadcast(net)
                ),
            ));
        }
    }
    out.errors.extend(check_addresses(cfg, sys));
    let private = cfg.network(NetId::Private);
    for (i, a) in cfg.addresses.iter().enumerate() {
        if a.interface == private.interface {
            out.errors.push(at(
                cfg.line_of_address(i),
                format!(
                    "address {}: {} is the private network's interface; a service address belongs on \
                     the public interface ({}), where clients reach it",
                    a.addr,
                    a.interface,
                    cfg.network(NetId::Public).interface
                ),
            ));
        }
    }
    if let Some(IpAddr::V4(peer)) = cfg.peer {
        if let Some(nets) = sys.ipv4_subnets(private.interface.as_str()) {
            if !nets.is_empty() && !nets.iter().any(|&net| contains(net, peer)) {
                out.errors.push(at(
                    cfg.line_of("peer"),
                    format!(
                        "peer {peer} is not in the subnet of the private interface {} ({}): peer is the \
                         other node's address on the private network",
                        private.interface,
                        subnets_text(&nets)
                    ),
                ));
            }
        }
    }
    for (key, path) in [("pidfile", &cfg.pidfile), ("control_socket", &cfg.control_socket)] {
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            if !dir.is_dir() {
                out.errors.push(at(
                    cfg.line_of(key),
                    format!(
                        "{key} {}: the directory {} does not exist, so the daemon cannot start; create it \
                         or choose another path",
                        path.display(),
                        dir.display()
                    ),
                ));
            }
        }
    }
    hook_warnings(cfg, &mut out.warnings);
    if cfg.auth_key_file.is_none() {
        out.warnings.push(at(
            0,
            "no auth_key_file: heartbeats are not authenticated and anyone on either network can forge \
             them (see INSTALL, the shared key)"
                .into(),
        ));
    }
    out
}

/// Whether an alias label (`<ifname>:<n>`, at most 15 bytes) fits on
/// `ifname`. Where none fits the daemon adds a service address under the
/// interface's own name (`sys/linux/addr.rs`), so such a copy may be ours.
fn alias_fits(ifname: &str) -> bool {
    ifname.len() + 2 <= 15
}

/// The service addresses and the peer against this host's addresses, the
/// configurations that `-n`, the start and a reload all refuse because
/// they cannot work (issue 30): a service address outside every subnet of
/// its interface unless `outside_subnet` names it, a prefix other than the
/// subnet's (or /32), a service address that is already one of the host's
/// own, and a peer or destination that is this host. An address the
/// running daemon holds sits on an alias label and is never "the host's
/// own"; the configured service addresses never count as the subnet an
/// address belongs to.
pub(crate) fn check_addresses(cfg: &Config, sys: &dyn SystemView) -> Vec<ConfigError> {
    let mut out = Vec::new();
    let at = |line: usize, message: String| ConfigError { file: cfg.file.clone(), line, message };
    let private = &cfg.network(NetId::Private).interface;
    let service = |ip: Ipv4Addr| cfg.addresses.iter().any(|a| a.addr == IpAddr::V4(ip));
    let host = sys.addresses();
    let own = |ip: IpAddr| -> Option<&str> {
        host.as_ref()?.iter().find_map(|(label, a)| {
            (*a == ip && !label.contains(':') && alias_fits(label)).then_some(label.as_str())
        })
    };
    for (i, a) in cfg.addresses.iter().enumerate() {
        let IpAddr::V4(ip) = a.addr else { continue };
        let line = cfg.line_of_address(i);
        let ifname = a.interface.as_str();
        // A static primary's addresses are its own, configured by the OS
        // (Apple's mode): the daemon never adds or removes them.
        let static_primary = cfg.mode == super::Mode::Static && cfg.role == Role::Primary;
        if static_primary && own(a.addr).is_some() {
            continue;
        }
        if let Some(label) = own(a.addr) {
            out.push(at(
                line,
                format!(
                    "address {ip}: {ip} is already this host's own address (on {label}, not an alias label): \
                     the daemon could not remove it when it lets go, so the peer could never take it over; \
                     a service address must be a free address that neither node has"
                ),
            ));
            continue;
        }
        if a.interface == *private {
            continue; // said by check_layout
        }
        let Some(nets) = sys.ipv4_subnets(ifname) else { continue };
        let nets: Vec<(Ipv4Addr, u8)> = nets.into_iter().filter(|&(n, _)| !service(n)).collect();
        if nets.is_empty() {
            continue;
        }
        let inside: Vec<(Ipv4Addr, u8)> = nets.iter().copied().filter(|&net| contains(net, ip)).collect();
        if inside.is_empty() {
            if !cfg.outside_subnet.contains(&a.addr) {
                out.push(at(
                    line,
                    format!(
                        "address {ip}/{}: {ip} is not in the subnet of {ifname} ({}): clients on that \
                         network cannot reach it; use a free address of {}/{}, or, only if a router \
                         delivers {ip} to this network, say so with a line outside_subnet = {ip}",
                        a.prefix,
                        subnets_text(&nets),
                        Ipv4Addr::from(u32::from(nets[0].0) & mask(nets[0].1)),
                        nets[0].1
                    ),
                ));
            }
        } else if a.prefix != 32 && !inside.iter().any(|&(_, p)| p == a.prefix) {
            let (n, p) = inside[0];
            out.push(at(
                line,
                format!(
                    "address {ip}/{}: the network of {ifname} is {}/{p}, so the prefix must be /{p} \
                     (or /32): write address = {ifname}:{ip}/{p}",
                    a.prefix,
                    Ipv4Addr::from(u32::from(n) & mask(p)),
                ),
            ));
        }
    }
    let mine = |ip: IpAddr| -> Option<&str> {
        host.as_ref()?.iter().find_map(|(label, a)| (*a == ip).then_some(label.as_str()))
    };
    if let Some(peer) = cfg.peer {
        if let Some(label) = mine(peer) {
            out.push(at(
                cfg.line_of("peer"),
                format!(
                    "peer {peer} is this host's own address (on {label}): peer is the other node's address \
                     on the private network; a file copied from the other node still names this one"
                ),
            ));
        }
    }
    for n in &cfg.networks {
        if Some(n.dest) == cfg.peer {
            continue;
        }
        if let Some(label) = mine(n.dest) {
            out.push(at(
                cfg.line_of_network(n.id),
                format!(
                    "network {}: {} is this host's own address (on {label}): heartbeats would go to this \
                     node itself; use the subnet's broadcast address or the other node's address",
                    n.id.as_str(),
                    n.dest
                ),
            ));
        }
    }
    out
}

/// A secondary without its scripts directory runs no hooks (said, since
/// the operator may have put them elsewhere); hooks on the primary never
/// run there.
fn hook_warnings(cfg: &Config, warnings: &mut Vec<ConfigError>) {
    let at =
        |message: String| ConfigError { file: cfg.file.clone(), line: cfg.line_of("scripts_dir"), message };
    let dir = &cfg.scripts_dir;
    match cfg.role {
        Role::Secondary if !dir.exists() => warnings.push(at(format!(
            "scripts_dir {} does not exist: no hooks will run (hooks go in {}/<service address>/)",
            dir.display(),
            dir.display()
        ))),
        Role::Primary => {
            for a in &cfg.addresses {
                let hooks = dir.join(a.addr.to_string());
                if has_entries(&hooks) {
                    warnings.push(at(format!(
                        "hooks in {} are never run on the primary: hooks run only on the secondary",
                        hooks.display()
                    )));
                }
            }
        }
        Role::Secondary => {}
    }
}

fn has_entries(dir: &Path) -> bool {
    std::fs::read_dir(dir).is_ok_and(|mut d| d.next().is_some())
}

#[cfg(test)]
#[path = "layout_tests.rs"]
mod tests;
