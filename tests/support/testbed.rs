//! The testbed, defined once (docs/design.md §8): the network namespaces, switch,
//! cables and addresses that everything runs on. The scenario tests build
//! it by calling `up` and `down` (tests/common/mod.rs); the scripts
//! (scripts/lib/testbed.sh) and the benchmark (scripts/bench) through
//! `netool testbed up|down NAME` (examples/netool.rs). Both include this
//! file with `#[path]`, so a change here is a change for all of them.
//!
//! ```text
//!   client    c pub0  198.18.0.100/24 fd00:18::100/64 ──┐
//!   primary   p pub0  198.18.0.1/24   fd00:18::1/64 ────┤ br-pub
//!   secondary s pub0  198.18.0.2/24   fd00:18::2/64 ────┘ (switch w)
//!   primary   p priv0 198.19.0.1/24   fd00:18::1:1/128 ─┐ br-priv
//!   secondary s priv0 198.19.0.2/24   fd00:18::1:2/128 ─┘
//! ```
//!
//! A testbed called NAME is the namespaces NAMEw (the switch), NAMEp,
//! NAMEs and NAMEc, nothing attached to the host and no default route. A
//! cable is a veth pair: `<node>-<lan>` (`p-pub`, `s-priv`, ...) on the
//! bridge `br-<lan>` in the switch, `pub0` or `priv0` in the node. Pulling
//! a cable is taking its switch side down, so the server sees its carrier
//! go. Only std.
#![allow(dead_code)] // each user takes part of it

use std::io;
use std::path::Path;
use std::process::{Command, Stdio};

/// The switch namespace's suffix; the nodes' are in `NODES`.
pub const SWITCH: &str = "w";
/// Primary, secondary, client.
pub const NODES: [&str; 3] = ["p", "s", "c"];

/// One cable: node, LAN, the node's interface, its IPv4 and IPv6 address.
pub struct Cable {
    pub node: &'static str,
    pub lan: &'static str,
    pub ifname: &'static str,
    pub v4: &'static str,
    pub v6: &'static str,
}

/// docs/design.md §8: IPv6 only from fd00:18::/64; the private link's addresses are
/// /128s so that the /64 route stays on the public LAN.
pub const CABLES: [Cable; 5] = [
    Cable { node: "p", lan: "pub", ifname: "pub0", v4: "198.18.0.1/24", v6: "fd00:18::1/64" },
    Cable { node: "s", lan: "pub", ifname: "pub0", v4: "198.18.0.2/24", v6: "fd00:18::2/64" },
    Cable { node: "c", lan: "pub", ifname: "pub0", v4: "198.18.0.100/24", v6: "fd00:18::100/64" },
    Cable { node: "p", lan: "priv", ifname: "priv0", v4: "198.19.0.1/24", v6: "fd00:18::1:1/128" },
    Cable { node: "s", lan: "priv", ifname: "priv0", v4: "198.19.0.2/24", v6: "fd00:18::1:2/128" },
];

/// The namespace of `tag` (`w`, `p`, `s` or `c`) in testbed `name`.
pub fn ns(name: &str, tag: &str) -> String {
    format!("{name}{tag}")
}

fn namespaces(name: &str) -> Vec<String> {
    NODES.iter().chain([&SWITCH]).map(|tag| ns(name, tag)).collect()
}

fn exists(ns: &str) -> bool {
    Path::new("/run/netns").join(ns).exists()
}

/// Builds testbed `name`. If one of its namespaces exists already it is
/// not ours: nothing is touched and the error is `AlreadyExists`. On any
/// other failure what was built is deleted before the error is returned.
pub fn up(name: &str) -> io::Result<()> {
    if let Some(taken) = namespaces(name).into_iter().find(|n| exists(n)) {
        return Err(io::Error::new(io::ErrorKind::AlreadyExists, format!("namespace {taken} exists")));
    }
    let built = build(name);
    if built.is_err() {
        let _ = down(name);
    }
    built
}

fn build(name: &str) -> io::Result<()> {
    let sw = ns(name, SWITCH);
    add_node(name, SWITCH)?;
    for tag in NODES {
        add_node(name, tag)?;
    }
    for br in ["br-pub", "br-priv"] {
        // No multicast snooping: without a querier it could starve IPv6
        // multicast heartbeats (MLD) and VRRP alike.
        ip(&["-n", &sw, "link", "add", br, "type", "bridge", "mcast_snooping", "0"])?;
        ip(&["-n", &sw, "link", "set", br, "up"])?;
    }
    for c in &CABLES {
        plug(name, c.node, c.lan, c.ifname, &[c.v4, c.v6])?;
    }
    Ok(())
}

/// Adds the namespace of `tag` to testbed `name`, with its loopback up.
pub fn add_node(name: &str, tag: &str) -> io::Result<()> {
    let n = ns(name, tag);
    ip(&["netns", "add", &n])?;
    ip(&["-n", &n, "link", "set", "lo", "up"])
}

/// Plugs node `tag` of testbed `name` into `br-<lan>` with a new cable
/// `<tag>-<lan>` whose node side is `ifname` with `addrs` (IPv6 ones
/// without duplicate address detection, so they are usable at once).
pub fn plug(name: &str, tag: &str, lan: &str, ifname: &str, addrs: &[&str]) -> io::Result<()> {
    let (sw, node) = (ns(name, SWITCH), ns(name, tag));
    let port = format!("{tag}-{lan}");
    ip(&["-n", &sw, "link", "add", &port, "type", "veth", "peer", "name", ifname, "netns", &node])?;
    ip(&["-n", &sw, "link", "set", &port, "master", &format!("br-{lan}"), "up"])?;
    for addr in addrs {
        if addr.contains(':') {
            ip(&["-n", &node, "addr", "add", addr, "dev", ifname, "nodad"])?;
        } else {
            ip(&["-n", &node, "addr", "add", addr, "dev", ifname])?;
        }
    }
    ip(&["-n", &node, "link", "set", ifname, "up"])
}

/// Deletes testbed `name`'s namespaces (their veths and bridges go with
/// them). One already gone is fine; the first failure is returned after
/// trying all of them.
pub fn down(name: &str) -> io::Result<()> {
    let mut result = Ok(());
    for n in namespaces(name).into_iter().filter(|n| exists(n)) {
        if let Err(e) = ip(&["netns", "del", &n]) {
            result = result.and(Err(e));
        }
    }
    result
}

fn ip(args: &[&str]) -> io::Result<()> {
    let out = Command::new("ip").args(args).stdin(Stdio::null()).output()?;
    if out.status.success() {
        return Ok(());
    }
    let err = String::from_utf8_lossy(&out.stderr);
    Err(io::Error::other(format!("ip {}: {}", args.join(" "), err.trim())))
}
