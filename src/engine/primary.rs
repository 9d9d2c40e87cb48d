//! The primary's rules (managed mode, SPEC 4.4): it adds its addresses only
//! after the secondary has said it does not hold them (claim / released),
//! or, when the secondary is silent, after an ARP probe found them free. It
//! drops them when its public link goes down and says so in its heartbeats.
//! In static mode the OS owns the addresses and the primary only talks.

use super::{secs, Action, Engine, Notice, Reason, State};
use crate::config::{Mode, NetId};
use crate::proto::Flags;
use std::time::Instant;

impl Engine {
    pub(super) fn primary_evaluate(&mut self, now: Instant) {
        self.watch_peer(now);
        if self.s.mode == Mode::Static {
            if self.state == State::Starting {
                let detail = "static mode: the addresses are configured by the OS".to_string();
                self.enter(State::Active, Reason::Startup, detail, now);
            }
            return;
        }
        let public_up = self.link_up[NetId::Public.index()];
        match self.state {
            State::Starting if !public_up => self.public_down(now),
            State::Starting => self.claim(Reason::Startup, String::new(), now),
            State::Active if !public_up => {
                let detail =
                    "our public link is down: the addresses are dropped and declared free".to_string();
                self.release_own(Reason::PrimaryPublicDown, detail, now);
            }
            State::Active if self.conflict() => {
                let detail =
                    "the secondary reports that it holds the addresses too; dropping ours and claiming them"
                        .to_string();
                self.release_own(Reason::Conflict, detail, now);
            }
            State::Claiming if !public_up => self.public_down(now),
            State::Claiming => self.claim_progress(now),
            State::PublicDown if public_up && now >= self.link_since[0] + self.s.timing.recover_after => {
                let detail = format!("our public link has been up for {}", secs(now - self.link_since[0]));
                self.claim(Reason::NetworkBack, detail, now);
            }
            State::Failed if self.retry_at.is_some_and(|t| now >= t) => {
                self.enter(State::Acquiring, Reason::AcquireFailed, "retrying".into(), now);
                self.pending.push(Action::Acquire { reason: Reason::AcquireFailed });
            }
            _ => {}
        }
    }

    fn public_down(&mut self, now: Instant) {
        self.claim_since = None;
        let detail = "our public link is down; the addresses are declared free".to_string();
        self.enter(State::PublicDown, Reason::OwnPublicLinkDown, detail, now);
        // Say it now, not at the next interval: the secondary takes over
        // on this declaration.
        self.pending.push(Action::SendHeartbeat);
    }

    fn release_own(&mut self, reason: Reason, detail: String, now: Instant) {
        self.enter(State::Releasing, reason, detail, now);
        self.pending.push(Action::Release { reason });
    }

    /// After our own release: either the public link is down, or we give
    /// way in a conflict, or we were asked to stop (handled by the caller).
    pub(super) fn primary_released(&mut self, now: Instant) {
        if self.link_up[NetId::Public.index()] {
            self.claim(Reason::Conflict, String::new(), now);
        } else {
            self.public_down(now);
        }
    }

    pub(super) fn claim(&mut self, reason: Reason, detail: String, now: Instant) {
        self.enter(State::Claiming, reason, detail, now);
        self.claim_since = Some(now);
        self.probing = false;
        self.claim_noticed = false;
        self.pending.push(Action::SendClaim);
    }

    fn acquire(&mut self, reason: Reason, detail: String, now: Instant) {
        self.claim_since = None;
        self.enter(State::Acquiring, reason, detail, now);
        self.pending.push(Action::Acquire { reason });
    }

    /// The secondary is heard and its latest status says it holds nothing.
    fn peer_says_free(&self, now: Instant) -> bool {
        let heard = NetId::ALL.iter().any(|&n| self.fresh(n, now));
        heard && self.peer_holding_at.is_none() && self.peer_flags.is_some_and(|f| !f.has(Flags::HOLDING))
    }

    fn claim_progress(&mut self, now: Instant) {
        if self.peer_says_free(now) {
            let detail = "the secondary reports that it does not hold the addresses".to_string();
            return self.acquire(Reason::Released, detail, now);
        }
        let peer_heard = NetId::ALL.iter().any(|&n| self.fresh(n, now));
        let waited = self.claim_since.is_some_and(|t| now >= t + self.s.timing.dead_after);
        if !peer_heard && waited && !self.probing {
            self.probing = true;
            self.pending.push(Action::Probe);
        } else if peer_heard && waited && !self.claim_noticed {
            // The secondary is there and keeps the addresses (failback =
            // manual, or its Test hook said no): the operator must act.
            self.claim_noticed = true;
            self.pending.push(Action::Notice(Notice::PeerKeeps));
        }
    }

    pub(super) fn primary_got_released(&mut self, now: Instant) {
        self.peer_holding_at = None;
        if self.state == State::Claiming {
            let detail = "the secondary released the addresses".to_string();
            self.acquire(Reason::Released, detail, now);
        }
    }

    pub(super) fn primary_status(&mut self, flags: Flags, now: Instant) {
        self.peer_holding_at = flags.has(Flags::HOLDING).then_some(now);
    }

    /// Both hold: the secondary's status still says so well after we took
    /// the addresses (a status sent before its release may arrive late, so
    /// only reports newer than two intervals count).
    fn conflict(&self) -> bool {
        self.peer_holding_at.is_some_and(|t| t >= self.since + self.s.timing.interval * 2)
    }

    pub(super) fn probed(&mut self, free: bool, now: Instant) {
        self.probing = false;
        if self.state != State::Claiming {
            return;
        }
        if free {
            let detail =
                "the secondary is silent and nobody answered an ARP probe for the addresses".to_string();
            self.acquire(Reason::ProbedFree, detail, now);
        } else {
            // Try again after another dead_after.
            self.claim_since = Some(now);
            self.pending.push(Action::Notice(Notice::ProbeAnswered));
        }
    }

    pub(super) fn found_holding(&mut self, now: Instant) {
        if self.state != State::Starting {
            return;
        }
        match self.s.role {
            crate::config::Role::Secondary => {
                let detail = "the service addresses are on our interface: keeping them".to_string();
                self.enter(State::Holding, Reason::Adopted, detail, now);
            }
            crate::config::Role::Primary if self.s.mode == Mode::Managed => {
                // Left over from an earlier run: the secondary may hold them
                // by now, so they go until the claim exchange says otherwise.
                let detail = "the service addresses were left on our interface; dropping them until the claim exchange".to_string();
                self.release_own(Reason::Startup, detail, now);
            }
            crate::config::Role::Primary => {}
        }
    }

    /// Tells the administrator when the secondary stops watching, and when
    /// it is back.
    fn watch_peer(&mut self, now: Instant) {
        let ever = self.heard.iter().any(Option::is_some);
        let fresh = NetId::ALL.iter().any(|&n| self.fresh(n, now));
        if ever && !fresh && !self.peer_lost {
            self.peer_lost = true;
            let last = self.heard.iter().flatten().max().copied().unwrap_or(now);
            self.pending.push(Action::Notice(Notice::PeerLost { silent_for: now - last }));
        } else if fresh && self.peer_lost {
            self.peer_lost = false;
            self.pending.push(Action::Notice(Notice::PeerBack));
        }
    }

    pub(super) fn primary_deadlines(&self) -> Vec<Instant> {
        let mut d: Vec<Instant> =
            self.heard.iter().flatten().map(|&t| t + self.s.timing.dead_after).collect();
        match self.state {
            State::Claiming => d.extend(self.claim_since.map(|t| t + self.s.timing.dead_after)),
            State::PublicDown => d.push(self.link_since[0] + self.s.timing.recover_after),
            State::Active => {
                d.extend(self.peer_holding_at.is_some().then_some(self.since + self.s.timing.interval * 2))
            }
            _ => {}
        }
        d
    }
}
