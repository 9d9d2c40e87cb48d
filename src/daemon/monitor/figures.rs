//! What `status` and the metrics show of the monitor: its figures, kept
//! here, and the snapshot the views render (`daemon/view/`).

use super::publish::Publisher;
use super::Monitor;
use crate::config::NetId;
use crate::daemon::checks::View;
use crate::daemon::view::counters::Counters;
use crate::daemon::view::stats::NetStats;
use crate::daemon::view::status::{NetView, Snapshot};
use crate::engine::Transition;
use std::collections::VecDeque;
use std::time::{Instant, SystemTime};

/// Transitions kept for status.
pub(super) const HISTORY: usize = 16;

/// The monitor's figures for status and the metrics. Changed by the
/// monitor as things happen: `stats` per datagram (`mod.rs`, `tell.rs`,
/// `pairing.rs`), `history` at each transition (`tell.rs`), `counters` at
/// each transition, move, hook and mail, `fit` and `check_views` by the
/// checks (`fitness.rs`), `probe_answers` by each probe's answer.
pub(super) struct Figures {
    /// Per network (`NetId::index`): datagrams accepted and rejected.
    pub stats: [NetStats; 2],
    pub history: VecDeque<(SystemTime, Transition)>,
    /// Transitions, moves, hooks and mails counted for the metrics.
    pub counters: Counters,
    /// What the metrics thread serves, and when it was last refreshed.
    pub publisher: Publisher,
    /// This node's fitness as its checks last said (fit without checks).
    pub fit: bool,
    /// The checks as they stand, for status.
    pub check_views: Vec<View>,
    /// Who answered the latest probe of the service addresses ("ADDRESS
    /// by MAC on INTERFACE"): what the NOT-taking-over mail names.
    pub probe_answers: Vec<String>,
}

impl Figures {
    pub(super) fn new(publisher: Publisher) -> Figures {
        Figures {
            stats: Default::default(),
            history: VecDeque::new(),
            counters: Default::default(),
            publisher,
            fit: true,
            check_views: Vec::new(),
            probe_answers: Vec::new(),
        }
    }

    /// Keeps transition `t`, the oldest going when `HISTORY` are kept.
    pub(super) fn remember(&mut self, t: Transition) {
        if self.history.len() == HISTORY {
            self.history.pop_front();
        }
        self.history.push_back((SystemTime::now(), t));
    }
}

impl Monitor {
    pub(super) fn snapshot(&self) -> Snapshot<'_> {
        self.snapshot_with(true)
    }

    /// What `status` shows; `look`: the addresses as the kernel shows them
    /// now, else as the monitor's latest look found them (`kernel_present`,
    /// for a metrics sample: the scrape looks at scrape time).
    pub(super) fn snapshot_with(&self, look: bool) -> Snapshot<'_> {
        let now = Instant::now();
        let networks = NetId::ALL
            .iter()
            .map(|&net| NetView {
                name: net.as_str(),
                interface: self.cfg.network(net).interface.as_str(),
                link_up: self.engine.link_up(net),
                last_heard: self.engine.last_datagram(net).map(|t| now.duration_since(t)),
                stats: &self.view.stats[net.index()],
            })
            .collect();
        let addrs = &self.cfg.addresses;
        Snapshot {
            role: self.cfg.role.as_str(),
            pair: self.id.pair.as_ref(),
            pair_id: self.id.pair_id,
            pair_mismatch: self
                .strangers
                .pair_mismatch()
                .map(|(at, from, id)| (now.saturating_duration_since(at), from.ip(), id)),
            state: self.engine.state().to_string(),
            held_off: self.engine.held_off(now),
            since: now.duration_since(self.engine.since()),
            reason: self
                .view
                .history
                .back()
                .map(|(_, t)| t.reason.to_string())
                .unwrap_or_else(|| "startup".into()),
            networks,
            addresses: match look {
                true => {
                    let present = crate::daemon::mover::addrs::present(addrs);
                    addrs.iter().map(|a| (a, present.contains(&a))).collect()
                }
                false => addrs.iter().map(|a| (a, self.moves.shown(a))).collect(),
            },
            engine_holding: (self.cfg.role == crate::config::Role::Secondary
                || self.cfg.mode == crate::config::Mode::Managed)
                .then(|| self.engine.holding()),
            moving: self.engine.moving().is_some(),
            peer_flags: self.engine.peer_flags(),
            peer_left: self.engine.peer_left(),
            peer_generation: self.intake.peer_generation(),
            timing: self.timing(),
            history: self.view.history.iter().map(|(at, t)| (*at, t)).collect(),
            fit: self.view.fit,
            checks: &self.view.check_views,
            counters: &self.view.counters,
            now,
        }
    }
}
