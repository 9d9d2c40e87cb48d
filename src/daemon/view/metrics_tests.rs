use super::*;
use crate::config::{IfName, PairName, ServiceAddr};
use crate::daemon::checks::board::Verdict;
use crate::daemon::checks::View;
use crate::daemon::view::stats::NetStats;
use crate::daemon::view::status::NetView;
use crate::engine::Held;

fn leak<T>(t: T) -> &'static T {
    Box::leak(Box::new(t))
}

/// A secondary that took over after the primary fell silent.
pub(crate) fn sample(now: Instant) -> Sample {
    let mut public = NetStats { accepted: 40, legacy: 2, ..Default::default() };
    public.reject(Reject::BadMac, 3);
    let addr = |a: &str| ServiceAddr {
        interface: IfName::new("eth0").unwrap(),
        addr: a.parse().unwrap(),
        prefix: 24,
    };
    let mut counters = Counters::default();
    counters.transition(Reason::BothNetworksSilent);
    counters.transition(Reason::Acquired);
    counters.anomaly(crate::config::NetId::Private);
    counters.moved(
        crate::config::Role::Secondary,
        Direction::Acquire,
        Reason::BothNetworksSilent,
        Held::All,
        false,
        Duration::from_millis(30),
    );
    counters.mailed(counters::Mailed::HandedOver);
    let snap = Snapshot {
        role: "secondary",
        pair: Some(leak(PairName { name: "web \"1\"".into(), derived: false })),
        pair_id: crate::proto::PairId(7),
        pair_mismatch: None,
        held_off: None,
        state: "holding".into(),
        since: Duration::from_secs(5),
        reason: "acquired".into(),
        networks: vec![
            NetView {
                name: "public",
                interface: "eth0",
                link_up: true,
                last_heard: Some(Duration::from_millis(2500)),
                stats: leak(public),
            },
            NetView {
                name: "private",
                interface: "eth1",
                link_up: false,
                last_heard: None,
                stats: leak(NetStats::default()),
            },
        ],
        addresses: vec![(leak(addr("198.18.0.10")), true), (leak(addr("198.18.0.11")), false)],
        engine_holding: Some(true),
        moving: false,
        peer_flags: Some(Flags(Flags::UNFIT)),
        peer_left: false,
        peer_generation: None,
        timing: crate::engine::Timing::every(Duration::from_secs(1)),
        history: Vec::new(),
        fit: true,
        checks: leak(vec![View { name: "web".into(), verdict: Verdict::Passing, streak: 2, last: None }]),
        counters: leak(counters),
        now,
    };
    Sample::of(&snap)
}

fn line<'a>(text: &'a str, start: &str) -> &'a str {
    text.lines().find(|l| l.starts_with(start)).unwrap_or_else(|| panic!("no line {start:?} in\n{text}"))
}

#[test]
fn series_and_values() {
    let now = Instant::now();
    let t = render(&sample(now), now);
    assert!(t.starts_with("# HELP ipfailoverd_build_info "), "{t}");
    assert_eq!(
        line(&t, "ipfailoverd_build_info{"),
        format!("ipfailoverd_build_info{{version=\"{}\"}} 1", env!("CARGO_PKG_VERSION"))
    );
    assert_eq!(
        line(&t, "ipfailoverd_role{"),
        "ipfailoverd_role{role=\"secondary\",pair=\"web \\\"1\\\"\"} 1"
    );
    assert_eq!(line(&t, "ipfailoverd_state{state=\"holding\"}"), "ipfailoverd_state{state=\"holding\"} 1");
    assert_eq!(line(&t, "ipfailoverd_state{state=\"watching\"}"), "ipfailoverd_state{state=\"watching\"} 0");
    assert_eq!(t.matches("\nipfailoverd_state{").count(), State::ALL.len());
    assert_eq!(
        line(&t, "ipfailoverd_address_held{address=\"198.18.0.10\""),
        "ipfailoverd_address_held{address=\"198.18.0.10\",interface=\"eth0\"} 1"
    );
    assert!(t.contains("ipfailoverd_address_held{address=\"198.18.0.11\",interface=\"eth0\"} 0\n"));
    assert!(t.contains("ipfailoverd_heartbeat_age_seconds{network=\"public\"} 2.5\n"), "{t}");
    assert!(!t.contains("ipfailoverd_heartbeat_age_seconds{network=\"private\"}"), "never heard: no age");
    assert!(t.contains("ipfailoverd_peer_heard{network=\"public\"} 1\n"));
    assert!(t.contains("ipfailoverd_peer_heard{network=\"private\"} 0\n"));
    assert!(t.contains("ipfailoverd_link_up{network=\"private\",interface=\"eth1\"} 0\n"));
    assert!(t.contains("ipfailoverd_heartbeats_accepted_total{network=\"public\",protocol=\"v1\"} 40\n"));
    assert!(t.contains("ipfailoverd_heartbeats_accepted_total{network=\"public\",protocol=\"apple\"} 2\n"));
    assert!(t.contains("ipfailoverd_heartbeats_rejected_total{network=\"public\",reason=\"bad-mac\"} 3\n"));
    assert!(t.contains("ipfailoverd_heartbeats_rejected_total{network=\"private\",reason=\"replay\"} 0\n"));
    assert!(t.contains("ipfailoverd_transitions_total{reason=\"both-networks-silent\"} 1\n"));
    assert!(t.contains("ipfailoverd_transitions_total{reason=\"peer-lost\"} 0\n"), "every reason from 0");
    assert!(t.contains("ipfailoverd_anomalies_total{network=\"private\"} 1\n"));
    assert!(t.contains("ipfailoverd_takeovers_total 1\n"));
    assert!(t.contains("ipfailoverd_givebacks_total 0\n"));
    assert!(t.contains("ipfailoverd_moves_total{direction=\"acquire\",outcome=\"done\"} 1\n"));
    assert!(t.contains("ipfailoverd_moves_total{direction=\"release\",outcome=\"failed\"} 0\n"));
    assert!(t.contains("ipfailoverd_move_duration_seconds_bucket{direction=\"acquire\",le=\"0.025\"} 0\n"));
    assert!(t.contains("ipfailoverd_move_duration_seconds_bucket{direction=\"acquire\",le=\"0.05\"} 1\n"));
    assert!(t.contains("ipfailoverd_move_duration_seconds_bucket{direction=\"acquire\",le=\"+Inf\"} 1\n"));
    assert!(t.contains("ipfailoverd_move_duration_seconds_sum{direction=\"acquire\"} 0.03\n"));
    assert!(t.contains("ipfailoverd_move_duration_seconds_count{direction=\"release\"} 0\n"));
    assert!(t.contains("ipfailoverd_hooks_run_total{stage=\"preacq\"} 0\n"));
    assert!(t.contains("ipfailoverd_hooks_timed_out_total{stage=\"test\"} 0\n"));
    assert!(t.contains("ipfailoverd_mails_handed_over_total 1\n"));
    assert!(t.contains("ipfailoverd_mails_dropped_total 0\n"));
    assert!(t.contains("ipfailoverd_mails_retried_total 0\n"));
    assert!(t.contains("ipfailoverd_fit 1\n"));
    assert!(t.contains("ipfailoverd_peer_fit 0\n"));
    assert!(t.contains("ipfailoverd_check_passing{check=\"web\"} 1\n"));
    assert!(!t.contains("\nipfailoverd_peer_generation_age_seconds "), "no v1 datagram: no generation");
    let mut s = sample(now);
    s.peer_generation_age = Some(3600.5);
    let t = render(&s, now + Duration::from_millis(1500));
    assert!(t.contains("\nipfailoverd_peer_generation_age_seconds 3602\n"), "{t}");
}

#[test]
fn ages_are_carried_to_the_scrape() {
    let taken = Instant::now();
    let t = render(&sample(taken), taken + Duration::from_millis(600));
    assert!(t.contains("ipfailoverd_heartbeat_age_seconds{network=\"public\"} 3.1\n"), "{t}");
    assert!(t.contains("ipfailoverd_peer_heard{network=\"public\"} 0\n"), "3.1 s > dead_after 3 s");
    assert!(t.contains("ipfailoverd_state_seconds 5.6\n"), "{t}");
}

/// The format's rules that Prometheus enforces: every sample belongs to
/// the family announced by the latest HELP and TYPE, each family once,
/// names and label names of the allowed characters, counters end in
/// `_total`, histograms have `le` buckets ending in +Inf.
#[test]
fn exposition_format_rules() {
    let now = Instant::now();
    let t = render(&sample(now), now);
    assert!(t.ends_with('\n'));
    let mut seen = std::collections::BTreeSet::new();
    let (mut family, mut kind) = (String::new(), String::new());
    let name_ok = |n: &str| {
        n.starts_with("ipfailoverd_")
            && n.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
    };
    for l in t.lines() {
        if let Some(rest) = l.strip_prefix("# HELP ") {
            family = rest.split(' ').next().unwrap().to_string();
            assert!(name_ok(&family), "{l}");
            assert!(seen.insert(family.clone()), "{family} twice");
            continue;
        }
        if let Some(rest) = l.strip_prefix("# TYPE ") {
            let (name, k) = rest.split_once(' ').unwrap();
            assert_eq!(name, family, "TYPE right after its HELP");
            kind = k.to_string();
            assert!(["gauge", "counter", "histogram"].contains(&k), "{l}");
            assert_eq!(kind == "counter", family.ends_with("_total"), "{family}");
            continue;
        }
        let name = l.split(['{', ' ']).next().unwrap();
        let base = match kind.as_str() {
            "histogram" => {
                ["_bucket", "_sum", "_count"].iter().find_map(|s| name.strip_suffix(s)).unwrap_or(name)
            }
            _ => name,
        };
        assert_eq!(base, family, "sample outside its family: {l}");
        let value = l.rsplit(' ').next().unwrap();
        assert!(value == "+Inf" || value.parse::<f64>().is_ok(), "{l}");
        if let Some(labels) = l.split_once('{').map(|(_, r)| r.rsplit_once('}').unwrap().0) {
            for pair in labels.split("\",").filter(|p| !p.is_empty()) {
                let (k, v) = pair.split_once('=').unwrap();
                assert!(k.bytes().all(|b| b.is_ascii_lowercase() || b == b'_'), "{l}");
                assert!(v.starts_with('"'), "{l}");
            }
        }
    }
    assert!(t.contains("le=\"+Inf\""));
}

#[test]
fn label_values_and_help_are_escaped() {
    assert_eq!(escape("a\\b\"c\nd"), "a\\\\b\\\"c\\nd");
    let mut o = Out(String::new());
    o.family("x_total", "counter", "one\\two\nthree");
    o.sample("x_total", &[("check", "q\"")], 1u64);
    assert_eq!(
        o.0,
        "# HELP x_total one\\\\two\\nthree\n# TYPE x_total counter\nx_total{check=\"q\\\"\"} 1\n"
    );
    assert_eq!(f64::INFINITY.text(), "+Inf");
    assert_eq!(0.25f64.text(), "0.25");
    assert_eq!(3f64.text(), "3");
}

/// Issue 34: the delay to the first client packet after a move, and the
/// moves after which no client was seen; a watch that reports before its
/// move does is not undone by the move's "watching".
#[test]
fn first_client_packet_series() {
    use crate::daemon::mover::confirm::{Confirmation, Found};
    let now = Instant::now();
    let mut s = sample(now);
    let t = render(&s, now);
    assert!(t.contains("# TYPE ipfailoverd_first_client_packet_seconds histogram\n"), "{t}");
    assert!(t.contains("ipfailoverd_first_client_packet_seconds_count 0\n"), "{t}");
    assert!(t.contains("ipfailoverd_moves_no_client_total 0\n"), "{t}");
    let at = std::time::SystemTime::now();
    let c = |id, found| Confirmation { id, found, repeats: 0, at };
    let client = Found::Client {
        delay: Duration::from_millis(3),
        from: "198.18.0.100".parse().unwrap(),
        to: "198.18.0.10".parse().unwrap(),
        kind: crate::sys::clientwatch::Kind::Ipv4,
        interface: "eth0".into(),
    };
    s.counters.confirm.note(c(crate::engine::MoveId(1), client.clone()));
    s.counters.confirm.note(c(crate::engine::MoveId(1), Found::Watching { since: now }));
    assert_eq!(s.counters.confirm.last.as_ref().map(|l| &l.found), Some(&client));
    s.counters.confirm.note(c(crate::engine::MoveId(2), Found::Watching { since: now }));
    s.counters.confirm.note(c(crate::engine::MoveId(2), Found::Nobody { watched: Duration::from_secs(10) }));
    let t = render(&s, now);
    assert!(t.contains("ipfailoverd_first_client_packet_seconds_bucket{le=\"0.002\"} 0\n"), "{t}");
    assert!(t.contains("ipfailoverd_first_client_packet_seconds_bucket{le=\"0.005\"} 1\n"), "{t}");
    assert!(t.contains("ipfailoverd_first_client_packet_seconds_bucket{le=\"+Inf\"} 1\n"), "{t}");
    assert!(t.contains("ipfailoverd_first_client_packet_seconds_sum 0.003\n"), "{t}");
    assert!(t.contains("ipfailoverd_moves_no_client_total 1\n"), "{t}");
}
