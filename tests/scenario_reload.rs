//! Scenario tests for SIGHUP (issue "Never two owners, never silently
//! off"): a reload compares what the file means, never where things are
//! written in it, and refuses by name only what needs a restart.

mod common;

use common::*;
use std::path::Path;
use std::time::{Duration, Instant};

const S: Duration = Duration::from_secs(1);

fn count(path: &Path, needle: &str) -> usize {
    std::fs::read_to_string(path).unwrap_or_default().matches(needle).count()
}

/// Waits until `needle` is in the log `n` times (earlier reloads left theirs).
fn wait_count(path: &Path, needle: &str, n: usize, timeout: Duration) {
    let end = Instant::now() + timeout;
    while count(path, needle) < n {
        assert!(Instant::now() < end, "{needle:?} not {n} times in {} after {timeout:?}", path.display());
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn scenario_reload_comment_at_top_is_no_change() {
    let Some(mut tb) = Testbed::new() else { return };
    let (_p, s) = tb.start_pair("", "");
    let conf = tb.dir.join("s.conf");
    let original = std::fs::read_to_string(&conf).unwrap();

    // Every line moves down by two, the meaning stays: reloaded, not refused.
    std::fs::write(&conf, format!("# edited by the operator\n\n{original}")).unwrap();
    tb.signal(s.pid, "HUP");
    wait_count(&s.log, "configuration reloaded", 1, 5 * S);
    assert!(!log_has(&s.log, "reload refused"), "a moved line was taken for a change");

    // A restart-only key is still refused, by name, and the node keeps
    // watching with what it has.
    std::fs::write(&conf, format!("# edited by the operator\n\n{original}port = 1695\n")).unwrap();
    tb.signal(s.pid, "HUP");
    wait_log(&s.log, "reload refused: changing port needs a restart", 5 * S);
    assert_eq!(count(&s.log, "configuration reloaded"), 1);

    // A reloadable key with the lines moved again: reloaded.
    let faster = original.replace("interval = 200ms", "# timing tuned\ninterval = 100ms");
    assert_ne!(faster, original);
    std::fs::write(&conf, faster).unwrap();
    tb.signal(s.pid, "HUP");
    wait_count(&s.log, "configuration reloaded", 2, 5 * S);
    assert!(tb.holds(Node::Primary) && !tb.holds(Node::Secondary));
}

/// Issue 30, item 6: the pair name trap. A derived pair name follows the
/// address list; `reload` tells the operator at once that a restart would
/// change it, and when only one node is then restarted, both say "pair
/// mismatch" naming both pairs, in the log, the mail and `status`.
#[test]
fn scenario_reload_pair_name_trap_is_said_at_reload_and_named_after_one_restart() {
    let Some(mut tb) = Testbed::new() else { return };
    let (p, s) = tb.start_pair("", "");
    let more = "address = pub0:198.18.0.11/24\n";
    for node in ["p", "s"] {
        let conf = tb.dir.join(format!("{node}.conf"));
        let text = std::fs::read_to_string(&conf).unwrap();
        std::fs::write(&conf, format!("{text}{more}")).unwrap();
    }
    let (rc, out) = ctl(&tb.dir.join("p.conf"), &["reload"]);
    assert_eq!(rc, 0, "{out}");
    assert!(out.contains("configuration reloaded"), "{out}");
    assert!(out.contains("warning: reload: the service addresses changed the derived pair name"), "{out}");
    let (rc, out) = ctl(&tb.dir.join("s.conf"), &["reload"]);
    assert_eq!(rc, 0, "{out}");
    assert!(out.contains("a restart would take auto-"), "{out}");
    wait_log(&p.log, "added 198.18.0.11/24", 5 * S);

    // Only the secondary restarts: it takes the new name, the primary
    // keeps the old one.
    tb.signal(s.pid, "TERM");
    assert_eq!(tb.wait_exit(s.pid, 10 * S), Some(0));
    let old = std::fs::read_to_string(&s.log).unwrap();
    std::fs::write(&s.log, "").unwrap();
    let conf = tb.dir.join("s.conf");
    let bin = daemon_bin();
    let s2 = tb.spawn(Node::Secondary, &[bin.to_str().unwrap(), "-d", "-f", conf.to_str().unwrap()], &s.log);
    let t0 = Instant::now();
    let mail = tb.wait_mail("pair mismatch: the peer at 198.19.0.1 belongs to another pair", 10 * S);
    eprintln!("secondary's pair-mismatch mail {} ms after its restart", t0.elapsed().as_millis());
    assert!(mail.contains("the peer at 198.19.0.1 says id"), "{mail}");
    assert!(
        mail.contains("set `pair = NAME` in both configurations") || mail.contains("pair = NAME"),
        "{mail}"
    );
    let mail = tb.wait_mail("pair mismatch: the peer at 198.19.0.2 belongs to another pair", 10 * S);
    assert!(
        mail.contains("the name this node's file gives now"),
        "the primary names the peer's pair as its own file's new name: {mail}"
    );
    let (_, status) = ctl(&tb.dir.join("p.conf"), &["status"]);
    assert!(status.contains("MISMATCH: the peer at 198.19.0.2 says pair id"), "{status}");
    let (_, json) = ctl(&tb.dir.join("p.conf"), &["status", "--json"]);
    assert!(json.contains("\"peer_mismatch\":{\"from\":\"198.19.0.2\""), "{json}");
    // The primary keeps serving; the secondary never adds an address
    // that the live primary holds.
    std::thread::sleep(2 * S);
    assert!(tb.holds(Node::Primary) && !tb.holds(Node::Secondary));
    assert!(!log_has(&s.log, "-> acquiring"), "{old}");
    tb.signal(s2, "TERM");
}
