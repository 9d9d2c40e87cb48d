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
    let Some(mut tb) = Testbed::new() else { return };
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
    let Some(mut tb) = Testbed::new() else { return };
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
    let Some(mut tb) = Testbed::new() else { return };
    let (s, rx) = start_notified_secondary(&mut tb);
    notifications_until(&rx, "READY=1", 10 * S);
    // Said once, then the lines themselves.
    wait_log(&s.log, "no syslog daemon (/dev/log is not a socket): logging to stderr", 5 * S);
    wait_log(&s.log, "started as secondary", 5 * S);
    let log = std::fs::read_to_string(&s.log).unwrap();
    assert_eq!(log.matches("no syslog daemon").count(), 1, "{log}");
}

/// Runs `ipfailoverd -n -f conf` inside `node`'s namespace.
fn check_in(tb: &Testbed, node: Node, conf: &Path) -> (i32, String, String) {
    let out = std::process::Command::new("ip")
        .args(["netns", "exec", &tb.ns(node)])
        .arg(daemon_bin())
        .args(["-n", "-f", conf.to_str().unwrap()])
        .output()
        .unwrap();
    let text = |b: &[u8]| String::from_utf8_lossy(b).into_owned();
    (out.status.code().unwrap_or(-1), text(&out.stdout), text(&out.stderr))
}

#[test]
fn scenario_first_day_check_catches_what_cannot_work() {
    let Some(tb) = Testbed::new() else { return };
    let good = tb.config(Node::Secondary, "");
    std::fs::create_dir_all(tb.dir.join("scripts")).unwrap();
    let (code, out, err) = check_in(&tb, Node::Secondary, &good);
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains("configuration OK (secondary)") && err.is_empty(), "{out}{err}");

    // The mistakes of a first day, on the real interfaces of the namespace.
    let text = std::fs::read_to_string(&good).unwrap();
    let mut lines: Vec<String> = text
        .lines()
        .filter(|l| !l.starts_with("auth_key_file") && !l.starts_with("scripts_dir"))
        .map(|l| match l.split('=').next().unwrap().trim() {
            "peer" => "peer = 198.18.0.1".to_string(),
            "pidfile" => "pidfile = /nonexistent-ipfo-first-day/s.pid".to_string(),
            _ if l.starts_with("network = public") => "network = public pub0 198.18.1.255".to_string(),
            _ => l.to_string(),
        })
        .collect();
    lines.push("address = priv0:198.19.0.10/24".into());
    lines.push(format!("scripts_dir = {}/no-such-scripts", tb.dir.display()));
    let bad = tb.dir.join("bad.conf");
    std::fs::write(&bad, lines.join("\n") + "\n").unwrap();
    let (code, out, err) = check_in(&tb, Node::Secondary, &bad);
    assert_eq!(code, 1, "{out}{err}");
    let file = bad.display().to_string();
    let at = |needle: &str| err.lines().position(|l| l.starts_with(&file) && l.contains(needle));
    let errors = [
        "network public: 198.18.1.255 is not in the subnet of pub0",
        "peer 198.18.0.1 is not in the subnet of the private interface priv0",
        "pidfile /nonexistent-ipfo-first-day/s.pid: the directory",
        "address 198.19.0.10: priv0 is the private network's interface",
    ];
    let warnings = ["warning: scripts_dir", "warning: no auth_key_file"];
    for e in errors.iter().chain(&warnings) {
        assert!(at(e).is_some(), "{e:?} missing:\n{err}");
    }
    // Every error before every warning, and only warnings say so.
    let last_error = errors.iter().filter_map(|e| at(e)).max().unwrap();
    let first_warning = warnings.iter().filter_map(|w| at(w)).min().unwrap();
    assert!(last_error < first_warning, "{err}");
    assert_eq!(err.matches("warning:").count(), 2, "{err}");
}

/// The repository's file `rel`.
fn repo(rel: &str) -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(rel)
}

#[test]
fn scenario_first_day_openrc_uses_the_pidfile_key() {
    let d = std::env::temp_dir().join(format!("ipfo-first-day-openrc-{}", std::process::id()));
    std::fs::create_dir_all(&d).unwrap();
    let conf = d.join("ipfailoverd.conf");
    // OpenRC sources the script and reads its variables; plain sh does the same.
    let pidfile_for = |text: &str| {
        std::fs::write(&conf, text).unwrap();
        let out = std::process::Command::new("sh")
            .arg("-c")
            .arg(format!(". {}; printf %s \"$pidfile\"", repo("scripts/openrc/ipfailoverd").display()))
            .env("IPFAILOVERD_CONF", &conf)
            .output()
            .unwrap();
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    assert_eq!(
        pidfile_for("role = primary\npidfile = /run/ipfailoverd/ipfailoverd.pid # here\n"),
        "/run/ipfailoverd/ipfailoverd.pid"
    );
    assert_eq!(pidfile_for("role = primary\n"), "/run/ipfailoverd.pid");
    std::fs::remove_dir_all(&d).unwrap();
}

#[test]
fn scenario_first_day_example_hooks_ask_whether_systemd_runs() {
    if Path::new("/run/systemd/system").exists() {
        eprintln!("skipped: this host runs systemd, so the hooks rightly use systemctl");
        return;
    }
    let d = std::env::temp_dir().join(format!("ipfo-first-day-hooks-{}", std::process::id()));
    std::fs::create_dir_all(&d).unwrap();
    let calls = d.join("calls");
    for tool in ["systemctl", "service", "logger"] {
        let stub = d.join(tool);
        std::fs::write(&stub, format!("#!/bin/sh\necho \"{tool} $*\" >> {}\n", calls.display())).unwrap();
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&stub, std::fs::Permissions::from_mode(0o755)).unwrap();
    }
    for (hook, stage, expected) in [
        ("scripts/examples/PreAcq10.start-service", "preacq", "service nginx start"),
        ("scripts/examples/PostRel10.stop-service", "postrel", "service nginx stop"),
    ] {
        let _ = std::fs::remove_file(&calls);
        let status = std::process::Command::new("sh")
            .arg(repo(hook))
            .args([stage, "pub0", "198.18.0.10/24"])
            .env("PATH", format!("{}:/usr/bin:/bin", d.display()))
            .env("IPFAILOVER_REASON", "manual")
            .status()
            .unwrap();
        let log = std::fs::read_to_string(&calls).unwrap_or_default();
        assert!(status.success(), "{hook}: {log}");
        assert!(
            log.contains(expected) && !log.contains("systemctl"),
            "{hook} with systemctl installed but systemd not running: {log}"
        );
    }
    std::fs::remove_dir_all(&d).unwrap();
}

/// An operator who tests the same cable twice within mail_min_interval
/// gets no second mail; the log says it was held back, as it says
/// "handed to" for every mail that went.
#[test]
fn scenario_first_day_a_mail_held_back_is_logged() {
    let Some(mut tb) = Testbed::new() else { return };
    let (_p, s) = tb.start_pair("", "");
    for _ in 0..2 {
        tb.cable(Node::Secondary, "priv", false);
        wait_log(&s.log, "anomaly-private (network-silent)", 5 * S);
        tb.cable(Node::Secondary, "priv", true);
        wait_log(&s.log, "anomaly-private -> watching (network-back)", 5 * S);
    }
    tb.wait_mail("network anomaly cleared", 5 * S);
    wait_log(&s.log, "mail \"network anomaly: no heartbeat on the private network\" held back", 5 * S);
    let anomaly_mails = tb
        .mails()
        .iter()
        .filter(|m| m.contains("Subject: [ipfailoverd]") && m.contains("no heartbeat on the private"))
        .count();
    assert_eq!(anomaly_mails, 1, "the second anomaly was mailed within mail_min_interval");
}
