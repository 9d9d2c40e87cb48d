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
//! (d) each mailed transition of docs/design.md §7 (takeover, takeover vetoed or
//!     failed, give-back, anomaly, anomaly cleared) is mailed exactly once,
//!     and no move is mailed twice;
//! (e) an anomaly is declared only for a network on which nothing from the
//!     peer arrived for dead_after (less one interval of tolerance);
//! (f) served: whenever some node could serve (running, not stopping, fit,
//!     public cable in), each configured address is on a node with its
//!     public cable in, within `served_bound()` of the latest fault,
//!     outside actor or operator step;
//! (g) hooks: a move runs an address's Pre hook once if the address was
//!     not yet where the move puts it (else never), and its Post hook once
//!     if the move changed it (else never);
//! (h) mail volume: no move is mailed twice (d), and the failed moves of
//!     a node mailed one after the other are backed off: the n-th retry
//!     comes at least min(dead_after × 2^(n-1), 10 min) after the one
//!     before;
//! (i) alarms: the primary mails "secondary no longer heard" only when
//!     nothing from the secondary arrived on either network for dead_after;
//! and the liveness twins of the safety rules:
//!     a network silent while the other carries the primary is declared an
//!     anomaly within `anomaly_bound()`; a takeover for silence happens
//!     only when neither network carried a datagram of the live primary for
//!     dead_after; a secondary with its public cable out holds nothing
//!     after `unplugged_bound()` (counted from the end of the wait before
//!     it removes an address added by hand); a give-back happens only
//!     when the live primary (its current life, or one whose datagrams
//!     were still on the wire, late copies included) has been heard
//!     steadily (no gap of dead_after) over recover_after; a primary acquires on `released`
//!     only when the secondary sent an answer naming its current claim;
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
//! (k) probe: the secondary starts a takeover for silence only when nobody
//!     answers for its addresses at that moment (`World::probe_answer`: a
//!     primary that died with them on its interface, a third host), or
//!     when a probe that ended free at most the early probe's lead (half
//!     an interval) before said nobody did: the simulated probe is
//!     perfect, so a takeover without one, or despite its answer, shows;
//! (l) one move at a time: a node asks its mover for a move only once the
//!     one before is done (a reload, a command, a goodbye wait for it);
//! and at the end, after every fault is healed and the pair had time to
//! settle: both daemons run and each address is on exactly one node.

use super::node::{HookCount, Proc};
use super::world::{Params, World, P, S};
use crate::config::NetId;
use crate::config::Role;
use crate::engine::{Action, Direction, Held, MoveId, Notice, Outcome, Reason, State, Transition};
use crate::proto::{ClaimId, Flags, Generation, Kind, Message};
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

/// The longest pause between failed-move retries the back-off allows.
const BACKOFF_MAX: u64 = 600_000;

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
    mailed_moves: HashSet<(usize, u64, MoveId)>,
    lives: [u64; 2],
    /// For (d) and (j), checked in `after_step`.
    problem: Option<String>,
    /// (b) and (j): the adversary's squatter answers probes until then.
    squat_until: u64,
    /// The secondary last took a late copy of the primary's datagram (the
    /// adversary's, which no receiver tells from the original): see (b).
    late_copy_at: u64,
    /// Per node: its peer's goodbye arrived and nothing since; and when
    /// the peer was first heard after its latest goodbye. A network's
    /// silence counts from then (the engine's `peer_back_at`): what
    /// either network carried before the goodbye no longer counts.
    peer_gone: [bool; 2],
    back_at: [u64; 2],
    pub now: u64,
    /// (f): the latest fault, undo, outside actor or operator step, and
    /// since when some node could serve.
    quiet_since: u64,
    servable_since: Option<u64>,
    /// (h): per node, the failed moves mailed one after the other (life,
    /// the move's direction, reason and outcome, times), reset by a move
    /// that worked or by a failure of another kind (the engine's back-off
    /// starts again on a change, issue 28).
    failed_mails: [(u64, String, Vec<u64>); 2],
    /// The anomaly twin: the latest instant the secondary had a move in
    /// flight.
    s_moved_at: u64,
    /// Per receiving node and network: when the current steady run of the
    /// peer's datagrams began (no gap of dead_after), and per node the
    /// peer's newest generation and when it was first accepted.
    run_from: [[Option<u64>; 2]; 2],
    peer_gen: [(Generation, u64); 2],
    /// Arrivals of datagrams of the live peer's current life, before the
    /// replay guard (the takeover twin).
    carried: [[Option<u64>; 2]; 2],
    /// Answers the secondary sent, by the claim id they name.
    answers: HashSet<ClaimId>,
    /// The primary's current claim id.
    claims: [Option<ClaimId>; 2],
    /// Since when the secondary's public cable is out while it runs.
    s_unplugged_since: Option<u64>,
    /// The secondary was last down or frozen at this time.
    s_down_at: u64,
    /// The secondary last had a removal of addresses added from outside
    /// waiting for its time (`Engine::removal_pending`).
    s_removal_at: u64,
    pub same_role: bool,
    recover_max: u64,
    /// Per node: the recover_after its engine runs with, and the
    /// generation of its current life (none while down).
    recover: [u64; 2],
    live_gen: [Option<Generation>; 2],
    /// Per node: when its latest probe ended and whether it was answered,
    /// and whether its latest move report said the Test hook vetoed.
    probe: [Option<(u64, bool)>; 2],
    vetoed: [bool; 2],
    /// Each node's role (both the same with two nodes of one role), and
    /// the generation of the primary's latest life with when it ended.
    secondary: [bool; 2],
    p_ended: Option<(Generation, u64)>,
    /// (k): the secondary started a takeover for silence at this time.
    silence_takeover_at: Option<u64>,
    /// Per node: the peer's generation of which an adversary's late copy
    /// (j) was the latest to reach the node's socket, and when.
    copy_wire: [Option<(Generation, u64)>; 2],
}

impl Checker {
    pub(super) fn new(p: &Params) -> Checker {
        Checker {
            interval: p.interval,
            dead_after: p.dead_after,
            move_max: p.move_max(),
            delay_max: p.delay_max[0].max(p.delay_max[1]),
            same_role: p.same_role.is_some(),
            secondary: match p.same_role {
                Some(r) => [r == Role::Secondary; 2],
                None => [false, true],
            },
            // A reload draws recover_after anew, up to 4 intervals.
            recover_max: 4 * p.interval,
            ..Checker::default()
        }
    }

    /// The bound of (f), counted from the latest fault, outside actor or
    /// operator step: the peer's silence noticed (dead_after, settle, a
    /// probe), a give-back damped by recover_after and claimed over two
    /// rounds, a claim exchange, up to three moves, and per failed move its
    /// back-off and one more move.
    pub(super) fn served_bound(&self, failures: Failures) -> u64 {
        let base = 3 * self.dead_after
            + self.recover_max
            + 10 * self.interval
            + 4 * self.delay_max
            + 3 * self.move_max
            + 2 * self.settle()
            + 100;
        base + failures.waits + u64::from(failures.moves) * self.move_max
    }

    /// (f)'s bound with the failed moves of the world as it is now.
    pub(super) fn served_bound_now(&self, w: &World) -> u64 {
        self.served_bound(Self::failures(w))
    }

    /// The liveness twin of (e): a network silent while the other carries
    /// the primary is an anomaly within dead_after of its last datagram
    /// plus this.
    fn anomaly_slack(&self) -> u64 {
        2 * self.interval + 2 * self.delay_max + self.settle() + 10
    }

    /// A secondary whose public cable is out holds nothing after this: the
    /// link news, a move in progress and the release, and per failed
    /// removal its retry.
    fn unplugged_bound(&self, failures: Failures) -> u64 {
        let base = 2 * self.move_max + self.settle() + 10;
        base + failures.waits + u64::from(failures.moves) * self.move_max
    }

    /// (f), (h): a fault, undo, outside actor or operator step happened.
    pub(super) fn outside(&mut self, now: u64) {
        self.quiet_since = now;
    }

    /// The operator's SIGHUP reaches `node`: the engine may apply a
    /// smaller recover_after in this very step, before `after_step`.
    pub(super) fn reloaded(&mut self, node: usize, recover: u64) {
        self.recover[node] = self.recover[node].min(recover);
    }

    /// A probe of `node` ended now (the cause of a blocked-takeover or
    /// probe-answered mail).
    pub(super) fn probed(&mut self, node: usize, answered: bool, now: u64) {
        self.probe[node] = Some((now, answered));
    }

    /// The mover of `node` reports a move (the cause of a vetoed one).
    pub(super) fn reported(&mut self, node: usize, vetoed: bool) {
        self.vetoed[node] = vetoed;
    }

    /// A datagram of node `from` left it (for the claim twin).
    pub(super) fn sent(&mut self, m: &Message) {
        let answer = m.kind == Kind::Released || m.kind == Kind::Status && !m.flags.has(Flags::HOLDING);
        if m.role == Role::Secondary && answer {
            if let Some(c) = m.claim {
                self.answers.insert(c);
            }
        }
    }

    /// A datagram of the live peer's current life (`generation`) arrived
    /// at `to` on `net`, before the replay guard.
    pub(super) fn carried(&mut self, to: usize, net: NetId, generation: Generation, now: u64) {
        self.carried[to][net.index()] = Some(now);
        if self.peer_gen[to].0 != generation {
            self.peer_gen[to] = (generation, now);
        }
    }

    /// `to` took an adversary's copy of a datagram of the peer's life
    /// `generation` that reached its socket at `at` ((j): a network that
    /// delays datagrams delivers it too, and the node takes it as the
    /// original, however late).
    pub(super) fn copy_taken(&mut self, to: usize, generation: Generation, at: u64) {
        if self.copy_wire[to].is_none_or(|(_, t)| at >= t) {
            self.copy_wire[to] = Some((generation, at));
        }
    }

    /// The peer's goodbye reached `to`: its earlier datagrams no longer
    /// prove it alive (the engine forgets them too), so a takeover may
    /// follow at once.
    pub(super) fn goodbye(&mut self, to: usize) {
        self.carried[to] = [None, None];
        self.peer_gone[to] = true;
    }

    /// (h): a move of `node` ended; one that worked ends a run of failures.
    pub(super) fn move_worked(&mut self, node: usize, worked: bool) {
        if worked {
            self.failed_mails[node].2.clear();
        }
    }

    /// (g): the hooks of one finished move.
    pub(super) fn hooks_of_move(&mut self, node: &str, id: MoveId, hooks: &[HookCount], run: bool) {
        for h in hooks {
            let pre = u32::from(run && h.needed);
            let post = u32::from(run && h.changed);
            if h.pre != pre || h.post != post {
                self.problem.get_or_insert(format!(
                    "(g) {node} move {id} ran the Pre hook {} and the Post hook {} time(s) for address {} \
                     (it {} where the move puts it, the move {} it): expected {pre} and {post}",
                    h.pre,
                    h.post,
                    h.addr,
                    if h.needed { "was not yet" } else { "was already" },
                    if h.changed { "changed" } else { "did not change" },
                ));
            }
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

    /// Node `to` took an exact copy of its peer's datagram that arrived
    /// later than the network delivers (the known limit of "Known limits
    /// of the simulator", docs/robustness.md). For the secondary the
    /// primary spoke then, as far as anyone can know: a takeover for
    /// silence must wait dead_after from it (the takeover twin), and a
    /// claim in it may make the secondary give the addresses back, so (b)
    /// counts from it, as from the end of a squat.
    pub(super) fn late_copy(&mut self, to: usize, now: u64) {
        if to == S {
            self.late_copy_at = now;
        }
    }

    /// The squatter answers the probes for an address until `until`.
    pub(super) fn squatted(&mut self, until: u64) {
        self.squat_until = self.squat_until.max(until);
    }

    pub(super) fn heard(&mut self, node: usize, net: NetId, now: u64) {
        let k = net.index();
        if self.last_on[node][k].is_none_or(|t| now >= t + self.dead_after) {
            self.run_from[node][k] = Some(now);
        }
        if std::mem::take(&mut self.peer_gone[node]) {
            self.back_at[node] = now;
        }
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
        // What a node mails depends on its role, not on its place.
        let secondary = self.secondary[node];
        for a in actions {
            match a {
                Action::SendClaim { id } => self.claims[node] = Some(*id),
                Action::Transition(t) => self.saw_transition(node, t, secondary, &mut expected),
                Action::Notify(n) => self.saw_notice(node, n, secondary, &mut mailed),
                _ => {}
            }
        }
        self.mails_match(node, secondary, expected, mailed);
    }

    /// (d), (e): a transition, with the mail it calls for in `expected`.
    fn saw_transition(&mut self, node: usize, t: &Transition, secondary: bool, expected: &mut Vec<String>) {
        if !self.same_role {
            self.twins(node, t.from, t.to, t.reason);
        }
        if t.to == State::Acquiring {
            self.acquiring_reason[node] = Some(t.reason);
        }
        let reload = self.acquiring_reason[node] == Some(Reason::Reload);
        // A put-back of an address removed from outside is
        // mailed as the removal (`Notice::AddressLost`), not as
        // a takeover.
        let put_back = self.acquiring_reason[node] == Some(Reason::AddressLost);
        match (t.from, t.to) {
            (_, State::Anomaly(net)) => {
                expected.push(format!("anomaly {net:?}"));
                self.anomaly_has_cause(node, net);
            }
            (State::Anomaly(net), State::Watching) => expected.push(format!("cleared {net:?}")),
            (State::Acquiring, State::Holding) if secondary && !reload && !put_back => {
                expected.push("takeover".into())
            }
            (State::Acquiring, State::Vetoed) => {
                // Only on a report that says the Test hook refused.
                if !self.vetoed[node] {
                    self.problem.get_or_insert(format!(
                        "{} enters vetoed without a move report that says vetoed",
                        if secondary { "S" } else { "P" }
                    ));
                }
                expected.push("vetoed".into())
            }
            (State::Acquiring, State::Failed) => expected.push("takeover failed".into()),
            (State::Releasing, State::Watching) if secondary => expected.push("give-back".into()),
            _ => {}
        }
    }

    /// (e) an anomaly names a network that really carried nothing from
    /// the peer for dead_after.
    fn anomaly_has_cause(&mut self, node: usize, net: NetId) {
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

    /// (d), (h), (i): a mail, with what it tells in `mailed`.
    fn saw_notice(&mut self, node: usize, n: &Notice, secondary: bool, mailed: &mut Vec<String>) {
        match n {
            Notice::PeerLost { .. } => self.peer_lost_has_cause(node, secondary),
            // Mailed on a probe that ended now, answered.
            Notice::TakeoverBlocked | Notice::ProbeAnswered if self.probe[node] != Some((self.now, true)) => {
                self.problem.get_or_insert(format!(
                    "{} mailed {n:?} without an answered probe (latest probe {:?})",
                    if secondary { "S" } else { "P" },
                    self.probe[node]
                ));
            }
            Notice::Anomaly { net, .. } => mailed.push(format!("anomaly {net:?}")),
            Notice::AnomalyCleared { net, .. } => mailed.push(format!("cleared {net:?}")),
            // A put-back's result is part of the removal's story
            // (`Notice::AddressLost`), no takeover.
            Notice::Move {
                reason: Reason::AddressLost, outcome: Outcome::Done | Outcome::Partial, ..
            } => {}
            Notice::Move { .. } => {
                if let Some(what) = self.saw_move_mail(node, n, secondary) {
                    mailed.push(what.into());
                }
            }
            _ => {}
        }
    }

    /// (i) the alarm has its cause: nothing from the secondary on either
    /// network for dead_after.
    fn peer_lost_has_cause(&mut self, node: usize, secondary: bool) {
        for net in NetId::ALL {
            if let Some(t) = self.last_on[node][net.index()] {
                if t + self.dead_after > self.now {
                    self.problem.get_or_insert(format!(
                        "(i) {} mailed 'secondary no longer heard' {} ms after a datagram of it arrived on the {} network (dead_after {} ms)",
                        if secondary { "S" } else { "P" },
                        self.now - t,
                        net.as_str(),
                        self.dead_after
                    ));
                }
            }
        }
    }

    /// (h): a move's result mailed once, a failed one paced; what the
    /// mail tells, for the mails docs/design.md §7 lists.
    fn saw_move_mail(&mut self, node: usize, n: &Notice, secondary: bool) -> Option<&'static str> {
        let Notice::Move { id, dir, outcome, reason } = n else { return None };
        if !self.mailed_moves.insert((node, self.lives[node], *id)) {
            self.problem.get_or_insert(format!("move {id} mailed twice"));
        }
        let failed = match dir {
            Direction::Acquire => *outcome != Outcome::Done,
            Direction::Release => *outcome != Outcome::Done,
        };
        // A stopping daemon's removals are bounded by
        // their count (`STOP_ATTEMPTS`), not backed off.
        if failed && *reason != Reason::Shutdown {
            self.failed_move_mailed(node, *id, format!("{n:?}").replace(&format!("id: {id}, "), ""));
        }
        match (dir, outcome) {
            (Direction::Acquire, Outcome::Done | Outcome::Partial) if secondary => Some("takeover"),
            (Direction::Acquire, Outcome::Vetoed) => Some("vetoed"),
            (Direction::Acquire, Outcome::Failed) => Some("takeover failed"),
            (Direction::Release, Outcome::Done) if secondary => Some("give-back"),
            _ => None,
        }
    }

    /// (d): the mails of one step match its transitions one for one.
    fn mails_match(
        &mut self,
        node: usize,
        secondary: bool,
        mut expected: Vec<String>,
        mut mailed: Vec<String>,
    ) {
        expected.sort();
        mailed.sort();
        // A reload's acquire on the secondary may also mail a partial
        // result; what docs/design.md §7 lists must match one for one.
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

    /// (h): the n-th failed move mailed in a row comes at least
    /// min(dead_after × 2^(n-2), 10 min) after the one before.
    fn failed_move_mailed(&mut self, node: usize, id: MoveId, kind: String) {
        let life = self.lives[node];
        let (l, k, times) = &mut self.failed_mails[node];
        // A fault, undo or operator step since the last failure is a
        // change: the engine's back-off starts again (issue 28).
        // So is the peer heard again after a silence (a new steady run),
        // even in the very millisecond of the last failure: the engine may
        // have taken the datagram first and the report after it, and then
        // counts that failure as the first of a new run (seed 193073).
        let back =
            times.last().is_some_and(|&l| (0..2).any(|k| self.run_from[node][k].is_some_and(|t| t >= l)));
        let changed = times.last().is_some_and(|&t| t < self.quiet_since) || back;
        if *l != life || *k != kind || changed {
            *l = life;
            *k = kind;
            times.clear();
        }
        times.push(self.now);
        let n = times.len();
        if n >= 3 {
            let gap = times[n - 1] - times[n - 2];
            let want = (self.dead_after << (n - 3).min(20)).min(BACKOFF_MAX);
            if gap < want {
                self.problem.get_or_insert(format!(
                    "(h) {} mailed failed move {id}, its {n}th failure in a row, {gap} ms after the one before (back-off {want} ms)",
                    if node == S { "S" } else { "P" }
                ));
            }
        }
    }

    /// The liveness twins of the safety rules that concern one transition.
    fn twins(&mut self, node: usize, from: State, to: State, reason: Reason) {
        let now = self.now;
        if node == S && to == State::Acquiring && reason == Reason::BothNetworksSilent {
            // (k) is checked in `after_step`, with the world at hand.
            self.silence_takeover_at = Some(now);
            for net in NetId::ALL {
                if let Some(t) = self.carried[S][net.index()] {
                    if t + self.dead_after > now {
                        self.problem.get_or_insert(format!(
                            "S takes over for silence {} ms after the {} network carried a datagram of the live primary (dead_after {} ms)",
                            now - t,
                            net.as_str(),
                            self.dead_after
                        ));
                    }
                }
            }
        }
        if node == S && from == State::Holding && to == State::Releasing && reason == Reason::PrimaryBack {
            let recover = self.recover[S];
            let (generation, first) = self.peer_gen[S];
            // A primary that died less than dead_after ago (a claim still
            // on its way, or its silence not yet dead_after long) is one
            // the secondary cannot know dead: its give-back is followed
            // by a takeover for silence. A backlog of claims from a life
            // that ended earlier than that is the defect (seed 23846).
            // "On its way" is the network's longest delay, or, for a late
            // copy of one of that life's datagrams (j), until it reached
            // the secondary's socket: nothing in a datagram tells late
            // from on time (seed 77268: copies of the claims of a primary
            // killed 150 ms before, to a secondary just restarted with
            // recover_after 0). A backlog read at a thaw reached the
            // socket before it, so it is still the defect.
            let wire = |g: Generation| self.copy_wire[S].filter(|&(c, _)| c == g).map_or(0, |(_, w)| w);
            let in_flight = |&(g, t): &(Generation, u64)| {
                g == generation && now <= (t + self.delay_max).max(wire(g)) + self.dead_after + 3
            };
            let live = self.live_gen[P] == Some(generation) || self.p_ended.as_ref().is_some_and(in_flight);
            // From the start of the earliest steady run on a network that
            // is still fresh (not before this life was first heard) to the
            // latest datagram heard.
            let fresh = |k: usize| self.last_on[S][k].is_some_and(|t| now < t + self.dead_after);
            let from =
                (0..2).filter(|&k| fresh(k)).filter_map(|k| self.run_from[S][k]).min().map(|f| f.max(first));
            let last = (0..2).filter_map(|k| self.last_on[S][k]).max();
            let span = from.zip(last).map(|(f, l)| l.saturating_sub(f));
            if !live || span.is_none_or(|s| s < recover) {
                self.problem.get_or_insert(format!(
                    "S gives the addresses back (primary-back) having heard the {} primary steadily for {} ms of recover_after {recover} ms",
                    if live { "live" } else { "dead (an earlier life of the)" },
                    span.map_or("no".into(), |s| s.to_string()),
                ));
            }
        }
        if node == P && from == State::Claiming && to == State::Acquiring && reason == Reason::Released {
            let claim = self.claims[P];
            if claim.is_none_or(|c| !self.answers.contains(&c)) {
                self.problem.get_or_insert(format!(
                    "P acquires on 'released' but the secondary never answered its current claim {claim:?}"
                ));
            }
        }
    }

    pub(super) fn after_step(&mut self, w: &World) -> Result<(), String> {
        self.now = w.now;
        if let Some(p) = self.problem.take() {
            return Err(p);
        }
        let now = w.now;
        self.check_silence_takeover(w)?;
        for i in [P, S] {
            self.saw_node(w, i)?;
        }
        // The public network is cut, or the operator has signalled one
        // node of an edit and not yet the other.
        if !w.public_connected() || w.n[P].configured != w.n[S].configured {
            self.disturbed_at = now;
        }
        self.check_overlap(w)?;
        self.check_served(w)?;
        if self.same_role {
            return Ok(());
        }
        self.check_unplugged(w)?;
        self.check_anomaly_declared(w)?;
        self.check_takeover(w)
    }

    /// (k): a takeover for silence while a host answers for the
    /// addresses follows a probe that ended free just before.
    fn check_silence_takeover(&mut self, w: &World) -> Result<(), String> {
        if let Some(at) = self.silence_takeover_at.take() {
            // (k): a host that answers for the addresses now is allowed
            // only if it began to answer after a probe that ended free at
            // most the early probe's lead before (`Engine::probe_lead`, at
            // most half an interval: the probe runs before dead_after and
            // the takeover comes at it). Without a probe, or with its
            // answer ignored, the host shows here.
            let lead = w.p.interval / 2 + 1;
            let fresh_free = self.probe[S].is_some_and(|(t, answered)| !answered && t + lead >= at);
            if let Some(who) = w.probe_answer(S).filter(|_| !fresh_free) {
                return Err(format!(
                    "(k) S started a takeover for silence at {at} ms while {who} answers for its addresses (no probe, or one ignored)"
                ));
            }
        }
        Ok(())
    }

    /// What one node's daemon is now: its life, the recover_after it
    /// keeps, whether it is disturbed, and (c) belief equals the kernel
    /// between moves.
    fn saw_node(&mut self, w: &World, i: usize) -> Result<(), String> {
        let now = w.now;
        let generation = w.n[i].daemon_ref().map(|d| d.generation);
        if let (Some(g), None) = (self.live_gen[i], generation) {
            if i == P {
                self.p_ended = Some((g, now));
            }
        }
        self.live_gen[i] = generation;
        if let Some(d) = w.n[i].daemon_ref() {
            // The file's recover_after, or the one the engine started
            // with if smaller (a reload applies a moment after SIGHUP).
            let file = w.n[i].settings.timing.recover_after.as_millis() as u64;
            if self.lives[i] != w.n[i].life {
                self.recover[i] = file;
            }
            self.recover[i] = self.recover[i].min(file);
            self.lives[i] = w.n[i].life;
            // A repair of what an outside actor changed that waits for
            // its time (its removals back off like failed moves) is a
            // disturbance still going on.
            if !w.n[i].running() || now >= self.last_heard[i] + self.dead_after || d.engine.repair_pending() {
                self.disturbed_at = now;
            }
            // (c) belief equals the kernel between moves.
            if w.n[i].running()
                && d.engine.moving().is_none()
                && !d.engine.repair_pending()
                && !d.engine.stopping()
            {
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
        Ok(())
    }

    /// (f): some node could serve, so each address is served.
    fn check_served(&mut self, w: &World) -> Result<(), String> {
        let could = [P, S].into_iter().filter(|&i| {
            matches!(&w.n[i].proc, Proc::Up(d) if !d.engine.stopping())
                && w.n[i].fit
                && w.n[i].link(NetId::Public)
        });
        if could.count() == 0 || w.n[P].configured != w.n[S].configured {
            self.servable_since = None;
            return Ok(());
        }
        // An address a third host holds is not ours to serve until it
        // gives it up, and the probe keeps the pair off all of them
        // meanwhile (one answer stops the move: docs/robustness.md).
        if (0..w.p.addresses).any(|a| w.n[P].configured[a] && (w.squatted[a] || w.adversary.squats(a, w.now)))
        {
            self.servable_since = None;
            return Ok(());
        }
        // Likewise an address on the kernel of a node whose daemon is down
        // or frozen: the kernel answers the other's probe, which keeps it
        // off every address (seed 625908: a killed primary kept one of two,
        // an administrator removed the other, and it could not start on a
        // corrupt state file); (b) exempts the same.
        let zombie = |i: usize| {
            !w.n[i].running() && (0..w.p.addresses).any(|a| w.n[P].configured[a] && w.n[i].kernel[a])
        };
        if w.public_connected() && (zombie(P) || zombie(S)) {
            self.servable_since = None;
            return Ok(());
        }
        let since = (*self.servable_since.get_or_insert(w.now)).max(self.quiet_since);
        let bound = self.served_bound(Self::failures(w));
        if w.now <= since + bound {
            return Ok(());
        }
        for a in (0..w.p.addresses).filter(|&a| w.n[P].configured[a] && !w.squatted[a]) {
            if ![P, S].iter().any(|&i| w.n[i].kernel[a] && w.n[i].link(NetId::Public)) {
                let states: Vec<String> = [P, S]
                    .iter()
                    .map(|&i| {
                        let st = w.n[i].daemon_ref().map(|d| d.engine.state().to_string());
                        format!("{} {}", w.n[i].name(), st.unwrap_or_else(|| "down".into()))
                    })
                    .collect();
                return Err(format!(
                    "(f) address {a} is served by nobody {} ms after the latest event while a node could serve it (bound {bound} ms; {})",
                    w.now - since,
                    states.join(", ")
                ));
            }
        }
        Ok(())
    }

    /// A secondary whose public cable is out holds nothing after
    /// `unplugged_bound`.
    fn check_unplugged(&mut self, w: &World) -> Result<(), String> {
        let s = &w.n[S];
        if !s.running() {
            self.s_down_at = w.now;
        }
        if let Proc::Up(d) = &s.proc {
            // An address added by hand is removed when the removals'
            // back-off allows (`engine/kernel.rs`: dead_after, doubling
            // up to a minute; a failed one looked at again after its
            // retry): the outside change is still being handled, and the
            // bound counts from the end of its wait (16 seeds of the
            // campaign of 7 December, e.g. 823164).
            if d.engine.removal_pending() {
                self.s_removal_at = w.now;
            }
        }
        if !s.running() || s.link(NetId::Public) {
            self.s_unplugged_since = None;
            return Ok(());
        }
        // From the cable out, the process's last stop or stall, or an
        // outside actor's latest change to the secondary's addresses and
        // the end of the wait before its removal.
        let since = (*self.s_unplugged_since.get_or_insert(w.now))
            .max(self.s_down_at)
            .max(self.s_changed_at)
            .max(self.s_removal_at);
        let bound = self.unplugged_bound(Failures { moves: s.failed_moves, waits: s.retry_waits });
        // Its configured addresses: one no configuration names (added by
        // hand, or dropped by a reload) is nobody's to remove.
        if w.now > since + bound && s.held() != Held::None {
            return Err(format!(
                "the secondary's public cable has been out for {} ms and it still holds {:?} (bound {bound} ms)",
                w.now - since,
                s.kernel
            ));
        }
        Ok(())
    }

    /// The liveness twin of (e): a watching secondary declares an anomaly
    /// for a network silent for dead_after while the other one carries
    /// the primary.
    fn check_anomaly_declared(&mut self, w: &World) -> Result<(), String> {
        let s = &w.n[S];
        let Proc::Up(d) = &s.proc else { return Ok(()) };
        if d.engine.moving().is_some() {
            // Nothing is judged during a move (a removal of an address
            // added from outside leaves the state as it is): counted from
            // its end.
            self.s_moved_at = w.now;
            return Ok(());
        }
        if d.engine.state() != State::Watching || s.plugged != [true, true] || !w.n[P].running() {
            return Ok(());
        }
        let entered = w.ms_of(d.engine.since());
        for net in NetId::ALL {
            let (k, o) = (net.index(), 1 - net.index());
            // The other network carries the primary steadily.
            let Some(other_last) = self.last_on[S][o] else { continue };
            if w.now > other_last + self.interval + self.delay_max {
                continue;
            }
            let base = [
                self.last_on[S][k].unwrap_or(0),
                self.run_from[S][o].unwrap_or(w.now),
                self.s_changed_at,
                self.s_down_at + self.settle(),
                self.s_moved_at,
                entered,
                // The primary said goodbye and came back (seed 561576).
                self.back_at[S],
            ]
            .into_iter()
            .max()
            .unwrap_or(0);
            let bound = self.dead_after + self.anomaly_slack();
            if w.now > base + bound {
                return Err(format!(
                    "the {} network carried nothing from the primary for {} ms while the other carried it, and the secondary still watches (bound {bound} ms)",
                    net.as_str(),
                    w.now - base
                ));
            }
        }
        Ok(())
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
        // answers for them: the secondary's probe keeps it off them. So
        // does a frozen or running one whose kernel shows an address it
        // declared free (an administrator added it by hand, and the frozen
        // daemon cannot remove it, or its removal waits: seeds 175688,
        // 494189); taking it would make two owners.
        let zombie = w.public_connected() && (0..w.p.addresses).any(|a| s.configured[a] && w.n[P].kernel[a])
            // A third host answers for one.
            || (0..w.p.addresses).any(|a| s.configured[a] && w.squatted[a]);
        let primary_gone_or_free = !zombie
            && match &w.n[P].proc {
                Proc::Down(_) => true,
                Proc::Up(d) | Proc::Frozen(d) => {
                    matches!(d.engine.state(), State::PublicDown | State::Standby | State::Unfit)
                    // docs/design.md §9: an unfit primary hands over to a fit secondary
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
        let since = (*self.free_since.get_or_insert(w.now))
            .max(self.s_changed_at)
            .max(self.squat_until)
            .max(self.late_copy_at);
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
