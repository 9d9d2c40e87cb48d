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
