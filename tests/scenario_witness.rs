//! Issue 34, item 2: a witness against isolation. The shipped check
//! (scripts/examples/check-witness) pings a third host on the public
//! network, here a namespace of the test's own at 198.18.0.254 on the
//! public switch. With check_gates_takeover = yes (the default), a
//! secondary that cannot reach the witness does not take over from a
//! primary silent on both networks, and its log and mail say which check
//! said no and what it said; with the witness reachable, the takeover is
//! as usual. The real binary runs in network namespaces; see tests/common.

mod common;

use common::*;
use std::path::PathBuf;
use std::time::{Duration, Instant};

const S: Duration = Duration::from_secs(1);
const WITNESS: &str = "198.18.0.254";
const CHECKS: &str = "check_interval = witness 300ms\ncheck_timeout = witness 1s\n\
                      check_fall = witness 2\ncheck_rise = witness 2\n";

/// The witness host: namespace `<testbed>x`, on the public switch at
/// 198.18.0.254, no route anywhere else. Deleted in Drop (before the
/// testbed, declared after it), also when the test fails.
struct Witness {
    ns: String,
}

impl Witness {
    fn new(tb: &Testbed) -> Witness {
        topology::add_node(&tb.name, "x").expect("witness namespace");
        let w = Witness { ns: topology::ns(&tb.name, "x") };
        topology::plug(&tb.name, "x", "pub", "pub0", &[&format!("{WITNESS}/24")]).expect("witness cable");
        w
    }
}

impl Drop for Witness {
    fn drop(&mut self) {
        let _ = std::process::Command::new("ip").args(["netns", "del", &self.ns]).status();
    }
}

/// scripts/examples/check-witness, copied into the testbed (a check
/// program must be root-owned in root-owned directories), with `args`.
fn check(tb: &Testbed, args: &str) -> String {
    let src = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("scripts/examples/check-witness");
    let dst = tb.dir.join("checks").join("check-witness");
    tb.script(&dst, &std::fs::read_to_string(src).unwrap());
    format!("check = witness {} {args}\n{CHECKS}", dst.display())
}

/// The nftables table that cuts `node` off from the witness: every packet
/// from 198.18.0.254 dropped on input (the echo replies are lost; the
/// heartbeats and everything else still pass).
fn cut_off_from_witness(tb: &Testbed, node: Node) {
    let nft = |args: &[&str]| {
        let mut full = vec!["nft"];
        full.extend_from_slice(args);
        tb.exec(node, &full)
    };
    nft(&["add", "table", "inet", "witness"]);
    nft(&["add", "chain", "inet", "witness", "in", "{ type filter hook input priority 0 ; }"]);
    nft(&["add", "rule", "inet", "witness", "in", "ip", "saddr", WITNESS, "drop"]);
}

/// The status line of check `witness` on `conf`'s daemon once it passes
/// and contains `want` (waiting up to `timeout`).
fn wait_passing(conf: &std::path::Path, want: &str, timeout: Duration) -> String {
    let end = Instant::now() + timeout;
    loop {
        let (code, out) = ctl(conf, &["status"]);
        assert_eq!(code, 0, "{out}");
        let passing = |l: &&str| l.trim_start().starts_with("witness    passing") && l.contains(want);
        if let Some(line) = out.lines().find(passing) {
            return line.to_string();
        }
        assert!(Instant::now() < end, "check witness not passing with {want:?} after {timeout:?}:\n{out}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// The primary dies as a crashed host does: its daemon killed, its service
/// address gone with it. From then on it is silent on both networks.
fn primary_dies(tb: &Testbed, p: &Daemon) -> Instant {
    tb.signal(p.pid, "KILL");
    let at = Instant::now();
    tb.exec(Node::Primary, &["ip", "addr", "del", &format!("{SERVICE}/24"), "dev", "pub0"]);
    at
}

/// The secondary cannot reach the witness; the primary dies: no takeover,
/// one log line and one mail naming check witness and its output. When
/// the witness answers again, the secondary takes over.
#[test]
fn scenario_witness_unreachable_secondary_does_not_take_over_and_says_why() {
    let Some(mut tb) = Testbed::new() else { return };
    let _witness = Witness::new(&tb);
    let extra = check(&tb, WITNESS);
    let (p, s) = tb.start_pair(&extra, &extra);
    let sc = tb.dir.join("s.conf");
    let line = wait_passing(&sc, "answers ping", 10 * S);
    println!("secondary, witness reachable: {}", line.trim());

    cut_off_from_witness(&tb, Node::Secondary);
    let cut = Instant::now();
    let want = format!("fitness: unfit: check witness is failing; its last output: witness {WITNESS} does not answer ping on pub0: 3 tries of 0.250 s");
    wait_log(&s.log, &want, 10 * S);
    println!("secondary unfit {:?} after the witness was cut off", cut.elapsed());
    assert!(tb.holds(Node::Primary), "the primary keeps the address while it lives");

    let died = primary_dies(&tb, &p);
    let took = wait_log(&s.log, "primary gone but check witness fails here: NOT taking over yet", 10 * S);
    println!("secondary refused the takeover {:?} after the primary died", died.elapsed());
    let log = std::fs::read_to_string(&s.log).unwrap();
    let gated: Vec<&str> = log
        .lines()
        .filter(|l| l.contains("warning: primary gone") && l.contains("NOT taking over"))
        .collect();
    assert_eq!(gated.len(), 1, "one log line: {gated:?}");
    assert!(gated[0].contains("check witness failed"), "{}", gated[0]);
    assert!(gated[0].contains(&format!("witness {WITNESS} does not answer ping on pub0")), "{}", gated[0]);
    assert!(took < 10 * S);
    let mail = tb.wait_mail("NOT taking over yet", 5 * S);
    println!("{mail}");
    let subject = mail.lines().find(|l| l.starts_with("Subject:")).unwrap_or_default();
    assert!(subject.ends_with(" primary gone but check witness fails here: NOT taking over yet"), "{mail}");
    assert!(mail.contains(&format!("witness {WITNESS} does not answer ping on pub0")), "{mail}");
    assert!(mail.contains("check_gates_takeover = yes"), "{mail}");

    // Several dead_after (600 ms) later, still nobody holds the address.
    std::thread::sleep(3 * S);
    assert!(!tb.holds(Node::Secondary), "a secondary cut off from its witness took over");
    assert_eq!(tb.who_answers(), "none");
    let mails = tb.mails().into_iter().filter(|m| m.contains("NOT taking over")).count();
    assert_eq!(mails, 1, "one mail");
    assert!(!log_has(&s.log, "-> acquiring"), "{}", std::fs::read_to_string(&s.log).unwrap());

    // The witness answers again: the secondary takes over after check_rise
    // passes.
    tb.exec(Node::Secondary, &["nft", "delete", "table", "inet", "witness"]);
    let healed = Instant::now();
    wait_log(&s.log, "fitness: fit: every service check passes", 10 * S);
    wait_log(&s.log, "-> holding", 10 * S);
    println!("secondary took over {:?} after the witness answered again", healed.elapsed());
    assert!(tb.holds(Node::Secondary));
    assert_eq!(tb.who_answers(), "secondary");
}

/// The witness answers (here the default gateway, read from `ip route`:
/// each server's default route points at the witness namespace, which
/// routes nowhere): when the primary dies, the takeover is as usual.
#[test]
fn scenario_witness_reachable_the_takeover_is_as_usual() {
    let Some(mut tb) = Testbed::new() else { return };
    let _witness = Witness::new(&tb);
    for node in [Node::Primary, Node::Secondary] {
        tb.exec(node, &["ip", "route", "add", "default", "via", WITNESS, "dev", "pub0"]);
    }
    let extra = check(&tb, "");
    let (p, s) = tb.start_pair(&extra, &extra);
    let sc = tb.dir.join("s.conf");
    let want = format!("witness (default gateway) {WITNESS} answers ping on pub0");
    let line = wait_passing(&sc, &want, 10 * S);
    println!("secondary: {}", line.trim());

    let w = tb.watch_ownership();
    let died = primary_dies(&tb, &p);
    wait_log(&s.log, "-> acquiring (both-networks-silent)", 10 * S);
    wait_log(&s.log, "-> holding", 10 * S);
    let took = died.elapsed();
    println!("secondary took over {took:?} after the primary died (dead_after 600ms)");
    assert!(took < 5 * S, "{took:?}");
    assert!(tb.holds(Node::Secondary));
    assert_eq!(tb.who_answers(), "secondary");
    assert!(!log_has(&s.log, "NOT taking over"), "{}", std::fs::read_to_string(&s.log).unwrap());
    let mail = tb.wait_mail(&format!("took over {SERVICE} (primary silent on both networks)"), 5 * S);
    assert!(!mail.contains("NOT taking over"), "{mail}");
    let (overlap, _) = w.overlap();
    assert!(overlap < Duration::from_millis(1), "both held the address for {overlap:?}");
}
