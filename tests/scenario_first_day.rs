//! Scenario tests for issue 22, "The operator's first day": the tools an
//! operator reaches for keep working and never say something untrue.

mod common;

use common::*;
use std::os::unix::net::UnixDatagram;
use std::path::Path;
use std::time::{Duration, Instant};

const S: Duration = Duration::from_secs(1);

/// The secondary without `-d`, as an rc script starts it, but told by
/// NOTIFY_SOCKET that systemd supervises it: it stays in the foreground
/// with stderr in its log, and its sd_notify datagrams reach the socket
/// returned.
fn start_notified_secondary(tb: &mut Testbed) -> (Daemon, UnixDatagram) {
    let notify = tb.dir.join("notify");
    let rx = UnixDatagram::bind(&notify).unwrap();
    rx.set_read_timeout(Some(S / 5)).unwrap();
    let conf = tb.config(Node::Secondary, "");
    let log = tb.dir.join("s.log");
    let env = format!("NOTIFY_SOCKET={}", notify.display());
    let bin = daemon_bin();
    let pid =
        tb.spawn(Node::Secondary, &["env", &env, bin.to_str().unwrap(), "-f", conf.to_str().unwrap()], &log);
    (Daemon { log, pid }, rx)
}

/// Every datagram received until one contains `until` (or the timeout).
fn notifications_until(rx: &UnixDatagram, until: &str, timeout: Duration) -> Vec<String> {
    let end = Instant::now() + timeout;
    let mut seen = Vec::new();
    let mut buf = [0u8; 512];
    while Instant::now() < end {
        if let Ok(n) = rx.recv(&mut buf) {
            let text = String::from_utf8_lossy(&buf[..n]).into_owned();
            let done = text.contains(until);
            seen.push(text);
            if done {
                return seen;
            }
        }
    }
    panic!("no notification with {until:?} after {timeout:?}: {seen:?}");
}

fn break_file(conf: &Path) {
    let text = std::fs::read_to_string(conf).unwrap();
    std::fs::write(conf, format!("{text}interval = fast\n")).unwrap();
}

#[test]
fn scenario_first_day_control_works_while_the_file_has_errors() {
    let mut tb = Testbed::new();
    let (_p, _s) = tb.start_pair("", "");
    let conf = tb.dir.join("s.conf");
    let socket = tb.dir.join("s.sock");
    break_file(&conf);

    let (code, out) = ctl(&conf, &["status", "--json"]);
    assert_eq!(code, 0, "status refused while the file has an error: {out}");
    assert!(out.contains("\"state\": \"watching\"") || out.contains("watching"), "{out}");
    assert!(out.contains("error(s)"), "the broken file is not mentioned: {out}");

    // -s needs no file at all.
    let (code, out) =
        ctl(Path::new("/nonexistent/ipfailoverd.conf"), &["-s", socket.to_str().unwrap(), "status"]);
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("watching"), "{out}");

    // The maintenance commands work too: a release on a node that holds
    // nothing is answered by the daemon, not refused by the file.
    let (code, out) = ctl(&conf, &["release"]);
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("does not hold"), "{out}");

    let (code, out) = ctl(&conf, &["--help"]);
    assert_eq!(code, 0, "{out}");
    assert!(out.starts_with("usage:") && !out.contains("unknown option"), "{out}");
}

#[test]
fn scenario_first_day_refused_reload_fails_the_reload_command() {
    let mut tb = Testbed::new();
    tb.start_responders();
    let p = tb.start_daemon(Node::Primary, "");
    wait_log(&p.log, "acquiring -> active", 10 * S);
    let (s, rx) = start_notified_secondary(&mut tb);
    notifications_until(&rx, "READY=1", 10 * S);
    let conf = tb.dir.join("s.conf");
    let original = std::fs::read_to_string(&conf).unwrap();

    // A file with an error: the command fails and says why; systemd was
    // told RELOADING=1, then READY=1 with the failure in STATUS=.
    break_file(&conf);
    let (code, out) = ctl(&conf, &["reload"]);
    assert_eq!(code, 1, "a failed reload exited 0: {out}");
    assert!(out.contains("interval") && out.contains("reload failed"), "{out}");
    let seen = notifications_until(&rx, "READY=1", 5 * S);
    assert!(seen.iter().any(|n| n.contains("RELOADING=1")), "{seen:?}");
    assert!(seen.last().unwrap().contains("STATUS=reload failed"), "{seen:?}");

    // A key only a restart can change: refused, by name.
    std::fs::write(&conf, format!("{original}port = 1695\n")).unwrap();
    let (code, out) = ctl(&conf, &["reload"]);
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("changing port needs a restart"), "{out}");
    let seen = notifications_until(&rx, "READY=1", 5 * S);
    assert!(seen.last().unwrap().contains("STATUS=reload failed"), "{seen:?}");

    // A good change: exit 0, and the log agrees.
    std::fs::write(&conf, original.replace("interval = 200ms", "interval = 100ms")).unwrap();
    let (code, out) = ctl(&conf, &["reload"]);
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("configuration reloaded"), "{out}");
    wait_log(&s.log, "configuration reloaded from", 5 * S);
    let seen = notifications_until(&rx, "READY=1", 5 * S);
    assert!(!seen.last().unwrap().contains("reload failed"), "{seen:?}");
}

#[test]
fn scenario_first_day_no_syslog_daemon_logs_to_stderr() {
    if Path::new("/dev/log").exists() {
        eprintln!("skipped: this host has /dev/log, so the fallback cannot be seen");
        return;
    }
    let mut tb = Testbed::new();
    let (s, rx) = start_notified_secondary(&mut tb);
    notifications_until(&rx, "READY=1", 10 * S);
    // Said once, then the lines themselves.
    wait_log(&s.log, "no syslog daemon (/dev/log is not a socket): logging to stderr", 5 * S);
    wait_log(&s.log, "started as secondary", 5 * S);
    let log = std::fs::read_to_string(&s.log).unwrap();
    assert_eq!(log.matches("no syslog daemon").count(), 1, "{log}");
}
