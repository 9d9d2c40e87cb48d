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
