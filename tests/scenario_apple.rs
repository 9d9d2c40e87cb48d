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
    let Some(mut tb) = Testbed::new() else { return };
    let (mac, s) = mac_watched_by_secondary(&mut tb);
    // The Mac keeps beating: nothing moves.
    std::thread::sleep(4 * S);
    assert!(!log_has(&s.log, "-> acquiring"), "takeover while the Mac beats");
    assert_eq!(tb.who_answers(), "primary");
    // Apple's keys name addresses, so the file is read where they exist.
    let (bin, conf) = (daemon_bin(), tb.dir.join("hostconfig"));
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
    // heartbeatd sends from it; the secondary gives back once it has heard
    // the primary steadily for recover_after (3 s by default).
    mac_address(&tb, true);
    start_mac_heartbeatd(&mut tb);
    wait_log(&s.log, "releasing -> watching", 7 * S);
    assert!(log_has(&s.log, "has been heard steadily for 3.0s"));
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
    let Some(mut tb) = Testbed::new() else { return };
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
    let Some(mut tb) = Testbed::new() else { return };
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
    let Some(mut tb) = Testbed::new() else { return };
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
    wait_log(&f.log, "releasing -> watching", 8 * S);
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

/// Apple's text as `netool send` takes it.
fn text_hex() -> String {
    b"heartbeat".iter().map(|b| format!("{b:02x}")).collect()
}

/// The Mac (heartbeatd) serving the address and our secondary, set up
/// from hostconfig, watching it: (the Mac's pid, the secondary).
fn mac_watched_by_secondary(tb: &mut Testbed) -> (u32, Daemon) {
    tb.start_responders();
    mac_address(tb, true);
    let mac = start_mac_heartbeatd(tb);
    let conf = hostconfig_secondary(tb);
    let bin = daemon_bin();
    let log = tb.dir.join("s.log");
    let s = start(tb, Node::Secondary, &[bin.to_str().unwrap(), "-d", "-f", conf.to_str().unwrap()], &log);
    wait_log(&s.log, "starting -> watching", 5 * S);
    (mac, s)
}

/// A hostconfig secondary holding the Mac's address: the Mac beat, then
/// died with its address.
fn holding_after_the_mac_died(tb: &mut Testbed) -> Daemon {
    let (mac, s) = mac_watched_by_secondary(tb);
    tb.signal(mac, "KILL");
    mac_address(tb, false);
    wait_log(&s.log, "acquiring -> holding", 6 * S);
    s
}

/// How many Apple heartbeats the hostconfig secondary accepted on the
/// private network (`status --json`).
fn private_legacy_count(tb: &Testbed) -> u64 {
    let conf = tb.dir.join("hostconfig");
    let json = tb.exec(
        Node::Secondary,
        &[daemon_bin().to_str().unwrap(), "-f", conf.to_str().unwrap(), "status", "--json"],
    );
    let private = json.split("\"name\":\"private\"").nth(1).unwrap_or_else(|| panic!("{json}"));
    let n = private.split("\"legacy\":").nth(1).unwrap_or_else(|| panic!("{json}"));
    n.split(|c: char| !c.is_ascii_digit()).next().unwrap().parse().unwrap()
}

/// Issue 16, item 4: Apple's text forged once from `peer` on the private
/// network (here sent from the dead Mac's own namespace, as a host on the
/// private link could) used to make a holding static secondary give the
/// address back at once, leaving nobody to serve it. It still counts as a
/// heartbeat, but a give-back now needs recover_after (3 s) of steady ones.
#[test]
fn scenario_a_forged_text_from_peer_does_not_make_the_secondary_give_back() {
    let Some(mut tb) = Testbed::new() else { return };
    let s = holding_after_the_mac_died(&mut tb);
    let tool = netool_bin();
    let hex = text_hex();
    let before = private_legacy_count(&tb);
    // Three in a row, as a forger would, to be sure one arrives.
    tb.exec(Node::Primary, &[tool.to_str().unwrap(), "send", "198.19.0.255:1694", &hex, &hex, &hex]);
    std::thread::sleep(5 * S);
    assert!(private_legacy_count(&tb) > before, "the forged text was not even heard");
    assert!(!log_has(&s.log, "-> releasing"), "gave the address back on a forged text");
    assert!(tb.holds(Node::Secondary));
    assert_eq!(tb.who_answers(), "secondary");
}

/// Issue 16, item 4: the Mac is dead and someone on the public LAN sends
/// Apple's text from the service address (which it does not answer ARP
/// for). With Apple's rule that was a private-network anomaly for as long
/// as the forger liked; now a probe finds nobody holding the address and
/// the secondary takes over.
#[test]
fn scenario_forged_text_on_the_public_network_does_not_hold_off_a_takeover() {
    let Some(mut tb) = Testbed::new() else { return };
    let (mac, s) = mac_watched_by_secondary(&mut tb);
    // The forger: the service address on its loopback, so that it can send
    // from it, and no ARP answers for an address that is not on pub0.
    for cmd in [
        &["ip", "addr", "add", &format!("{SERVICE}/32"), "dev", "lo"][..],
        &["sysctl", "-qw", "net.ipv4.conf.all.arp_ignore=1"][..],
        &["sysctl", "-qw", "net.ipv4.conf.pub0.arp_ignore=1"][..],
    ] {
        tb.exec(Node::Client, cmd);
    }
    let tool = netool_bin();
    let forger_log = tb.dir.join("forger.log");
    let from = format!("{SERVICE}>198.18.0.255");
    tb.spawn(Node::Client, &[tool.to_str().unwrap(), "beat", "500", "heartbeat", "1694", &from], &forger_log);
    std::thread::sleep(S);
    tb.signal(mac, "KILL");
    mac_address(&tb, false);
    wait_log(&s.log, "-> anomaly-private", 5 * S);
    wait_log(&s.log, "acquiring -> holding", 5 * S);
    assert!(log_has(&s.log, "only Apple's unauthenticated text"), "taken over for another reason");
    // The forger goes on; what it sent before the takeover does not undo it.
    std::thread::sleep(4 * S);
    assert!(!log_has(&s.log, "-> releasing"), "gave the address back to the forger");
    assert!(tb.holds(Node::Secondary));
}

/// Issue 16, item 4: once our primary has spoken protocol v1 with the key,
/// the secondary records it; after a restart of the secondary, forged
/// Apple text from `peer` no longer holds off the takeover (it used to be
/// remembered in memory only).
#[test]
fn scenario_forged_text_after_a_secondary_restart_does_not_count() {
    let Some(mut tb) = Testbed::new() else { return };
    tb.start_responders();
    mac_address(&tb, true);
    let p = tb.start_daemon(Node::Primary, "mode = static\nlegacy_heartbeat = send");
    wait_log(&p.log, "started as primary", 5 * S);
    let extra = "mode = static\nlegacy_heartbeat = yes-unauthenticated";
    let s = tb.start_daemon(Node::Secondary, extra);
    wait_log(&s.log, "starting -> watching", 5 * S);
    wait_log(&s.log, "the primary speaks protocol v1", 2 * S);
    // Written by the state writer thread, a moment after the log line.
    let file = tb.dir.join("state-s/state");
    let recorded = || std::fs::read_to_string(&file).unwrap_or_default().contains("\npeer-speaks-v1\n");
    let end = std::time::Instant::now() + 2 * S;
    while !recorded() && std::time::Instant::now() < end {
        std::thread::sleep(Duration::from_millis(20));
    }
    assert!(recorded(), "{:?}", std::fs::read_to_string(&file));
    tb.signal(s.pid, "TERM");
    assert_eq!(tb.wait_exit(s.pid, 5 * S), Some(0));

    // The primary host dies; a forger on the private link sends Apple's
    // text from the primary's address.
    tb.signal(p.pid, "KILL");
    mac_address(&tb, false);
    let tool = netool_bin();
    let forger_log = tb.dir.join("forger.log");
    tb.spawn(
        Node::Primary,
        &[tool.to_str().unwrap(), "beat", "100", "heartbeat", "1694", "198.19.0.1>198.19.0.255"],
        &forger_log,
    );
    let conf = tb.config(Node::Secondary, extra);
    let log = tb.dir.join("s2.log");
    let bin = daemon_bin();
    let s2 =
        start(&mut tb, Node::Secondary, &[bin.to_str().unwrap(), "-d", "-f", conf.to_str().unwrap()], &log);
    wait_log(&s2.log, "acquiring -> holding", 5 * S);
    assert!(log_has(
        &s2.log,
        "legacy-superseded: the primary has spoken protocol v1, recorded in the state file"
    ));
    assert!(tb.holds(Node::Secondary));
}

/// Issue 16, item 4: a key beside Apple's text (here `yes` implied by the
/// hostconfig keys) is refused by -n and at start unless the operator
/// writes legacy_heartbeat = yes-unauthenticated; then both warn.
#[test]
fn scenario_key_beside_legacy_text_is_refused_unless_said() {
    let Some(mut tb) = Testbed::new() else { return };
    let conf = hostconfig_secondary(&tb);
    let key = tb.dir.join("key");
    let text = std::fs::read_to_string(&conf).unwrap();
    std::fs::write(&conf, format!("{text}auth_key_file = {}\n", key.display())).unwrap();
    let bin = daemon_bin();
    let (bin, conf_s) = (bin.to_str().unwrap(), conf.to_str().unwrap());
    let check = try_exec(&tb, Node::Secondary, &[bin, "-n", "-f", conf_s]);
    assert_eq!(check.0, 1, "{check:?}");
    assert!(
        check.1.contains(
            "legacy_heartbeat = yes (implied by the FAILOVER_ keys) accepts Apple's unauthenticated"
        ),
        "{check:?}"
    );
    let log = tb.dir.join("refused.log");
    let d = start(&mut tb, Node::Secondary, &[bin, "-d", "-f", conf_s], &log);
    assert_eq!(tb.wait_exit(d.pid, 5 * S), Some(1));
    assert!(log_has(&log, "yes-unauthenticated to accept the text anyway"));

    let text = std::fs::read_to_string(&conf).unwrap();
    std::fs::write(&conf, format!("{text}legacy_heartbeat = yes-unauthenticated\n")).unwrap();
    let check = try_exec(&tb, Node::Secondary, &[bin, "-n", "-f", conf_s]);
    assert_eq!(check.0, 0, "{check:?}");
    assert!(
        check.1.contains(
            "warning: legacy_heartbeat = yes-unauthenticated: Apple's heartbeat text bypasses the MAC"
        ),
        "{check:?}"
    );
    let log = tb.dir.join("s.log");
    let s = start(&mut tb, Node::Secondary, &[bin, "-d", "-f", conf_s], &log);
    wait_log(&s.log, "bypasses the MAC of auth_key_file", 5 * S);
}
