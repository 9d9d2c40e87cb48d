//! Active/active (issue 21): two servers, each the primary of one service
//! address and the standby of the other's, as two independent daemons per
//! server (one per pair, each with its own port, pair name, files and
//! hooks). Server A (the testbed's primary namespace) is the primary of
//! 198.18.0.10 (pair `web`, port 1694) and the secondary of 198.18.0.11;
//! server B the opposite (pair `db`, port 1695). The real binary runs in
//! network namespaces (tests/common); run them one at a time:
//! `cargo build --examples && cargo test --test scenario_active -- --test-threads=1 --nocapture`.

mod common;

use common::*;
use std::path::Path;
use std::time::Duration;

const S: Duration = Duration::from_secs(1);
const WEB: &str = "198.18.0.10";
const DB: &str = "198.18.0.11";
const A: Node = Node::Primary;
const B: Node = Node::Secondary;

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_default()
}

/// How often `needle` occurs in the log at `path`.
fn count(path: &Path, needle: &str) -> usize {
    read(path).matches(needle).count()
}

/// Waits until `needle` occurs more than `before` times in the log.
fn wait_more(path: &Path, needle: &str, before: usize, timeout: Duration) {
    let start = std::time::Instant::now();
    while count(path, needle) <= before {
        assert!(
            start.elapsed() < timeout,
            "no new '{needle}' in {} after {timeout:?}:\n{}",
            path.display(),
            read(path)
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// The last `state ...` line of a log, for the output.
fn last_state(path: &Path) -> String {
    read(path)
        .lines()
        .rfind(|l| l.contains(": state "))
        .and_then(|l| l.split(": state ").nth(1))
        .map(|t| format!("state {t}"))
        .unwrap_or_default()
}

/// Who holds what, and who answers the client on each address.
fn show(tb: &Testbed, when: &str) -> (String, String) {
    let names = |n: Node| if n == A { "A" } else { "B" };
    let holders = |addr: &str| -> Vec<&str> {
        [A, B].into_iter().filter(|&n| tb.holds_addr(n, addr)).map(names).collect()
    };
    // The responders answer with their namespace's name: "primary" is
    // server A, "secondary" server B.
    let server = |who: String| match who.as_str() {
        "primary" => "A".to_string(),
        "secondary" => "B".to_string(),
        other => other.to_string(),
    };
    let (web, db) = (server(tb.who_answers_at(WEB)), server(tb.who_answers_at(DB)));
    println!(
        "{when}: {WEB} on {:?}, answered by {web}; {DB} on {:?}, answered by {db}",
        holders(WEB),
        holders(DB)
    );
    (web, db)
}

fn subjects(tb: &Testbed) -> Vec<String> {
    tb.mails()
        .iter()
        .filter_map(|m| m.lines().find(|l| l.starts_with("Subject:")).map(String::from))
        .collect()
}

/// A and B back each other up. A falls off both networks: B holds both
/// addresses. A returns: each address goes back to its primary, never on
/// both servers. One cable pulled: an anomaly in both pairs, no takeover.
#[test]
fn scenario_active_two_pairs_back_each_other_up() {
    let Some(mut tb) = Testbed::new() else { return };
    tb.start_responders();
    let (own_web, own_db) = (tb.watch_ownership_of(WEB), tb.watch_ownership_of(DB));
    let web = "pair = web\nport = 1694";
    let db = "pair = db\nport = 1695";
    // Role and peer follow the namespace unless overridden: A's private
    // address is 198.19.0.1, B's 198.19.0.2.
    let a_web = tb.start_instance(A, "p-web", WEB, web);
    let b_db = tb.start_instance(B, "s-db", DB, &format!("{db}\nrole = primary\npeer = 198.19.0.1"));
    wait_log(&a_web.log, "acquiring -> active", 10 * S);
    wait_log(&b_db.log, "acquiring -> active", 10 * S);
    let b_web = tb.start_instance(B, "s-web", WEB, web);
    let a_db = tb.start_instance(A, "p-db", DB, &format!("{db}\nrole = secondary\npeer = 198.19.0.2"));
    wait_log(&b_web.log, "starting -> watching", 5 * S);
    wait_log(&a_db.log, "starting -> watching", 5 * S);
    std::thread::sleep(S);
    assert_eq!(show(&tb, "both servers up"), ("A".into(), "B".into()));
    assert!(tb.holds_addr(A, WEB) && !tb.holds_addr(B, WEB) && tb.holds_addr(B, DB) && !tb.holds_addr(A, DB));
    for (d, name) in [(&a_web, "web"), (&b_web, "web"), (&a_db, "db"), (&b_db, "db")] {
        assert!(
            log_has(&d.log, &format!("ipfailoverd/{name}[")),
            "log lines do not name the pair:\n{}",
            read(&d.log)
        );
    }
    for (conf, net) in [("s-web", "public"), ("p-db", "private")] {
        let (_, out) = ctl(&tb.dir.join(format!("{conf}.conf")), &["status"]);
        let line = out.lines().find(|l| l.trim_start().starts_with(&format!("{net}:"))).unwrap_or("").trim();
        println!("{conf} status, {line}");
        assert!(!line.contains("other-pair"), "one pair heard the other's datagrams: {line}");
    }

    // A falls off both networks: B's web daemon takes 198.18.0.10 over;
    // A's web daemon sees its public link go and removes its copy; A's db
    // daemon, its own public link down, does not move.
    tb.fall_off(A);
    // From watching, or from an anomaly: a heartbeat may leave on the
    // public cable between the two pulls of `fall_off`, and the private
    // network then falls silent an interval earlier (both are right).
    wait_log(&b_web.log, "-> acquiring (both-networks-silent)", 5 * S);
    wait_log(&b_web.log, "acquiring -> holding", 5 * S);
    std::thread::sleep(S);
    println!("B web: {}", last_state(&b_web.log));
    println!("A web: {}", last_state(&a_web.log));
    println!("A db:  {}", last_state(&a_db.log));
    assert_eq!(show(&tb, "A off both networks"), ("B".into(), "B".into()));
    assert!(!tb.holds_addr(A, WEB) && !tb.holds_addr(A, DB), "A kept an address while off the network");
    assert!(!log_has(&a_db.log, "acquiring"), "A's db secondary moved:\n{}", read(&a_db.log));
    let took = tb.wait_mail("took over", 5 * S);
    let subject = took.lines().find(|l| l.starts_with("Subject:")).unwrap_or("");
    assert!(subject.contains("[ipfailoverd/web]") && subject.contains(WEB), "{subject}");

    // A returns: 198.18.0.10 goes back to A through the claim exchange;
    // 198.18.0.11 never moved.
    let (a_watching, b_releasing) =
        (count(&a_db.log, "-> watching"), count(&b_web.log, "holding -> releasing"));
    tb.cable(A, "pub", true);
    tb.cable(A, "priv", true);
    wait_more(&b_web.log, "holding -> releasing", b_releasing, 10 * S);
    wait_log(&a_web.log, "claiming -> acquiring", 5 * S);
    wait_more(&a_web.log, "acquiring -> active", 1, 5 * S);
    wait_more(&b_web.log, "-> watching", 1, 5 * S);
    wait_more(&a_db.log, "-> watching", a_watching, 5 * S);
    std::thread::sleep(S);
    println!("B web: {}", last_state(&b_web.log));
    println!("A web: {}", last_state(&a_web.log));
    println!("A db:  {}", last_state(&a_db.log));
    assert_eq!(show(&tb, "A back"), ("A".into(), "B".into()));

    // One cable pulled (A's private one): both pairs see an anomaly on the
    // private network, neither takes anything over.
    let acquiring = [count(&b_web.log, "acquiring"), count(&a_db.log, "acquiring")];
    tb.cable(A, "priv", false);
    wait_log(&b_web.log, "watching -> anomaly-private", 5 * S);
    wait_log(&a_db.log, "watching -> anomaly-private", 5 * S);
    std::thread::sleep(2 * S);
    println!("B web: {}", last_state(&b_web.log));
    println!("A db:  {}", last_state(&a_db.log));
    assert_eq!(show(&tb, "A's private cable pulled"), ("A".into(), "B".into()));
    assert_eq!(
        [count(&b_web.log, "acquiring"), count(&a_db.log, "acquiring")],
        acquiring,
        "a takeover on one cable"
    );
    for pair in ["web", "db"] {
        let needle = format!("[ipfailoverd/{pair}]");
        let start = std::time::Instant::now();
        while !subjects(&tb).iter().any(|s| s.contains(&needle) && s.contains("network anomaly")) {
            assert!(start.elapsed() < 5 * S, "no anomaly mail of pair {pair}: {:?}", subjects(&tb));
            std::thread::sleep(Duration::from_millis(50));
        }
    }
    tb.cable(A, "priv", true);
    wait_log(&b_web.log, "anomaly-private -> watching", 5 * S);
    wait_log(&a_db.log, "anomaly-private -> watching", 5 * S);
    for s in subjects(&tb) {
        println!("mail: {s}");
    }

    for (own, addr) in [(&own_web, WEB), (&own_db, DB)] {
        let (overlap, events) = own.overlap();
        println!("{addr}: {events} address events, on both servers for {overlap:?}");
        // Each `ip monitor` stamps an event when it reads it, so two
        // observers in two namespaces can misorder events closer than their
        // wake-up latency (as in scenario_failback); the causal chain from
        // a removal to the add on the other server (ioctl, datagram, ioctl)
        // is longer, so a real overlap would show as much more.
        assert!(overlap < Duration::from_millis(1), "{addr} was on both servers for {overlap:?}");
    }
}

/// What two daemons on one host must not share is refused at start, on
/// the terminal, with the key to change, and `-n` finds it first: the
/// pidfile, the control socket, the state directory, the port on the same
/// interfaces (also when both networks share one interface, where the
/// kernel would otherwise let a second daemon join the port).
#[test]
fn scenario_active_instances_refuse_to_share() {
    let Some(mut tb) = Testbed::new() else { return };
    let first = tb.start_instance(A, "p-web", WEB, "pair = web\nport = 1694");
    wait_log(&first.log, "started as", 5 * S);
    let d = tb.dir.display().to_string();
    let own = |name: &str| {
        format!("pidfile = {d}/{name}.pid\ncontrol_socket = {d}/{name}.sock\nstate_dir = {d}/state-{name}")
    };
    let cases = [
        ("same-pidfile", format!("port = 1695\npidfile = {d}/p-web.pid"), "a second instance on this host needs its own pidfile"),
        (
            "same-socket",
            format!("port = 1695\ncontrol_socket = {d}/p-web.sock"),
            "another ipfailoverd is listening on it; every instance on this host needs its own control_socket",
        ),
        (
            "same-state",
            format!("port = 1695\nstate_dir = {d}/state-p-web"),
            "is in use by another running ipfailoverd; every instance on this host needs its own state_dir",
        ),
        ("same-port", "port = 1694".to_string(), "UDP port 1694 on pub0 is in use"),
    ];
    for (name, extra, needle) in &cases {
        let conf = tb.config_as(
            A,
            name,
            DB,
            &format!("pair = db\nrole = secondary\npeer = 198.19.0.2\n{}\n{extra}", own(name)),
        );
        // -n first (with a control socket of its own, -n looks at the rest).
        if *name != "same-socket" {
            let check =
                tb.exec_status(A, &[daemon_bin().to_str().unwrap(), "-n", "-f", conf.to_str().unwrap()]);
            println!(
                "{name}: ipfailoverd -n: {}",
                check.1.lines().find(|l| l.contains("instance") || l.contains("in use")).unwrap_or("")
            );
            assert_eq!(check.0, 1, "{name}: -n did not fail:\n{}", check.1);
        }
        let log = tb.dir.join(format!("{name}.log"));
        let pid = tb.spawn(A, &[daemon_bin().to_str().unwrap(), "-d", "-f", conf.to_str().unwrap()], &log);
        let code = tb.wait_exit(pid, 5 * S);
        let text = read(&log);
        println!("{name}: exit {code:?}: {}", text.lines().find(|l| l.contains(": error: ")).unwrap_or(""));
        assert_eq!(code, Some(1), "{name}: the second daemon was not refused:\n{text}");
        assert!(text.contains(needle), "{name}: {text}");
    }
    // The first daemon is untouched, and -n on its own file says it runs.
    let (rc, out) = ctl(&tb.dir.join("p-web.conf"), &["status"]);
    assert_eq!(rc, 0, "{out}");
    assert!(
        log_has(&first.log, "acquiring -> active") || log_has(&first.log, "claiming"),
        "{}",
        read(&first.log)
    );
    let check = tb.exec_status(
        A,
        &[daemon_bin().to_str().unwrap(), "-n", "-f", tb.dir.join("p-web.conf").to_str().unwrap()],
    );
    assert!(check.1.contains("note: an ipfailoverd is running behind control_socket"), "{}", check.1);

    // Both networks on one interface: the two sockets share the port with
    // SO_REUSEPORT, which a second root daemon could join unnoticed.
    let one_if = "port = 1696\nnetwork = private pub0 198.18.0.255";
    let shared = tb.start_instance(
        A,
        "p-one",
        DB,
        &format!("pair = one\nrole = secondary\npeer = 198.18.0.2\n{one_if}"),
    );
    wait_log(&shared.log, "started as", 5 * S);
    let conf = tb.config_as(
        A,
        "p-two",
        "198.18.0.12",
        &format!("pair = two\nrole = secondary\npeer = 198.18.0.2\n{one_if}"),
    );
    let log = tb.dir.join("p-two.log");
    let pid = tb.spawn(A, &[daemon_bin().to_str().unwrap(), "-d", "-f", conf.to_str().unwrap()], &log);
    let code = tb.wait_exit(pid, 5 * S);
    println!(
        "shared interface: exit {code:?}: {}",
        read(&log).lines().find(|l| l.contains(": error: ")).unwrap_or("")
    );
    assert_eq!(code, Some(1), "a second daemon joined the port on a shared interface:\n{}", read(&log));
    assert!(log_has(&log, "UDP port 1696 on pub0 is in use"), "{}", read(&log));
}
