//! Replays of a node's own datagrams from an earlier run (issue 28, item
//! 2): someone on the public LAN without the key captures a few of a
//! node's broadcasts, waits for the node to restart and sends them back.
//! They carry a valid MAC and the node's own sender id, role and pair, but
//! an older generation: the node's own, old, never a rival
//! (docs/protocol.md, "Receiving: order of checks"). The real binary runs
//! in network namespaces (tests/common); run them one at a time:
//! `cargo test --test scenario_replay_own -- --test-threads=1 --nocapture`.

mod common;

use common::*;
use std::path::Path;
use std::time::{Duration, Instant};

const S: Duration = Duration::from_secs(1);
/// The testbed's dead_after (tests/common `config_as`).
const DEAD_AFTER: Duration = Duration::from_millis(600);
/// What the restarted primary needs besides dead_after to serve again: the
/// secondary hears it steadily for recover_after (600 ms), answers the
/// claim, removes the address (hooks, none here), and the primary adds it
/// and announces it. Generous for a loaded 2-core machine.
const SERVE_BOUND: Duration = Duration::from_secs(8);

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_default()
}

/// Captures datagrams on the public LAN from the client for up to `ms`
/// and returns the hex of those `from` sent (at most `want`), whose flags
/// satisfy `pick`.
fn capture(tb: &Testbed, from: &str, want: usize, pick: impl Fn(&[u8]) -> bool) -> Vec<String> {
    let tool = netool_bin();
    let (_, out) = tb.exec_status(Node::Client, &[tool.to_str().unwrap(), "capture", "1694", "40", "3000"]);
    let mut got = Vec::new();
    for line in out.lines() {
        let Some((src, hex)) = line.split_once(' ') else { continue };
        if !src.starts_with(&format!("{from}:")) || hex.len() < 64 {
            continue;
        }
        let bytes: Vec<u8> =
            (0..hex.len() / 2).map(|i| u8::from_str_radix(&hex[2 * i..2 * i + 2], 16).unwrap()).collect();
        if pick(&bytes) && got.len() < want {
            got.push(hex.to_string());
        }
    }
    got
}

/// Bytes 8..10: the flags; bit 0 is HOLDING (docs/protocol.md).
fn holding(bytes: &[u8]) -> bool {
    bytes[9] & 1 != 0
}

/// Starts a replayer on the client: every 300 ms, the captured datagrams,
/// to the public broadcast address (both nodes receive them).
fn start_replayer(tb: &mut Testbed, captured: &[String]) -> u32 {
    let tool = netool_bin();
    let script = format!(
        "while :; do {} send 198.18.0.255:1694 {}; sleep 0.3; done",
        tool.display(),
        captured.join(" ")
    );
    let log = tb.dir.join("replayer.log");
    tb.spawn(Node::Client, &["/bin/sh", "-c", &script], &log)
}

/// The `name=N` counter of one network's line in `ipfailoverd status`.
fn counter(conf: &Path, net: &str, name: &str) -> u64 {
    let (_, out) = ctl(conf, &["status"]);
    let line = out.lines().find(|l| l.trim_start().starts_with(&format!("{net}:"))).unwrap_or("");
    line.split([' ', '(', ')', ','])
        .find_map(|w| w.strip_prefix(&format!("{name}=")))
        .and_then(|n| n.parse().ok())
        .unwrap_or(0)
}

/// The primary's heartbeats, captured before it restarts and replayed
/// after: the restarted primary must not take them for another primary.
/// It claims, the secondary gives the address back, and the client is
/// answered by the primary within dead_after + SERVE_BOUND of its start.
#[test]
fn scenario_replay_own_old_heartbeats_do_not_keep_the_primary_off() {
    let Some(mut tb) = Testbed::new() else { return };
    let (p, s) = tb.start_pair("", "");
    let captured = capture(&tb, "198.18.0.1", 6, |_| true);
    eprintln!("captured {} datagrams of the primary", captured.len());
    assert!(captured.len() >= 3, "too few of the primary's datagrams captured: {captured:?}");

    // The primary stops (goodbye: the secondary takes over) and starts
    // again with a new generation; the replays start at once.
    tb.signal(p.pid, "TERM");
    assert_eq!(tb.wait_exit(p.pid, 5 * S), Some(0));
    wait_log(&s.log, "-> holding", 5 * S);
    let _ = std::fs::remove_file(&p.log);
    let replayer = start_replayer(&mut tb, &captured);
    std::thread::sleep(Duration::from_millis(700));
    let started = Instant::now();
    let p = tb.start_daemon(Node::Primary, "");
    let end = started + DEAD_AFTER + SERVE_BOUND;
    let mut served = None;
    while Instant::now() < end {
        if log_has(&p.log, "-> active") && tb.who_answers() == "primary" {
            served = Some(started.elapsed());
            break;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    let pc = tb.dir.join("p.conf");
    let own_old = counter(&pc, "public", "own-old");
    eprintln!(
        "primary served after {served:?} (bound {:?}); own-old on its public network: {own_old}",
        DEAD_AFTER + SERVE_BOUND
    );
    let plog = read(&p.log);
    assert!(
        served.is_some(),
        "the primary did not serve within {:?} under replay:\n{plog}",
        DEAD_AFTER + SERVE_BOUND
    );
    assert!(!plog.contains("also runs as primary"), "a replay passed for another primary:\n{plog}");
    assert!(own_old > 0, "the replays were not counted as own-old");
    // And it keeps serving while the replays go on.
    std::thread::sleep(2 * S);
    assert_eq!(tb.who_answers(), "primary");
    assert!(tb.holds(Node::Primary) && !tb.holds(Node::Secondary));
    tb.signal(replayer, "KILL");
}

/// A holding secondary's status (HOLDING set), captured before it
/// restarts and replayed after it took the address again: no release for
/// "conflict", no move, no mail but the one that says datagrams fail
/// authentication (the replay, as any replay is reported).
#[test]
fn scenario_replay_own_old_status_does_not_make_the_secondary_release() {
    let Some(mut tb) = Testbed::new() else { return };
    let (p, s) = tb.start_pair("", "");
    tb.signal(p.pid, "KILL");
    let _ = tb.wait_exit(p.pid, 5 * S);
    // The primary died holding the address: take it off as the operator
    // would, so that the secondary's probe finds it free.
    sh(&["ip", "-n", &tb.ns(Node::Primary), "addr", "del", &format!("{SERVICE}/24"), "dev", "pub0"]);
    wait_log(&s.log, "acquiring -> holding", 10 * S);
    let captured = capture(&tb, "198.18.0.2", 6, holding);
    eprintln!("captured {} HOLDING datagrams of the secondary", captured.len());
    assert!(captured.len() >= 3, "too few of the secondary's HOLDING datagrams: {captured:?}");

    tb.signal(s.pid, "TERM");
    assert_eq!(tb.wait_exit(s.pid, 5 * S), Some(0));
    let _ = std::fs::remove_file(&s.log);
    let s = tb.start_daemon(Node::Secondary, "");
    wait_log(&s.log, "acquiring -> holding", 10 * S);
    // Let the takeover's mail arrive before counting: this run's is the
    // second, and it waits up to a second for the first client packet
    // (ipfailoverd(8), Client confirmation).
    let took_over =
        || tb.mails().iter().filter(|m| m.contains("Subject:") && m.contains("took over")).count();
    let end = Instant::now() + 5 * S;
    while took_over() < 2 {
        assert!(Instant::now() < end, "no mail for the second takeover");
        std::thread::sleep(Duration::from_millis(50));
    }
    let mails_before = tb.mails().len();
    let replayer = start_replayer(&mut tb, &captured);
    // Well beyond dead_after: today's fault released and retook the
    // address every dead_after.
    std::thread::sleep(6 * S);
    let sc = tb.dir.join("s.conf");
    let own_old = counter(&sc, "public", "own-old");
    let mails = tb.mails();
    let new: Vec<String> = mails[mails_before..]
        .iter()
        .filter_map(|m| m.lines().find(|l| l.starts_with("Subject:")).map(String::from))
        .collect();
    eprintln!("own-old on the secondary's public network: {own_old}; mails during the replay: {new:?}");
    let slog = read(&s.log);
    assert!(!slog.contains("holding -> releasing"), "the secondary released under replay:\n{slog}");
    assert!(!slog.contains("also runs as secondary"), "a replay passed for another secondary:\n{slog}");
    // Someone replays on the LAN: that is said (once an hour, as for any
    // replay), and nothing else is mailed: no release, no takeover (the
    // takeover's own end of the watch for its first client packet, which
    // can come 10 s after it, is no move).
    assert!(
        new.iter()
            .all(|m| m.contains("datagrams failing authentication") || m.contains("no client packet for")),
        "mails during the replay: {new:?}"
    );
    assert!(own_old > 0, "the replays were not counted as own-old");
    assert!(tb.holds(Node::Secondary));
    tb.signal(replayer, "KILL");
}
