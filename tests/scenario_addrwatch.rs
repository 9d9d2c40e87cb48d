//! The daemon watches its addresses (issue 28): a service address removed
//! from the serving node by someone else (`ip addr del`, a flush,
//! NetworkManager) is put back at once, and one added by hand to the node
//! that must not serve it is removed; a second daemon started by mistake
//! never costs the first its address. The real binary runs in network
//! namespaces (tests/common). Delete-to-back times are measured on the
//! kernel's own address events (`ip -ts monitor address`) and printed.
//! Run them one at a time:
//! `cargo test --test scenario_addrwatch -- --test-threads=1 --nocapture`.

mod common;

use common::*;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

const S: Duration = Duration::from_secs(1);
/// The testbed's dead_after (tests/common config).
const DEAD_AFTER: Duration = Duration::from_millis(600);
/// A loss this long after the last put-back is an accident again, put back
/// at once (ten dead_afters, 6 s here, at least 5 s: src/engine/kernel.rs).
const QUIET: Duration = Duration::from_millis(6_500);
/// How long a put-back may take at most on a loaded 2-core machine: far
/// more than it takes (tens of ms), and no more than a takeover would.
const BACK_WITHIN: Duration = Duration::from_secs(2);

/// `ip -ts -o monitor address` in one namespace, written to a file.
struct AddrLog {
    file: PathBuf,
}

impl AddrLog {
    fn start(tb: &mut Testbed, node: Node, name: &str) -> AddrLog {
        let file = tb.dir.join(format!("addrlog-{name}.txt"));
        tb.spawn(node, &common::OBSERVER, &file);
        // Subscribed once a marker on lo shows up.
        let end = Instant::now() + 5 * S;
        loop {
            tb.exec(node, &["ip", "addr", "add", "198.19.255.253/32", "dev", "lo"]);
            std::thread::sleep(Duration::from_millis(10));
            tb.exec(node, &["ip", "addr", "del", "198.19.255.253/32", "dev", "lo"]);
            if std::fs::read_to_string(&file).unwrap_or_default().contains("198.19.255.253/32") {
                break;
            }
            assert!(Instant::now() < end, "ip monitor printed nothing in 5 s");
        }
        AddrLog { file }
    }

    /// (microseconds since midnight, added) for each event of `addr`.
    fn events(&self, addr: &str) -> Vec<(i64, bool)> {
        let needle = format!("inet {addr}/");
        std::fs::read_to_string(&self.file)
            .unwrap_or_default()
            .lines()
            .filter(|l| l.contains(&needle))
            .filter_map(|l| Some((micros(l)?, !l.contains("Deleted"))))
            .collect()
    }
}

/// `[2026-11-25T07:32:55.188906]` as microseconds since midnight.
fn micros(line: &str) -> Option<i64> {
    let t = line.get(12..27)?;
    let h: i64 = t.get(0..2)?.parse().ok()?;
    let m: i64 = t.get(3..5)?.parse().ok()?;
    let s: i64 = t.get(6..8)?.parse().ok()?;
    let us: i64 = t.get(9..15)?.parse().ok()?;
    Some(((h * 60 + m) * 60 + s) * 1_000_000 + us)
}

fn wait_until(what: &str, timeout: Duration, mut cond: impl FnMut() -> bool) -> Duration {
    let start = Instant::now();
    loop {
        if cond() {
            return start.elapsed();
        }
        assert!(start.elapsed() < timeout, "{what}: not after {timeout:?}");
        std::thread::sleep(Duration::from_millis(10));
    }
}

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

/// One removal from outside, as the kernel's events show it.
struct Outage {
    /// From the first removal to the address back for good.
    away: Duration,
    /// How many times the daemon put it back (more than one when the
    /// remover fights, as `ip addr flush` does: it repeats its rounds).
    put_backs: usize,
    /// An upper bound seen from outside: from before `remove` was spawned
    /// (`ip netns exec` included) to the address seen back by polling
    /// every 10 ms. `ip -ts monitor` stamps an event when it reads it, so
    /// `away` can come out short when it reads two at once; the truth lies
    /// between the two.
    outer: Duration,
}

/// Removes the service address `tries` times from `node` with `remove`,
/// each time waiting for it to come back, a quiet spell apart (so that
/// each removal is an accident again, put back at once); returns each
/// outage. `remove` has exited before the wait begins: whatever fight it
/// put up is over once the address is back.
fn remove_and_measure(tb: &mut Testbed, node: Node, tries: usize, remove: &[&str]) -> Vec<Outage> {
    let log = AddrLog::start(tb, node, &format!("{node:?}-{}", remove.join("-").replace('/', "_")));
    let mut out = Vec::new();
    for i in 0..tries {
        if i > 0 {
            std::thread::sleep(QUIET);
        }
        assert!(tb.holds(node), "try {i}: {node:?} does not hold {SERVICE} before the removal");
        let before = log.events(SERVICE).len();
        let start = Instant::now();
        tb.exec(node, remove);
        wait_until(&format!("try {i}: {SERVICE} back on {node:?}"), BACK_WITHIN * 5, || {
            let ev = log.events(SERVICE);
            ev.len() > before && ev.last().is_some_and(|e| e.1) && tb.holds(node)
        });
        let ev = log.events(SERVICE).split_off(before);
        let first_del = ev.iter().find(|e| !e.1).expect("a removal event").0;
        let last_add = ev.last().expect("an add event").0;
        let away = Duration::from_micros((last_add - first_del).max(0) as u64);
        out.push(Outage { away, put_backs: ev.iter().filter(|e| e.1).count(), outer: start.elapsed() });
    }
    out
}

fn show(o: &[Outage]) -> String {
    let list: Vec<String> = o
        .iter()
        .map(|o| match o.put_backs {
            1 => format!("{:.1}", ms(o.away)),
            n => format!("{:.1} ({n} put-backs)", ms(o.away)),
        })
        .collect();
    let outer: Vec<String> = o.iter().map(|o| format!("{:.0}", ms(o.outer))).collect();
    format!(
        "{} ms (median {:.1} ms) by the kernel's events; at most {} ms seen from outside",
        list.join(", "),
        ms(median(o.iter().map(|o| o.away).collect())),
        outer.join(", ")
    )
}

fn mails_with(tb: &Testbed, needle: &str) -> usize {
    tb.mails().iter().filter(|m| m.contains(needle)).count()
}

fn status_json(conf: &Path) -> String {
    let (code, out) = ctl(conf, &["status", "--json"]);
    assert_eq!(code, 0, "status: {out}");
    out
}

#[test]
fn scenario_addrwatch_ip_addr_del_on_the_active_primary_is_put_back() {
    let Some(mut tb) = Testbed::new() else { return };
    let (p, s) = tb.start_pair("", "");
    let conf = tb.dir.join("p.conf");
    let del = ["ip", "addr", "del", &format!("{SERVICE}/24"), "dev", "pub0"];
    let outages = remove_and_measure(&mut tb, Node::Primary, 5, &del);
    eprintln!("addrwatch: ip addr del on the active primary -> back in {}", show(&outages));
    for o in &outages {
        assert_eq!(o.put_backs, 1, "one removal, one put-back");
        assert!(o.away < BACK_WITHIN, "put back after {:?}", o.away);
    }
    // The client is served by the primary; the secondary never moved.
    wait_until("the primary answers", 5 * S, || tb.who_answers() == "primary");
    assert!(!tb.holds(Node::Secondary));
    assert!(!log_has(&s.log, "-> acquiring"), "the secondary took over");
    // Logged with the address, the interface and who removed it; mailed.
    assert!(log_has(&p.log, "active -> acquiring (address-lost)"));
    assert!(log_has(&p.log, &format!("{SERVICE}/24 on pub0")));
    let mail = tb.wait_mail("REMOVED from outside this daemon", 5 * S);
    assert!(mail.contains(&format!("{SERVICE}/24 on pub0")), "{mail}");
    assert!(mail.contains("ipfailoverd release"), "{mail}");
    // Status: active over a kernel that shows the address, and the reason.
    let json = status_json(&conf);
    assert!(json.contains("\"state\":\"active\""), "{json}");
    assert!(json.contains("\"missing\":[]"), "{json}");
    assert!(json.contains("\"reason\":\"address-lost\""), "{json}");
}

#[test]
fn scenario_addrwatch_a_flush_of_the_primarys_public_interface() {
    let Some(mut tb) = Testbed::new() else { return };
    let (p, s) = tb.start_pair("", "");
    let own = "198.18.0.1/24";
    // An operator flushes pub0's IPv4 addresses (meaning to clean up) and
    // then puts the host's own address back by hand: the daemon puts the
    // service address back; the host's own address is the operator's job.
    // `ip addr flush` repeats its rounds while it finds addresses, so it
    // may remove a put-back copy again: the next put-back then waits
    // dead_after, then twice that (src/engine/kernel.rs), and flush gives
    // up first. Back, for good, well within a takeover's time plus those
    // waits.
    let outages =
        remove_and_measure(&mut tb, Node::Primary, 3, &["ip", "-4", "addr", "flush", "dev", "pub0"]);
    eprintln!(
        "addrwatch: ip -4 addr flush dev pub0 on the active primary -> service address back in {}",
        show(&outages)
    );
    for o in &outages {
        assert!(o.away < BACK_WITHIN + 4 * DEAD_AFTER, "back for good after {:?}", o.away);
    }
    assert!(!tb.exec(Node::Primary, &["ip", "-4", "-o", "addr", "show", "dev", "pub0"]).contains(own));
    tb.exec(Node::Primary, &["ip", "addr", "add", own, "dev", "pub0"]);
    wait_until("the primary answers", 5 * S, || tb.who_answers() == "primary");
    // The secondary heard the primary throughout (the private network) and
    // kept its hands off.
    std::thread::sleep(2 * DEAD_AFTER);
    assert!(!tb.holds(Node::Secondary));
    assert!(!log_has(&s.log, "-> acquiring"), "the secondary took over");
    assert!(log_has(&p.log, "(address-lost)"));
    assert!(mails_with(&tb, "REMOVED from outside this daemon") >= 1);
}

#[test]
fn scenario_addrwatch_ip_addr_del_on_the_holding_secondary_is_put_back() {
    let Some(mut tb) = Testbed::new() else { return };
    let (_p, s) = tb.start_pair("", "");
    tb.fall_off(Node::Primary);
    wait_log(&s.log, "acquiring -> holding", 10 * S);
    let del = ["ip", "addr", "del", &format!("{SERVICE}/24"), "dev", "pub0"];
    let outages = remove_and_measure(&mut tb, Node::Secondary, 3, &del);
    eprintln!("addrwatch: ip addr del on the holding secondary -> back in {}", show(&outages));
    for o in &outages {
        assert_eq!(o.put_backs, 1, "one removal, one put-back");
        assert!(o.away < BACK_WITHIN, "put back after {:?}", o.away);
    }
    wait_until("the secondary answers", 5 * S, || tb.who_answers() == "secondary");
    assert!(log_has(&s.log, "holding -> acquiring (address-lost)"));
    let mail = tb.wait_mail("REMOVED from outside this daemon", 5 * S);
    assert!(mail.contains(&format!("{SERVICE}/24 on pub0")), "{mail}");
    // A put-back is no takeover: no "took over" mail for it.
    let took_over = tb.mails().iter().filter(|m| m.contains("Subject:") && m.contains("took over")).count();
    assert_eq!(took_over, 1, "one takeover mail, for the takeover itself");
}

#[test]
fn scenario_addrwatch_an_address_added_by_hand_to_the_watching_secondary_is_removed() {
    let Some(mut tb) = Testbed::new() else { return };
    let (p, s) = tb.start_pair("", "");
    let log = AddrLog::start(&mut tb, Node::Secondary, "s-added");
    tb.exec(Node::Secondary, &["ip", "addr", "add", &format!("{SERVICE}/24"), "dev", "pub0"]);
    wait_until("the secondary removed it", 5 * S, || {
        let ev = log.events(SERVICE);
        ev.len() == 2 && ev[0].1 && !ev[1].1 && !tb.holds(Node::Secondary)
    });
    // Added, then removed: how long two hosts had it.
    let ev = log.events(SERVICE);
    let (added, removed) = (ev.iter().find(|e| e.1), ev.iter().find(|e| !e.1));
    let (Some(a), Some(r)) = (added, removed) else { panic!("events {ev:?}") };
    let both = Duration::from_micros((r.0 - a.0).max(0) as u64);
    eprintln!(
        "addrwatch: address added by hand to the watching secondary -> removed after {:.1} ms",
        ms(both)
    );
    assert!(both < BACK_WITHIN, "two hosts had {SERVICE} for {both:?}");
    assert!(log_has(&s.log, &format!("{SERVICE}/24 on pub0")));
    assert!(log_has(&s.log, "(address-added)"));
    let mail = tb.wait_mail("added from outside this daemon: REMOVED", 5 * S);
    assert!(mail.contains(&format!("{SERVICE}/24 on pub0")), "{mail}");
    // Still watching; the primary still serves and never lost its address.
    let json = status_json(&tb.dir.join("s.conf"));
    assert!(json.contains("\"state\":\"watching\""), "{json}");
    assert!(tb.holds(Node::Primary));
    wait_until("the primary answers", 5 * S, || tb.who_answers() == "primary");
    assert!(!log_has(&p.log, "address-lost"));
}

#[test]
fn scenario_addrwatch_a_second_daemon_started_by_mistake_refuses_before_touching_the_address() {
    let Some(mut tb) = Testbed::new() else { return };
    let (p, _s) = tb.start_pair("", "");
    let log = AddrLog::start(&mut tb, Node::Primary, "p-second");
    // The same configuration again: the pidfile is locked.
    let bin = daemon_bin();
    let conf = tb.dir.join("p.conf");
    let second = tb.dir.join("p-second.log");
    let pid = tb.spawn(Node::Primary, &[bin.to_str().unwrap(), "-d", "-f", conf.to_str().unwrap()], &second);
    let code = tb.wait_exit(pid, 10 * S);
    assert_eq!(code, Some(1), "{}", std::fs::read_to_string(&second).unwrap_or_default());
    assert!(log_has(&second, "pidfile"), "{}", std::fs::read_to_string(&second).unwrap_or_default());
    // A copy with its own files but the same port and address: the port.
    let conf2 = tb.config_as(Node::Primary, "p2", SERVICE, "");
    let third = tb.dir.join("p2.log");
    let pid = tb.spawn(Node::Primary, &[bin.to_str().unwrap(), "-d", "-f", conf2.to_str().unwrap()], &third);
    let code = tb.wait_exit(pid, 10 * S);
    assert_eq!(code, Some(1), "{}", std::fs::read_to_string(&third).unwrap_or_default());
    assert!(log_has(&third, "is in use"), "{}", std::fs::read_to_string(&third).unwrap_or_default());
    // Neither touched the address: no event at all on the primary.
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(log.events(SERVICE), vec![], "the address moved on the primary");
    assert!(tb.holds(Node::Primary));
    assert_eq!(tb.who_answers(), "primary");
    assert!(!log_has(&p.log, "address-lost"));
}
