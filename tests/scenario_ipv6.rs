//! Scenario tests (issue 9): IPv6 service addresses and heartbeats, in
//! fd00:18::/64 only (docs/design.md §8). The client reaches the service address over
//! IPv6; its neighbour entry must follow the address.

mod common;

use common::*;
use std::time::Duration;

const S: Duration = Duration::from_secs(1);
const SERVICE6: &str = "fd00:18::10";
/// A link-scoped group for heartbeats over IPv6 multicast.
const GROUP: &str = "ff02::1694";

fn v6_address() -> String {
    format!("address = pub0:{SERVICE6}/64")
}

/// Heartbeats over IPv6 on both networks: multicast on the public LAN and
/// on the private link.
fn v6_heartbeats(node: Node) -> String {
    let peer = if node == Node::Primary { "fd00:18::1:2" } else { "fd00:18::1:1" };
    format!("network = public pub0 {GROUP}\nnetwork = private priv0 {GROUP}\npeer = {peer}")
}

fn who_answers_at(tb: &Testbed, target: &str) -> String {
    let tool = netool_bin();
    let out = tb.exec(Node::Client, &[tool.to_str().unwrap(), "probe", target, "20", "300"]);
    out.lines()
        .rfind(|l| !l.starts_with("summary"))
        .map(|l| l.split(' ').nth(1).unwrap_or("none").to_string())
        .unwrap_or_else(|| "none".into())
}

fn v6_target() -> String {
    format!("[{SERVICE6}]:7777")
}

fn mac_of(tb: &Testbed, node: Node) -> String {
    let out = tb.exec(node, &["cat", "/sys/class/net/pub0/address"]);
    out.trim().to_string()
}

/// The client's neighbour entry for the IPv6 service address.
fn client_neighbour(tb: &Testbed) -> String {
    tb.exec(Node::Client, &["ip", "-6", "neigh", "show", SERVICE6, "dev", "pub0"])
}

/// The IPv6 service address (beside the testbed's IPv4 one), plus `extra`.
fn config(extra: &str) -> String {
    format!("address = pub0:{SERVICE6}/64\n{extra}")
}

#[test]
fn scenario_ipv6_address_moves_and_the_neighbour_entry_follows() {
    let Some(mut tb) = Testbed::new() else { return };
    let (p, s) = tb.start_pair(&v6_address(), &v6_address());
    assert!(tb.holds_addr(Node::Primary, SERVICE6), "the primary did not add {SERVICE6}");
    assert_eq!(who_answers_at(&tb, &v6_target()), "primary");
    assert!(client_neighbour(&tb).contains(&mac_of(&tb, Node::Primary)), "{}", client_neighbour(&tb));

    // One network silent: an anomaly, the address stays.
    tb.cable(Node::Secondary, "priv", false);
    wait_log(&s.log, "-> anomaly-private", 5 * S);
    std::thread::sleep(Duration::from_millis(500));
    assert!(!tb.holds_addr(Node::Secondary, SERVICE6));
    tb.cable(Node::Secondary, "priv", true);
    wait_log(&s.log, "anomaly-private -> watching", 5 * S);

    // Both silent: takeover, announced with a neighbour advertisement.
    let own = tb.watch_ownership_of(SERVICE6);
    tb.fall_off(Node::Primary);
    wait_log(&s.log, "acquiring -> holding", 5 * S);
    assert_eq!(who_answers_at(&tb, &v6_target()), "secondary");
    let entry = client_neighbour(&tb);
    assert!(entry.contains(&mac_of(&tb, Node::Secondary)), "the client still points elsewhere: {entry}");
    // Usable at once: not tentative (DAD is off while we hold it).
    let addr = tb.exec(Node::Secondary, &["ip", "-6", "addr", "show", "dev", "pub0"]);
    assert!(!addr.contains("tentative"), "{addr}");

    // Back: the claim exchange hands it over with no moment of two owners.
    tb.cable(Node::Primary, "pub", true);
    tb.cable(Node::Primary, "priv", true);
    wait_log(&p.log, "claiming -> acquiring (released)", 10 * S);
    // The primary dropped it (public link down), the secondary added and
    // removed it, the primary added it back.
    let (both, events) = own.wait_events(4, 5 * S);
    assert!(events >= 4, "too few address events seen: {events}");
    assert!(both <= Duration::from_millis(1), "both held {SERVICE6} for {both:?}");
    assert_eq!(who_answers_at(&tb, &v6_target()), "primary");
    assert!(client_neighbour(&tb).contains(&mac_of(&tb, Node::Primary)), "{}", client_neighbour(&tb));
    // DAD is back as it was on the secondary.
    let dad = tb.exec(Node::Secondary, &["cat", "/proc/sys/net/ipv6/conf/pub0/accept_dad"]);
    assert_eq!(dad.trim(), "1");
}

#[test]
fn scenario_ipv6_heartbeats_on_both_networks() {
    let Some(mut tb) = Testbed::new() else { return };
    let (_p, s) =
        tb.start_pair(&config(&v6_heartbeats(Node::Primary)), &config(&v6_heartbeats(Node::Secondary)));
    // Heard over IPv6 multicast on both networks: watching, not anomalies.
    std::thread::sleep(S);
    assert!(!log_has(&s.log, "anomaly"), "heartbeats over IPv6 not heard");
    let (_, status) = ctl(&tb.dir.join("s.conf"), &["status"]);
    assert!(status.contains("watching"), "{status}");
    tb.fall_off(Node::Primary);
    wait_log(&s.log, "acquiring -> holding", 5 * S);
    assert_eq!(who_answers_at(&tb, &v6_target()), "secondary");
}

#[test]
fn scenario_mixed_ipv4_and_ipv6_pair() {
    // IPv4 heartbeats on the public network, IPv6 on the private link;
    // one IPv4 and one IPv6 service address.
    let Some(mut tb) = Testbed::new() else { return };
    let mixed = |node: Node| {
        let peer = if node == Node::Primary { "fd00:18::1:2" } else { "fd00:18::1:1" };
        format!("network = private priv0 {GROUP}\npeer = {peer}\n{}", v6_address())
    };
    let (p, s) = tb.start_pair(&mixed(Node::Primary), &mixed(Node::Secondary));
    std::thread::sleep(S);
    assert!(!log_has(&s.log, "anomaly"));
    // Both clients' views move together. The two probes run side by side
    // so the takeover times compare in one run.
    let tool = netool_bin();
    let tool = tool.to_str().unwrap().to_string();
    let c = tb.ns(Node::Client);
    let probe = |target: String| {
        let (tool, c) = (tool.clone(), c.clone());
        std::thread::spawn(move || sh(&["ip", "netns", "exec", &c, &tool, "probe", &target, "2", "4000"]))
    };
    let v4 = probe(format!("{SERVICE}:7777"));
    let v6 = probe(v6_target());
    std::thread::sleep(Duration::from_millis(700));
    tb.fall_off(Node::Primary);
    let gap = |out: &str| {
        let mut none_at = None;
        for l in out.lines() {
            let w: Vec<&str> = l.split(' ').collect();
            match (w.as_slice(), none_at) {
                ([t, "none"], _) => none_at = t.parse::<u64>().ok(),
                ([t, "secondary"], Some(n)) => return t.parse::<u64>().ok().map(|t| t - n),
                _ => {}
            }
        }
        None
    };
    let (v4, v6) = (v4.join().unwrap(), v6.join().unwrap());
    let (g4, g6) = (gap(&v4), gap(&v6));
    println!("client-visible takeover, same run: IPv4 {g4:?} ms, IPv6 {g6:?} ms (interval 200ms, dead_after 600ms)");
    let (g4, g6) = (g4.expect(&v4), g6.expect(&v6));
    assert!(g6 <= g4 + 100, "IPv6 takeover {g6} ms against IPv4 {g4} ms");
    assert!(tb.holds_addr(Node::Secondary, SERVICE) && tb.holds_addr(Node::Secondary, SERVICE6));
    tb.cable(Node::Primary, "pub", true);
    tb.cable(Node::Primary, "priv", true);
    wait_log(&p.log, "claiming -> acquiring (released)", 10 * S);
    assert!(tb.holds_addr(Node::Primary, SERVICE) && tb.holds_addr(Node::Primary, SERVICE6));
    assert_eq!(who_answers_at(&tb, &v6_target()), "primary");
}
