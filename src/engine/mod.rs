//! The failover state machine. Pure: no I/O, no clock reads, no logging.
//!
//! The monitor feeds it `Input`s with the current monotonic time and
//! carries out the `Action`s it returns; `next_deadline()` says when to
//! call `step(Input::Tick, now)` if nothing else happens first. Every state
//! change goes through `Engine::enter`, which records `old -> new (reason)`.
#![forbid(unsafe_code)]

mod backoff;
mod command;
mod kernel;
mod peer;
mod primary;
mod secondary;
mod static_peer;
mod timing;
mod types;

pub(crate) use timing::{auto_takeover_probe, Timing, RETRY_CAP};
pub(crate) use types::{
    Action, Command, Direction, Held, Input, MoveId, MoveReport, Notice, Outcome, ProbeId, Reason, Reload,
    Settings, State, Transition,
};

use crate::config::{NetId, Role};
use crate::proto::{ClaimId, Flags, Order};
use std::time::{Duration, Instant};

/// The engine's whole state. Only the monitor thread owns one. The core
/// (settings, state, what both roles share) is here; each part is a
/// struct of its own, defined beside the rules that use it: the peer's
/// facts (`peer.rs`), the back-off of failed moves (`backoff.rs`), the
/// kernel's addresses (`kernel.rs`), the primary's claim (`primary.rs`),
/// the secondary's takeover and give-back (`secondary.rs`).
#[derive(Debug)]
pub(crate) struct Engine {
    s: Settings,
    state: State,
    since: Instant,
    /// The engine's own pacing: sends, stalls, the latest step.
    clock: Clock,
    /// Our own links.
    links: Links,
    /// What the peer (and a rival) said, and when.
    peer: peer::PeerFacts,
    /// Retries of failed moves and their back-off (issue 28).
    backoff: backoff::Backoff,
    /// What the kernel shows of the addresses, and its repairs.
    kernel_view: kernel::KernelView,
    /// Our service checks.
    fitness: Fitness,
    /// The move under way, and a reload waiting for it.
    moves: Moves,
    /// The probe whose answer is awaited.
    probes: Probes,
    /// The primary's part: its claim and its watch of the secondary.
    primary: primary::PrimaryPart,
    /// The secondary's part: its takeover probes and its give-back.
    secondary: secondary::SecondaryPart,
    /// The secondary's probe of Apple's text (`static_peer.rs`).
    text_probe: static_peer::TextProbe,
    stopping: bool,
    /// False once stopping gave up on removing the addresses.
    goodbye: bool,
    /// The current move or stand-down was asked for by an operator.
    manual: bool,
    /// Primary: the id of the current claim (unique across restarts: it
    /// starts from the nonce given at start). Secondary: the latest claim
    /// heard, echoed in statuses and `released`.
    claim_id: ClaimId,
    pending: Vec<Action>,
}

/// The engine's own pacing. Changed by `step`, `send_if_due` and
/// `notice_stall` only.
#[derive(Debug)]
struct Clock {
    /// When this engine started (the start-up grace counts from here).
    start: Instant,
    next_send: Instant,
    /// The deadline we last asked for: a Tick much later than this means the
    /// process was frozen or starved (see `notice_stall`).
    asked: Option<Instant>,
    /// Until then no takeover is decided: the reader threads get time to
    /// deliver what queued up on the sockets while we were not running.
    settle_until: Option<Instant>,
    /// The `now` of the latest step: deadlines at or before it were acted on.
    last_step: Instant,
}

/// Our own links (carrier), as the reader threads report them
/// (`Input::Link`, the only writer).
#[derive(Debug)]
struct Links {
    link_up: [bool; 2],
    /// When each of our links last changed state.
    link_since: [Instant; 2],
}

/// Our service checks pass (docs/design.md §9), since when, and whether the
/// administrator heard that nothing can move (no fit standby; a gated
/// takeover). Reset together by `Input::Fitness`.
#[derive(Debug)]
struct Fitness {
    fit: bool,
    fit_since: Instant,
    no_standby_noticed: bool,
    gated_noticed: bool,
}

/// The move the mover is carrying out (only its report counts), the next
/// move's id, and a reload waiting for the move to finish. Changed by
/// `start_move`, `moved` and `apply_reload`.
#[derive(Debug)]
struct Moves {
    moving: Option<(MoveId, Direction, Reason)>,
    next_move: MoveId,
    staged: Option<Reload>,
}

/// The probe whose answer the engine waits for, if any: only its answer
/// counts (`probed_any`). Changed by `start_probe`, `probed_any` and the
/// cancellations.
#[derive(Debug)]
struct Probes {
    probe: Option<ProbeId>,
    next_probe: ProbeId,
}

impl Engine {
    /// `nonce` must differ between starts of this node (the monitor passes
    /// its generation): claim ids start from it.
    pub(crate) fn new(s: Settings, now: Instant, nonce: u64) -> Engine {
        Engine {
            s,
            state: State::Starting,
            since: now,
            clock: Clock { start: now, next_send: now, asked: None, settle_until: None, last_step: now },
            links: Links { link_up: [true, true], link_since: [now, now] },
            peer: peer::PeerFacts::default(),
            backoff: backoff::Backoff::default(),
            kernel_view: kernel::KernelView::default(),
            fitness: Fitness { fit: true, fit_since: now, no_standby_noticed: false, gated_noticed: false },
            moves: Moves { moving: None, next_move: MoveId::FIRST, staged: None },
            probes: Probes { probe: None, next_probe: ProbeId::FIRST },
            primary: primary::PrimaryPart::default(),
            secondary: secondary::SecondaryPart::default(),
            text_probe: static_peer::TextProbe::default(),
            stopping: false,
            goodbye: true,
            manual: false,
            // The secondary echoes 0 until it hears a claim; the primary's
            // ids start above its nonce (its generation, never 0).
            claim_id: ClaimId(if s.role == Role::Primary { nonce } else { 0 }),
            pending: Vec::new(),
        }
    }

    pub(crate) fn state(&self) -> State {
        self.state
    }

    pub(crate) fn since(&self) -> Instant {
        self.since
    }

    #[cfg(test)]
    pub(crate) fn settings(&self) -> Settings {
        self.s
    }

    /// A shutdown is in progress.
    pub(crate) fn stopping(&self) -> bool {
        self.stopping
    }

    /// The move the engine waits for, if any.
    pub(crate) fn moving(&self) -> Option<(MoveId, Direction, Reason)> {
        self.moves.moving
    }

    /// Primary: the current claim. Secondary: the latest claim heard.
    pub(crate) fn claim_id(&self) -> ClaimId {
        self.claim_id
    }

    /// The latest time a retry this engine set after a failure waits for
    /// (a failed or partial move, a failed removal, a paused claim
    /// exchange, a repair of the kernel's addresses): the back-off of issue
    /// 28, up to `RETRY_CAP`. The simulator lets the pair settle only after
    /// it (its final check).
    pub(crate) fn waits_until(&self) -> Option<Instant> {
        [
            self.backoff.retry_at,
            self.backoff.release_retry_at,
            self.backoff.partial_retry,
            self.secondary.claims_paused_until(),
        ]
        .into_iter()
        .flatten()
        .chain(self.kernel_deadlines())
        .max()
    }

    #[cfg(test)]
    pub(crate) fn last_heard(&self, net: NetId) -> Option<Instant> {
        self.peer.heard[net.index()]
    }

    /// When the peer's last datagram on `net` arrived, even one that
    /// proves nothing (a goodbye, an overtaken one).
    pub(crate) fn last_datagram(&self, net: NetId) -> Option<Instant> {
        self.peer.last_datagram[net.index()]
    }

    /// The peer's newest word was a goodbye: it stopped on purpose.
    pub(crate) fn peer_left(&self) -> bool {
        self.peer.peer_left
    }

    /// Flags of the peer's latest heartbeat, status or claim (a goodbye
    /// or a "released" says nothing of them).
    pub(crate) fn peer_flags(&self) -> Option<Flags> {
        self.peer.peer_flags
    }

    pub(crate) fn link_up(&self, net: NetId) -> bool {
        self.links.link_up[net.index()]
    }

    /// Whether the service addresses are (or are being put) on this node.
    pub(crate) fn holding(&self) -> bool {
        let primary_static = self.s.role == Role::Primary && self.s.mode == crate::config::Mode::Static;
        !primary_static
            && matches!(self.state, State::Acquiring | State::Holding | State::Active | State::Releasing)
    }

    /// Whether a service address is on this node: held (or being put on
    /// or taken off), or one added from outside that this node could not
    /// remove yet (`kernel.rs`). The peer is never told "free" while an
    /// address is here (a removal that failed is not a hand-over).
    pub(crate) fn has_addresses(&self) -> bool {
        let primary_static = self.s.role == Role::Primary && self.s.mode == crate::config::Mode::Static;
        self.holding() || (!primary_static && self.kernel_view.held() != Held::None)
    }

    /// Flags for our outgoing datagrams (`docs/protocol.md`).
    pub(crate) fn flags(&self, now: Instant) -> Flags {
        let here = self.has_addresses();
        Flags(0)
            .with(Flags::HOLDING, self.holding())
            .with(Flags::PUBLIC_UP, self.links.link_up[0])
            .with(Flags::PRIVATE_UP, self.links.link_up[1])
            .with(Flags::HEARS_PUBLIC, self.fresh(NetId::Public, now))
            .with(Flags::HEARS_PRIVATE, self.fresh(NetId::Private, now))
            .with(
                Flags::ADDRESS_FREE,
                !here && matches!(self.state, State::PublicDown | State::Standby | State::Unfit),
            )
            .with(Flags::UNFIT, !self.fitness.fit)
            .with(Flags::MANUAL, self.manual && self.s.role == Role::Primary)
            .with(Flags::STATIC, self.s.role == Role::Primary && self.s.mode == crate::config::Mode::Static)
    }

    /// Feeds one input; returns what the monitor must do, in order.
    pub(crate) fn step(&mut self, input: Input, now: Instant) -> Vec<Action> {
        // Any input, not only a tick: after a freeze the first thing the
        // monitor sees is usually one reader's backlog, and judging
        // silence then would blame the other network.
        self.notice_stall(now);
        if self.clock.settle_until.is_some_and(|t| now >= t) {
            self.clock.settle_until = None;
        }
        self.clock.last_step = now;
        match input {
            Input::Tick => {}
            Input::Heard { net, kind, flags, claim, order } => {
                self.peer.last_datagram[net.index()] = Some(now);
                if self.overtaken(order, now) {
                    // Still a sign of life on that network, nothing more;
                    // unless the newest word of the peer was its goodbye.
                    if !self.peer.peer_left {
                        self.note_heard(net, true, now);
                    }
                } else {
                    self.peer.peer_left = kind == crate::proto::Kind::Goodbye;
                    self.heard_from_peer(net, kind, flags, claim, order.is_some(), now)
                }
            }
            Input::Link { net, up } => {
                if self.links.link_up[net.index()] != up {
                    self.links.link_since[net.index()] = now;
                    self.reset_backoff(now);
                }
                self.links.link_up[net.index()] = up;
            }
            Input::Moved(r) => self.moved(r, now),
            Input::Probed { id, free } => self.probed_any(id, free, now),
            Input::Kernel(held) => self.kernel(held, now),
            Input::Command(c) => {
                // An operator acts: whatever failed gets a fresh start.
                self.reset_backoff(now);
                self.command(c, now)
            }
            Input::Shutdown => self.shutdown(now),
            Input::Reload(r) => self.moves.staged = Some(r),
            Input::SameRole { flags, outranks } => self.same_role(flags, outranks, now),
            Input::Fitness { fit } => {
                if fit != self.fitness.fit {
                    self.fitness.fit = fit;
                    self.fitness.fit_since = now;
                    self.fitness.no_standby_noticed = false;
                    self.fitness.gated_noticed = false;
                    self.pending.push(Action::Notify(Notice::Fitness { fit }));
                }
            }
        }
        if self.stopping && self.moves.moving.is_none() && self.backoff.retry_at.is_some_and(|t| now >= t) {
            // A removal failed while stopping: try again.
            self.backoff.retry_at = None;
            self.shutdown(now);
        }
        self.evaluate(now);
        self.apply_reload(now);
        self.send_if_due(now);
        self.clock.asked = self.next_deadline();
        std::mem::take(&mut self.pending)
    }

    /// When the monitor must call `step(Input::Tick, ..)` at the latest.
    pub(crate) fn next_deadline(&self) -> Option<Instant> {
        if self.state == State::Stopped {
            return None;
        }
        let mut d = vec![self.clock.next_send];
        d.extend(self.clock.settle_until);
        d.extend(self.backoff.retry_at);
        d.extend(self.backoff.release_retry_at);
        d.extend(self.backoff.partial_retry);
        d.extend(self.kernel_deadlines());
        // The rival falls silent: what it held us off may go on.
        d.extend(self.peer.rival.map(|r| r.at + self.s.timing.dead_after));
        match self.s.role {
            Role::Secondary => d.extend(self.secondary_deadlines()),
            Role::Primary => d.extend(self.primary_deadlines()),
        }
        // A deadline at or before the last step was acted on; asking for it
        // again would spin.
        d.into_iter().filter(|&t| t > self.clock.last_step).min()
    }

    fn notice_stall(&mut self, now: Instant) {
        let slack = self.s.timing.stall_slack();
        if let Some(asked) = self.clock.asked {
            if now > asked + slack {
                self.clock.settle_until = Some(now + self.s.timing.settle());
            }
        }
    }

    fn settling(&self, now: Instant) -> bool {
        self.clock.settle_until.is_some_and(|t| now < t)
    }

    /// The one place where the state changes: records `old -> new (reason)`
    /// and performs what entering the new state means (docs/design.md §11.2: entry
    /// actions in one place, like dhcpleased's `state_transition()`).
    fn enter(&mut self, to: State, reason: Reason, detail: String, now: Instant) {
        if to == self.state {
            return;
        }
        let from = self.state;
        if to != State::Failed && !self.stopping {
            self.backoff.retry_at = None;
        }
        if reason != Reason::Manual && !matches!(to, State::Acquiring | State::Releasing | State::Standby) {
            self.manual = false;
        }
        self.state = to;
        self.since = now;
        self.secondary.state_changed();
        let notice = match (from, to) {
            (_, State::Anomaly(net)) => Some(Notice::Anomaly { net, detail: detail.clone() }),
            (State::Anomaly(net), State::Watching) => {
                Some(Notice::AnomalyCleared { net, detail: detail.clone() })
            }
            _ => None,
        };
        self.pending.push(Action::Transition(Transition { from, to, reason, detail }));
        match to {
            State::Acquiring => self.start_move(Direction::Acquire, reason),
            State::Releasing => self.start_move(Direction::Release, reason),
            State::Claiming => {
                self.claim_id = self.claim_id.next();
                self.primary.begin_claim(now);
                // A probe of an earlier claim answers nothing about this one.
                self.probes.probe = None;
                self.pending.push(Action::SendClaim { id: self.claim_id });
            }
            // Say it now, not at the next interval: the secondary takes
            // over on this declaration.
            State::PublicDown | State::Standby | State::Unfit => self.pending.push(Action::SendHeartbeat),
            State::Watching if from == State::Releasing => {
                // The answer the primary waits for, echoing its claim.
                self.secondary.gave_back(now);
                self.pending.push(Action::SendReleased { id: self.claim_id });
            }
            State::Stopped => {
                // Reached only with nothing held (or by `stop_holding`,
                // which says no goodbye). A static primary's addresses stay
                // on this host after we stop: a goodbye would invite the
                // secondary to add them a second time.
                if self.s.role == Role::Primary && self.s.mode == crate::config::Mode::Managed && self.goodbye
                {
                    self.pending.push(Action::SendGoodbye);
                }
                self.pending.push(Action::Exit);
            }
            _ => {}
        }
        if let Some(n) = notice {
            self.pending.push(Action::Notify(n));
        }
    }

    /// Asks for a probe of the addresses; its answer is `probed_any`'s.
    /// The early takeover probe's answer is no longer awaited: only the
    /// probe started last counts.
    fn start_probe(&mut self, wait: Duration) {
        self.secondary.forget_early_probe();
        let id = self.probes.next_probe;
        self.probes.next_probe = id.next();
        self.probes.probe = Some(id);
        self.pending.push(Action::Probe { id, wait });
    }

    /// The answer to probe `id`. Only the probe the engine waits for
    /// counts: an answer to an earlier one (the primary began a new claim
    /// meanwhile) says nothing about now.
    ///
    /// `free: None`, a probe that could not be made (the monitor could not
    /// start its thread, or its socket failed and nobody answered; the log
    /// says so, and the answer comes rather than leave the engine waiting
    /// for ever): the secondary's takeover probe then
    /// takes over on the silence alone, as `takeover_probe = 0` does. Both
    /// networks have been silent for dead_after, the rule the pair is built
    /// on; the probe only guards against a primary that is alive but
    /// silent, and a secondary that refuses to serve while the primary is
    /// most likely dead is the worse failure. The other probes decide
    /// nothing without an answer: the primary claims on and probes again
    /// after dead_after (the secondary may hold the addresses with its
    /// daemon dead), and Apple's text stays doubted (it is probed again
    /// after dead_after).
    fn probed_any(&mut self, id: ProbeId, free: Option<bool>, now: Instant) {
        if self.probes.probe != Some(id) {
            return;
        }
        self.probes.probe = None;
        match self.s.role {
            Role::Primary => self.probed(free, now),
            Role::Secondary if self.text_probe.running() => self.text_probed(free, now),
            Role::Secondary => self.takeover_probed(free, now),
        }
    }

    fn start_move(&mut self, dir: Direction, reason: Reason) {
        let id = self.moves.next_move;
        self.moves.next_move = id.next();
        self.moves.moving = Some((id, dir, reason));
        self.pending.push(Action::Move { id, dir, reason });
    }

    fn heard_from_peer(
        &mut self,
        net: NetId,
        kind: crate::proto::Kind,
        flags: Flags,
        claim: Option<ClaimId>,
        v1: bool,
        now: Instant,
    ) {
        use crate::proto::Kind;
        match (self.s.role, kind) {
            (Role::Secondary, Kind::Goodbye) => return self.goodbye(now),
            (Role::Secondary, Kind::Heartbeat | Kind::Claim)
            | (Role::Primary, Kind::Status | Kind::Released) => {}
            _ => return,
        }
        if !self.peer_heard(now) {
            self.peer.peer_back_at = Some(now);
            // The peer is back after silence on both networks: whatever
            // failed meanwhile starts afresh.
            self.reset_backoff(now);
        }
        // A "released" proves the secondary alive on that network as much
        // as its status does (the simulator's invariant (i): no "secondary
        // no longer heard" while its answers arrive).
        self.note_heard(net, v1, now);
        if kind == Kind::Released {
            return self.primary_got_released(claim, now);
        }
        self.peer.peer_flags = Some(flags);
        match self.s.role {
            Role::Primary => self.primary_status(flags, claim, now),
            Role::Secondary if kind == Kind::Claim => self.secondary_claim(claim, now),
            Role::Secondary => {}
        }
    }

    /// The peer is alive on `net` (`v1`: by a datagram of protocol v1, not
    /// Apple's text). A silence of dead_after before it starts a new
    /// steady run.
    fn note_heard(&mut self, net: NetId, v1: bool, now: Instant) {
        if self.s.role == Role::Secondary {
            // A sign of life: the takeover that a probe prepares is off.
            self.cancel_takeover_probe();
        }
        let i = net.index();
        if !self.fresh(net, now) {
            self.peer.steady_since[i] = Some(now);
        }
        self.peer.heard[i] = Some(now);
        if v1 {
            self.peer.heard_v1[i] = Some(now);
        }
    }

    /// Whether a datagram is older than the newest one heard from the peer
    /// (it was overtaken by one sent later on the other network); if not,
    /// it becomes the newest.
    fn overtaken(&mut self, order: Option<Order>, now: Instant) -> bool {
        let Some(order) = order else { return false };
        if self.peer.peer_order.is_some_and(|newest| order < newest) {
            return true;
        }
        if self.peer.peer_order.is_none_or(|newest| order.generation > newest.generation) {
            self.peer.peer_gen_since = Some(now);
        }
        self.peer.peer_order = Some(order);
        false
    }

    /// The peer was heard on `net` less than dead_after ago.
    fn fresh(&self, net: NetId, now: Instant) -> bool {
        self.peer.heard[net.index()].is_some_and(|t| self.s.timing.fresh(t, now))
    }

    /// Another node of this pair runs with our role: said at most once an
    /// hour. Of two that both hold the addresses, the one that outranks
    /// keeps them (`rival_blocks`); the other gives way at once, so two
    /// owners last no longer than one datagram's way.
    fn same_role(&mut self, flags: Flags, outranks: bool, now: Instant) {
        self.peer.rival = Some(peer::Rival { at: now, flags, outranks });
        if self.peer.same_role_noticed.is_none_or(|t| now >= t + SAME_ROLE_NOTICE_EVERY) {
            self.peer.same_role_noticed = Some(now);
            self.pending.push(Action::Notify(Notice::SameRole { holding: self.holding() }));
        }
        let serving = self.state == self.held_state() && self.moves.moving.is_none() && !self.stopping;
        // A removal that failed waits for its retry (the back-off).
        let release_due = self.backoff.release_retry_at.is_none_or(|t| now >= t);
        if serving && release_due && self.rival_blocks(now) {
            let detail =
                "another node of this pair with our role holds the addresses and outranks us".to_string();
            self.enter(State::Releasing, Reason::Conflict, detail, now);
        }
    }

    /// The tie-break between two nodes of one role (as VRRP breaks ties by
    /// address, RFC 5798): a rival heard less than dead_after ago that
    /// could serve (fit, its public link up) keeps this node off the
    /// addresses when it holds them and we do not, or when both or neither
    /// hold them and it outranks us (lower sender id, then generation).
    /// Both sides compute the same answer from each other's datagrams, so
    /// exactly one serves; a rival that cannot serve blocks nobody.
    pub(super) fn rival_blocks(&self, now: Instant) -> bool {
        let Some(r) = self.peer.rival else { return false };
        let heard = now < r.at + self.s.timing.dead_after;
        let able = r.flags.has(Flags::PUBLIC_UP) && !r.flags.has(Flags::UNFIT);
        let rival_holds = r.flags.has(Flags::HOLDING);
        let wins = if rival_holds == self.holding() { r.outranks } else { rival_holds };
        heard && able && wins
    }

    /// The peer was heard on some network less than dead_after ago.
    fn peer_heard(&self, now: Instant) -> bool {
        NetId::ALL.iter().any(|&n| self.fresh(n, now))
    }

    /// How long to wait before trying a failed move again, after the
    /// failures in a row so far (`Timing::retry_delay`).
    pub(crate) fn retry_delay(&self) -> Duration {
        self.backoff.delay(&self.s.timing)
    }

    /// How long a stopping daemon waits before it tries again to remove
    /// the addresses (at most `STOP_ATTEMPTS` tries; `Timing::stop_retry_delay`).
    pub(crate) fn stop_retry_delay(&self) -> Duration {
        self.s.timing.stop_retry_delay()
    }

    /// A move failed (wholly or partly, or Test refused): the next retry
    /// waits longer.
    fn note_failure(&mut self, dir: Direction) {
        self.backoff.note_failure(dir);
    }

    /// A move succeeded, or what made the moves fail may have changed:
    /// the back-off starts afresh (`Backoff::reset`).
    fn reset_backoff(&mut self, now: Instant) {
        self.backoff.reset(now, &self.s.timing, self.stopping);
    }

    /// The state that holds the addresses, for this role.
    fn held_state(&self) -> State {
        match self.s.role {
            Role::Primary => State::Active,
            Role::Secondary => State::Holding,
        }
    }

    /// The mover's report. Only the move we wait for counts, and what the
    /// kernel shows decides, not what the ioctls said.
    fn moved(&mut self, r: MoveReport, now: Instant) {
        let Some((id, dir, reason)) = self.moves.moving else { return };
        if r.id != id {
            return;
        }
        self.moves.moving = None;
        self.kernel_view.reported(r.held);
        let outcome = match (r.held, r.vetoed) {
            (Held::All, _) => Outcome::Done,
            (Held::Some, _) => Outcome::Partial,
            (Held::None, true) => Outcome::Vetoed,
            (Held::None, false) => Outcome::Failed,
        };
        match (dir, outcome) {
            (Direction::Acquire, Outcome::Partial | Outcome::Failed) => self.note_failure(dir),
            (Direction::Release, _) if r.held != Held::None => self.note_failure(dir),
            // The put-back after a failed removal is no success of the
            // removal: its backoff goes on.
            (Direction::Acquire, Outcome::Done) if self.backoff.failed_release => {}
            (_, Outcome::Done) | (Direction::Release, _) => self.reset_backoff(now),
            (Direction::Acquire, Outcome::Vetoed) => {}
        }
        match dir {
            Direction::Acquire => self.acquire_done(id, reason, outcome, now),
            Direction::Release if reason == Reason::AddressAdded => self.removal_done(id, r.held, now),
            Direction::Release => self.release_done(id, reason, r, now),
        }
        if self.kernel_view.take_recheck() {
            // The kernel changed while the mover worked: is it what the
            // report says?
            self.pending.push(Action::CheckKernel);
        }
        if self.stopping && self.moves.moving.is_none() && self.backoff.retry_at.is_none() {
            self.shutdown(now);
        }
    }

    fn acquire_done(&mut self, id: MoveId, reason: Reason, outcome: Outcome, now: Instant) {
        let secondary = self.s.role == Role::Secondary;
        // A takeover is news; the primary taking its own addresses, or a
        // reload adding one, is routine unless something went wrong.
        let mailed = match outcome {
            // A put-back was mailed when the address was found gone.
            Outcome::Done => secondary && !matches!(reason, Reason::Reload | Reason::AddressLost),
            Outcome::Partial | Outcome::Failed => true,
            Outcome::Vetoed => true,
        };
        let detail = match outcome {
            Outcome::Partial => "some of the addresses could not be added".to_string(),
            _ => String::new(),
        };
        self.backoff.partial_retry = (outcome == Outcome::Partial).then(|| now + self.retry_delay());
        match outcome {
            Outcome::Done | Outcome::Partial => self.enter(self.held_state(), Reason::Acquired, detail, now),
            Outcome::Vetoed => self.enter(State::Vetoed, Reason::Veto, detail, now),
            Outcome::Failed => {
                self.enter(State::Failed, Reason::AcquireFailed, detail, now);
                // A node that is stopping does not try again, and must not
                // wait for the retry to stop.
                if !self.stopping {
                    self.backoff.retry_at = Some(now + self.retry_delay());
                }
            }
        }
        if mailed {
            self.pending.push(Action::Notify(Notice::Move { id, dir: Direction::Acquire, reason, outcome }));
        }
    }

    fn release_done(&mut self, id: MoveId, reason: Reason, r: MoveReport, now: Instant) {
        let secondary = self.s.role == Role::Secondary;
        let notify = |e: &mut Engine, outcome| {
            e.pending.push(Action::Notify(Notice::Move { id, dir: Direction::Release, reason, outcome }))
        };
        if r.held != Held::None {
            // Still ours: keep serving and say so; never a goodbye, never
            // "released", never ADDRESS_FREE while an address is here.
            let (why, outcome) = if r.vetoed {
                (Reason::Veto, Outcome::Vetoed)
            } else {
                (Reason::ReleaseFailed, Outcome::Failed)
            };
            self.enter(self.held_state(), why, "an address is still on this node".to_string(), now);
            notify(self, outcome);
            if r.held == Held::Some {
                // Still serving: what was removed already is put back
                // (unless the reason to remove, such as our public link
                // being down, still holds: see `partial_due`).
                self.backoff.partial_retry = Some(now);
            }
            if self.stopping {
                self.backoff.stop_failures += 1;
                if self.backoff.stop_failures >= STOP_ATTEMPTS {
                    return self.stop_holding(now);
                }
                self.backoff.retry_at = Some(now + self.stop_retry_delay());
            } else if secondary {
                // The primary's next claim tries again, after a pause: a
                // long one when the operator's Test refused, so that it is
                // not asked every interval.
                let pause = if r.vetoed { self.s.timing.veto_pause() } else { self.retry_delay() };
                self.secondary.pause_claims(now + pause);
                // And a removal for our own reasons (our public link is
                // down) is tried again after dead_after.
                self.backoff.release_retry_at = Some(now + self.retry_delay());
            } else if reason != Reason::Manual {
                self.backoff.release_retry_at = Some(now + self.retry_delay());
            }
            return;
        }
        self.backoff.release_retry_at = None;
        if self.stopping {
            return self.enter(State::Stopped, Reason::Shutdown, String::new(), now);
        }
        if secondary {
            notify(self, Outcome::Done);
            let why = if reason == Reason::Manual { Reason::Manual } else { Reason::Released };
            return self.enter(State::Watching, why, String::new(), now);
        }
        if matches!(reason, Reason::PrimaryPublicDown | Reason::ServiceCheckFailed) {
            notify(self, Outcome::Done);
        }
        if reason == Reason::ServiceCheckFailed {
            let detail =
                "our service checks fail: the addresses are declared free for the secondary".to_string();
            self.enter(State::Unfit, Reason::ServiceCheckFailed, detail, now);
        } else if self.manual {
            let detail =
                "stood down by an operator until 'ipfailoverd takeover' or the secondary is lost".to_string();
            self.enter(State::Standby, Reason::Manual, detail, now);
        } else if self.links.link_up[NetId::Public.index()] {
            self.claim(Reason::Conflict, String::new(), now);
        } else {
            self.public_down(now);
        }
    }

    fn shutdown(&mut self, now: Instant) {
        self.stopping = true;
        match self.state {
            // Wait for the move in progress; `moved` calls back.
            _ if self.moves.moving.is_some() => {}
            State::Stopped => {}
            // The addresses go first, the goodbye after (in `release_done`):
            // the secondary must never add them while we still hold them.
            _ if self.holding() => {
                self.backoff.retry_at = None;
                self.enter(State::Releasing, Reason::Shutdown, String::new(), now);
            }
            _ => self.enter(State::Stopped, Reason::Shutdown, String::new(), now),
        }
    }

    /// The addresses could not be removed: stop without a goodbye, so that
    /// the secondary waits dead_after (and probes) instead of adding them
    /// at once beside ours.
    fn stop_holding(&mut self, now: Instant) {
        self.pending.push(Action::Notify(Notice::StoppedHolding));
        self.goodbye = false;
        let detail = "the addresses could not be removed; stopping without a goodbye".to_string();
        self.enter(State::Stopped, Reason::ReleaseFailed, detail, now);
    }

    fn evaluate(&mut self, now: Instant) {
        if self.stopping || self.moves.moving.is_some() {
            return;
        }
        if self.state != self.held_state() {
            self.backoff.partial_retry = None;
        }
        self.put_back_due(now);
        self.removal_due(now);
        self.recheck_due(now);
        if self.moves.moving.is_some() {
            return;
        }
        match self.s.role {
            Role::Primary => self.primary_evaluate(now),
            Role::Secondary => self.secondary_evaluate(now),
        }
    }

    /// Some addresses are missing from a held set and it is time to put
    /// them back.
    fn partial_due(&self, now: Instant) -> bool {
        self.state == self.held_state() && self.backoff.partial_retry.is_some_and(|t| now >= t)
    }

    fn restore_partial(&mut self, now: Instant) {
        let detail = "adding the addresses that are missing".to_string();
        self.enter(State::Acquiring, Reason::AcquireFailed, detail, now);
    }

    /// Applies a staged reload once no move is in progress. While this node
    /// holds the addresses and the list changed, the kernel is brought in
    /// line through the mover like any other move.
    fn apply_reload(&mut self, now: Instant) {
        if self.moves.moving.is_some() || self.stopping {
            return;
        }
        let Some(r) = self.moves.staged.take() else { return };
        self.reset_backoff(now);
        if r.settings.role == self.s.role && r.settings.mode == self.s.mode {
            self.s = r.settings;
        }
        self.pending.push(Action::Reconfigure);
        // The new list may name an address that is already here.
        self.pending.push(Action::CheckKernel);
        let primary_static = self.s.role == Role::Primary && self.s.mode == crate::config::Mode::Static;
        if r.addresses_changed && self.holding() && !primary_static {
            let detail = "the reloaded configuration changed the service addresses".to_string();
            self.enter(State::Acquiring, Reason::Reload, detail, now);
        }
    }

    /// A healthy secondary sends its periodic status on one network per
    /// interval, in turn: the primary needs to hear it on some network (it
    /// is alive, what it holds, its fitness, its answer to a claim), and
    /// each network still carries one every two intervals, within
    /// dead_after when dead_after is three intervals or more. Anything off
    /// (not watching, a link of ours down, the primary not hearing us on
    /// both networks) and it goes on both, every interval. Moves, claims
    /// and releases are answered at once on both networks in any case.
    fn status_networks(&mut self, now: Instant) -> Option<NetId> {
        let t = self.s.timing;
        let heard =
            self.peer.peer_flags.is_some_and(|f| f.has(Flags::HEARS_PUBLIC) && f.has(Flags::HEARS_PRIVATE));
        let healthy = self.state == State::Watching
            && t.statuses_take_turns()
            && heard
            && !self.peer.peer_left
            && self.links.link_up.iter().all(|&u| u)
            && NetId::ALL.iter().all(|&n| self.fresh(n, now));
        if !healthy {
            return None;
        }
        Some(self.secondary.next_status_net())
    }

    fn send_if_due(&mut self, now: Instant) {
        if self.stopping || now < self.clock.next_send {
            return;
        }
        let periodic = match self.s.role {
            Role::Primary => Action::SendHeartbeat,
            Role::Secondary => Action::SendStatus { only: self.status_networks(now) },
        };
        self.pending.push(periodic);
        if self.state == State::Claiming {
            self.pending.push(Action::SendClaim { id: self.claim_id });
        }
        self.clock.next_send += self.s.timing.interval;
        if self.clock.next_send <= now {
            // We fell behind (frozen, starved): do not send a burst.
            self.clock.next_send = now + self.s.timing.interval;
        }
    }
}

/// Removal attempts while stopping before the daemon gives up and stops
/// without a goodbye.
const STOP_ATTEMPTS: u32 = 3;

/// A pair with two nodes of one role stays misconfigured until an operator
/// acts: one mail an hour is enough.
const SAME_ROLE_NOTICE_EVERY: Duration = Duration::from_secs(3600);

/// Tests: the id of the latest probe among `actions`.
#[cfg(test)]
fn last_probe(actions: &[(u64, Action)]) -> ProbeId {
    let mut probes = actions.iter().rev().filter_map(|(_, a)| match a {
        Action::Probe { id, .. } => Some(*id),
        _ => None,
    });
    probes.next().unwrap_or(ProbeId(0))
}

#[cfg(test)]
mod backoff_tests;
#[cfg(test)]
mod command_tests;
#[cfg(test)]
mod defect_tests;
#[cfg(test)]
mod fitness_tests;
#[cfg(test)]
mod kernel_tests;
#[cfg(test)]
mod pair_tests;
#[cfg(test)]
mod primary_tests;
#[cfg(test)]
mod probe_tests;
#[cfg(test)]
mod same_role_tests;
#[cfg(test)]
mod secondary_tests;
#[cfg(test)]
mod test_driver;
#[cfg(test)]
mod tests;
