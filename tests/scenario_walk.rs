//! Scenario tests for issue 30, "The operator's second walk", items 1-5:
//! a configuration that cannot work is refused alike by `-n`, the start and
//! a reload, naming the file, the line and the fix; an interface missing at
//! start is waited for `interface_wait`, then the start fails loudly (log,
//! mail, exit status 1, no READY=1 for systemd).

mod common;

use common::*;
use std::os::unix::net::UnixDatagram;
use std::path::Path;
use std::time::{Duration, Instant};

const S: Duration = Duration::from_secs(1);

/// `ipfailoverd -n -f conf` inside `node`'s namespace: (exit, stdout, stderr).
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

/// The line number of the first line of `conf` that starts with `prefix`.
fn line_of(conf: &Path, prefix: &str) -> usize {
    let text = std::fs::read_to_string(conf).unwrap();
    1 + text.lines().position(|l| l.starts_with(prefix)).unwrap_or_else(|| panic!("{prefix:?} in {text}"))
}

/// The secondary in the foreground (`-d`) on `conf`; waits for its exit.
fn start_and_wait(tb: &mut Testbed, conf: &Path, log: &str, timeout: Duration) -> (Option<i32>, String) {
    let log = tb.dir.join(log);
    let bin = daemon_bin();
    let pid = tb.spawn(Node::Secondary, &[bin.to_str().unwrap(), "-d", "-f", conf.to_str().unwrap()], &log);
    let code = tb.wait_exit(pid, timeout);
    (code, std::fs::read_to_string(&log).unwrap_or_default())
}

#[test]
fn scenario_walk_addresses_that_cannot_work_are_refused_by_check_start_and_reload() {
    let Some(mut tb) = Testbed::new() else { return };
    std::fs::create_dir_all(tb.dir.join("scripts")).unwrap();
    // (name, extra lines, the key whose line is named, what the message says)
    let cases = [
        ("outside", "address = pub0:198.18.51.10/24", "address", "198.18.51.10 is not in the subnet of pub0"),
        ("prefix", "address = pub0:198.18.0.10/16", "address", "the prefix must be /24"),
        ("own", "address = pub0:198.18.0.2/24", "address", "198.18.0.2 is already this host's own address"),
        ("peer", "peer = 198.19.0.2", "peer", "peer 198.19.0.2 is this host's own address"),
    ];
    for (name, extra, key, says) in cases {
        // Secondary's file, with `extra` replacing the service address or peer.
        let conf = tb.config_as(Node::Secondary, name, SERVICE, "");
        let text = std::fs::read_to_string(&conf).unwrap();
        let text: String = text
            .lines()
            .map(|l| if l.starts_with(&format!("{key} =")) { extra.to_string() } else { l.to_string() })
            .map(|l| l + "\n")
            .collect();
        std::fs::write(&conf, text).unwrap();
        let place = format!("{}:{}: ", conf.display(), line_of(&conf, extra));

        let (code, out, err) = check_in(&tb, Node::Secondary, &conf);
        eprintln!("{name}: -n exit {code}: {err}");
        assert_eq!(code, 1, "{name}: -n accepted it: {out}{err}");
        assert!(!out.contains("configuration OK"), "{name}: {out}");
        let line =
            err.lines().find(|l| l.contains(says)).unwrap_or_else(|| panic!("{name}: {says:?}: {err}"));
        assert!(line.starts_with(&place), "{name}: not named by file and line {place:?}: {line}");

        let t0 = Instant::now();
        let (code, log) = start_and_wait(&mut tb, &conf, &format!("{name}.log"), 20 * S);
        eprintln!("{name}: start exited {code:?} after {:?}", t0.elapsed());
        assert_eq!(code, Some(1), "{name}: the start did not fail: {log}");
        assert!(log.contains(says) && log.contains("not started"), "{name}: {log}");
        assert!(!log.contains("started as"), "{name}: {log}");
    }
    // The fix the message gives for the first: outside_subnet names it.
    let conf = tb.config_as(Node::Secondary, "routed", "198.18.51.10", "outside_subnet = 198.18.51.10");
    let (code, out, err) = check_in(&tb, Node::Secondary, &conf);
    assert_eq!(code, 0, "outside_subnet did not allow it: {out}{err}");

    // A reload refuses the same, and the daemon keeps the old file.
    let s = tb.start_daemon(Node::Secondary, "");
    wait_log(&s.log, "started as secondary", 10 * S);
    let conf = tb.dir.join("s.conf");
    let good = std::fs::read_to_string(&conf).unwrap();
    std::fs::write(&conf, good.replace("address = pub0:198.18.0.10/24", "address = pub0:198.18.51.10/24"))
        .unwrap();
    let (code, out) = ctl(&conf, &["reload"]);
    eprintln!("reload: exit {code}: {out}");
    assert_eq!(code, 1, "{out}");
    assert!(
        out.contains("198.18.51.10 is not in the subnet of pub0") && out.contains("outside_subnet"),
        "{out}"
    );
    let (code, out) = ctl(&conf, &["status"]);
    assert_eq!(code, 0, "{out}");
    assert!(
        out.contains("198.18.0.10") && !out.contains("198.18.51.10"),
        "the refused file is in force: {out}"
    );
}

/// The secondary under systemd (NOTIFY_SOCKET), as the unit starts it.
fn start_notified(tb: &mut Testbed, conf: &Path, log: &str) -> (Daemon, UnixDatagram) {
    let notify = tb.dir.join(format!("{log}.notify"));
    let rx = UnixDatagram::bind(&notify).unwrap();
    rx.set_read_timeout(Some(S / 5)).unwrap();
    let log = tb.dir.join(log);
    let env = format!("NOTIFY_SOCKET={}", notify.display());
    let bin = daemon_bin();
    let pid =
        tb.spawn(Node::Secondary, &["env", &env, bin.to_str().unwrap(), "-f", conf.to_str().unwrap()], &log);
    (Daemon { log, pid }, rx)
}

fn notifications(rx: &UnixDatagram) -> Vec<String> {
    let mut seen = Vec::new();
    let mut buf = [0u8; 1024];
    while let Ok(n) = rx.recv(&mut buf) {
        seen.push(String::from_utf8_lossy(&buf[..n]).into_owned());
    }
    seen
}

#[test]
fn scenario_walk_missing_interface_fails_the_start_loudly_after_interface_wait() {
    let Some(mut tb) = Testbed::new() else { return };
    // A misspelt interface name, as a new operator types it.
    let conf = tb.config(Node::Secondary, "interface_wait = 3s");
    std::fs::write(&conf, std::fs::read_to_string(&conf).unwrap().replace("pub0", "eht0")).unwrap();
    let line = line_of(&conf, "network = public eht0");
    let (code, _, err) = check_in(&tb, Node::Secondary, &conf);
    assert_eq!(code, 1, "{err}");
    assert!(err.contains("interface eht0 does not exist") && err.contains("interface_wait"), "{err}");

    let t0 = Instant::now();
    let (s, rx) = start_notified(&mut tb, &conf, "s.log");
    wait_log(&s.log, "does not exist: waiting up to 3.0s (interface_wait)", 10 * S);
    // While it waits, status says so.
    let (code, out) = ctl(&conf, &["status"]);
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("state: starting") && out.contains("waiting: interface eht0"), "{out}");
    let code = tb.wait_exit(s.pid, 30 * S);
    let took = t0.elapsed();
    let log = std::fs::read_to_string(&s.log).unwrap();
    eprintln!("start failed after {took:?} (interface_wait 3s), exit {code:?}");
    assert_eq!(code, Some(1), "{log}");
    assert!(took >= 3 * S, "gave up before interface_wait: {took:?}");
    let want = format!("interface eht0 (network public, line {line}) did not appear within interface_wait");
    assert!(log.contains(&want), "{want:?}: {log}");
    assert!(!log.contains("started as"), "{log}");
    // systemd never heard READY=1, and STATUS= said why.
    let seen = notifications(&rx);
    eprintln!("sd_notify: {seen:?}");
    assert!(!seen.iter().any(|n| n.contains("READY=1")), "{seen:?}");
    assert!(seen.iter().any(|n| n.contains("STATUS=waiting for interface eht0")), "{seen:?}");
    assert!(seen.iter().any(|n| n.contains("STATUS=start failed")), "{seen:?}");
    let mail = tb.wait_mail("start failed", 10 * S);
    assert!(mail.contains("eht0") && mail.contains("ip -br link"), "{mail}");
    assert!(!Path::new(&tb.dir.join("s.sock")).exists(), "control socket left behind");

    // Started by an rc script (detaching): the command says on the
    // terminal what it waits for, and fails with the daemon.
    let bin = daemon_bin();
    let t0 = Instant::now();
    let (code, out) = tb.exec_status(Node::Secondary, &[bin.to_str().unwrap(), "-f", conf.to_str().unwrap()]);
    eprintln!("detached start: exit {code} after {:?}: {out}", t0.elapsed());
    assert_eq!(code, 1, "{out}");
    assert!(
        out.contains("interface eht0 (network public, line 2) does not exist: waiting up to 3.0s"),
        "{out}"
    );
}

#[test]
fn scenario_walk_interface_that_comes_late_is_waited_for() {
    let Some(mut tb) = Testbed::new() else { return };
    // A slow udev rename: pub0 is still called late0 when the daemon starts.
    tb.exec(Node::Secondary, &["ip", "link", "set", "pub0", "down"]);
    tb.exec(Node::Secondary, &["ip", "link", "set", "pub0", "name", "late0"]);
    let conf = tb.config(Node::Secondary, "interface_wait = 60s");
    let t0 = Instant::now();
    let (s, rx) = start_notified(&mut tb, &conf, "s.log");
    wait_log(&s.log, "interface pub0 (network public, line 2", 10 * S);
    std::thread::sleep(S);
    let early = notifications(&rx);
    assert!(!early.iter().any(|n| n.contains("READY=1")), "READY=1 before the interface exists: {early:?}");
    tb.exec(Node::Secondary, &["ip", "link", "set", "late0", "name", "pub0"]);
    tb.exec(Node::Secondary, &["ip", "link", "set", "pub0", "up"]);
    tb.exec(Node::Secondary, &["ip", "addr", "replace", "198.18.0.2/24", "dev", "pub0"]);
    let waited = wait_log(&s.log, "every interface exists after", 20 * S);
    wait_log(&s.log, "started as secondary", 10 * S);
    let end = Instant::now() + 10 * S;
    let mut seen = early;
    while !seen.iter().any(|n| n.contains("READY=1")) && Instant::now() < end {
        seen.extend(notifications(&rx));
    }
    eprintln!("started {:?} after the start, {waited:?} into the log wait; sd_notify {seen:?}", t0.elapsed());
    assert!(seen.iter().any(|n| n.contains("READY=1")), "{seen:?}");
    assert!(tb.mails().iter().all(|m| !m.contains("start failed")), "{:?}", tb.mails());
    assert_eq!(tb.wait_exit(s.pid, S / 2), None, "the daemon ended");
}
