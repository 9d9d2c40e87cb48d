//! `-v` (debug lines): a secondary started with it says what it saw, each
//! accepted datagram and each decision; a daemon started without it writes
//! no debug line. Run as root, like the other scenario tests.

mod common;

use common::*;
use std::time::Duration;

const S: Duration = Duration::from_secs(1);

#[test]
fn scenario_verbose_secondary_logs_what_it_sees() {
    let Some(mut tb) = Testbed::new() else { return };
    tb.start_responders();
    let p = tb.start_daemon(Node::Primary, "");
    wait_log(&p.log, "acquiring -> active", 10 * S);
    let conf = tb.config(Node::Secondary, "");
    let slog = tb.dir.join("s-verbose.log");
    let bin = daemon_bin();
    tb.spawn(Node::Secondary, &[bin.to_str().unwrap(), "-dv", "-f", conf.to_str().unwrap()], &slog);
    wait_log(&slog, "state starting -> watching", 5 * S);
    wait_log(&slog, "debug: public network: accepted a heartbeat from 198.18.0.1:", 2 * S);
    wait_log(&slog, "debug: private network: accepted a heartbeat from 198.19.0.1:", 2 * S);
    assert!(log_has(&slog, "debug: engine: "), "no engine decision in the debug lines");
    // The primary's goodbye, and what the secondary made of it.
    tb.signal(p.pid, "TERM");
    wait_log(&slog, "accepted a goodbye from", 5 * S);
    wait_log(&slog, "kind: Goodbye", 2 * S);
    wait_log(&slog, "state watching -> acquiring (goodbye)", 2 * S);
    assert!(!log_has(&p.log, ": debug: "), "debug lines without -v");
}
