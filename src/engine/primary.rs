//! The primary's rules (managed mode, docs/design.md §4.4): it adds its addresses only
//! after the secondary has said it does not hold them (claim / released),
//! or, when the secondary is silent, after an ARP probe found them free. It
//! drops them when its public link goes down and says so in its heartbeats.
//! In static mode the OS owns the addresses and the primary only talks.

use super::{Action, Engine, Notice, Reason, State};
use crate::config::{Mode, NetId};
use crate::proto::Flags;
use crate::timefmt::secs;
use std::time::{Duration, Instant};

/// The primary's part of the engine: its claim and its watch of the
/// secondary. Changed by this file's rules, and by `Engine::enter` when a
/// claim begins.
#[derive(Debug)]
pub(super) struct PrimaryPart {
    /// When the latest status saying the secondary holds the addresses
    /// arrived (None once a status says it does not).
    peer_holding_at: Option<Instant>,
    /// The secondary's status has stopped (notice sent).
    peer_lost: bool,
    /// The secondary's fitness as last told to the administrator.
    peer_fit_told: bool,
    /// The current claim (state `claiming`).
    claim: Claim,
}

/// The primary's claim of its addresses: since when it waits (counted
/// anew after each probe), whether its probe runs, whether the secondary
/// answered it, whether the administrator was told it is kept from us.
/// Begun by `PrimaryPart::begin_claim` on entering `claiming`.
#[derive(Debug, Default)]
struct Claim {
    /// When the current claim began, or its latest probe was answered
    /// (`None` once the addresses are being taken or declared free).
    since: Option<Instant>,
    /// A probe of the addresses runs for it.
    probing: bool,
    /// The administrator was told (the secondary keeps the addresses, or
    /// a host answered the probe).
    noticed: bool,
    /// The secondary answered it (a `released` or a status that echoes it
    /// and says it holds nothing).
    answered: bool,
}

impl Default for PrimaryPart {
    fn default() -> PrimaryPart {
        PrimaryPart { peer_holding_at: None, peer_lost: false, peer_fit_told: true, claim: Claim::default() }
    }
}

impl PrimaryPart {
    /// A new claim begins: not answered, no probe, nothing mailed yet.
    pub(super) fn begin_claim(&mut self, now: Instant) {
        self.claim = Claim { since: Some(now), probing: false, noticed: false, answered: false };
    }
}

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
        let public_up = self.links.link_up[NetId::Public.index()];
        let retry_due = self.backoff.retry_at.is_none_or(|t| now >= t);
        let release_due = self.backoff.release_retry_at.is_none_or(|t| now >= t);
        let hand_over = !self.fitness.fit && self.peer_can_serve(now);
        if !self.fitness.fit && !hand_over && self.state == State::Active && !self.fitness.no_standby_noticed
        {
            // docs/design.md §9: unfit, and nobody fit to hand over to: nothing moves.
            self.fitness.no_standby_noticed = true;
            self.pending.push(Action::Notify(Notice::NoFitStandby));
        }
        if !self.primary_fitness_rules(now, public_up, hand_over, release_due) {
            self.primary_rules(now, public_up, release_due, retry_due);
        }
    }

    /// The rules of our service checks and of a secondary that cannot
    /// serve (docs/design.md §9), which come before the others: whether
    /// one of them acted.
    fn primary_fitness_rules(
        &mut self,
        now: Instant,
        public_up: bool,
        hand_over: bool,
        release_due: bool,
    ) -> bool {
        match self.state {
            // Unfit at start: no claim (the secondary would give the
            // addresses up only to have them back); claimed below when
            // nobody fit would serve them instead.
            State::Starting if !self.fitness.fit && public_up => {
                let detail = "our service checks fail: not claiming the addresses".to_string();
                self.enter(State::Unfit, Reason::ServiceCheckFailed, detail, now);
            }
            // The secondary cannot serve and holds nothing: serving unfit
            // is better than nobody. While it holds them, it keeps them
            // (both unfit: nothing moves).
            State::Unfit
                if public_up && self.primary.peer_holding_at.is_none() && self.peer_unable(now).is_some() =>
            {
                let why = self.peer_unable(now).unwrap_or_default();
                let detail = format!(
                    "the secondary cannot serve ({why}) and holds nothing: serving as well as we can"
                );
                self.claim(Reason::PeerLost, detail, now);
            }
            State::Active if hand_over && public_up && release_due => {
                let detail = "our service checks fail and the secondary's pass: handing the addresses over"
                    .to_string();
                self.enter(State::Releasing, Reason::ServiceCheckFailed, detail, now);
            }
            State::Claiming if hand_over => {
                let detail = "our service checks fail and the secondary's pass: not claiming".to_string();
                self.enter(State::Unfit, Reason::ServiceCheckFailed, detail, now);
            }
            State::Unfit
                if self.fitness.fit && now >= self.fitness.fit_since + self.s.timing.recover_after =>
            {
                let detail =
                    format!("our service checks have passed for {}", secs(now - self.fitness.fit_since));
                self.claim(Reason::ChecksPass, detail, now);
            }
            State::Unfit if public_up && self.peer_lost_since_standby(now) => {
                let detail = "the secondary is no longer heard: nobody would serve the addresses".to_string();
                self.claim(Reason::PeerLost, detail, now);
            }
            _ => return false,
        }
        true
    }

    /// The primary's other rules: its links, its claim, its standby, a
    /// failed acquire.
    fn primary_rules(&mut self, now: Instant, public_up: bool, release_due: bool, retry_due: bool) {
        match self.state {
            State::Starting if !public_up => self.public_down(now),
            State::Starting => self.claim(Reason::Startup, String::new(), now),
            State::Active if !public_up && release_due => {
                let detail =
                    "our public link is down: the addresses are dropped and declared free".to_string();
                self.enter(State::Releasing, Reason::PrimaryPublicDown, detail, now);
            }
            State::Active if self.conflict() && release_due => {
                let detail =
                    "the secondary reports that it holds the addresses too; dropping ours and claiming them"
                        .to_string();
                self.enter(State::Releasing, Reason::Conflict, detail, now);
            }
            State::Active if public_up && self.partial_due(now) => self.restore_partial(now),
            State::Claiming if !public_up => self.public_down(now),
            State::Claiming => self.claim_progress(now),
            State::PublicDown
                if public_up
                    && now >= self.links.link_since[0] + self.s.timing.recover_after
                    // Unfit: first hear whether the secondary is fit.
                    && (self.fitness.fit || self.peer_heard(now) || now >= self.links.link_since[0] + self.s.timing.dead_after) =>
            {
                let detail =
                    format!("our public link has been up for {}", secs(now - self.links.link_since[0]));
                self.claim(Reason::NetworkBack, detail, now);
            }
            State::Standby if public_up && self.peer_lost_since_standby(now) => {
                // Stood down for the secondary, which is gone: nobody would
                // serve. Claim them back (probing first, as at start).
                let detail = "the secondary is no longer heard: nobody would serve the addresses".to_string();
                self.claim(Reason::PeerLost, detail, now);
            }
            State::Standby if public_up && self.standby_uncovered(now).is_some() => {
                let why = self.standby_uncovered(now).unwrap_or_default();
                let detail =
                    format!("the secondary does not serve the addresses ({why}): claiming them back");
                self.claim(Reason::PeerLost, detail, now);
            }
            State::Failed if retry_due && !self.rival_blocks(now) => {
                self.enter(State::Acquiring, Reason::AcquireFailed, "retrying".into(), now);
            }
            _ => {}
        }
    }

    /// The secondary is heard and could serve the addresses: its service
    /// checks pass and its public link is up.
    pub(super) fn peer_can_serve(&self, now: Instant) -> bool {
        self.peer_heard(now) && self.peer_unable(now).is_none()
    }

    /// Why the secondary, heard less than dead_after ago, cannot serve the
    /// addresses, in its own words (its latest flags); `None` when it can,
    /// or when it is not heard (silence has rules of its own).
    pub(super) fn peer_unable(&self, now: Instant) -> Option<&'static str> {
        let f = self.peer.peer_flags.filter(|_| self.peer_heard(now))?;
        if f.has(Flags::UNFIT) {
            Some("its service checks fail")
        } else if !f.has(Flags::PUBLIC_UP) {
            Some("its public link is down")
        } else {
            None
        }
    }

    /// In standby: why the secondary, though heard, leaves the addresses
    /// unserved: it cannot serve, or it has not held them for dead_after
    /// since we stood down (its Test hook refused, it gave them up while
    /// stopping). ipfailoverd(8) promises that a standby primary claims
    /// its addresses back rather than leave nobody serving them.
    fn standby_uncovered(&self, now: Instant) -> Option<&'static str> {
        if !self.peer_heard(now) {
            return None;
        }
        if let Some(why) = self.peer_unable(now) {
            return Some(why);
        }
        let took_its_time = now >= self.since + self.s.timing.dead_after;
        (self.primary.peer_holding_at.is_none() && took_its_time).then_some("it holds nothing")
    }

    /// In standby: the secondary has not been heard for dead_after, counted
    /// from when we stood down at the earliest.
    /// Silence while one of our own links was down proves nothing: it
    /// counts from when both came back.
    fn peer_lost_since_standby(&self, now: Instant) -> bool {
        self.peer_lost_since(self.since, now)
    }

    /// The secondary has not been heard for dead_after, counted from
    /// `from` at the earliest and only while both our links were up.
    pub(super) fn peer_lost_since(&self, from: Instant, now: Instant) -> bool {
        let last = self.peer.heard.iter().flatten().max().copied().unwrap_or(from).max(from);
        let links = self.links.link_since[0].max(self.links.link_since[1]);
        // After a stall of our own, what queued up is read first.
        !self.settling(now)
            && self.links.link_up.iter().all(|&u| u)
            && now >= last.max(links) + self.s.timing.dead_after
    }

    pub(super) fn public_down(&mut self, now: Instant) {
        self.primary.claim.since = None;
        let detail = "our public link is down; the addresses are declared free".to_string();
        self.enter(State::PublicDown, Reason::OwnPublicLinkDown, detail, now);
    }

    /// Claims the addresses back; an unfit primary with a fit secondary
    /// heard does not (docs/design.md §9), unless an operator asks.
    pub(super) fn claim(&mut self, reason: Reason, detail: String, now: Instant) {
        if !self.fitness.fit && reason != Reason::Manual && self.peer_can_serve(now) {
            let detail = "our service checks fail and the secondary's pass: not claiming".to_string();
            return self.enter(State::Unfit, Reason::ServiceCheckFailed, detail, now);
        }
        self.enter(State::Claiming, reason, detail, now);
    }

    fn acquire(&mut self, reason: Reason, detail: String, now: Instant) {
        self.primary.claim.since = None;
        self.enter(State::Acquiring, reason, detail, now);
    }

    fn claim_progress(&mut self, now: Instant) {
        if self.rival_blocks(now) {
            return;
        }
        if self.primary.claim.answered && self.peer_heard(now) && self.primary.peer_holding_at.is_none() {
            let detail = "the secondary answered our claim: it does not hold the addresses".to_string();
            return self.acquire(Reason::Released, detail, now);
        }
        let peer_heard = NetId::ALL.iter().any(|&n| self.fresh(n, now));
        let waited = self.primary.claim.since.is_some_and(|t| now >= t + self.s.timing.dead_after);
        if !peer_heard && waited && !self.primary.claim.probing {
            self.primary.claim.probing = true;
            self.start_probe(self.s.timing.address_probe_wait());
        } else if peer_heard && waited && self.claim_overdue(now) && !self.primary.claim.noticed {
            // The secondary is there and keeps the addresses (failback =
            // manual, or its Test hook said no): the operator must act.
            self.primary.claim.noticed = true;
            self.pending.push(Action::Notify(Notice::PeerKeeps));
        }
    }

    /// A secondary that holds the addresses gives them back once it has
    /// heard us steadily for recover_after (`give_back_claimed`): it keeps
    /// them for a reason only when it has not after dead_after more.
    fn claim_overdue(&self, now: Instant) -> bool {
        let overdue = self.s.timing.claim_overdue_after();
        self.primary.claim.since.is_some_and(|c| now >= c + overdue)
    }

    /// Whether a datagram's claim id answers the current claim. A peer that
    /// predates claim ids echoes nothing and answers every claim.
    fn answers_claim(&self, claim: Option<u64>) -> bool {
        claim.is_none_or(|id| id == self.claim_id)
    }

    pub(super) fn primary_got_released(&mut self, claim: Option<u64>, now: Instant) {
        if self.state != State::Claiming || !self.answers_claim(claim) || self.rival_blocks(now) {
            // A `released` for an earlier claim says nothing about now.
            return;
        }
        self.primary.peer_holding_at = None;
        if self.moves.moving.is_some() {
            // A removal of an address added from outside is under way:
            // one move at a time. The answer stands; `claim_progress`
            // acquires once the removal is done (simulator, invariant (l)).
            self.primary.claim.answered = true;
            return;
        }
        let detail = "the secondary released the addresses".to_string();
        self.acquire(Reason::Released, detail, now);
    }

    pub(super) fn primary_status(&mut self, flags: Flags, claim: Option<u64>, now: Instant) {
        self.primary.peer_holding_at = flags.has(Flags::HOLDING).then_some(now);
        if flags.has(Flags::HOLDING) {
            self.primary.claim.answered = false;
        } else if self.state == State::Claiming && self.answers_claim(claim) {
            // Sent after the secondary saw this claim, holding nothing.
            self.primary.claim.answered = true;
        }
    }

    /// Both hold: the secondary's status still says so well after we took
    /// the addresses (a status sent before its release may arrive late, so
    /// only reports newer than two intervals count).
    fn conflict(&self) -> bool {
        self.primary.peer_holding_at.is_some_and(|t| t >= self.since + self.s.timing.report_lag())
    }

    /// The answer to the claim's probe. One that could not be made
    /// (`None`): the claim goes on and probes again after dead_after, with
    /// no mail (the log says why).
    pub(super) fn probed(&mut self, free: Option<bool>, now: Instant) {
        self.primary.claim.probing = false;
        if self.state != State::Claiming {
            return;
        }
        let Some(free) = free else {
            self.primary.claim.since = Some(now);
            return;
        };
        if free && (self.rival_blocks(now) || self.moves.moving.is_some()) {
            // Free now, but the other primary may add them next, or a
            // removal of an address added from outside is under way (one
            // move at a time): probed again after dead_after.
            self.primary.claim.since = Some(now);
        } else if free {
            let detail =
                "the secondary is silent and nobody answered an ARP probe for the addresses".to_string();
            self.acquire(Reason::ProbedFree, detail, now);
        } else {
            // Try again after another dead_after; mailed once per claim.
            self.primary.claim.since = Some(now);
            if !self.primary.claim.noticed {
                self.primary.claim.noticed = true;
                self.pending.push(Action::Notify(Notice::ProbeAnswered));
            }
        }
    }

    /// Tells the administrator when the secondary stops watching, and when
    /// it is back.
    fn watch_peer(&mut self, now: Instant) {
        let ever = self.peer.heard.iter().any(Option::is_some);
        let fresh = NetId::ALL.iter().any(|&n| self.fresh(n, now));
        // The alarm waits `peer_alarm_after`, not dead_after: a healthy
        // secondary sends one status per interval, on the networks in
        // turn, and a few lost in a row must not mail "no standby".
        let alarm = self.peer.heard.iter().flatten().all(|&t| now >= t + self.peer_alarm_after());
        if ever && !fresh && alarm && !self.primary.peer_lost && !self.settling(now) {
            self.primary.peer_lost = true;
            let last = self.peer.heard.iter().flatten().max().copied().unwrap_or(now);
            self.pending.push(Action::Notify(Notice::PeerLost { silent_for: now - last }));
        } else if fresh && self.primary.peer_lost {
            self.primary.peer_lost = false;
            self.pending.push(Action::Notify(Notice::PeerBack));
        }
        let peer_fit = self.peer.peer_flags.is_none_or(|f| !f.has(Flags::UNFIT));
        if fresh && peer_fit != self.primary.peer_fit_told {
            // The pair has (or has again) a fit standby.
            self.primary.peer_fit_told = peer_fit;
            self.pending.push(Action::Notify(Notice::PeerFitness { fit: peer_fit }));
        }
    }

    /// How long the secondary must be silent on both networks before the
    /// primary mails "secondary no longer heard" (`Timing::peer_alarm_after`).
    pub(super) fn peer_alarm_after(&self) -> Duration {
        self.s.timing.peer_alarm_after()
    }

    pub(super) fn primary_deadlines(&self) -> Vec<Instant> {
        let mut d: Vec<Instant> =
            self.peer.heard.iter().flatten().map(|&t| t + self.s.timing.dead_after).collect();
        if !self.primary.peer_lost {
            d.extend(self.peer.heard.iter().flatten().map(|&t| t + self.peer_alarm_after()));
        }
        match self.state {
            State::Claiming => {
                let t = self.s.timing;
                d.extend(self.primary.claim.since.map(|c| c + t.dead_after));
                d.extend(self.primary.claim.since.map(|c| c + t.claim_overdue_after()));
            }
            State::PublicDown => {
                d.push(self.links.link_since[0] + self.s.timing.recover_after);
                d.push(self.links.link_since[0] + self.s.timing.dead_after);
            }
            State::Unfit if self.fitness.fit => d.push(self.fitness.fit_since + self.s.timing.recover_after),
            State::Active => d.extend(
                self.primary.peer_holding_at.is_some().then_some(self.since + self.s.timing.report_lag()),
            ),
            State::Standby => d.push(self.since + self.s.timing.dead_after),
            _ => {}
        }
        d
    }
}
