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
