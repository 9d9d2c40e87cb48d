//! The invariants the simulator checks after every event:
//!
//! (a) an address is never on both nodes while both are on the public
//!     network, except in the documented window: within `overlap_bound()`
//!     of the latest disturbance (a node that heard nothing from its peer
//!     for dead_after, a process down or frozen, a cable changed, the public
//!     network cut);
//! (b) when the primary is down (and answers for none of the addresses: the
//!     secondary probes before a takeover) or declares the addresses free, and the
//!     secondary runs with both cables in, the secondary holds every
//!     configured address within `takeover_bound()`, in every state and
//!     after any operator command;
//! (c) whenever no move is in progress, each engine's belief (holding or
//!     not) equals the simulated kernel;
//! (d) each mailed transition of SPEC 7 (takeover, takeover vetoed or
//!     failed, give-back, anomaly, anomaly cleared) is mailed exactly once,
//!     and no move is mailed twice;
//! (e) an anomaly is declared only for a network on which nothing from the
//!     peer arrived for dead_after (less one interval of tolerance);
//! (j) nothing the adversary (`adversary.rs`: one per network, without the
//!     key) sends makes a node act: the intake (`proto::intake`) drops
//!     every datagram it sends (replays of any recorded datagram, a node's
//!     own of earlier generations included, garbage, bit flips, datagrams
//!     signed with another key), so none changes a state, starts a move or
//!     a release. Its datagrams are tagged: one that passes the intake is
//!     fed to the engine as the daemon would, and the failure says what
//!     the node did with it. The one exception is what any network that
//!     delays or loses datagrams delivers: an exact copy of a datagram the
//!     peer sent to this node on this network, which the node takes as the
//!     original; no node accepts one (network, generation, sequence) of
//!     its peer twice in one life, whoever sent the copies. The squatter,
//!     which answers the probes for a service address for a while, only
//!     holds a takeover off: (b) counts from the end of its squat;
//! and at the end, after every fault is healed and the pair had time to
//! settle: both daemons run and each address is on exactly one node.

use super::node::Proc;
use super::world::{Params, World, P, S};
use crate::config::NetId;
use crate::engine::{Action, Direction, Held, Notice, Outcome, Reason, State};
use std::collections::HashSet;

/// The failed moves of both nodes since their start, and what they may
/// cost: per failure a move and the wait before its retry, which the
/// engine doubles with each failure in a row from dead_after up to
/// `RETRY_CAP` (issue 28; `Engine::retry_delay`).
#[derive(Clone, Copy, Debug)]
pub(super) struct Failures {
    moves: u32,
    /// The retry waits the engines set, in ms.
    waits: u64,
}

#[derive(Default)]
pub(super) struct Checker {
    interval: u64,
    dead_after: u64,
    move_max: u64,
    delay_max: u64,
    pub healed_at: u64,
    /// When each node last accepted a datagram from its peer, and per
    /// network.
    last_heard: [u64; 2],
    last_on: [[Option<u64>; 2]; 2],
    /// The latest moment of disturbance (see (a)).
    disturbed_at: u64,
    /// Since when the condition of (b) holds, if it does.
    free_since: Option<u64>,
    /// The secondary's cables or address list changed at this time.
    s_changed_at: u64,
    /// Per node: the reason of the latest transition into Acquiring.
    acquiring_reason: [Option<Reason>; 2],
    mailed_moves: HashSet<(usize, u64, u64)>,
    lives: [u64; 2],
    /// For (d) and (j), checked in `after_step`.
    problem: Option<String>,
    /// (b) and (j): the adversary's squatter answers probes until then.
    squat_until: u64,
    pub now: u64,
}

impl Checker {
    pub(super) fn new(p: &Params) -> Checker {
        Checker {
            interval: p.interval,
            dead_after: p.dead_after,
            move_max: p.move_max(),
            delay_max: p.delay_max[0].max(p.delay_max[1]),
            ..Checker::default()
        }
    }

    fn settle(&self) -> u64 {
        (2 * self.interval).clamp(20, 1000)
    }

    /// The documented window of (a), counted from the latest disturbance:
    /// the peer's next datagrams arrive, the primary sees the conflict
    /// (its rule waits two intervals), removes its addresses and, if that
    /// fails, retries after the backoff (`Failures`).
    pub(super) fn overlap_bound(&self, failures: Failures) -> u64 {
        let base =
            self.dead_after + 10 * self.interval + 2 * self.move_max + 2 * self.delay_max + self.settle();
        base + failures.waits + u64::from(failures.moves) * self.move_max
    }

    /// The bound of (b): dead_after of silence (or the first datagram that
    /// declares the addresses free), a settle after a stall, a move in
    /// progress and the takeover itself, and per failed move a retry.
    pub(super) fn takeover_bound(&self, failures: Failures) -> u64 {
        let base = self.dead_after + 6 * self.interval + self.delay_max + 2 * self.move_max + self.settle();
        base + failures.waits + u64::from(failures.moves) * self.move_max
    }

    /// A broken invariant found while carrying out a step ((j)).
    pub(super) fn problem(&mut self, what: String) {
        self.problem.get_or_insert(what);
    }

    /// The squatter answers the probes for an address until `until`.
    pub(super) fn squatted(&mut self, until: u64) {
        self.squat_until = self.squat_until.max(until);
    }

    pub(super) fn heard(&mut self, node: usize, net: NetId, now: u64) {
        self.last_heard[node] = now;
        self.last_on[node][net.index()] = Some(now);
        self.now = now;
    }

    pub(super) fn cable(&mut self, node: usize, now: u64) {
        self.disturbed_at = now;
        if node == S {
            self.s_changed_at = now;
        }
    }

    /// A node applied a reload: a changed address list is a new task.
    pub(super) fn reconfigured(&mut self, node: usize, now: u64) {
        if node == S {
            self.s_changed_at = now;
        }
    }

    /// (d): what one step of one engine did.
    pub(super) fn saw_actions(&mut self, node: usize, actions: &[Action]) {
        let mut expected: Vec<String> = Vec::new();
        let mut mailed: Vec<String> = Vec::new();
        let secondary = node == S;
        for a in actions {
            match a {
                Action::Transition(t) => {
                    if t.to == State::Acquiring {
                        self.acquiring_reason[node] = Some(t.reason);
                    }
                    let reload = self.acquiring_reason[node] == Some(Reason::Reload);
                    match (t.from, t.to) {
                        (_, State::Anomaly(net)) => {
                            expected.push(format!("anomaly {net:?}"));
                            // (e) an anomaly names a network that really
                            // carried nothing from the peer for dead_after.
                            if let Some(t) = self.last_on[node][net.index()] {
                                if t + self.dead_after > self.now + self.interval {
                                    self.problem.get_or_insert(format!(
                                        "anomaly on the {} network declared {} ms after a datagram arrived there",
                                        net.as_str(),
                                        self.now - t
                                    ));
                                }
                            }
                        }
                        (State::Anomaly(net), State::Watching) => expected.push(format!("cleared {net:?}")),
                        (State::Acquiring, State::Holding) if secondary && !reload => {
                            expected.push("takeover".into())
                        }
                        (State::Acquiring, State::Vetoed) => expected.push("vetoed".into()),
                        (State::Acquiring, State::Failed) => expected.push("takeover failed".into()),
                        (State::Releasing, State::Watching) if secondary => expected.push("give-back".into()),
                        _ => {}
                    }
                }
                Action::Notify(n) => match n {
                    Notice::Anomaly { net, .. } => mailed.push(format!("anomaly {net:?}")),
                    Notice::AnomalyCleared { net, .. } => mailed.push(format!("cleared {net:?}")),
                    Notice::Move { id, dir, outcome, .. } => {
                        if !self.mailed_moves.insert((node, self.lives[node], *id)) {
                            self.problem.get_or_insert(format!("move {id} mailed twice"));
                        }
                        let what = match (dir, outcome) {
                            (Direction::Acquire, Outcome::Done | Outcome::Partial) if secondary => "takeover",
                            (Direction::Acquire, Outcome::Vetoed) => "vetoed",
                            (Direction::Acquire, Outcome::Failed) => "takeover failed",
                            (Direction::Release, Outcome::Done) if secondary => "give-back",
                            _ => continue,
                        };
                        mailed.push(what.into());
                    }
                    _ => {}
                },
                _ => {}
            }
        }
        expected.sort();
        mailed.sort();
        // A reload's acquire on the secondary may also mail a partial
        // result; what SPEC 7 lists must match one for one.
        if expected != mailed
            && !(mailed.iter().all(|m| m == "takeover")
                && expected.is_empty()
                && self.acquiring_reason[node] == Some(Reason::Reload))
        {
            self.problem.get_or_insert(format!(
                "{} mailed {mailed:?} for transitions that call for {expected:?}",
                if secondary { "S" } else { "P" }
            ));
        }
    }

    pub(super) fn after_step(&mut self, w: &World) -> Result<(), String> {
        self.now = w.now;
        if let Some(p) = self.problem.take() {
            return Err(p);
        }
        let now = w.now;
        for i in [P, S] {
            if let Some(d) = w.n[i].daemon_ref() {
                self.lives[i] = w.n[i].life;
                if !w.n[i].running() || now >= self.last_heard[i] + self.dead_after {
                    self.disturbed_at = now;
                }
                // (c) belief equals the kernel between moves.
                if w.n[i].running() && d.engine.moving().is_none() {
                    let believes = d.engine.has_addresses();
                    let kernel = w.n[i].held() != Held::None;
                    if believes != kernel {
                        return Err(format!(
                            "{} believes holding={believes} in state {} but the kernel shows {:?}",
                            w.n[i].name(),
                            d.engine.state(),
                            w.n[i].kernel
                        ));
                    }
                }
            } else {
                self.disturbed_at = now;
            }
        }
        // The public network is cut, or the operator has signalled one
        // node of an edit and not yet the other.
        if !w.public_connected() || w.n[P].configured != w.n[S].configured {
            self.disturbed_at = now;
        }
        self.check_overlap(w)?;
        self.check_takeover(w)
    }

    fn failures(w: &World) -> Failures {
        Failures {
            moves: w.n[P].failed_moves + w.n[S].failed_moves,
            waits: w.n[P].retry_waits + w.n[S].retry_waits,
        }
    }

    fn check_overlap(&self, w: &World) -> Result<(), String> {
        if !w.public_connected() {
            return Ok(());
        }
        for a in 0..w.p.addresses {
            // Known limit (docs/robustness.md): an address a reload dropped
            // and failed to remove is tried again only by the node's next
            // move.
            // Likewise an address no node's configuration names any more,
            // left on an interface while its daemon was down.
            let stray = w.n[P].strays.contains(&a)
                || w.n[S].strays.contains(&a)
                || !(w.n[P].configured[a] || w.n[S].configured[a]);
            if w.n[P].kernel[a] && w.n[S].kernel[a] && !stray {
                let bound = self.overlap_bound(Self::failures(w));
                if w.now > self.disturbed_at + bound {
                    return Err(format!(
                        "address {a} on both nodes {} ms after the latest disturbance (bound {bound} ms)",
                        w.now - self.disturbed_at
                    ));
                }
            }
        }
        Ok(())
    }

    fn check_takeover(&mut self, w: &World) -> Result<(), String> {
        let s = &w.n[S];
        // A primary that died with the addresses on its interface still
        // answers for them: the secondary's probe keeps it off them.
        let zombie = w.public_connected() && (0..w.p.addresses).any(|a| s.configured[a] && w.n[P].kernel[a]);
        let primary_gone_or_free = match &w.n[P].proc {
            Proc::Down(_) => !zombie,
            Proc::Up(d) | Proc::Frozen(d) => {
                matches!(d.engine.state(), State::PublicDown | State::Standby | State::Unfit)
                    // SPEC 9: an unfit primary hands over to a fit secondary
                    // it hears; asked only of a clean network.
                    || (!w.n[P].fit && w.n[P].running() && w.clean_network())
            }
        };
        let serving = matches!(&s.proc, Proc::Up(d) if !d.engine.stopping());
        // An unfit secondary does not take over (check_gates_takeover).
        let holds = serving && s.fit && s.link(NetId::Public) && s.link(NetId::Private);
        if !(primary_gone_or_free && holds) {
            self.free_since = None;
            return Ok(());
        }
        let since = (*self.free_since.get_or_insert(w.now)).max(self.s_changed_at).max(self.squat_until);
        let bound = self.takeover_bound(Self::failures(w));
        if w.now > since + bound && s.held() != Held::All {
            let state = s.daemon_ref().map(|d| d.engine.state().to_string()).unwrap_or_default();
            return Err(format!(
                "the primary is down or declares the addresses free for {} ms, the secondary runs with both cables in, and it holds {:?} (state {state}, bound {bound} ms)",
                w.now - since,
                s.kernel
            ));
        }
        Ok(())
    }

    pub(super) fn at_end(&self, w: &World) -> Result<(), String> {
        for i in [P, S] {
            if !w.n[i].running() {
                return Err(format!("{} is not running at the end", w.n[i].name()));
            }
        }
        for a in 0..w.p.addresses {
            if !w.n[P].configured[a] {
                continue;
            }
            let holders: Vec<&str> =
                [P, S].iter().filter(|&&i| w.n[i].kernel[a]).map(|&i| w.n[i].name()).collect();
            if holders.len() != 1 {
                let states: Vec<String> = [P, S]
                    .iter()
                    .map(|&i| w.n[i].daemon_ref().map(|d| d.engine.state().to_string()).unwrap_or_default())
                    .collect();
                return Err(format!(
                    "after healing and settling, address {a} is held by {holders:?} (states P {} S {})",
                    states[0], states[1]
                ));
            }
        }
        Ok(())
    }
}
