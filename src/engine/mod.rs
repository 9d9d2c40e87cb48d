//! The failover state machine. Pure: no I/O, no clock reads, no logging.
//!
//! The monitor feeds it `Input`s with the current monotonic time and
//! carries out the `Action`s it returns; `next_deadline()` says when to
//! call `step(Input::Tick, now)` if nothing else happens first. Every state
//! change goes through `Engine::enter`, which records `old -> new (reason)`.
#![forbid(unsafe_code)]

mod primary;
mod secondary;
mod types;

pub use secondary::secs;
pub use types::{Action, Input, Reason, Settings, State, Timing, Transition};

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
    /// Start of the current unbroken run of datagrams, per network.
    streak: [Option<Instant>; 2],
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
            streak: [None, None],
            link_up: [true, true],
            peer_flags: None,
            next_send: now,
            asked: None,
            settle_until: None,
            retry_at: None,
            stopping: false,
            last_step: now,
            pending: Vec::new(),
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

    pub fn link_up(&self, net: NetId) -> bool {
        self.link_up[net.index()]
    }

    /// Whether the service addresses are (being put) on this node.
    pub fn holding(&self) -> bool {
        matches!(self.state, State::Holding | State::Active | State::Releasing)
    }

    /// Flags for our outgoing datagrams (`docs/protocol.md`).
    pub fn flags(&self, now: Instant) -> Flags {
        Flags(0)
            .with(Flags::HOLDING, self.holding())
            .with(Flags::PUBLIC_UP, self.link_up[0])
            .with(Flags::PRIVATE_UP, self.link_up[1])
            .with(Flags::HEARS_PUBLIC, self.fresh(NetId::Public, now))
            .with(Flags::HEARS_PRIVATE, self.fresh(NetId::Private, now))
            .with(
                Flags::STATIC,
                self.s.role == Role::Primary && self.s.mode == crate::config::Mode::Static,
            )
    }

    /// Feeds one input; returns what the monitor must do, in order.
    pub fn step(&mut self, input: Input, now: Instant) -> Vec<Action> {
        if input == Input::Tick {
            self.notice_stall(now);
        }
        if self.settle_until.is_some_and(|t| now >= t) {
            self.settle_until = None;
        }
        self.last_step = now;
        match input {
            Input::Tick => {}
            Input::Heard { net, kind, flags } => self.heard_from_peer(net, kind, flags, now),
            Input::Link { net, up } => self.link_up[net.index()] = up,
            Input::Acquired { ok } => self.acquired(ok, now),
            Input::Released => self.released(now),
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
        if self.s.role == Role::Secondary {
            d.extend(self.secondary_deadlines());
        }
        // A deadline at or before the last step was acted on; asking for it
        // again would spin.
        d.into_iter().filter(|&t| t > self.last_step).min()
    }

    fn notice_stall(&mut self, now: Instant) {
        let slack = self.s.timing.interval.max(Duration::from_millis(20));
        if let Some(asked) = self.asked {
            if now > asked + slack {
                let settle = (self.s.timing.interval * 2).clamp(Duration::from_millis(20), Duration::from_secs(1));
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
        self.state = to;
        self.since = now;
        self.pending.push(Action::Transition(Transition { from, to, reason, detail }));
    }

    fn heard_from_peer(
        &mut self,
        net: NetId,
        kind: crate::proto::Kind,
        flags: Flags,
        now: Instant,
    ) {
        if kind == crate::proto::Kind::Goodbye {
            if self.s.role == Role::Secondary {
                self.goodbye(now);
            }
            return;
        }
        let i = net.index();
        let gap_broken = self.heard[i].is_none_or(|t| now.duration_since(t) >= self.s.timing.dead_after);
        if gap_broken {
            self.streak[i] = Some(now);
        }
        self.heard[i] = Some(now);
        self.peer_flags = Some(flags);
    }

    /// The peer was heard on `net` less than dead_after ago.
    fn fresh(&self, net: NetId, now: Instant) -> bool {
        self.heard[net.index()].is_some_and(|t| now.duration_since(t) < self.s.timing.dead_after)
    }

    fn acquired(&mut self, ok: bool, now: Instant) {
        if self.state != State::Acquiring {
            return;
        }
        let to = match (ok, self.s.role) {
            (true, Role::Primary) => State::Active,
            (true, Role::Secondary) => State::Holding,
            (false, _) => {
                self.retry_at = Some(now + self.s.timing.dead_after);
                State::Failed
            }
        };
        let reason = if ok { Reason::Acquired } else { Reason::AcquireFailed };
        self.enter(to, reason, String::new(), now);
        if self.stopping {
            self.shutdown(now);
        }
    }

    fn released(&mut self, now: Instant) {
        if self.state != State::Releasing {
            return;
        }
        if self.stopping {
            self.enter(State::Stopped, Reason::Shutdown, String::new(), now);
            self.pending.push(Action::Exit);
        } else {
            self.enter(State::Watching, Reason::Released, String::new(), now);
        }
    }

    fn shutdown(&mut self, now: Instant) {
        self.stopping = true;
        if self.s.role == Role::Primary && !self.pending.contains(&Action::SendGoodbye) {
            self.pending.push(Action::SendGoodbye);
        }
        match self.state {
            // Wait for the move in progress; `acquired`/`released` call back.
            State::Acquiring | State::Releasing => {}
            State::Holding | State::Active if self.s.role == Role::Secondary || self.s.mode == crate::config::Mode::Managed => {
                self.enter(State::Releasing, Reason::Shutdown, String::new(), now);
                self.pending.push(Action::Release { reason: Reason::Shutdown });
            }
            State::Stopped => {}
            _ => {
                self.enter(State::Stopped, Reason::Shutdown, String::new(), now);
                self.pending.push(Action::Exit);
            }
        }
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
        self.next_send += self.s.timing.interval;
        if self.next_send <= now {
            // We fell behind (frozen, starved): do not send a burst.
            self.next_send = now + self.s.timing.interval;
        }
    }
}

#[cfg(test)]
mod tests;
