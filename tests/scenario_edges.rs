//! Regression scenarios for edge cases of operator commands, failed
//! address removals and reloads in the middle of a move. The real binary
//! runs in network namespaces (tests/common); each test checks what a client
//! or an operator sees: which node has the service address in the kernel,
//! who answers on it, what `ipfailoverd status` says.
//! Run them one at a time:
//! `cargo test --test scenario_edges -- --test-threads=1 --nocapture`.

mod common;

use common::*;
use std::path::Path;
use std::time::{Duration, Instant};

const S: Duration = Duration::from_secs(1);
const DEAD_AFTER: Duration = Duration::from_millis(400);
/// Short timing for both nodes: interval 100ms, dead_after 400ms.
const FAST: &str = "interval = 100ms\ndead_after = 400ms\nrecover_after = 300ms\ngarp_interval = 20ms";

/// Polls `cond` every 10 ms: how long it took to hold, or None after `timeout`.
fn poll(timeout: Duration, mut cond: impl FnMut() -> bool) -> Option<Duration> {
    let start = Instant::now();
    loop {
        if cond() {
            return Some(start.elapsed());
        }
        if start.elapsed() >= timeout {
            return None;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}

fn wait_until(what: &str, timeout: Duration, cond: impl FnMut() -> bool) -> Duration {
    poll(timeout, cond).unwrap_or_else(|| panic!("{what}: not after {timeout:?}"))
}

/// Whether `node`, and only `node`, has the service address.
fn sole_holder(tb: &Testbed, node: Node) -> bool {
    tb.holds(node) && !tb.holds(other(node))
}

fn other(node: Node) -> Node {
    if node == Node::Primary {
        Node::Secondary
    } else {
        Node::Primary
    }
}

/// Waits until `node`, and only `node`, has the service address.
fn wait_holder(tb: &Testbed, node: Node, timeout: Duration) -> Duration {
    wait_until(&format!("{node:?} holds {SERVICE} alone"), timeout, || sole_holder(tb, node))
}

/// `ipfailoverd status --json` of the daemon configured by `conf`.
fn status_json(conf: &Path) -> String {
    let (code, out) = ctl(conf, &["status", "--json"]);
    assert_eq!(code, 0, "status failed: {out}");
    out
}

/// The string value of `"key":"..."` in a status JSON.
fn json_str(json: &str, key: &str) -> String {
    let pat = format!("\"{key}\":\"");
    json.split(&pat).nth(1).and_then(|r| r.split('"').next()).unwrap_or("").to_string()
}

/// The number value of `"key":N` in a status JSON.
fn json_num(json: &str, key: &str) -> u64 {
    let pat = format!("\"{key}\":");
    json.split(&pat).nth(1).and_then(|r| r.split([',', '}']).next()).and_then(|n| n.parse().ok()).unwrap_or(0)
}

// ------------------------------------------------------------------ 1
// `ipfailoverd release` on a secondary with failback = manual puts it in
// standby; once the primary holds the addresses again, the secondary must
// watch it like any other time and take over when it dies.

/// The pair after a manual failback: the primary fell off, the secondary
/// took over and kept the address when the primary came back, and an
/// operator ran `ipfailoverd release` on the secondary.
fn manual_failback_released(tb: &mut Testbed) -> (Daemon, Daemon) {
    let (p, s) = tb.start_pair(FAST, &format!("{FAST}\nfailback = manual"));
    tb.fall_off(Node::Primary);
    wait_log(&s.log, "acquiring -> holding", 5 * S);
    tb.cable(Node::Primary, "pub", true);
    tb.cable(Node::Primary, "priv", true);
    wait_log(&p.log, "secondary keeps the service addresses", 10 * S);
    assert!(tb.holds(Node::Secondary) && !tb.holds(Node::Primary));
    let (code, out) = ctl(&tb.dir.join("s.conf"), &["release"]);
    assert_eq!(code, 0, "release on the secondary: {out}");
    wait_holder(tb, Node::Primary, 5 * S);
    assert_eq!(tb.who_answers(), "primary");
    (p, s)
}

/// main 4eb877c: FAILS, the secondary stays in standby after the release and never takes over (no holder after 5 s).
#[test]
fn scenario_edges_release_on_manual_secondary_then_primary_falls_off() {
    let mut tb = Testbed::new();
    let (_p, s) = manual_failback_released(&mut tb);
    let pulled = Instant::now();
    tb.fall_off(Node::Primary);
    let limit = DEAD_AFTER + 3 * S / 2;
    let took = poll(5 * S, || sole_holder(&tb, Node::Secondary)).map(|_| pulled.elapsed());
    let state = json_str(&status_json(&tb.dir.join("s.conf")), "state");
    let took =
        took.unwrap_or_else(|| panic!("the primary fell off; no takeover after 5 s (secondary: {state})"));
    println!("secondary took over {took:?} after the primary fell off (dead_after {DEAD_AFTER:?})");
    assert!(took < limit, "takeover took {took:?}, more than dead_after + 1.5 s");
    assert!(log_has(&s.log, "(both-networks-silent)"), "not a takeover on silence");
    assert_eq!(tb.who_answers(), "secondary");
}

/// main 4eb877c: FAILS, standby for 1 s after the release, then the primary is killed: no takeover after 5 s (secondary: standby).
#[test]
fn scenario_edges_release_on_manual_secondary_settles_then_primary_is_killed() {
    let mut tb = Testbed::new();
    let (p, s) = manual_failback_released(&mut tb);
    // Ten intervals in the same state: no claim or released is in flight.
    let sc = tb.dir.join("s.conf");
    wait_until("the secondary settles for 1 s", 5 * S, || json_num(&status_json(&sc), "since_ms") >= 1000);
    println!("secondary before the primary dies: {}", json_str(&status_json(&sc), "state"));
    // The primary dies; its address goes with it (as a crashed host's would).
    tb.signal(p.pid, "KILL");
    let killed = Instant::now();
    tb.exec(Node::Primary, &["ip", "addr", "del", &format!("{SERVICE}/24"), "dev", "pub0"]);
    let took = poll(5 * S, || sole_holder(&tb, Node::Secondary)).map(|_| killed.elapsed());
    let state = json_str(&status_json(&sc), "state");
    let took =
        took.unwrap_or_else(|| panic!("the primary was killed; no takeover after 5 s (secondary: {state})"));
    println!("secondary took over {took:?} after the primary was killed (dead_after {DEAD_AFTER:?})");
    assert!(took < DEAD_AFTER + 3 * S / 2, "takeover took {took:?}, more than dead_after + 1.5 s");
    assert!(log_has(&s.log, "(both-networks-silent)"), "not a takeover on silence");
    assert_eq!(tb.who_answers(), "secondary");
}

// ------------------------------------------------------------------ 2
// A primary whose removal of the service address fails still has it: it
// must not tell the secondary the address is free (goodbye, address-free),
// or both nodes answer for it.

/// The kernel's label of `addr` on pub0 of `node` (`pub0`, `pub0:0`, ...).
fn label_of(tb: &Testbed, node: Node, addr: &str) -> String {
    let out = tb.exec(node, &["ip", "-4", "-o", "addr", "show", "dev", "pub0"]);
    let line = out.lines().find(|l| l.contains(&format!("inet {addr}/"))).unwrap_or("");
    line.split('\\').next().unwrap_or("").split_whitespace().last().unwrap_or("").to_string()
}

/// Puts the primary's service address back by hand without an alias label,
/// as an operator might: the daemon removes an IPv4 service address by
/// taking its alias label down, and refuses to for the interface's own
/// label (that would take pub0 down), so every removal now fails.
fn make_removal_fail(tb: &Testbed) {
    assert!(label_of(tb, Node::Primary, SERVICE).contains(':'), "the daemon added no alias label");
    let svc = format!("{SERVICE}/24");
    tb.exec(Node::Primary, &["ip", "addr", "del", &svc, "dev", "pub0"]);
    tb.exec(Node::Primary, &["ip", "addr", "add", &svc, "dev", "pub0"]);
    let label = label_of(tb, Node::Primary, SERVICE);
    assert_eq!(label, "pub0", "the service address should carry the interface's own label");
}

/// Watches both nodes for `window`: panics as soon as both have the
/// service address.
fn never_both(tb: &Testbed, window: Duration, after: &str) {
    if let Some(t) = poll(window, || tb.holds(Node::Primary) && tb.holds(Node::Secondary)) {
        panic!("{after}: both nodes have {SERVICE} (seen {t:?} into the watch)");
    }
}

/// main 4eb877c: FAILS, the removal fails, the primary sends its goodbye anyway and the secondary adds the address: both hold it.
#[test]
fn scenario_edges_sigterm_with_failed_removal_sends_no_goodbye() {
    let mut tb = Testbed::new();
    // The secondary's dead_after is long: a primary that stops without a
    // goodbye (the address still on it) is only taken over after 3 s of
    // silence, after this test's window. The goodbye would be at once.
    let (p, s) = tb.start_pair(FAST, "interval = 100ms\ndead_after = 3s\nrecover_after = 300ms");
    make_removal_fail(&tb);
    let w = tb.watch_ownership();
    tb.signal(p.pid, "TERM");
    wait_log(&p.log, &format!("cannot remove {SERVICE}/24 from pub0"), 3 * S);
    never_both(&tb, 3 * S / 2, "SIGTERM to a primary that could not remove its address");
    assert!(tb.holds(Node::Primary), "the address left the primary after all");
    assert!(
        !log_has(&s.log, "(goodbye)"),
        "the secondary acted on a goodbye from a primary that holds the address"
    );
    let (overlap, events) = w.overlap();
    println!("both held {SERVICE} for {overlap:?} ({events} address events)");
    assert_eq!(overlap, Duration::ZERO, "both nodes held the address for {overlap:?}");
}

/// main 4eb877c: FAILS, `release` on the primary fails to remove the address, the primary declares it free anyway and the secondary adds it: both hold it.
#[test]
fn scenario_edges_release_with_failed_removal_keeps_the_address_taken() {
    let mut tb = Testbed::new();
    let (p, s) = tb.start_pair(FAST, FAST);
    make_removal_fail(&tb);
    let w = tb.watch_ownership();
    let pc = tb.dir.join("p.conf");
    let (code, answer) = ctl(&pc, &["release"]);
    println!("release on the primary: exit {code}: {}", answer.trim());
    wait_log(&p.log, &format!("cannot remove {SERVICE}/24 from pub0"), 3 * S);
    never_both(&tb, 3 * S / 2, "release on a primary that could not remove its address");
    assert!(tb.holds(Node::Primary), "the address left the primary after all");
    assert!(!log_has(&s.log, "-> acquiring"), "the secondary took over an address the primary still has");
    let state = json_str(&status_json(&pc), "state");
    assert_ne!(state, "standby", "the primary says it stood down but still has the address");
    assert_eq!(tb.who_answers(), "primary");
    let (overlap, events) = w.overlap();
    println!("both held {SERVICE} for {overlap:?} ({events} address events)");
    assert_eq!(overlap, Duration::ZERO, "both nodes held the address for {overlap:?}");
}
