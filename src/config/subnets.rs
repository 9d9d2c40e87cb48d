//! The configuration against this host's subnets and addresses, as
//! `SystemView` reports them (pure: the tests use fakes). The mistakes a
//! new operator makes with the example files: `check_addresses` is what
//! `-n`, the start and a reload all refuse; `check_networks` is everything
//! `-n` (`preflight/`) says about addresses.

use super::{Config, ConfigError, Mode, NetId, Network, Role, ServiceAddr, SystemView};
use std::net::{IpAddr, Ipv4Addr};

/// An IPv4 subnet of an interface: an address of it and the prefix.
type Subnet = (Ipv4Addr, u8);

/// The host's addresses as (label, address), when known (`SystemView::addresses`).
type HostAddrs<'a> = Option<&'a [(String, IpAddr)]>;

fn mask(prefix: u8) -> u32 {
    u32::MAX.checked_shl(32 - u32::from(prefix.min(32))).unwrap_or(0)
}

fn contains(net: Subnet, ip: Ipv4Addr) -> bool {
    let m = mask(net.1);
    u32::from(net.0) & m == u32::from(ip) & m
}

fn broadcast(net: Subnet) -> Ipv4Addr {
    Ipv4Addr::from(u32::from(net.0) | !mask(net.1))
}

fn subnets_text(nets: &[Subnet]) -> String {
    nets.iter().map(|(a, p)| format!("{a}/{p}")).collect::<Vec<_>>().join(", ")
}

fn at(cfg: &Config, line: usize, message: String) -> ConfigError {
    ConfigError { file: cfg.file.clone(), line, message }
}

/// Everything `-n` says about addresses, in this order: each network's
/// destination against its interface's subnets, the service addresses and
/// the peer (`check_addresses`), service addresses on the private
/// interface, the peer against the private interface's subnets.
pub(crate) fn check_networks(cfg: &Config, sys: &dyn SystemView) -> Vec<ConfigError> {
    let mut out: Vec<ConfigError> = cfg.networks.iter().filter_map(|n| destination(cfg, sys, n)).collect();
    out.extend(check_addresses(cfg, sys));
    out.extend(on_the_private_interface(cfg));
    out.extend(peer_subnet(cfg, sys));
    out
}

/// A network's destination is in its interface's subnet, and when it ends
/// in .255, is that subnet's broadcast address (or the peer).
fn destination(cfg: &Config, sys: &dyn SystemView, n: &Network) -> Option<ConfigError> {
    let IpAddr::V4(dest) = n.dest else { return None };
    let nets = sys.ipv4_subnets(n.interface.as_str())?;
    let line = cfg.line_of_network(n.id);
    let name = n.id.as_str();
    let ifname = n.interface.as_str();
    if nets.is_empty() {
        return Some(at(
            cfg,
            line,
            format!("network {name}: {ifname} has no IPv4 address, so heartbeats to {dest} cannot be sent from it"),
        ));
    }
    let inside: Vec<Subnet> = nets.iter().copied().filter(|&net| contains(net, dest)).collect();
    if inside.is_empty() {
        return Some(at(
            cfg,
            line,
            format!(
                "network {name}: {dest} is not in the subnet of {ifname} ({}): heartbeats would leave \
                 by the default route or not at all; use the subnet's broadcast address ({}) or the \
                 peer's address on {ifname}",
                subnets_text(&nets),
                broadcast(nets[0])
            ),
        ));
    }
    if dest.octets()[3] == 255
        && cfg.peer != Some(n.dest)
        && !inside.iter().any(|&net| broadcast(net) == dest)
    {
        let net = inside[0];
        return Some(at(
            cfg,
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
    None
}

/// A service address belongs on the public interface.
fn on_the_private_interface(cfg: &Config) -> Vec<ConfigError> {
    let private = cfg.network(NetId::Private);
    let mut out = Vec::new();
    for (i, a) in cfg.addresses.iter().enumerate() {
        if a.interface == private.interface {
            out.push(at(
                cfg,
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
    out
}

/// The peer is in the private interface's subnet.
fn peer_subnet(cfg: &Config, sys: &dyn SystemView) -> Option<ConfigError> {
    let Some(IpAddr::V4(peer)) = cfg.peer else { return None };
    let private = cfg.network(NetId::Private);
    let nets = sys.ipv4_subnets(private.interface.as_str())?;
    if nets.is_empty() || nets.iter().any(|&net| contains(net, peer)) {
        return None;
    }
    Some(at(
        cfg,
        cfg.line_of("peer"),
        format!(
            "peer {peer} is not in the subnet of the private interface {} ({}): peer is the \
             other node's address on the private network",
            private.interface,
            subnets_text(&nets)
        ),
    ))
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
    let host = sys.addresses();
    let host = host.as_deref();
    let mut out: Vec<ConfigError> =
        cfg.addresses.iter().enumerate().filter_map(|(i, a)| service_address(cfg, sys, host, i, a)).collect();
    out.extend(peer_and_destinations(cfg, host));
    out
}

/// The label of the host's own (not alias) address `ip`, if it has it.
fn own(host: HostAddrs<'_>, ip: IpAddr) -> Option<&str> {
    host?.iter().find_map(|(label, a)| {
        (*a == ip && !label.contains(':') && alias_fits(label)).then_some(label.as_str())
    })
}

/// The label of any address `ip` of the host, alias labels included.
fn mine(host: HostAddrs<'_>, ip: IpAddr) -> Option<&str> {
    host?.iter().find_map(|(label, a)| (*a == ip).then_some(label.as_str()))
}

/// One service address (`addresses[i]`): not the host's own, and in a
/// subnet of its interface with that subnet's prefix.
fn service_address(
    cfg: &Config,
    sys: &dyn SystemView,
    host: HostAddrs<'_>,
    i: usize,
    a: &ServiceAddr,
) -> Option<ConfigError> {
    let IpAddr::V4(ip) = a.addr else { return None };
    let line = cfg.line_of_address(i);
    // A static primary's addresses are its own, configured by the OS
    // (Apple's mode): the daemon never adds or removes them.
    let static_primary = cfg.mode == Mode::Static && cfg.role == Role::Primary;
    if static_primary && own(host, a.addr).is_some() {
        return None;
    }
    if let Some(label) = own(host, a.addr) {
        return Some(at(
            cfg,
            line,
            format!(
                "address {ip}: {ip} is already this host's own address (on {label}, not an alias label): \
                 the daemon could not remove it when it lets go, so the peer could never take it over; \
                 a service address must be a free address that neither node has"
            ),
        ));
    }
    if a.interface == cfg.network(NetId::Private).interface {
        return None; // said by check_networks
    }
    let service = |n: Ipv4Addr| cfg.addresses.iter().any(|a| a.addr == IpAddr::V4(n));
    let nets: Vec<Subnet> =
        sys.ipv4_subnets(a.interface.as_str())?.into_iter().filter(|&(n, _)| !service(n)).collect();
    if nets.is_empty() {
        return None;
    }
    subnet_problem(cfg, a, ip, &nets).map(|message| at(cfg, line, message))
}

/// A service address outside every subnet of its interface (unless
/// `outside_subnet` names it), or with a prefix other than the subnet's
/// (or /32). `nets` is not empty.
fn subnet_problem(cfg: &Config, a: &ServiceAddr, ip: Ipv4Addr, nets: &[Subnet]) -> Option<String> {
    let ifname = a.interface.as_str();
    let inside: Vec<Subnet> = nets.iter().copied().filter(|&net| contains(net, ip)).collect();
    if inside.is_empty() {
        if cfg.outside_subnet.contains(&a.addr) {
            return None;
        }
        return Some(format!(
            "address {ip}/{}: {ip} is not in the subnet of {ifname} ({}): clients on that \
             network cannot reach it; use a free address of {}/{}, or, only if a router \
             delivers {ip} to this network, say so with a line outside_subnet = {ip}",
            a.prefix,
            subnets_text(nets),
            Ipv4Addr::from(u32::from(nets[0].0) & mask(nets[0].1)),
            nets[0].1
        ));
    }
    if a.prefix != 32 && !inside.iter().any(|&(_, p)| p == a.prefix) {
        let (n, p) = inside[0];
        return Some(format!(
            "address {ip}/{}: the network of {ifname} is {}/{p}, so the prefix must be /{p} \
             (or /32): write address = {ifname}:{ip}/{p}",
            a.prefix,
            Ipv4Addr::from(u32::from(n) & mask(p)),
        ));
    }
    None
}

/// Neither the peer nor a network's destination (unless it is the peer)
/// is one of this host's addresses.
fn peer_and_destinations(cfg: &Config, host: HostAddrs<'_>) -> Vec<ConfigError> {
    let mut out = Vec::new();
    if let Some(peer) = cfg.peer {
        if let Some(label) = mine(host, peer) {
            out.push(at(
                cfg,
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
        if let Some(label) = mine(host, n.dest) {
            out.push(at(
                cfg,
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
