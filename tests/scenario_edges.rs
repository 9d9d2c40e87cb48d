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
/// A second service address, for the reload scenarios.
const SERVICE2: &str = "198.18.0.11";
/// Two `ip monitor`s in two namespaces may misorder events closer than
/// their wake-up latency (see scenario_failback); a real overlap is longer.
const OBSERVER_JITTER: Duration = Duration::from_millis(1);

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

/// The service-range addresses (198.18.0.10 and up) `node` has on pub0,
/// under any label, as the kernel shows them.
fn service_addrs(tb: &Testbed, node: Node) -> Vec<String> {
    let out = tb.exec(node, &["ip", "-4", "-o", "addr", "show", "dev", "pub0"]);
    let mut found: Vec<String> = out
        .split_whitespace()
        .filter_map(|w| w.strip_suffix("/24"))
        .filter(|a| {
            a.strip_prefix("198.18.0.")
                .and_then(|n| n.parse::<u8>().ok())
                .is_some_and(|n| (10..100).contains(&n))
        })
        .map(String::from)
        .collect();
    found.sort();
    found
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

/// The addresses of the list `"key":[...]` in a status JSON, bare and
/// sorted: `pub0:198.18.0.10/24` -> `198.18.0.10`.
fn json_addrs(json: &str, key: &str) -> Vec<String> {
    let pat = format!("\"{key}\":[");
    let list = json.split(&pat).nth(1).and_then(|r| r.split(']').next()).unwrap_or("");
    let mut v: Vec<String> = list
        .split(',')
        .map(|s| s.trim_matches('"'))
        .filter(|s| !s.is_empty())
        .map(|s| s.rsplit(':').next().unwrap_or(s).split('/').next().unwrap_or(s).to_string())
        .collect();
    v.sort();
    v
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

/// A pair whose primary fell off both networks: the secondary holds.
fn secondary_holding(tb: &mut Testbed, extra_p: &str, extra_s: &str) -> (Daemon, Daemon) {
    let (p, s) = tb.start_pair(extra_p, extra_s);
    tb.fall_off(Node::Primary);
    wait_log(&s.log, "acquiring -> holding", 5 * S);
    (p, s)
}

/// The pair after a manual failback: the primary fell off, the secondary
/// took over and kept the address when the primary came back, and an
/// operator ran `ipfailoverd release` on the secondary.
fn manual_failback_released(tb: &mut Testbed) -> (Daemon, Daemon) {
    let (p, s) = secondary_holding(tb, FAST, &format!("{FAST}\nfailback = manual"));
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

/// After `release` on a manual-failback secondary and the primary's
/// claim, the primary falls off both networks: the secondary takes over
/// within dead_after + 1.5 s, on silence, and answers clients.
#[test]
fn scenario_edges_release_on_manual_secondary_then_primary_falls_off() {
    // main 4eb877c: FAILS, the secondary stays in standby: no takeover 5 s after the primary fell off.
    let Some(mut tb) = Testbed::new() else { return };
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
    let silent =
        std::fs::read_to_string(&s.log).unwrap().matches("-> acquiring (both-networks-silent)").count();
    assert_eq!(silent, 2, "the second takeover was not on silence");
    assert_eq!(tb.who_answers(), "secondary");
}

/// As above, but the pair first stays put for ten intervals (no claim or
/// released in flight), then the primary daemon is killed and its address
/// removed: the secondary takes over within dead_after + 1.5 s.
#[test]
fn scenario_edges_release_on_manual_secondary_settles_then_primary_is_killed() {
    // main 4eb877c: FAILS, the secondary sits in standby: no takeover 5 s after the primary was killed.
    let Some(mut tb) = Testbed::new() else { return };
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
    let silent =
        std::fs::read_to_string(&s.log).unwrap().matches("-> acquiring (both-networks-silent)").count();
    assert_eq!(silent, 2, "the second takeover was not on silence");
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
    // In one `ip -batch`, so that the daemon, which puts a removed address
    // back at once (scenario_addrwatch), does not add it first; if it did,
    // its next put-back waits dead_after and the second round wins.
    let batch = tb.dir.join("relabel.batch");
    std::fs::write(&batch, format!("addr del {svc} dev pub0\naddr add {svc} dev pub0\n")).unwrap();
    for _ in 0..5 {
        if label_of(tb, Node::Primary, SERVICE) == "pub0" {
            break;
        }
        // The add fails ("already assigned") when the daemon was first:
        // then the loop tries again.
        tb.exec_status(Node::Primary, &["ip", "-force", "-batch", batch.to_str().unwrap()]);
        std::thread::sleep(Duration::from_millis(50));
    }
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

/// SIGTERM to a primary whose removal fails: the failure is logged, no
/// goodbye reaches the secondary, and the address is never on both nodes.
#[test]
fn scenario_edges_sigterm_with_failed_removal_sends_no_goodbye() {
    // main 4eb877c: FAILS, removal fails, goodbye sent anyway; the secondary adds the address 2 ms later: both have it.
    let Some(mut tb) = Testbed::new() else { return };
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
    assert!(overlap < OBSERVER_JITTER, "both nodes held the address for {overlap:?}");
}

/// `ipfailoverd release` on a primary whose removal fails: the failure is
/// logged, the primary does not report standby, the secondary does not take
/// the address, the primary keeps answering clients.
#[test]
fn scenario_edges_release_with_failed_removal_keeps_the_address_taken() {
    // main 4eb877c: FAILS, removal fails, the primary enters standby (address-free); the secondary adds it: both have it.
    let Some(mut tb) = Testbed::new() else { return };
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
    assert!(overlap < OBSERVER_JITTER, "both nodes held the address for {overlap:?}");
}

// ------------------------------------------------------------------ 3
// SIGHUP while the secondary's mover runs a slow hook: the move in progress
// must complete on its own report, and what the reload adds or drops must
// not be left behind where the status does not say so. (A SIGHUP that
// changes no address at these moments moves nothing and passed on main
// 4eb877c; the reloads here add or drop 198.18.0.11.)

/// A hook of `stage` for `addr` that sleeps `secs` with a marker file
/// `<dir>/in-<stage>-<addr>` present meanwhile; returns the marker.
fn slow_hook(tb: &Testbed, addr: &str, stage: &str, secs: f64) -> std::path::PathBuf {
    let mark = tb.dir.join(format!("in-{stage}-{addr}"));
    let body = format!("#!/bin/sh\ntouch {0}\nsleep {secs}\nrm -f {0}\n", mark.display());
    tb.script(&tb.dir.join("scripts").join(addr).join(format!("{stage}10.slow")), &body);
    mark
}

fn hooks_running(tb: &Testbed) -> bool {
    std::fs::read_dir(&tb.dir)
        .map(|d| d.flatten().any(|e| e.file_name().to_string_lossy().starts_with("in-")))
        .unwrap_or(false)
}

/// The configuration lines for these service addresses (`SERVICE` is in
/// every configuration the testbed writes).
fn addresses(list: &[&str]) -> String {
    assert!(list.contains(&SERVICE));
    list.iter().filter(|a| **a != SERVICE).map(|a| format!("address = pub0:{a}/24\n")).collect()
}

/// Rewrites `node`'s configuration and reloads it (SIGHUP), waiting for
/// the daemon to say it reloaded.
/// Writes the configuration and sends SIGHUP; waits until the daemon has
/// taken it: applied at once, or accepted for when the move in progress
/// ends (a reload is never applied beside a move).
fn reload(tb: &Testbed, node: Node, d: &Daemon, extra: &str) {
    let done = || {
        let log = std::fs::read_to_string(&d.log).unwrap_or_default();
        log.matches("configuration reloaded").count() + log.matches("reload accepted").count()
    };
    let before = done();
    tb.config(node, extra);
    tb.signal(d.pid, "HUP");
    wait_until(&format!("{node:?} reloads"), 5 * S, || done() > before);
}

/// Polls both nodes until `settled` holds, failing as soon as an address
/// of `list` is on both.
fn watch_until_settled(tb: &Testbed, list: &[&str], timeout: Duration, mut settled: impl FnMut() -> bool) {
    let start = Instant::now();
    loop {
        let (p, s) = (service_addrs(tb, Node::Primary), service_addrs(tb, Node::Secondary));
        if let Some(a) = list.iter().find(|a| p.iter().any(|x| x == *a) && s.iter().any(|x| x == *a)) {
            panic!("both nodes have {a} ({:?} into the watch)", start.elapsed());
        }
        if settled() {
            return;
        }
        assert!(start.elapsed() < timeout, "not settled after {timeout:?}");
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// `node`'s status against its kernel: the state is `state`, the kernel has
/// exactly `want` on pub0, and the status's `holding` says so (within 3 s:
/// a follow-up move may still be under way).
fn assert_status_is_kernel(tb: &Testbed, node: Node, state: &str, want: &[&str]) {
    let conf = tb.dir.join(format!("{}.conf", if node == Node::Primary { "p" } else { "s" }));
    let mut seen = String::new();
    let agree = poll(3 * S, || {
        let json = status_json(&conf);
        let (said, holding, kernel) =
            (json_str(&json, "state"), json_addrs(&json, "holding"), service_addrs(tb, node));
        seen = format!("{node:?} says {said} holding {holding:?}, its kernel has {kernel:?}");
        said == state && kernel == want && holding == kernel
    });
    println!("{seen}");
    assert!(agree.is_some(), "{seen}; want {state} with {want:?}");
}

/// The give-back: the secondary holds `before` (the primary fell off and
/// came back); during its slow PreRel hook both nodes reload with `after`.
/// Correct: never both on an address, and in the end the primary has
/// `after`, the secondary nothing, and both statuses say so.
fn reload_during_give_back(before: &[&str], after: &[&str]) {
    let Some(mut tb) = Testbed::new() else { return };
    let prerel = slow_hook(&tb, SERVICE, "PreRel", 2.0);
    let conf = |list: &[&str]| format!("{FAST}\nhook_timeout = 10s\n{}", addresses(list));
    let (p, s) = secondary_holding(&mut tb, &conf(before), &conf(before));
    assert_eq!(service_addrs(&tb, Node::Secondary), before);
    let watches: Vec<Ownership> = after.iter().map(|a| tb.watch_ownership_of(a)).collect();
    tb.cable(Node::Primary, "pub", true);
    tb.cable(Node::Primary, "priv", true);
    wait_until("the secondary runs its PreRel hook", 10 * S, || prerel.exists());
    reload(&tb, Node::Primary, &p, &conf(after));
    reload(&tb, Node::Secondary, &s, &conf(after));
    assert!(prerel.exists(), "the PreRel hook ended during the reloads; make it slower");
    let (pc, sc) = (tb.dir.join("p.conf"), tb.dir.join("s.conf"));
    watch_until_settled(&tb, after, 15 * S, || {
        !hooks_running(&tb)
            && json_str(&status_json(&pc), "state") == "active"
            && json_num(&status_json(&sc), "since_ms") >= 500
    });
    assert_status_is_kernel(&tb, Node::Primary, "active", after);
    assert_status_is_kernel(&tb, Node::Secondary, "watching", &[]);
    for w in &watches {
        let (overlap, events) = w.overlap();
        assert!(overlap < OBSERVER_JITTER, "both held an address for {overlap:?} ({events} events)");
    }
    assert_eq!(tb.who_answers(), "primary");
}

/// The takeover: the primary fell off and the secondary runs its slow
/// PreAcq hook; it reloads with `after` meanwhile. Correct: in the end it
/// holds `after`, exactly, and its status says so.
fn reload_during_takeover(before: &[&str], after: &[&str]) {
    let Some(mut tb) = Testbed::new() else { return };
    let preacq = slow_hook(&tb, SERVICE, "PreAcq", 2.0);
    let conf = |list: &[&str]| format!("{FAST}\nhook_timeout = 10s\n{}", addresses(list));
    let (_p, s) = tb.start_pair(&conf(before), &conf(before));
    tb.fall_off(Node::Primary);
    wait_until("the secondary runs its PreAcq hook", 10 * S, || preacq.exists());
    reload(&tb, Node::Secondary, &s, &conf(after));
    assert!(preacq.exists(), "the PreAcq hook ended during the reload; make it slower");
    let sc = tb.dir.join("s.conf");
    wait_until("the secondary settles", 15 * S, || {
        !hooks_running(&tb) && json_num(&status_json(&sc), "since_ms") >= 500
    });
    assert_status_is_kernel(&tb, Node::Secondary, "holding", after);
    assert_eq!(tb.who_answers(), "secondary");
}

/// The takeover: the primary fell off and the secondary runs its slow
/// PreAcq hook; it reloads with `after` meanwhile, and the primary comes
/// back and claims. Correct: the secondary gives back only what its own
/// move put there, after it did: never both on an address, and in the end
/// the primary has `after`, the secondary nothing, and both statuses agree.
fn reload_during_takeover_then_primary_returns(before: &[&str], after: &[&str]) {
    let Some(mut tb) = Testbed::new() else { return };
    let preacq = slow_hook(&tb, SERVICE, "PreAcq", 3.0);
    let conf = |list: &[&str]| format!("{FAST}\nhook_timeout = 10s\n{}", addresses(list));
    let (p, s) = tb.start_pair(&conf(before), &conf(before));
    let watches: Vec<Ownership> = after.iter().map(|a| tb.watch_ownership_of(a)).collect();
    tb.fall_off(Node::Primary);
    wait_until("the secondary runs its PreAcq hook", 10 * S, || preacq.exists());
    reload(&tb, Node::Primary, &p, &conf(after));
    reload(&tb, Node::Secondary, &s, &conf(after));
    tb.cable(Node::Primary, "pub", true);
    tb.cable(Node::Primary, "priv", true);
    let (pc, sc) = (tb.dir.join("p.conf"), tb.dir.join("s.conf"));
    wait_log(&p.log, "-> claiming (network-back)", 5 * S);
    assert!(preacq.exists(), "the PreAcq hook ended before the primary claimed; make it slower");
    watch_until_settled(&tb, after, 15 * S, || {
        !hooks_running(&tb)
            && json_str(&status_json(&pc), "state") == "active"
            && json_num(&status_json(&sc), "since_ms") >= 500
    });
    assert_status_is_kernel(&tb, Node::Primary, "active", after);
    assert_status_is_kernel(&tb, Node::Secondary, "watching", &[]);
    for w in &watches {
        let (overlap, events) = w.overlap();
        assert!(overlap < OBSERVER_JITTER, "both held an address for {overlap:?} ({events} events)");
    }
}

/// SIGHUP adding 198.18.0.11 (on both nodes) while the secondary runs
/// its PreRel hook for 198.18.0.10 during the give-back.
#[test]
fn scenario_edges_sighup_adding_an_address_during_give_back() {
    // main 4eb877c: FAILS, the releasing secondary adds .11 on reload and keeps it while watching; the primary adds it too.
    reload_during_give_back(&[SERVICE], &[SERVICE, SERVICE2]);
}

/// SIGHUP dropping 198.18.0.11 (on both nodes) while the secondary runs
/// its PreRel hook for 198.18.0.10 during the give-back.
#[test]
fn scenario_edges_sighup_dropping_an_address_during_give_back() {
    // main 4eb877c: FAILS, the reload's removal of .11 ends the give-back at once: both have .10 while PreRel runs.
    reload_during_give_back(&[SERVICE, SERVICE2], &[SERVICE]);
}

/// SIGHUP dropping 198.18.0.11 while the secondary runs its PreAcq hook
/// for 198.18.0.10 during a takeover.
#[test]
fn scenario_edges_sighup_dropping_an_address_during_takeover() {
    // main 4eb877c: FAILS, the takeover adds the dropped .11 anyway; status says holding .10 only, the kernel has both.
    reload_during_takeover(&[SERVICE, SERVICE2], &[SERVICE]);
}

/// SIGHUP adding 198.18.0.11 while the secondary runs its PreAcq hook for
/// 198.18.0.10 during a takeover, then the primary returns and claims.
#[test]
fn scenario_edges_sighup_adding_an_address_during_takeover_then_primary_claims() {
    // main 4eb877c: FAILS, adding .11 ends the takeover early; the claim is answered before .10 is added: both have .10.
    reload_during_takeover_then_primary_returns(&[SERVICE], &[SERVICE, SERVICE2]);
}

// ------------------------------------------------ the takeover probe (issue 16)

/// A primary daemon killed with SIGKILL leaves its address on its
/// interface: the secondary's probe is answered, so it never adds the
/// address beside it, and it mails why. Once the address is gone, it takes
/// over.
#[test]
fn scenario_edges_primary_daemon_killed_keeps_the_address_and_the_secondary_stays_off() {
    // main 4eb877c: FAILS, the secondary adds 198.18.0.10 dead_after after the kill: two MACs answer.
    let Some(mut tb) = Testbed::new() else { return };
    let (p, s) = tb.start_pair(FAST, FAST);
    wait_holder(&tb, Node::Primary, 10 * S);
    wait_log(&s.log, "-> watching", 5 * S);
    tb.signal(p.pid, "KILL");
    never_both(&tb, DEAD_AFTER * 5, "primary daemon killed, its address still up");
    let mail = tb.wait_mail("NOT taking over", 5 * S);
    assert!(mail.contains("answers for the service addresses"), "{mail}");
    // Issue 30, item 12: the mail names who answered, and where.
    let mac = tb.exec(Node::Primary, &["cat", "/sys/class/net/pub0/address"]);
    let answered = format!("{SERVICE} by {} on pub0", mac.trim());
    assert!(mail.contains(&answered), "{answered:?} not in {mail}");
    // Issue 30, item 7: status does not call this "watching" (heard on
    // both networks): it names the state and why nothing moves.
    let (_, status) = ctl(&tb.dir.join("s.conf"), &["status"]);
    assert!(
        status.contains("state:     primary-silent for ")
            && status.contains("(not taking over: another host answers for the addresses"),
        "{status}"
    );
    assert!(tb.holds(Node::Primary), "the test needs the dead daemon's address to stay");
    // The operator removes the leftover: now nobody answers, and the
    // secondary takes over within dead_after (its next probe).
    tb.exec(Node::Primary, &["ip", "addr", "del", &format!("{SERVICE}/24"), "dev", "pub0"]);
    let removed = Instant::now();
    wait_holder(&tb, Node::Secondary, 5 * S);
    println!("secondary took over {:?} after the leftover address was removed", removed.elapsed());
    assert!(removed.elapsed() < DEAD_AFTER * 2 + S);
}

// ------------------------------------------------------------------ 22
// The secondary's inbound heartbeat port is firewalled while it holds the
// address: the primary's claims never reach it. The mail must say that
// first, not "failback = manual".

#[test]
fn scenario_edges_claims_firewalled_at_the_secondary_are_named_in_the_mail() {
    let Some(mut tb) = Testbed::new() else { return };
    let (p, _s) = secondary_holding(&mut tb, FAST, FAST);
    let ns = tb.ns(Node::Secondary);
    let nft = |rule: &str| sh(&["ip", "netns", "exec", &ns, "nft", rule]);
    nft("add table inet ipft");
    nft("add chain inet ipft in { type filter hook input priority 0; }");
    nft("add rule inet ipft in udp dport 1694 drop");
    tb.cable(Node::Primary, "pub", true);
    tb.cable(Node::Primary, "priv", true);
    wait_log(&p.log, "it does not hear our claims", 10 * S);
    let mail = tb.wait_mail("does not hear our claims", 5 * S);
    assert!(mail.contains("firewall") && mail.contains("UDP port 1694"), "{mail}");
    assert!(!mail.contains("failback = manual"), "{mail}");
    assert!(tb.holds(Node::Secondary) && !tb.holds(Node::Primary));
    // The firewall lifted: the secondary hears the claims and gives back.
    nft("delete table inet ipft");
    wait_log(&p.log, "claiming -> acquiring (released)", 10 * S);
    wait_holder(&tb, Node::Primary, 5 * S);
}

// ------------------------------------------------------------------ 15
// A holding secondary whose public link goes down drops the address (it
// would serve nobody, and the primary could take it meanwhile); back, with
// the primary still gone, it takes it again.

#[test]
fn scenario_edges_a_holding_secondary_without_its_public_link_drops_the_address() {
    let Some(mut tb) = Testbed::new() else { return };
    let (_p, s) = secondary_holding(&mut tb, FAST, FAST);
    tb.cable(Node::Secondary, "pub", false);
    wait_log(&s.log, "holding -> releasing (own-public-link-down)", 5 * S);
    wait_log(&s.log, "releasing -> watching", 5 * S);
    assert!(!tb.holds(Node::Secondary), "the address stayed on a secondary without its public link");
    tb.cable(Node::Secondary, "pub", true);
    let end = std::time::Instant::now() + 5 * S;
    while std::fs::read_to_string(&s.log).unwrap_or_default().matches("acquiring -> holding").count() < 2 {
        assert!(std::time::Instant::now() < end, "not taken again after the link came back");
        std::thread::sleep(Duration::from_millis(20));
    }
    wait_holder(&tb, Node::Secondary, 5 * S);
    assert_eq!(tb.who_answers(), "secondary");
}
