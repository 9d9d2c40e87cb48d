//! Scenario tests (issue 8): a mixed pair during a migration from Mac OS X
//! Server. An emulation of Apple's heartbeatd (unauthenticated `heartbeat`
//! text, once a second, from the primary's own addresses to each network's
//! broadcast address) as the primary, watched by our secondary configured
//! by a hostconfig file; our primary in `send` mode, heard by an emulated
//! Apple failoverd; and the heartbeatd/failoverd command-line personalities.

mod common;

use common::*;
use std::path::{Path, PathBuf};
use std::time::Duration;

const S: Duration = Duration::from_secs(1);

/// Apple's primary: its public address *is* the service address,
/// configured by the OS.
fn mac_address(tb: &Testbed, present: bool) {
    let verb = if present { "add" } else { "del" };
    tb.exec(Node::Primary, &["ip", "addr", verb, &format!("{SERVICE}/24"), "dev", "pub0"]);
}

fn start_mac_heartbeatd(tb: &mut Testbed) -> u32 {
    let tool = netool_bin();
    let public = format!("{SERVICE}>198.18.0.255");
    let log = tb.dir.join("mac-heartbeatd.log");
    let args =
        [tool.to_str().unwrap(), "beat", "1000", "heartbeat", "1694", &public, "198.19.0.1>198.19.0.255"];
    tb.spawn(Node::Primary, &args, &log)
}

/// A secondary set up the way a Mac OS X Server secondary was: hostconfig
/// keys (with unrelated ones around them) plus the paths a test needs.
fn hostconfig_secondary(tb: &Testbed) -> PathBuf {
    let d = tb.dir.display();
    let text = format!(
        "##\n# /etc/hostconfig\n##\nAFPSERVER=-YES-\nHOSTNAME=-AUTOMATIC-\nWEBSERVER=-YES-\n\
         FAILOVER_PEER_IP=\"198.19.0.1\"\n\
         FAILOVER_PEER_IP_PAIRS=\"pub0:{SERVICE}/24\"\n\
         FAILOVER_EMAIL_RECIPIENT=\"admin@example.com\"\n\
         dead_after = 2500ms\n\
         garp_interval = 20ms\n\
         state_dir = {d}/state-s\npidfile = {d}/s.pid\ncontrol_socket = {d}/s.sock\n\
         scripts_dir = {d}/scripts\nsendmail = {d}/sendmail\n"
    );
    tb.config(Node::Secondary, ""); // installs the fake sendmail
    let path = tb.dir.join("hostconfig");
    std::fs::write(&path, text).unwrap();
    path
}

/// Runs a command in a namespace: (exit status, stdout and stderr).
fn try_exec(tb: &Testbed, node: Node, args: &[&str]) -> (i32, String) {
    let out =
        std::process::Command::new("ip").args(["netns", "exec", &tb.ns(node)]).args(args).output().unwrap();
    let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    (out.status.code().unwrap_or(-1), text)
}

fn start(tb: &mut Testbed, node: Node, args: &[&str], log: &Path) -> Daemon {
    let pid = tb.spawn(node, args, log);
    Daemon { log: log.to_path_buf(), pid }
}

#[test]
fn scenario_apple_heartbeatd_as_primary_watched_through_hostconfig() {
    let mut tb = Testbed::new();
    tb.start_responders();
    mac_address(&tb, true);
    let mac = start_mac_heartbeatd(&mut tb);
    let conf = hostconfig_secondary(&tb);
    let bin = daemon_bin();
    let log = tb.dir.join("s.log");
    let s =
        start(&mut tb, Node::Secondary, &[bin.to_str().unwrap(), "-d", "-f", conf.to_str().unwrap()], &log);
    wait_log(&s.log, "starting -> watching", 5 * S);
    // The Mac keeps beating: nothing moves.
    std::thread::sleep(4 * S);
    assert!(!log_has(&s.log, "-> acquiring"), "takeover while the Mac beats");
    assert_eq!(tb.who_answers(), "primary");
    // Apple's keys name addresses, so the file is read where they exist.
    let status = tb.exec(Node::Secondary, &[bin.to_str().unwrap(), "-f", conf.to_str().unwrap(), "status"]);
    assert!(status.contains("Apple heartbeats"), "{status}");

    // The Mac dies: its heartbeats stop and its address goes with it.
    tb.signal(mac, "KILL");
    mac_address(&tb, false);
    wait_log(&s.log, "acquiring -> holding", 6 * S);
    assert!(log_has(&s.log, "(both-networks-silent)"));
    assert_eq!(tb.who_answers(), "secondary");
    tb.wait_mail("took over", 5 * S);

    // The Mac returns: it boots with its address (Apple's static mode) and
    // heartbeatd sends from it; the secondary gives back as soon as it
    // hears the primary on the public network.
    mac_address(&tb, true);
    start_mac_heartbeatd(&mut tb);
    wait_log(&s.log, "releasing -> watching", 4 * S);
    assert!(!tb.holds(Node::Secondary));
    // The emulation does not announce the Mac's MAC (a real Mac does when
    // it configures the address, and on `kill -HUP` of heartbeatd): the
    // client forgets the secondary's instead.
    tb.exec(Node::Client, &["ip", "neigh", "flush", "dev", "pub0"]);
    assert_eq!(tb.who_answers(), "primary");
    assert!(!log_has(&s.log, "anomaly"), "a dying host is not an anomaly");
}

#[test]
fn scenario_forged_apple_heartbeats_do_not_count() {
    // From the client: wrong source address on both networks' view.
    let mut tb = Testbed::new();
    tb.start_responders();
    let conf = hostconfig_secondary(&tb);
    let tool = netool_bin();
    let log = tb.dir.join("forger.log");
    tb.spawn(
        Node::Client,
        &[tool.to_str().unwrap(), "beat", "100", "heartbeat", "1694", "198.18.0.100>198.18.0.255"],
        &log,
    );
    let bin = daemon_bin();
    let slog = tb.dir.join("s.log");
    let s =
        start(&mut tb, Node::Secondary, &[bin.to_str().unwrap(), "-d", "-f", conf.to_str().unwrap()], &slog);
    wait_log(&s.log, "acquiring -> holding", 6 * S);
    assert!(log_has(&s.log, "wrong-source"), "forgeries not reported");
}

#[test]
fn scenario_our_primary_sends_apple_heartbeats_to_an_old_failoverd() {
    let mut tb = Testbed::new();
    let p = tb.start_daemon(Node::Primary, "legacy_heartbeat = send\ninterval = 100ms\ndead_after = 300ms");
    wait_log(&p.log, "acquiring -> active", 10 * S);
    // Apple's failoverd listens on UDP 1694 on both networks.
    let tool = netool_bin();
    let got = tb.exec(Node::Secondary, &[tool.to_str().unwrap(), "capture", "1694", "30", "3000"]);
    let heartbeat: String = b"heartbeat".iter().map(|b| format!("{b:02x}")).collect();
    let legacy_from: Vec<&str> = got
        .lines()
        .filter(|l| l.split(' ').nth(1) == Some(heartbeat.as_str()))
        .filter_map(|l| l.split(':').next())
        .collect();
    assert!(legacy_from.contains(&"198.18.0.1"), "nothing on the public network: {got}");
    assert!(legacy_from.contains(&"198.19.0.1"), "nothing on the private network: {got}");
    // Protocol v1 heartbeats still flow beside them.
    assert!(got.lines().any(|l| l.split(' ').nth(1).is_some_and(|h| h.len() > 64)), "{got}");
}

/// Removes what the personalities leave at their fixed paths, if this test
/// created it.
struct Leftovers(Vec<PathBuf>);

impl Drop for Leftovers {
    fn drop(&mut self) {
        for p in &self.0 {
            let _ = std::fs::remove_dir_all(p);
            let _ = std::fs::remove_file(p);
        }
    }
}

#[test]
fn scenario_heartbeatd_and_failoverd_command_lines() {
    let fixed = ["/var/lib/heartbeatd", "/var/lib/failoverd", "/run/heartbeatd.sock", "/run/failoverd.sock"];
    let _cleanup = Leftovers(fixed.iter().map(PathBuf::from).filter(|p| !p.exists()).collect());
    let mut tb = Testbed::new();
    tb.start_responders();
    let links = tb.dir.join("bin");
    std::fs::create_dir_all(&links).unwrap();
    for name in ["heartbeatd", "failoverd"] {
        std::os::unix::fs::symlink(daemon_bin(), links.join(name)).unwrap();
    }
    let hb = links.join("heartbeatd");
    let fo = links.join("failoverd");
    let (hb, fo) = (hb.to_str().unwrap(), fo.to_str().unwrap());

    // -n checks and exits; a Mac interface name is explained.
    let check = try_exec(&tb, Node::Secondary, &[fo, "-n", "198.19.0.1", "en0:198.18.0.10/24"]);
    assert!(
        check.0 == 1
            && check.1.contains("failoverd: interface en0 does not exist")
            && check.1.contains("Mac OS X name"),
        "{check:?}"
    );
    let check = try_exec(&tb, Node::Primary, &[hb, "-n", "198.18.0.255", "198.19.0.255"]);
    assert!(check.0 == 0 && check.1.contains("configuration OK (primary)"), "{check:?}");

    mac_address(&tb, true);
    let hlog = tb.dir.join("p.log");
    let h = start(&mut tb, Node::Primary, &[hb, "-d", "198.18.0.255", "198.19.0.255"], &hlog);
    wait_log(&h.log, "started as primary", 5 * S);
    let flog = tb.dir.join("s.log");
    let f = start(&mut tb, Node::Secondary, &[fo, "-d", "198.19.0.1", &format!("pub0:{SERVICE}/24")], &flog);
    wait_log(&f.log, "starting -> watching", 5 * S);
    let status = tb.exec(Node::Secondary, &[fo, "status"]);
    assert!(status.contains("watching"), "{status}");

    // The primary host dies (daemon and address); the secondary takes over
    // after dead_after (3 s by default).
    tb.signal(h.pid, "KILL");
    mac_address(&tb, false);
    wait_log(&f.log, "acquiring -> holding", 6 * S);
    assert_eq!(tb.who_answers(), "secondary");

    // Back: heartbeatd first, the address once the secondary let go, then
    // SIGHUP (Apple's tickle) re-announces it.
    let hlog2 = tb.dir.join("p2.log");
    let h2 = start(&mut tb, Node::Primary, &[hb, "-d", "198.18.0.255", "198.19.0.255"], &hlog2);
    wait_log(&f.log, "releasing -> watching", 5 * S);
    mac_address(&tb, true);
    tb.signal(h2.pid, "HUP");
    wait_log(&h2.log, &format!("SIGHUP: announcing 198.18.0.1, {SERVICE} on pub0 again"), 3 * S);
    assert_eq!(tb.who_answers(), "primary");

    // A static primary's stop is not a goodbye: the address stays with it.
    tb.signal(h2.pid, "TERM");
    assert_eq!(tb.wait_exit(h2.pid, 5 * S), Some(0));
    std::thread::sleep(Duration::from_millis(500));
    assert!(!log_has(&f.log, "(goodbye)"));
    assert!(!tb.holds(Node::Secondary));
}
