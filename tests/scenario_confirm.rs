//! Issue 34, item 1: client-visible confirmation. After a takeover the new
//! holder watches for the first packet another host sends to the service
//! address (ipfailoverd(8), CLIENT CONFIRMATION). With a client probing,
//! the takeover mail names that packet, its sender and its delay; with a
//! silent client, the mail goes after at most a second without it, and a
//! follow-up says that none came within the watch and that the
//! announcements were repeated; a later move ends a running watch. The
//! real binary runs in network namespaces; see tests/common.

mod common;

use common::*;
use std::time::{Duration, Instant};

const S: Duration = Duration::from_secs(1);

/// The primary dies as a crashed host does: its daemon killed, its service
/// address gone with it.
fn primary_dies(tb: &Testbed, p: &Daemon) -> Instant {
    tb.signal(p.pid, "KILL");
    let at = Instant::now();
    tb.exec(Node::Primary, &["ip", "addr", "del", &format!("{SERVICE}/24"), "dev", "pub0"]);
    at
}

/// The number in milliseconds before "ms" in `text` after `after`.
fn ms_after(text: &str, after: &str) -> f64 {
    let rest = &text[text.find(after).unwrap_or_else(|| panic!("no {after:?} in {text}")) + after.len()..];
    let num: String = rest.chars().take_while(|c| c.is_ascii_digit() || *c == '.').collect();
    let unit = &rest[num.len()..];
    let v: f64 = num.parse().unwrap_or_else(|_| panic!("no number after {after:?} in {text}"));
    if unit.starts_with("ms") {
        v
    } else {
        v * 1000.0
    }
}

/// The names of `pid`'s threads.
fn threads(tb: &Testbed, pid: u32) -> Vec<String> {
    let _ = tb;
    std::fs::read_dir(format!("/proc/{pid}/task"))
        .map(|d| {
            d.flatten()
                .filter_map(|t| std::fs::read_to_string(t.path().join("comm")).ok())
                .map(|c| c.trim().to_string())
                .collect()
        })
        .unwrap_or_default()
}

/// A client probes the service address every 5 ms; the primary dies; the
/// secondary's takeover mail names the first client packet, who sent it
/// and how long after the add it came; log and status say the same.
#[test]
fn scenario_confirm_takeover_mail_names_the_first_client_packet() {
    let Some(mut tb) = Testbed::new() else { return };
    let (p, s) = tb.start_pair("", "");
    let tool = netool_bin();
    let target = format!("{SERVICE}:7777");
    let probe_log = tb.dir.join("probe.out");
    tb.spawn(Node::Client, &[tool.to_str().unwrap(), "probe", &target, "5", "15000"], &probe_log);
    std::thread::sleep(S / 2);

    let died = primary_dies(&tb, &p);
    wait_log(&s.log, "-> holding", 10 * S);
    let held = died.elapsed();
    let mail = tb.wait_mail(&format!("took over {SERVICE} (primary silent on both networks)"), 5 * S);
    let mailed = died.elapsed();
    println!("{mail}");
    let line = mail.lines().find(|l| l.starts_with("Clients: ")).unwrap_or_else(|| panic!("{mail}"));
    assert!(line.starts_with("Clients: first client packet "), "{mail}");
    assert!(line.contains("after the address was added, from 198.18.0.100 ("), "{line}");
    assert!(line.contains(&format!(" for {SERVICE} on pub0)")), "{line}");
    let delay = ms_after(line, "first client packet ");
    println!(
        "holding {held:?} after the primary died; mail {mailed:?}; first client packet {delay:.1} ms after the add"
    );
    assert!(delay < 5000.0, "a client probing every 5 ms took {delay} ms");
    // The log line, and status in text and JSON.
    wait_log(&s.log, "first client packet ", 5 * S);
    let sc = tb.dir.join("s.conf");
    let (code, text) = ctl(&sc, &["status"]);
    assert_eq!(code, 0, "{text}");
    assert!(text.contains("clients:   after move "), "{text}");
    assert!(text.contains("first client packet "), "{text}");
    let (code, json) = ctl(&sc, &["status", "--json"]);
    assert_eq!(code, 0, "{json}");
    assert!(json.contains("\"confirmation\":{\"move\":"), "{json}");
    assert!(json.contains("\"state\":\"seen\""), "{json}");
    assert!(json.contains("\"from\":\"198.18.0.100\""), "{json}");
    let (code, prom) = ctl(&sc, &["status", "--prometheus"]);
    assert_eq!(code, 0, "{prom}");
    assert!(prom.contains("ipfailoverd_first_client_packet_seconds_count 1\n"), "{prom}");
    assert!(prom.contains("ipfailoverd_moves_no_client_total 0\n"), "{prom}");
    // One mail for the takeover: no follow-up when the first had it.
    std::thread::sleep(S);
    let follow = tb.mails().into_iter().filter(|m| m.contains("client packet for")).count();
    assert_eq!(follow, 0, "a follow-up mail although the takeover mail had the answer");
    assert!(tb.holds(Node::Secondary));
}

/// Nobody sends to the service address after the takeover: the takeover
/// mail goes within seconds saying no client was seen yet, and a
/// follow-up mail at the end of the watch (10 s) says that none came and
/// that the addresses were announced again three times.
#[test]
fn scenario_confirm_silent_client_mail_says_none_and_announcements_repeated() {
    let Some(mut tb) = Testbed::new() else { return };
    let (p, s) = tb.start_pair("", "");
    let died = primary_dies(&tb, &p);
    wait_log(&s.log, "-> holding", 10 * S);
    let holding = Instant::now();
    let mail = tb.wait_mail(&format!("took over {SERVICE} (primary silent on both networks)"), 5 * S);
    let mailed = holding.elapsed();
    println!("{mail}");
    println!("takeover mail {mailed:?} after '-> holding' ({:?} after the primary died)", died.elapsed());
    assert!(mailed < 5 * S, "the takeover mail waited {mailed:?}");
    assert!(
        mail.contains("Clients: no packet from another host to these addresses yet (1.0s after the move)"),
        "{mail}"
    );
    let follow = tb.wait_mail(&format!("no client packet for {SERVICE} within 10.0s"), 20 * S);
    println!("{follow}");
    println!("follow-up mail {:?} after '-> holding'", holding.elapsed());
    assert!(follow.contains("announced again 3 time(s), at 1.0s, 2.0s, 4.0s after the add"), "{follow}");
    assert!(follow.contains("the service may simply be idle"), "{follow}");
    wait_log(&s.log, "no client packet within 10.0s", 5 * S);
    let sc = tb.dir.join("s.conf");
    let (_, json) = ctl(&sc, &["status", "--json"]);
    assert!(json.contains("\"state\":\"none\",\"watched_ms\":10000,\"repeats\":3}"), "{json}");
    let (_, prom) = ctl(&sc, &["status", "--prometheus"]);
    assert!(prom.contains("ipfailoverd_moves_no_client_total 1\n"), "{prom}");
    assert!(prom.contains("ipfailoverd_first_client_packet_seconds_count 0\n"), "{prom}");
    assert!(!threads(&tb, s.pid).iter().any(|t| t == "client-watch"), "the watch thread is still there");
}

/// A later move ends a running watch: the primary comes back within the
/// secondary's watch, the give-back ends it (logged, no follow-up mail
/// about it), and no watch thread is left on the secondary.
#[test]
fn scenario_confirm_a_later_move_ends_the_watch() {
    let Some(mut tb) = Testbed::new() else { return };
    let (p, s) = tb.start_pair("", "");
    primary_dies(&tb, &p);
    wait_log(&s.log, "-> holding", 10 * S);
    assert!(threads(&tb, s.pid).iter().any(|t| t == "client-watch"), "{:?}", threads(&tb, s.pid));
    let p2 = tb.start_daemon(Node::Primary, "");
    let back = Instant::now();
    wait_log(&p2.log, "-> active", 10 * S);
    wait_log(&s.log, "before a later move ended the watch", 5 * S);
    println!("watch ended {:?} after the primary was restarted", back.elapsed());
    std::thread::sleep(S / 2);
    assert!(!threads(&tb, s.pid).iter().any(|t| t == "client-watch"), "{:?}", threads(&tb, s.pid));
    let follow = tb.mails().into_iter().filter(|m| m.contains("client packet for")).count();
    assert_eq!(follow, 0, "a follow-up mail for a watch a later move ended");
    assert!(tb.holds(Node::Primary));
}

/// IPv6: the client probes only fd00:18::10; the takeover mail names its
/// first packet there (a neighbour solicitation for it or a packet to it).
#[test]
fn scenario_confirm_ipv6_client_packet() {
    const SERVICE6: &str = "fd00:18::10";
    let Some(mut tb) = Testbed::new() else { return };
    let v6 = format!("address = pub0:{SERVICE6}/64");
    let (p, s) = tb.start_pair(&v6, &v6);
    let tool = netool_bin();
    let target = format!("[{SERVICE6}]:7777");
    let probe_log = tb.dir.join("probe6.out");
    tb.spawn(Node::Client, &[tool.to_str().unwrap(), "probe", &target, "5", "15000"], &probe_log);
    std::thread::sleep(S / 2);
    let died = primary_dies(&tb, &p);
    tb.exec(Node::Primary, &["ip", "addr", "del", &format!("{SERVICE6}/64"), "dev", "pub0"]);
    wait_log(&s.log, "-> holding", 10 * S);
    let mail = tb.wait_mail("took over ", 5 * S);
    println!("{mail}");
    let line = mail.lines().find(|l| l.starts_with("Clients: ")).unwrap_or_else(|| panic!("{mail}"));
    assert!(line.starts_with("Clients: first client packet "), "{mail}");
    assert!(line.contains("after the address was added, from fd00:18::100 ("), "{line}");
    assert!(line.contains(&format!(" for {SERVICE6} on pub0)")), "{line}");
    println!(
        "IPv6: first client packet {:.1} ms after the add ({:?} after the primary died)",
        ms_after(line, "first client packet "),
        died.elapsed()
    );
}
