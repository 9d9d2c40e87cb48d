use super::*;
use crate::config::{check_addresses, parse, IfName};
use std::net::{IpAddr, Ipv4Addr};
use std::path::PathBuf;

/// A host with pub0 in 198.18.0.0/24 and priv0 in 198.19.0.0/24.
struct Host;

impl SystemView for Host {
    fn interface_for(&self, _: IpAddr) -> Option<IfName> {
        None
    }
    fn ipv4_subnets(&self, ifname: &str) -> Option<Vec<(Ipv4Addr, u8)>> {
        match ifname {
            "pub0" => Some(vec![(Ipv4Addr::new(198, 18, 0, 2), 24)]),
            "priv0" => Some(vec![(Ipv4Addr::new(198, 19, 0, 2), 24)]),
            "bare0" => Some(Vec::new()),
            _ => None,
        }
    }
    /// The running daemon holds 198.18.0.10 on an alias label.
    fn addresses(&self) -> Option<Vec<(String, IpAddr)>> {
        let a = |l: &str, ip: [u8; 4]| (l.to_string(), IpAddr::from(ip));
        Some(vec![a("pub0", [198, 18, 0, 2]), a("priv0", [198, 19, 0, 2]), a("pub0:0", [198, 18, 0, 10])])
    }
}

fn dir() -> PathBuf {
    let d = std::env::temp_dir().join(format!("ipfo-layout-{}", std::process::id()));
    std::fs::create_dir_all(d.join("scripts")).unwrap();
    d
}

/// A correct secondary with a key; `extra` lines replace or add keys.
fn conf(extra: &str) -> Config {
    let d = dir();
    let text = format!(
        "role = secondary\n\
         network = public pub0 198.18.0.255\n\
         network = private priv0 198.19.0.255\n\
         peer = 198.19.0.1\n\
         address = pub0:198.18.0.10/24\n\
         auth_key_file = /etc/ipfailoverd.key\n\
         pidfile = {0}/p.pid\n\
         control_socket = {0}/p.sock\n\
         scripts_dir = {0}/scripts\n",
        d.display()
    );
    let mut lines: Vec<String> = text.lines().map(String::from).collect();
    for e in extra.lines() {
        let key = e.split('=').next().unwrap().trim();
        let net = |l: &str| l.split('=').nth(1).and_then(|v| v.split_whitespace().next()).map(String::from);
        match lines.iter().position(|l| {
            l.split('=').next().unwrap().trim() == key && (key != "network" || net(l) == net(e))
        }) {
            Some(i) if key != "address" => lines[i] = e.to_string(),
            _ => lines.push(e.to_string()),
        }
    }
    lines.retain(|l| !l.ends_with("= -"));
    parse(&(lines.join("\n") + "\n"), "t.conf", &Host).unwrap()
}

fn errors(extra: &str) -> Vec<String> {
    layout(&conf(extra), &Host).errors.iter().map(|e| e.to_string()).collect()
}

fn warnings(extra: &str) -> Vec<String> {
    layout(&conf(extra), &Host).warnings.iter().map(|e| e.to_string()).collect()
}

#[test]
fn a_correct_configuration_has_nothing_to_say() {
    assert_eq!(errors(""), Vec::<String>::new());
    assert_eq!(warnings(""), Vec::<String>::new());
    // The peer's unicast address is a destination too.
    assert_eq!(errors("network = private priv0 198.19.0.1"), Vec::<String>::new());
}

#[test]
fn destination_outside_the_interface_subnet() {
    let e = errors("network = public pub0 192.168.1.255");
    assert_eq!(e.len(), 1, "{e:?}");
    assert!(
        e[0].starts_with(
            "t.conf:2: network public: 192.168.1.255 is not in the subnet of pub0 (198.18.0.2/24)"
        ),
        "{e:?}"
    );
    assert!(e[0].contains("198.18.0.255"), "{e:?}");
    let e = errors("network = public bare0 198.18.0.255");
    assert!(e.len() == 1 && e[0].contains("bare0 has no IPv4 address"), "{e:?}");
}

#[test]
fn wrong_broadcast_address() {
    struct Wide;
    impl SystemView for Wide {
        fn interface_for(&self, _: IpAddr) -> Option<IfName> {
            None
        }
        fn ipv4_subnets(&self, ifname: &str) -> Option<Vec<(Ipv4Addr, u8)>> {
            (ifname == "pub0").then(|| vec![(Ipv4Addr::new(198, 18, 0, 2), 16)])
        }
    }
    let e: Vec<String> = layout(&conf(""), &Wide).errors.iter().map(|e| e.to_string()).collect();
    assert_eq!(e.len(), 2, "{e:?}");
    assert!(
        e[0].starts_with("t.conf:2: network public: 198.18.0.255 is not the broadcast address of pub0"),
        "{e:?}"
    );
    assert!(e[0].contains("(198.18.0.2/16), which is 198.18.255.255"), "{e:?}");
    // The service address's /24 is not the interface's /16 either.
    assert!(
        e[1].starts_with("t.conf:5: address 198.18.0.10/24: the network of pub0 is 198.18.0.0/16"),
        "{e:?}"
    );
}

#[test]
fn service_address_on_the_private_interface() {
    let e = errors("address = priv0:198.19.0.10/24");
    assert_eq!(e.len(), 1, "{e:?}");
    assert!(
        e[0].starts_with("t.conf:10: address 198.19.0.10: priv0 is the private network's interface"),
        "{e:?}"
    );
}

#[test]
fn peer_outside_the_private_subnet() {
    let e = errors("peer = 198.18.0.1");
    assert_eq!(e.len(), 1, "{e:?}");
    assert!(
        e[0].starts_with("t.conf:4: peer 198.18.0.1 is not in the subnet of the private interface priv0"),
        "{e:?}"
    );
}

#[test]
fn missing_pidfile_and_socket_directories() {
    let e = errors("pidfile = /nonexistent-ipfo/a.pid\ncontrol_socket = /nonexistent-ipfo/a.sock");
    assert_eq!(e.len(), 2, "{e:?}");
    assert!(
        e[0].starts_with(
            "t.conf:7: pidfile /nonexistent-ipfo/a.pid: the directory /nonexistent-ipfo does not exist"
        ),
        "{e:?}"
    );
    assert!(e[1].starts_with("t.conf:8: control_socket /nonexistent-ipfo/a.sock: the directory"), "{e:?}");
}

#[test]
fn warnings_for_scripts_dir_hooks_on_the_primary_and_no_key() {
    let w = warnings("scripts_dir = /nonexistent-ipfo/scripts");
    assert_eq!(w.len(), 1, "{w:?}");
    assert!(
        w[0].starts_with("t.conf:9: scripts_dir /nonexistent-ipfo/scripts does not exist: no hooks will run"),
        "{w:?}"
    );

    let hooks = dir().join("scripts/198.18.0.10");
    std::fs::create_dir_all(&hooks).unwrap();
    std::fs::write(hooks.join("PreAcq10"), "#!/bin/sh\n").unwrap();
    let w = warnings("role = primary\npeer = 198.19.0.2");
    assert_eq!(w.len(), 1, "{w:?}");
    assert!(w[0].contains("are never run on the primary"), "{w:?}");
    assert_eq!(warnings(""), Vec::<String>::new(), "the secondary runs them");
    std::fs::remove_dir_all(&hooks).unwrap();

    let w = warnings("auth_key_file = -");
    assert_eq!(w.len(), 1, "{w:?}");
    assert!(w[0].starts_with("t.conf: no auth_key_file: heartbeats are not authenticated"), "{w:?}");
}

#[test]
fn unknown_host_facts_skip_the_address_checks() {
    struct Blind;
    impl SystemView for Blind {
        fn interface_for(&self, _: IpAddr) -> Option<IfName> {
            None
        }
    }
    let e = layout(&conf("network = public pub0 192.168.1.255\npeer = 10.0.0.1"), &Blind).errors;
    assert!(e.is_empty(), "{e:?}");
}

/// Issue 30, item 1: clients on pub0's network cannot reach an address of
/// another subnet; only the operator's `outside_subnet` line lets it pass.
#[test]
fn service_address_outside_the_interface_subnet() {
    let e = errors("address = pub0:198.18.51.10/24");
    assert_eq!(e.len(), 1, "{e:?}");
    assert!(
        e[0].starts_with(
            "t.conf:10: address 198.18.51.10/24: 198.18.51.10 is not in the subnet of pub0 (198.18.0.2/24)"
        ),
        "{e:?}"
    );
    assert!(e[0].contains("a free address of 198.18.0.0/24"), "{e:?}");
    assert!(e[0].contains("outside_subnet = 198.18.51.10"), "{e:?}");
    assert_eq!(errors("address = pub0:198.18.51.10/24\noutside_subnet = 198.18.51.10"), Vec::<String>::new());
    // The address's own alias, held by a running daemon, is not a subnet
    // that makes it reachable.
    struct Holding;
    impl SystemView for Holding {
        fn interface_for(&self, _: IpAddr) -> Option<IfName> {
            None
        }
        fn ipv4_subnets(&self, ifname: &str) -> Option<Vec<(Ipv4Addr, u8)>> {
            Host.ipv4_subnets(ifname).map(|mut v| {
                v.extend((ifname == "pub0").then_some((Ipv4Addr::new(198, 18, 51, 10), 24)));
                v
            })
        }
    }
    let cfg = conf("address = pub0:198.18.51.10/24");
    let e = check_addresses(&cfg, &Holding);
    assert!(e.len() == 1 && e[0].message.contains("not in the subnet of pub0 (198.18.0.2/24)"), "{e:?}");
}

#[test]
fn outside_subnet_names_only_service_addresses() {
    let text = "role = secondary\nnetwork = public pub0 198.18.0.255\nnetwork = private priv0 198.19.0.255\n\
                peer = 198.19.0.1\naddress = pub0:198.18.0.10/24\noutside_subnet = 198.18.51.10, nonsense\n";
    let e: Vec<String> = parse(text, "t.conf", &Host).unwrap_err().iter().map(|e| e.to_string()).collect();
    assert_eq!(e.len(), 2, "{e:?}");
    assert_eq!(
        e[0],
        "t.conf:6: outside_subnet: 198.18.51.10 is not a service address (no address line names it)"
    );
    assert!(e[1].starts_with("t.conf:6: outside_subnet: "), "{e:?}");
}

/// Issue 30, item 2: a prefix wider or narrower than the interface's
/// network is refused; /32 (the default without a prefix) is not.
#[test]
fn service_prefix_other_than_the_network() {
    let e = errors("address = pub0:198.18.0.11/16");
    assert_eq!(e.len(), 1, "{e:?}");
    assert_eq!(
        e[0],
        "t.conf:10: address 198.18.0.11/16: the network of pub0 is 198.18.0.0/24, so the prefix must be /24 \
         (or /32): write address = pub0:198.18.0.11/24"
    );
    assert_eq!(errors("address = pub0:198.18.0.11/25").len(), 1);
    assert_eq!(errors("address = pub0:198.18.0.11/32"), Vec::<String>::new());
    assert_eq!(errors("address = pub0:198.18.0.11"), Vec::<String>::new());
}

/// Issue 30, item 3: the host's own address can never be let go of (the
/// daemon refuses to remove an interface's own address).
#[test]
fn service_address_that_is_the_hosts_own() {
    let e = errors("address = pub0:198.18.0.2/24");
    assert_eq!(e.len(), 1, "{e:?}");
    assert!(
        e[0].starts_with(
            "t.conf:10: address 198.18.0.2: 198.18.0.2 is already this host's own address (on pub0, not an alias label)"
        ),
        "{e:?}"
    );
    // The private interface's own address too.
    assert!(errors("address = pub0:198.19.0.2/24").iter().any(|e| e.contains("own address (on priv0")));
    // A static primary's address is its own by design (Apple's mode: the OS
    // configures it, the daemon never moves it); its secondary may not.
    let static_primary = "role = primary\npeer = 198.19.0.1\nmode = static\naddress = pub0:198.18.0.2/24";
    assert_eq!(errors(static_primary), Vec::<String>::new());
    assert_eq!(errors("mode = static\naddress = pub0:198.18.0.2/24").len(), 1);
    // Under the interface's own name where no alias label fits, the copy
    // may be the daemon's (sys/linux/addr.rs adds it so): not refused.
    struct Long;
    impl SystemView for Long {
        fn interface_for(&self, _: IpAddr) -> Option<IfName> {
            None
        }
        fn addresses(&self) -> Option<Vec<(String, IpAddr)>> {
            Some(vec![("enx0c37965ad2a4".to_string(), IpAddr::from([198, 18, 0, 10]))])
        }
    }
    assert!(check_addresses(&conf(""), &Long).is_empty());
}

/// Issue 30, item 4: the primary's file copied to the secondary names the
/// secondary itself as peer.
#[test]
fn peer_that_is_this_host() {
    let e = errors("peer = 198.19.0.2");
    assert_eq!(e.len(), 1, "{e:?}");
    assert!(
        e[0].starts_with(
            "t.conf:4: peer 198.19.0.2 is this host's own address (on priv0): peer is the other node's"
        ),
        "{e:?}"
    );
    let e = errors("network = private priv0 198.19.0.2");
    assert_eq!(e.len(), 1, "{e:?}");
    assert!(e[0].starts_with("t.conf:3: network private: 198.19.0.2 is this host's own address"), "{e:?}");
}
