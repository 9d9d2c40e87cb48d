//! The metrics in the Prometheus text exposition format, version 0.0.4
//! (`GET /metrics` on metrics_listen, `ipfailoverd status --prometheus`).
//!
//! Both render a `Sample`: an owned copy of what `status` shows
//! (`status::Snapshot`) plus the counters, taken by the monitor. The HTTP
//! thread renders the latest sample the monitor published, never the
//! monitor's own state; ages are carried forward to the moment of the
//! scrape, so a sample published a moment ago still tells the right age.
//! Every series exists from the start (counters at 0), so that `rate()`
//! and `increase()` see the first event; labels are a fixed set of words
//! plus the configured addresses, interfaces and check names.

use super::counters::{self, Counters, MOVE_BUCKETS, OUTCOMES};
use super::status::Snapshot;
use crate::engine::{Direction, Reason, State};
use crate::hooks::Stage;
use crate::proto::{Flags, Reject};
use std::collections::BTreeMap;
use std::fmt::Write;
use std::time::{Duration, Instant, SystemTime};

/// The Content-Type of the text format.
pub(in crate::daemon) const CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

#[derive(Clone, Debug)]
pub(in crate::daemon) struct NetSample {
    pub name: &'static str,
    pub interface: String,
    pub link_up: bool,
    /// Age of the peer's latest accepted datagram when the sample was taken.
    pub last_heard: Option<Duration>,
    pub accepted: u64,
    pub legacy: u64,
    pub rejected: BTreeMap<Reject, u64>,
}

#[derive(Clone, Debug)]
pub(in crate::daemon) struct Address {
    pub addr: String,
    pub interface: String,
    pub held: bool,
    /// The configured address, for the scrape's look at the kernel.
    pub service: crate::config::ServiceAddr,
}

/// What the metrics say, as the monitor saw it at `taken`.
#[derive(Clone, Debug)]
pub(in crate::daemon) struct Sample {
    pub taken: Instant,
    pub role: &'static str,
    pub pair: Option<String>,
    pub state: String,
    /// Time in `state` when the sample was taken.
    pub since: Duration,
    pub networks: Vec<NetSample>,
    pub addresses: Vec<Address>,
    pub timing: crate::engine::Timing,
    /// The peer's fitness as its latest datagram said, if heard.
    pub peer_fit: Option<bool>,
    /// Seconds since the peer's generation (its start) by our wall clock,
    /// when the sample was taken.
    pub peer_generation_age: Option<f64>,
    pub fit: bool,
    /// Each check's name and whether it passes.
    pub checks: Vec<(String, bool)>,
    pub counters: Counters,
}

impl Sample {
    pub(in crate::daemon) fn of(s: &Snapshot) -> Sample {
        let unix = SystemTime::now().duration_since(SystemTime::UNIX_EPOCH).unwrap_or_default();
        let units = crate::proto::store::clock_units(unix);
        Sample {
            taken: s.now,
            role: s.role,
            pair: s.pair.map(|p| p.name.clone()),
            state: s.state.clone(),
            since: s.since,
            networks: s
                .networks
                .iter()
                .map(|n| NetSample {
                    name: n.name,
                    interface: n.interface.to_string(),
                    link_up: n.link_up,
                    last_heard: n.last_heard,
                    accepted: n.stats.accepted,
                    legacy: n.stats.legacy,
                    rejected: n.stats.rejected.clone(),
                })
                .collect(),
            addresses: s
                .addresses
                .iter()
                .map(|(a, held)| Address {
                    addr: a.addr.to_string(),
                    interface: a.interface.to_string(),
                    held: *held,
                    service: (*a).clone(),
                })
                .collect(),
            timing: s.timing,
            peer_fit: s.peer_flags.map(|f| !f.has(Flags::UNFIT)),
            // The clock part of a generation counts 2^-20 s (proto::store).
            peer_generation_age: s
                .peer_generation
                .map(|g| (units as f64 - g.0 as f64) / f64::from(1u32 << 20)),
            fit: s.fit,
            checks: s
                .checks
                .iter()
                .map(|c| (c.name.clone(), c.verdict == crate::daemon::checks::board::Verdict::Passing))
                .collect(),
            counters: s.counters.clone(),
        }
    }
}

/// One metric family at a time: HELP and TYPE, then its samples.
struct Out(String);

impl Out {
    fn family(&mut self, name: &str, kind: &str, help: &str) {
        let _ = writeln!(self.0, "# HELP {name} {}", help.replace('\\', "\\\\").replace('\n', "\\n"));
        let _ = writeln!(self.0, "# TYPE {name} {kind}");
    }

    fn sample(&mut self, name: &str, labels: &[(&str, &str)], value: impl Value) {
        self.0.push_str(name);
        if !labels.is_empty() {
            let parts: Vec<String> = labels.iter().map(|(k, v)| format!("{k}=\"{}\"", escape(v))).collect();
            let _ = write!(self.0, "{{{}}}", parts.join(","));
        }
        let _ = writeln!(self.0, " {}", value.text());
    }
}

/// A label value with `\`, `"` and newlines escaped.
fn escape(v: &str) -> String {
    v.replace('\\', "\\\\").replace('"', "\\\"").replace('\n', "\\n")
}

trait Value {
    fn text(&self) -> String;
}

impl Value for u64 {
    fn text(&self) -> String {
        self.to_string()
    }
}

impl Value for bool {
    fn text(&self) -> String {
        u8::from(*self).to_string()
    }
}

impl Value for f64 {
    fn text(&self) -> String {
        match *self {
            v if v.is_nan() => "NaN".into(),
            v if v == f64::INFINITY => "+Inf".into(),
            v if v == f64::NEG_INFINITY => "-Inf".into(),
            v => v.to_string(),
        }
    }
}

fn secs(d: Duration) -> f64 {
    // Milliseconds are all the daemon's clocks promise.
    (d.as_millis() as f64) / 1000.0
}

/// The text of a sample, with its ages carried forward to `now`.
pub(in crate::daemon) fn render(s: &Sample, now: Instant) -> String {
    let later = now.saturating_duration_since(s.taken);
    let mut o = Out(String::with_capacity(16 * 1024));
    identity(&mut o, s, later);
    networks(&mut o, s, later);
    moves(&mut o, &s.counters);
    clients(&mut o, &s.counters);
    hooks_and_mail(&mut o, &s.counters);
    fitness(&mut o, s, later);
    o.0
}

fn identity(o: &mut Out, s: &Sample, later: Duration) {
    o.family("ipfailoverd_build_info", "gauge", "Always 1; the version of the running daemon.");
    o.sample("ipfailoverd_build_info", &[("version", env!("CARGO_PKG_VERSION"))], 1u64);
    o.family(
        "ipfailoverd_role",
        "gauge",
        "Always 1; this node's role and pair (pair is empty when unnamed).",
    );
    let pair = s.pair.as_deref().unwrap_or("");
    o.sample("ipfailoverd_role", &[("role", s.role), ("pair", pair)], 1u64);
    o.family("ipfailoverd_state", "gauge", "1 for the node's current state, 0 for every other state.");
    for st in State::ALL {
        o.sample("ipfailoverd_state", &[("state", st.as_str())], st.as_str() == s.state);
    }
    o.family("ipfailoverd_state_seconds", "gauge", "Seconds since the node entered its current state.");
    o.sample("ipfailoverd_state_seconds", &[], secs(s.since + later));
    o.family(
        "ipfailoverd_address_held",
        "gauge",
        "1 when the kernel shows the service address on this node, 0 otherwise.",
    );
    for a in &s.addresses {
        o.sample("ipfailoverd_address_held", &[("address", &a.addr), ("interface", &a.interface)], a.held);
    }
    o.family("ipfailoverd_transitions_total", "counter", "State transitions of this node, by reason.");
    for r in Reason::ALL {
        let n = s.counters.transitions.get(r.as_str()).copied().unwrap_or(0);
        o.sample("ipfailoverd_transitions_total", &[("reason", r.as_str())], n);
    }
}

fn networks(o: &mut Out, s: &Sample, later: Duration) {
    o.family(
        "ipfailoverd_link_up",
        "gauge",
        "1 when this node's interface on the network is up with carrier.",
    );
    for n in &s.networks {
        o.sample("ipfailoverd_link_up", &[("network", n.name), ("interface", &n.interface)], n.link_up);
    }
    o.family(
        "ipfailoverd_heartbeat_age_seconds",
        "gauge",
        "Seconds since the peer's latest accepted datagram on the network; absent until one is heard.",
    );
    for n in &s.networks {
        if let Some(age) = n.last_heard {
            o.sample("ipfailoverd_heartbeat_age_seconds", &[("network", n.name)], secs(age + later));
        }
    }
    o.family(
        "ipfailoverd_peer_heard",
        "gauge",
        "1 when the peer was heard on the network less than dead_after ago, 0 otherwise.",
    );
    for n in &s.networks {
        let heard = n.last_heard.is_some_and(|age| s.timing.heard_within(age + later));
        o.sample("ipfailoverd_peer_heard", &[("network", n.name)], heard);
    }
    o.family(
        "ipfailoverd_heartbeats_accepted_total",
        "counter",
        "Datagrams from the peer accepted on the network (protocol v1, or Apple's heartbeat text).",
    );
    for n in &s.networks {
        o.sample(
            "ipfailoverd_heartbeats_accepted_total",
            &[("network", n.name), ("protocol", "v1")],
            n.accepted,
        );
        o.sample(
            "ipfailoverd_heartbeats_accepted_total",
            &[("network", n.name), ("protocol", "apple")],
            n.legacy,
        );
    }
    o.family(
        "ipfailoverd_heartbeats_rejected_total",
        "counter",
        "Datagrams dropped on the network, by reason (see ipfailoverd(8), Rejected datagrams).",
    );
    for n in &s.networks {
        for r in Reject::ALL {
            let count = n.rejected.get(&r).copied().unwrap_or(0);
            o.sample(
                "ipfailoverd_heartbeats_rejected_total",
                &[("network", n.name), ("reason", r.as_str())],
                count,
            );
        }
    }
    o.family(
        "ipfailoverd_anomalies_total",
        "counter",
        "Network anomalies raised: the primary silent on this network only (secondary).",
    );
    for net in crate::config::NetId::ALL {
        o.sample(
            "ipfailoverd_anomalies_total",
            &[("network", net.as_str())],
            s.counters.anomalies[net.index()],
        );
    }
}

fn moves(o: &mut Out, c: &Counters) {
    o.family(
        "ipfailoverd_takeovers_total",
        "counter",
        "Secondary: takeovers of the primary's addresses (done or partial).",
    );
    o.sample("ipfailoverd_takeovers_total", &[], c.takeovers);
    o.family("ipfailoverd_givebacks_total", "counter", "Secondary: the addresses given back to the primary.");
    o.sample("ipfailoverd_givebacks_total", &[], c.givebacks);
    o.family(
        "ipfailoverd_moves_total",
        "counter",
        "Moves of the service addresses, by direction and outcome.",
    );
    let dirs = [Direction::Acquire, Direction::Release];
    for d in dirs {
        for out in OUTCOMES {
            let (d, out) = (counters::direction_name(d), counters::outcome_name(out));
            let n = c.moves.get(&(d, out)).copied().unwrap_or(0);
            o.sample("ipfailoverd_moves_total", &[("direction", d), ("outcome", out)], n);
        }
    }
    let name = "ipfailoverd_move_duration_seconds";
    o.family(name, "histogram", "How long moves of the service addresses took, hooks included.");
    for (d, h) in dirs.into_iter().zip(&c.move_seconds) {
        let d = counters::direction_name(d);
        for (le, n) in MOVE_BUCKETS.iter().zip(h.buckets) {
            o.sample(&format!("{name}_bucket"), &[("direction", d), ("le", &le.to_string())], n);
        }
        o.sample(&format!("{name}_bucket"), &[("direction", d), ("le", "+Inf")], h.count);
        o.sample(&format!("{name}_sum"), &[("direction", d)], h.sum);
        o.sample(&format!("{name}_count"), &[("direction", d)], h.count);
    }
}

/// The first client packet after each move that added addresses
/// (ipfailoverd(8), CLIENT CONFIRMATION).
fn clients(o: &mut Out, c: &Counters) {
    let name = "ipfailoverd_first_client_packet_seconds";
    o.family(
        name,
        "histogram",
        "Moves that added addresses: delay from the first add to the first packet from another host to one of them.",
    );
    let h = &c.confirm.seconds;
    for (le, n) in counters::CLIENT_BUCKETS.iter().zip(h.buckets) {
        o.sample(&format!("{name}_bucket"), &[("le", &le.to_string())], n);
    }
    o.sample(&format!("{name}_bucket"), &[("le", "+Inf")], h.count);
    o.sample(&format!("{name}_sum"), &[], h.sum);
    o.sample(&format!("{name}_count"), &[], h.count);
    o.family(
        "ipfailoverd_moves_no_client_total",
        "counter",
        "Moves that added addresses after which no packet from another host reached them within the watch (10 s).",
    );
    o.sample("ipfailoverd_moves_no_client_total", &[], c.confirm.nobody);
}

fn hooks_and_mail(o: &mut Out, c: &Counters) {
    type Count = fn(counters::HookCounts) -> u64;
    let families: [(&str, &str, Count); 3] = [
        ("ipfailoverd_hooks_run_total", "Hooks run, by stage.", |h| h.run),
        (
            "ipfailoverd_hooks_failed_total",
            "Hooks that did not exit 0 (timed out included), by stage.",
            |h| h.failed,
        ),
        ("ipfailoverd_hooks_timed_out_total", "Hooks killed at hook_timeout, by stage.", |h| h.timed_out),
    ];
    for (name, help, get) in families {
        o.family(name, "counter", help);
        for st in Stage::ALL {
            o.sample(name, &[("stage", st.arg())], get(c.hook(st)));
        }
    }
    for (name, help, n) in [
        (
            "ipfailoverd_mails_handed_over_total",
            "Mails that sendmail accepted (exit 0).",
            c.mails.handed_over,
        ),
        (
            "ipfailoverd_mails_failed_total",
            "Mails that sendmail refused, or that timed out or could not be piped to it.",
            c.mails.failed,
        ),
        (
            "ipfailoverd_mails_retried_total",
            "Mails that sendmail failed temporarily (exit 75) and that are tried again later.",
            c.mails.retried,
        ),
        (
            "ipfailoverd_mails_dropped_total",
            "Mails dropped before sendmail because a queue was full.",
            c.mails.dropped,
        ),
    ] {
        o.family(name, "counter", help);
        o.sample(name, &[], n);
    }
}

fn fitness(o: &mut Out, s: &Sample, later: Duration) {
    o.family(
        "ipfailoverd_peer_generation_age_seconds",
        "gauge",
        "Seconds since the peer started (its generation), by this node's clock; absent until heard.",
    );
    if let Some(age) = s.peer_generation_age {
        let age = ((age + later.as_secs_f64()) * 1000.0).round() / 1000.0;
        o.sample("ipfailoverd_peer_generation_age_seconds", &[], age);
    }
    o.family(
        "ipfailoverd_fit",
        "gauge",
        "1 when every service check of this node passes (or none is configured).",
    );
    o.sample("ipfailoverd_fit", &[], s.fit);
    o.family(
        "ipfailoverd_peer_fit",
        "gauge",
        "1 when the peer's latest datagram said it is fit; absent until heard.",
    );
    if let Some(fit) = s.peer_fit {
        o.sample("ipfailoverd_peer_fit", &[], fit);
    }
    o.family(
        "ipfailoverd_check_passing",
        "gauge",
        "1 when the service check passes, 0 while starting or failing.",
    );
    for (name, passing) in &s.checks {
        o.sample("ipfailoverd_check_passing", &[("check", name)], *passing);
    }
}

#[cfg(test)]
#[path = "metrics_tests.rs"]
pub(in crate::daemon) mod tests;
