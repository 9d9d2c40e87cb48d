//! The failover state machine. Pure: no I/O, no clock reads, no logging.
//!
//! The monitor feeds it `Input`s with the current monotonic time and
//! carries out the `Action`s it returns; `next_deadline()` says when to
//! call `step(Input::Tick, now)` if nothing else happens first. Every state
//! change goes through `Engine::enter`, which records `old -> new (reason)`.
#![forbid(unsafe_code)]

mod command;
mod primary;
mod secondary;
mod types;

pub use secondary::secs;
pub use types::{Action, Command, Input, Moved, Notice, Reason, Settings, State, Timing, Transition};

use crate::config::{NetId, Role};
use crate::proto::Flags;
use std::time::{Duration, Instant};

/// The engine's whole state. Only the monitor thread owns one.
#[derive(Debug)]
pub struct Engine {
    s: Settings,
    start: Instant,
    state: State,
    since: Instant,
    /// Last accepted datagram from the peer, per network.
    heard: [Option<Instant>; 2],
    /// Our own links (carrier), as the reader threads report them.
    link_up: [bool; 2],
    /// Flags of the peer's last datagram.
    peer_flags: Option<Flags>,
    next_send: Instant,
    /// The deadline we last asked for: a Tick much later than this means the
    /// process was frozen or starved (see `settle`).
    asked: Option<Instant>,
    /// Until then no takeover is decided: the reader threads get time to
    /// deliver what queued up on the sockets while we were not running.
    settle_until: Option<Instant>,
    /// A takeover that failed is retried no earlier than this.
    retry_at: Option<Instant>,
    stopping: bool,
    /// Primary: when the latest status saying the secondary holds the
    /// addresses arrived (None once a status says it does not).
    peer_holding_at: Option<Instant>,
    /// Primary: the secondary's status has stopped (notice sent).
    peer_lost: bool,
    /// Primary: when the current claim began, and whether a probe runs.
    claim_since: Option<Instant>,
    probing: bool,
    claim_noticed: bool,
    /// The current move or stand-down was asked for by an operator.
    manual: bool,
    /// Secondary: after a refused or failed give-back, claims wait.
    claims_paused_until: Option<Instant>,
    /// When each of our links last changed state.
    link_since: [Instant; 2],
    /// Secondary: when it last gave the addresses back. While it held them
    /// it could not hear datagrams sent from them (Linux drops a datagram
    /// whose source is one of its own addresses), so silence counts anew.
    released_at: Option<Instant>,
    /// The `now` of the latest step: deadlines at or before it were acted on.
    last_step: Instant,
    pending: Vec<Action>,
}

impl Engine {
    pub fn new(s: Settings, now: Instant) -> Engine {
        Engine {
            s,
            start: now,
            state: State::Starting,
            since: now,
            heard: [None, None],
            link_up: [true, true],
            peer_flags: None,
            next_send: now,
            asked: None,
            settle_until: None,
            retry_at: None,
            stopping: false,
            peer_holding_at: None,
            peer_lost: false,
            claim_since: None,
            probing: false,
            claim_noticed: false,
            claims_paused_until: None,
            manual: false,
            link_since: [now, now],
            released_at: None,
            last_step: now,
            pending: Vec::new(),
        }
    }

    /// A reload changed timing or failback (role and mode need a restart).
    pub fn update_settings(&mut self, s: Settings) {
        if s.role == self.s.role && s.mode == self.s.mode {
            self.s = s;
        }
    }

    pub fn state(&self) -> State {
        self.state
    }

    pub fn since(&self) -> Instant {
        self.since
    }

    pub fn role(&self) -> Role {
        self.s.role
    }

    pub fn last_heard(&self, net: NetId) -> Option<Instant> {
        self.heard[net.index()]
    }

    /// Flags of the peer's latest datagram.
    pub fn peer_flags(&self) -> Option<Flags> {
        self.peer_flags
    }

    pub fn link_up(&self, net: NetId) -> bool {
        self.link_up[net.index()]
    }

    /// Whether the service addresses are (or are being put) on this node.
    pub fn holding(&self) -> bool {
        let primary_static = self.s.role == Role::Primary && self.s.mode == crate::config::Mode::Static;
        !primary_static
            && matches!(self.state, State::Acquiring | State::Holding | State::Active | State::Releasing)
    }

    /// Flags for our outgoing datagrams (`docs/protocol.md`).
    pub fn flags(&self, now: Instant) -> Flags {
        Flags(0)
            .with(Flags::HOLDING, self.holding())
            .with(Flags::PUBLIC_UP, self.link_up[0])
            .with(Flags::PRIVATE_UP, self.link_up[1])
            .with(Flags::HEARS_PUBLIC, self.fresh(NetId::Public, now))
            .with(Flags::HEARS_PRIVATE, self.fresh(NetId::Private, now))
            .with(Flags::ADDRESS_FREE, matches!(self.state, State::PublicDown | State::Standby))
            .with(Flags::MANUAL, self.manual && self.s.role == Role::Primary)
            .with(Flags::STATIC, self.s.role == Role::Primary && self.s.mode == crate::config::Mode::Static)
    }

    /// Feeds one input; returns what the monitor must do, in order.
    pub fn step(&mut self, input: Input, now: Instant) -> Vec<Action> {
        // Any input, not only a tick: after a freeze the first thing the
        // monitor sees is usually one reader's backlog, and judging
        // silence then would blame the other network.
        self.notice_stall(now);
        if self.settle_until.is_some_and(|t| now >= t) {
            self.settle_until = None;
        }
        self.last_step = now;
        match input {
            Input::Tick => {}
            Input::Heard { net, kind, flags } => self.heard_from_peer(net, kind, flags, now),
            Input::Link { net, up } => {
                if self.link_up[net.index()] != up {
                    self.link_since[net.index()] = now;
                }
                self.link_up[net.index()] = up;
            }
            Input::Acquired(m) => self.acquired(m, now),
            Input::Released(m) => self.released(m, now),
            Input::Probed { free } => self.probed(free, now),
            Input::FoundHolding => self.found_holding(now),
            Input::Command(c) => self.command(c, now),
            Input::Shutdown => self.shutdown(now),
        }
        self.evaluate(now);
        self.send_if_due(now);
        self.asked = self.next_deadline();
        std::mem::take(&mut self.pending)
    }

    /// When the monitor must call `step(Input::Tick, ..)` at the latest.
    pub fn next_deadline(&self) -> Option<Instant> {
        if self.state == State::Stopped {
            return None;
        }
        let mut d = vec![self.next_send];
        d.extend(self.settle_until);
        d.extend(self.retry_at);
        match self.s.role {
            Role::Secondary => d.extend(self.secondary_deadlines()),
            Role::Primary => d.extend(self.primary_deadlines()),
        }
        // A deadline at or before the last step was acted on; asking for it
        // again would spin.
        d.into_iter().filter(|&t| t > self.last_step).min()
    }

    fn notice_stall(&mut self, now: Instant) {
        let slack = self.s.timing.interval.max(Duration::from_millis(20));
        if let Some(asked) = self.asked {
            if now > asked + slack {
                let settle =
                    (self.s.timing.interval * 2).clamp(Duration::from_millis(20), Duration::from_secs(1));
                self.settle_until = Some(now + settle);
            }
        }
    }

    fn settling(&self, now: Instant) -> bool {
        self.settle_until.is_some_and(|t| now < t)
    }

    /// The one place where the state changes.
    fn enter(&mut self, to: State, reason: Reason, detail: String, now: Instant) {
        if to == self.state {
            return;
        }
        let from = self.state;
        if to != State::Failed {
            self.retry_at = None;
        }
        if reason != Reason::Manual && !matches!(to, State::Acquiring | State::Releasing | State::Standby) {
            self.manual = false;
        }
        self.state = to;
        self.since = now;
        self.pending.push(Action::Transition(Transition { from, to, reason, detail }));
    }

    fn heard_from_peer(&mut self, net: NetId, kind: crate::proto::Kind, flags: Flags, now: Instant) {
        use crate::proto::Kind;
        match (self.s.role, kind) {
            (Role::Secondary, Kind::Goodbye) => return self.goodbye(now),
            (Role::Primary, Kind::Released) => return self.primary_got_released(now),
            (Role::Secondary, Kind::Heartbeat | Kind::Claim) | (Role::Primary, Kind::Status) => {}
            _ => return,
        }
        self.heard[net.index()] = Some(now);
        self.peer_flags = Some(flags);
        match self.s.role {
            Role::Primary => self.primary_status(flags, now),
            Role::Secondary if kind == Kind::Claim => self.secondary_claim(now),
            Role::Secondary => {}
        }
    }

    /// The peer was heard on `net` less than dead_after ago.
    fn fresh(&self, net: NetId, now: Instant) -> bool {
        self.heard[net.index()].is_some_and(|t| now.duration_since(t) < self.s.timing.dead_after)
    }

    fn acquired(&mut self, m: Moved, now: Instant) {
        if self.state != State::Acquiring {
            return;
        }
        let (to, reason) = match (m, self.s.role) {
            (Moved::Done, Role::Primary) => (State::Active, Reason::Acquired),
            (Moved::Done, Role::Secondary) => (State::Holding, Reason::Acquired),
            (Moved::Vetoed, _) => (State::Vetoed, Reason::Veto),
            (Moved::Failed, _) => {
                self.retry_at = Some(now + self.s.timing.dead_after);
                (State::Failed, Reason::AcquireFailed)
            }
        };
        self.enter(to, reason, String::new(), now);
        if self.stopping {
            self.shutdown(now);
        }
    }

    fn released(&mut self, m: Moved, now: Instant) {
        if self.state != State::Releasing {
            return;
        }
        if m != Moved::Done && !self.stopping && self.s.role == Role::Secondary {
            // Still ours: keep serving; the primary's next claim (after the
            // pause for a veto) tries again.
            let reason = if m == Moved::Vetoed { Reason::Veto } else { Reason::ReleaseFailed };
            self.claims_paused_until =
                Some(now + (self.s.timing.dead_after * 10).max(Duration::from_secs(10)));
            self.enter(State::Holding, reason, String::new(), now);
            return;
        }
        if self.stopping {
            self.stop(now);
        } else if self.manual {
            if self.s.role == Role::Secondary {
                self.pending.push(Action::SendReleased);
            }
            let detail =
                "stood down by an operator until 'ipfailoverd takeover' or the peer asks".to_string();
            self.enter(State::Standby, Reason::Manual, detail, now);
            if self.s.role == Role::Primary {
                self.pending.push(Action::SendHeartbeat);
            }
        } else if self.s.role == Role::Primary {
            self.primary_released(now);
        } else {
            self.pending.push(Action::SendReleased);
            self.released_at = Some(now);
            self.enter(State::Watching, Reason::Released, String::new(), now);
        }
    }

    fn shutdown(&mut self, now: Instant) {
        self.stopping = true;
        match self.state {
            // Wait for the move in progress; `acquired`/`released` call back.
            State::Acquiring | State::Releasing => {}
            State::Stopped => {}
            // The addresses go first, the goodbye after (in `released`):
            // the secondary must never add them while we still hold them.
            _ if self.holding() => {
                self.enter(State::Releasing, Reason::Shutdown, String::new(), now);
                self.pending.push(Action::Release { reason: Reason::Shutdown });
            }
            _ => self.stop(now),
        }
    }

    fn stop(&mut self, now: Instant) {
        // A static primary's addresses stay on this host after we stop: a
        // goodbye would invite the secondary to add them a second time.
        if self.s.role == Role::Primary && self.s.mode == crate::config::Mode::Managed {
            self.pending.push(Action::SendGoodbye);
        }
        self.enter(State::Stopped, Reason::Shutdown, String::new(), now);
        self.pending.push(Action::Exit);
    }

    fn evaluate(&mut self, now: Instant) {
        if self.stopping {
            return;
        }
        match self.s.role {
            Role::Primary => self.primary_evaluate(now),
            Role::Secondary => self.secondary_evaluate(now),
        }
    }

    fn send_if_due(&mut self, now: Instant) {
        if self.stopping || now < self.next_send {
            return;
        }
        self.pending.push(match self.s.role {
            Role::Primary => Action::SendHeartbeat,
            Role::Secondary => Action::SendStatus,
        });
        if self.state == State::Claiming {
            self.pending.push(Action::SendClaim);
        }
        self.next_send += self.s.timing.interval;
        if self.next_send <= now {
            // We fell behind (frozen, starved): do not send a burst.
            self.next_send = now + self.s.timing.interval;
        }
    }
}

#[cfg(test)]
mod pair_tests;
#[cfg(test)]
mod tests;
