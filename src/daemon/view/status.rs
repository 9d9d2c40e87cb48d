//! `ipfailoverd status`: the truth about this node, as text for people and
//! as stable JSON for scripts (documented in ipfailoverd.8).

use super::counters::Counters;
use super::stats::NetStats;
use crate::config::ServiceAddr;
use crate::daemon::checks::View;
use crate::engine::Transition;
use crate::proto::Flags;
use crate::runner::Exit;
use std::fmt::Write;
use std::time::{Duration, Instant, SystemTime};

pub(in crate::daemon) struct NetView<'a> {
    pub name: &'static str,
    pub interface: &'a str,
    pub link_up: bool,
    pub last_heard: Option<Duration>,
    pub stats: &'a NetStats,
}

pub(in crate::daemon) struct Snapshot<'a> {
    pub role: &'static str,
    /// The pair's name as taken at start (`None`: unnamed) and its id.
    pub pair: Option<&'a crate::config::PairName>,
    pub pair_id: crate::proto::PairId,
    /// The peer's address sends authentic datagrams of another pair: how
    /// long ago, from where, that pair's id.
    pub pair_mismatch: Option<(Duration, std::net::IpAddr, crate::proto::PairId)>,
    pub state: String,
    /// A watching secondary whose primary is silent on both networks but
    /// that does not take over: for how long, and why. Shown as the state
    /// `primary-silent` (`watching` means heard on both networks).
    pub held_off: Option<(Duration, &'static str)>,
    pub since: Duration,
    pub reason: String,
    pub networks: Vec<NetView<'a>>,
    /// Every service address, and whether the kernel shows it here.
    pub addresses: Vec<(&'a ServiceAddr, bool)>,
    /// Whether the engine believes this node holds the addresses (`None`:
    /// a static primary, whose addresses the OS owns), and whether a move
    /// is under way (the kernel is then half-way).
    pub engine_holding: Option<bool>,
    pub moving: bool,
    pub peer_flags: Option<Flags>,
    /// The peer's newest datagram was its goodbye (its flags are history).
    pub peer_left: bool,
    /// The generation of the peer's latest accepted v1 datagram.
    pub peer_generation: Option<crate::proto::Generation>,
    /// The periods in force: how long the peer may be silent on a
    /// network before it counts as down (`Timing::heard_within`).
    pub timing: crate::engine::Timing,
    pub history: Vec<(SystemTime, &'a Transition)>,
    /// This node's fitness and its service checks (docs/design.md §9).
    pub fit: bool,
    pub checks: &'a [View],
    /// Transitions, moves, hooks and mails so far (for the metrics).
    pub counters: &'a Counters,
    /// When the snapshot was taken (for the age of each check's last run).
    pub now: Instant,
}

impl Snapshot<'_> {
    /// The state as `status` names it, since when, and why: the engine's,
    /// except for a watching secondary whose primary is silent on both
    /// networks and that does not take over (`primary-silent`).
    fn shown_state(&self) -> (String, Duration, String) {
        match self.held_off {
            Some((silent, why)) => ("primary-silent".into(), silent, format!("not taking over: {why}")),
            None => (self.state.clone(), self.since, self.reason.clone()),
        }
    }
}

const FLAG_NAMES: [(u16, &str); 9] = [
    (Flags::HOLDING, "holding"),
    (Flags::PUBLIC_UP, "public-up"),
    (Flags::PRIVATE_UP, "private-up"),
    (Flags::HEARS_PUBLIC, "hears-public"),
    (Flags::HEARS_PRIVATE, "hears-private"),
    (Flags::ADDRESS_FREE, "address-free"),
    (Flags::STATIC, "static"),
    (Flags::MANUAL, "manual"),
    // The peer's service checks fail (docs/design.md §9).
    (Flags::UNFIT, "unfit"),
];

pub(crate) fn flag_names(f: Flags) -> Vec<&'static str> {
    FLAG_NAMES.iter().filter(|(b, _)| f.has(*b)).map(|(_, n)| *n).collect()
}

fn ms(d: Duration) -> u128 {
    d.as_millis()
}

impl Snapshot<'_> {
    /// `interface:address/prefix` of each address the kernel shows here.
    fn holding(&self) -> Vec<String> {
        self.addresses.iter().filter(|(_, held)| *held).map(|(a, _)| a.to_string()).collect()
    }

    fn configured(&self) -> Vec<String> {
        self.addresses.iter().map(|(a, _)| a.to_string()).collect()
    }

    /// Where the engine's belief and the kernel disagree, outside a move:
    /// the addresses the engine holds but the kernel does not show, and
    /// those the kernel shows although the engine holds nothing.
    fn disagreement(&self) -> (Vec<String>, Vec<String>) {
        let pick = |present: bool| -> Vec<String> {
            self.addresses.iter().filter(|(_, held)| *held == present).map(|(a, _)| a.to_string()).collect()
        };
        match self.engine_holding {
            _ if self.moving => (Vec::new(), Vec::new()),
            Some(true) => (pick(false), Vec::new()),
            Some(false) => (Vec::new(), pick(true)),
            None => (Vec::new(), Vec::new()),
        }
    }
}

pub(in crate::daemon) fn text(s: &Snapshot) -> String {
    let mut o = String::new();
    let secs = crate::timefmt::secs;
    let _ = writeln!(o, "role:      {}", s.role);
    pair_text(&mut o, s);
    let (missing, unexpected) = s.disagreement();
    // Never a bare "active" or "holding" over a kernel that lacks the
    // addresses: the state line itself says so.
    let kernel = match missing.len() {
        0 => String::new(),
        n => format!("; kernel: MISSING {n} of {}", s.addresses.len()),
    };
    let (state, since, reason) = s.shown_state();
    let _ = writeln!(o, "state:     {state} for {} ({reason}){kernel}", secs(since));
    network_text(&mut o, s);
    let holding = s.holding();
    let _ = writeln!(o, "holding:   {}", if holding.is_empty() { "none".into() } else { holding.join(", ") });
    if !missing.is_empty() {
        let _ = writeln!(
            o,
            "kernel:    MISSING {}: this node should serve them but the kernel does not show them \
             (removed from outside this daemon; being put back)",
            missing.join(", ")
        );
    }
    if !unexpected.is_empty() {
        let _ = writeln!(
            o,
            "kernel:    UNEXPECTED {}: on this node although it does not hold them \
             (added from outside this daemon; being removed)",
            unexpected.join(", ")
        );
    }
    let _ = writeln!(o, "addresses: {}", s.configured().join(", "));
    let peer = match s.peer_flags {
        _ if s.peer_left => "goodbye: it stopped on purpose, holding nothing".to_string(),
        Some(f) => flag_names(f).join(" "),
        None => "never heard".into(),
    };
    let _ = writeln!(o, "peer says: {peer}");
    check_text(&mut o, s);
    confirm_text(&mut o, s);
    mail_text(&mut o, s);
    if !s.history.is_empty() {
        let _ = writeln!(o, "last transitions:");
        for (at, t) in &s.history {
            let when = crate::timefmt::utc_iso8601(*at);
            let _ = writeln!(o, "  {when} {} -> {} ({}) {}", t.from, t.to, t.reason, t.detail);
        }
    }
    o
}

/// The pair's name and id, and a mismatch with the peer's.
fn pair_text(o: &mut String, s: &Snapshot) {
    let secs = crate::timefmt::secs;
    let id = crate::proto::pair::hex(s.pair_id);
    let _ = match s.pair {
        Some(p) if p.derived => writeln!(o, "pair:      {} (id {id}, derived at start)", p.name),
        Some(p) => writeln!(o, "pair:      {} (id {id})", p.name),
        None => writeln!(o, "pair:      unnamed (id {id}: other pairs cannot be told apart)"),
    };
    if let Some((ago, from, id)) = s.pair_mismatch {
        let _ = writeln!(
            o,
            "           MISMATCH: the peer at {from} says pair id {} ({} ago): the two ignore each other; \
             set the same pair = NAME on both",
            crate::proto::pair::hex(id),
            secs(ago)
        );
    }
}

/// One line per network: link, the peer last heard, datagrams counted.
fn network_text(o: &mut String, s: &Snapshot) {
    let secs = crate::timefmt::secs;
    for n in &s.networks {
        let heard = n.last_heard.map(|d| format!("{} ago", secs(d))).unwrap_or_else(|| "never".into());
        let rejected: Vec<String> =
            n.stats.rejected.iter().map(|(r, c)| format!("{}={c}", r.as_str())).collect();
        let _ = writeln!(
            o,
            "{:<8}   {} link {}, peer last heard {heard}, accepted {}{}, rejected {}{}",
            format!("{}:", n.name),
            n.interface,
            if n.link_up { "up" } else { "down" },
            n.stats.accepted + n.stats.legacy,
            match n.stats.legacy {
                0 => String::new(),
                k => format!(" ({k} of them Apple heartbeats)"),
            },
            n.stats.rejected_total(),
            if rejected.is_empty() { String::new() } else { format!(" ({})", rejected.join(", ")) },
        );
    }
}

/// The latest move's watch for the first client packet (ipfailoverd(8),
/// CLIENT CONFIRMATION).
fn confirm_text(o: &mut String, s: &Snapshot) {
    if let Some(c) = &s.counters.confirm.last {
        let _ = writeln!(o, "clients:   after move {}: {}", c.id, c.words());
    }
}

/// `"confirmation"`: the latest move's watch, or null before any.
fn confirm_json(s: &Snapshot) -> String {
    use crate::daemon::mover::confirm::Found;
    let Some(c) = &s.counters.confirm.last else {
        return "\"confirmation\":null".to_string();
    };
    let ms3 = |d: Duration| format!("{:.3}", d.as_secs_f64() * 1000.0);
    let fields = match &c.found {
        Found::Watching { since } => {
            format!("\"state\":\"watching\",\"watching_ms\":{}", ms(s.now.saturating_duration_since(*since)))
        }
        Found::Client { delay, from, to, kind, interface } => format!(
            "\"state\":\"seen\",\"delay_ms\":{},\"from\":{},\"address\":{},\"packet\":{},\"interface\":{}",
            ms3(*delay),
            jstr(&from.to_string()),
            jstr(&to.to_string()),
            jstr(kind.as_str()),
            jstr(interface)
        ),
        Found::Nobody { watched } => format!("\"state\":\"none\",\"watched_ms\":{}", ms(*watched)),
        Found::Cut { after } => format!("\"state\":\"cut\",\"watched_ms\":{}", ms(*after)),
        Found::Failed(e) => format!("\"state\":\"failed\",\"error\":{}", jstr(e)),
    };
    format!("\"confirmation\":{{\"move\":{},{fields},\"repeats\":{}}}", c.id, c.repeats)
}

/// The mails so far, and the latest failure with what sendmail said.
fn mail_text(o: &mut String, s: &Snapshot) {
    let m = &s.counters.mails;
    let _ = writeln!(
        o,
        "mail:      {} handed to sendmail, {} failed, {} retried, {} dropped",
        m.handed_over, m.failed, m.retried, m.dropped
    );
    if let Some((at, why)) = &m.last_failure {
        let _ = writeln!(o, "  last failure {}: {why}", crate::timefmt::utc_iso8601(*at));
    }
}

fn mail_json(s: &Snapshot) -> String {
    let m = &s.counters.mails;
    let last = m.last_failure.as_ref().map_or("null".to_string(), |(at, why)| {
        format!("{{\"at\":{},\"why\":{}}}", jstr(&crate::timefmt::utc_iso8601(*at)), jstr(why))
    });
    format!(
        "\"mail\":{{\"handed_over\":{},\"failed\":{},\"retried\":{},\"dropped\":{},\"last_failure\":{last}}}",
        m.handed_over, m.failed, m.retried, m.dropped
    )
}

/// One line for the node's fitness, one per check.
fn check_text(o: &mut String, s: &Snapshot) {
    if s.checks.is_empty() {
        let _ = writeln!(o, "checks:    none configured (fit)");
        return;
    }
    let fit = if s.fit { "fit" } else { "unfit" };
    let _ = writeln!(o, "checks:    {fit} ({} configured)", s.checks.len());
    for c in s.checks {
        let last = match &c.last {
            None => "not run yet".to_string(),
            Some(l) => format!(
                "last: {} after {}, {} ago{}",
                l.exit,
                crate::timefmt::secs(l.took),
                crate::timefmt::secs(s.now.saturating_duration_since(l.at)),
                l.line.as_ref().map(|t| format!(": {t}")).unwrap_or_default()
            ),
        };
        let streak = match c.last.as_ref().map(|l| l.exit.success()) {
            Some(true) => format!(", {} passed in a row", c.streak),
            Some(false) => format!(", {} failed in a row", c.streak),
            None => String::new(),
        };
        let _ = writeln!(o, "  {:<10} {}{streak}; {last}", c.name, c.verdict.as_str());
    }
}

fn check_json(s: &Snapshot) -> String {
    let checks: Vec<String> = s
        .checks
        .iter()
        .map(|c| {
            let last = match &c.last {
                None => "null".to_string(),
                Some(l) => {
                    let (code, signal) = match l.exit {
                        Exit::Code(n) => (n.to_string(), "null".to_string()),
                        Exit::Signal(n) => ("null".to_string(), n.to_string()),
                        _ => ("null".to_string(), "null".to_string()),
                    };
                    format!(
                        "{{\"passed\":{},\"exit_code\":{code},\"signal\":{signal},\"timed_out\":{},\"result\":{},\"duration_ms\":{},\"age_ms\":{},\"output\":{}}}",
                        l.exit.success(),
                        l.exit == Exit::TimedOut,
                        jstr(&l.exit.to_string()),
                        ms(l.took),
                        ms(s.now.saturating_duration_since(l.at)),
                        l.line.as_deref().map_or("null".to_string(), jstr)
                    )
                }
            };
            format!(
                "{{\"name\":{},\"state\":{},\"in_a_row\":{},\"last\":{last}}}",
                jstr(&c.name),
                jstr(c.verdict.as_str()),
                c.streak
            )
        })
        .collect();
    format!("\"fit\":{},\"checks\":[{}]", s.fit, checks.join(","))
}

/// A JSON string literal.
pub(in crate::daemon) fn jstr(s: &str) -> String {
    let mut o = String::from('"');
    for c in s.chars() {
        match c {
            '"' => o.push_str("\\\""),
            '\\' => o.push_str("\\\\"),
            '\n' => o.push_str("\\n"),
            '\r' => o.push_str("\\r"),
            '\t' => o.push_str("\\t"),
            c if (c as u32) < 0x20 => {
                let _ = write!(o, "\\u{:04x}", c as u32);
            }
            c => o.push(c),
        }
    }
    o.push('"');
    o
}

fn jlist<T: AsRef<str>>(items: &[T]) -> String {
    let parts: Vec<String> = items.iter().map(|i| jstr(i.as_ref())).collect();
    format!("[{}]", parts.join(","))
}

pub(in crate::daemon) fn json(s: &Snapshot) -> String {
    let nets: Vec<String> = s
        .networks
        .iter()
        .map(|n| {
            let rejected: Vec<String> =
                n.stats.rejected.iter().map(|(r, c)| format!("{}:{c}", jstr(r.as_str()))).collect();
            format!(
                "{{\"name\":{},\"interface\":{},\"link\":{},\"last_heard_ms\":{},\"accepted\":{},\"legacy\":{},\"rejected\":{{{}}}}}",
                jstr(n.name),
                jstr(n.interface),
                jstr(if n.link_up { "up" } else { "down" }),
                n.last_heard.map(|d| ms(d).to_string()).unwrap_or_else(|| "null".into()),
                n.stats.accepted,
                n.stats.legacy,
                rejected.join(",")
            )
        })
        .collect();
    let history: Vec<String> = s
        .history
        .iter()
        .map(|(at, t)| {
            format!(
                "{{\"at\":{},\"from\":{},\"to\":{},\"reason\":{},\"detail\":{}}}",
                jstr(&crate::timefmt::utc_iso8601(*at)),
                jstr(t.from.as_str()),
                jstr(t.to.as_str()),
                jstr(t.reason.as_str()),
                jstr(&t.detail)
            )
        })
        .collect();
    let peer = match s.peer_flags {
        _ if s.peer_left => "{\"flags\":[],\"goodbye\":true}".to_string(),
        Some(f) => format!("{{\"flags\":{},\"goodbye\":false}}", jlist(&flag_names(f))),
        None => "null".into(),
    };
    let mismatch = s.pair_mismatch.map_or("null".to_string(), |(ago, from, id)| {
        format!(
            "{{\"from\":{},\"id\":{},\"age_ms\":{}}}",
            jstr(&from.to_string()),
            jstr(&crate::proto::pair::hex(id)),
            ms(ago)
        )
    });
    let pair = format!(
        "{{\"name\":{},\"id\":{},\"derived\":{},\"peer_mismatch\":{mismatch}}}",
        s.pair.map_or("null".to_string(), |p| jstr(&p.name)),
        jstr(&crate::proto::pair::hex(s.pair_id)),
        s.pair.is_some_and(|p| p.derived)
    );
    let (missing, unexpected) = s.disagreement();
    format!(
        "{{\"version\":1,\"role\":{},\"pair\":{pair},\"state\":{},\"since_ms\":{},\"reason\":{},\"networks\":[{}],\"holding\":{},\"engine_holding\":{},\"missing\":{},\"unexpected\":{},\"addresses\":{},\"peer\":{},\"transitions\":[{}],{},{},{}}}\n",
        jstr(s.role),
        jstr(&s.shown_state().0),
        ms(s.shown_state().1),
        jstr(&s.shown_state().2),
        nets.join(","),
        jlist(&s.holding()),
        s.engine_holding.map_or("null".to_string(), |h| h.to_string()),
        jlist(&missing),
        jlist(&unexpected),
        jlist(&s.configured()),
        peer,
        history.join(","),
        check_json(s),
        mail_json(s),
        confirm_json(s)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    use crate::daemon::checks::{LastRun, View};

    fn snapshot<'a>(checks: &'a [View], now: Instant) -> Snapshot<'a> {
        static COUNTERS: std::sync::OnceLock<Counters> = std::sync::OnceLock::new();
        Snapshot {
            role: "primary",
            pair: None,
            pair_id: crate::proto::PairId(0),
            pair_mismatch: None,
            state: "active".into(),
            held_off: None,
            since: Duration::from_secs(1),
            reason: "acquired".into(),
            networks: Vec::new(),
            addresses: Vec::new(),
            engine_holding: Some(true),
            moving: false,
            peer_flags: None,
            peer_left: false,
            peer_generation: None,
            timing: crate::engine::Timing::every(Duration::from_secs(1)),
            history: Vec::new(),
            fit: false,
            checks,
            counters: COUNTERS.get_or_init(Counters::default),
            now,
        }
    }

    #[test]
    fn checks_in_text_and_json() {
        let now = Instant::now();
        let checks = [
            View {
                name: "web".into(),
                verdict: crate::daemon::checks::board::Verdict::Failing,
                streak: 3,
                last: Some(LastRun {
                    exit: Exit::Signal(9),
                    took: Duration::from_millis(1500),
                    line: Some("say \"hi\"".into()),
                    at: now - Duration::from_secs(2),
                }),
            },
            View {
                name: "db".into(),
                verdict: crate::daemon::checks::board::Verdict::Starting,
                streak: 0,
                last: None,
            },
        ];
        let t = text(&snapshot(&checks, now));
        assert!(t.contains("checks:    unfit (2 configured)\n"), "{t}");
        assert!(
            t.contains("  web        failing, 3 failed in a row; last: killed by signal 9 after 1.5s, 2.0s ago: say \"hi\"\n"),
            "{t}"
        );
        assert!(t.contains("  db         starting; not run yet\n"), "{t}");
        let j = json(&snapshot(&checks, now));
        assert!(j.ends_with(
            ",\"fit\":false,\"checks\":[{\"name\":\"web\",\"state\":\"failing\",\"in_a_row\":3,\"last\":{\"passed\":false,\"exit_code\":null,\"signal\":9,\"timed_out\":false,\"result\":\"killed by signal 9\",\"duration_ms\":1500,\"age_ms\":2000,\"output\":\"say \\\"hi\\\"\"}},{\"name\":\"db\",\"state\":\"starting\",\"in_a_row\":0,\"last\":null}],\"mail\":{\"handed_over\":0,\"failed\":0,\"retried\":0,\"dropped\":0,\"last_failure\":null},\"confirmation\":null}\n"
        ), "{j}");
        assert!(text(&snapshot(&[], now)).contains("checks:    none configured (fit)"));
    }

    /// Issue 30, item 11: the latest mail failure, with what sendmail
    /// said, is in `status` (text and JSON).
    /// Issue 34: the latest move's first client packet, in text and JSON.
    #[test]
    fn the_first_client_packet_is_shown() {
        use crate::daemon::mover::confirm::{Confirmation, Found};
        let now = Instant::now();
        let at = SystemTime::now();
        let with = |c: Confirmation| {
            let mut counters = Counters::default();
            counters.confirm.note(c);
            counters
        };
        let watching = with(Confirmation {
            id: crate::engine::MoveId(4),
            found: Found::Watching { since: now },
            repeats: 0,
            at,
        });
        let mut snap = snapshot(&[], now);
        snap.counters = &watching;
        assert!(text(&snap).contains("clients:   after move 4: watching for the first client packet"));
        assert!(json(&snap).contains(
            ",\"confirmation\":{\"move\":4,\"state\":\"watching\",\"watching_ms\":0,\"repeats\":0}}\n"
        ));
        let found = Found::Client {
            delay: Duration::from_micros(3250),
            from: "198.18.0.100".parse().unwrap(),
            to: "198.18.0.10".parse().unwrap(),
            kind: crate::sys::clientwatch::Kind::ArpRequest,
            interface: "pub0".into(),
        };
        let seen = with(Confirmation { id: crate::engine::MoveId(4), found, repeats: 0, at });
        snap.counters = &seen;
        let t = text(&snap);
        assert!(t.contains("clients:   after move 4: first client packet 3.2ms after the address was added, from 198.18.0.100 (an ARP request for 198.18.0.10 on pub0)\n"), "{t}");
        let j = json(&snap);
        assert!(j.contains(",\"confirmation\":{\"move\":4,\"state\":\"seen\",\"delay_ms\":3.250,\"from\":\"198.18.0.100\",\"address\":\"198.18.0.10\",\"packet\":\"arp\",\"interface\":\"pub0\",\"repeats\":0}}\n"), "{j}");
        let nobody = with(Confirmation {
            id: crate::engine::MoveId(5),
            found: Found::Nobody { watched: Duration::from_secs(10) },
            repeats: 3,
            at,
        });
        snap.counters = &nobody;
        assert!(json(&snap).contains("{\"move\":5,\"state\":\"none\",\"watched_ms\":10000,\"repeats\":3}"));
    }

    #[test]
    fn the_last_mail_failure_is_shown() {
        let now = Instant::now();
        let mut counters = Counters::default();
        counters.mailed(crate::daemon::view::counters::Mailed::HandedOver);
        counters.mailed(crate::daemon::view::counters::Mailed::Failed(
            "/usr/sbin/sendmail failed: exit status 67; it said: root... User unknown".into(),
        ));
        let mut snap = snapshot(&[], now);
        snap.counters = &counters;
        let t = text(&snap);
        assert!(t.contains("mail:      1 handed to sendmail, 1 failed, 0 retried, 0 dropped\n"), "{t}");
        assert!(
            t.contains(": /usr/sbin/sendmail failed: exit status 67; it said: root... User unknown\n"),
            "{t}"
        );
        let j = json(&snap);
        assert!(j.contains("\"mail\":{\"handed_over\":1,\"failed\":1,\"retried\":0,\"dropped\":0,\"last_failure\":{\"at\":"), "{j}");
        assert!(
            j.contains(
                "\"why\":\"/usr/sbin/sendmail failed: exit status 67; it said: root... User unknown\"}}"
            ),
            "{j}"
        );
    }

    #[test]
    fn an_active_state_over_an_empty_kernel_says_so() {
        let now = Instant::now();
        let addr = |a: &str| ServiceAddr {
            interface: crate::config::IfName::new("pub0").unwrap(),
            addr: a.parse().unwrap(),
            prefix: 24,
        };
        let (a, b) = (addr("198.18.0.10"), addr("198.18.0.11"));
        let mut s = snapshot(&[], now);
        s.addresses = vec![(&a, false), (&b, true)];
        let t = text(&s);
        assert!(t.contains("holding:   pub0:198.18.0.11/24\n"), "{t}");
        assert!(t.contains("kernel:    MISSING pub0:198.18.0.10/24: this node should serve them"), "{t}");
        assert!(t.contains("(acquired); kernel: MISSING 1 of 2\n"), "{t}");
        let j = json(&s);
        assert!(
            j.contains("\"engine_holding\":true,\"missing\":[\"pub0:198.18.0.10/24\"],\"unexpected\":[]"),
            "{j}"
        );
        // Not holding, yet the kernel shows one.
        s.engine_holding = Some(false);
        let t = text(&s);
        assert!(t.contains("kernel:    UNEXPECTED pub0:198.18.0.11/24: on this node although"), "{t}");
        assert!(!t.contains("MISSING"), "{t}");
        // Over an empty kernel, never a bare holding state.
        s.engine_holding = Some(true);
        s.addresses = vec![(&a, false), (&b, false)];
        let t = text(&s);
        assert!(t.contains("(acquired); kernel: MISSING 2 of 2\n"), "{t}");
        assert!(t.contains("holding:   none\n"), "{t}");
        s.engine_holding = Some(false);
        // During a move, or on a static primary, nothing is said.
        s.moving = true;
        assert!(!text(&s).contains("kernel:"));
        s.moving = false;
        s.engine_holding = None;
        assert!(!text(&s).contains("kernel:"));
        assert!(json(&s).contains("\"engine_holding\":null,\"missing\":[],\"unexpected\":[]"));
    }

    #[test]
    fn json_strings_are_escaped() {
        assert_eq!(jstr("a\"b\\c\nd\u{1}"), "\"a\\\"b\\\\c\\nd\\u0001\"");
        assert_eq!(jlist(&["x", "y"]), "[\"x\",\"y\"]");
    }
}
