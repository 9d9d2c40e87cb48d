//! The secondary's rules (docs/design.md §1): both networks silent -> take over;
//! exactly one silent -> anomaly only; the primary heard steadily on both
//! networks again -> give back.

use super::{Action, Engine, Reason, State};
use crate::config::{Failback, Mode, NetId, Role};
use crate::proto::ClaimId;
use crate::timefmt::secs;
use std::time::{Duration, Instant};

/// The secondary's part of the engine: its takeover probes, its
/// give-back, its statuses. Changed by this file's rules and
/// `static_peer.rs`'s, and by `Engine::enter` (a give-back's time, the
/// claims awaited).
#[derive(Debug, Default)]
pub(super) struct SecondaryPart {
    /// When the primary's claims began and when the latest arrived, while
    /// the give-back waits (`give_back_claimed`).
    claim_waiting: Option<(Instant, Instant)>,
    /// After a refused or failed give-back, claims wait.
    claims_paused_until: Option<Instant>,
    /// When it last gave the addresses back. While it held them it could
    /// not hear datagrams sent from them (Linux drops a datagram whose
    /// source is one of its own addresses), so silence counts anew.
    released_at: Option<Instant>,
    /// Which network the next healthy status goes on.
    status_turn: bool,
    /// The takeover probe of a silent primary: made early, or deciding a
    /// takeover, or none.
    takeover: TakeoverProbe,
    /// A probe was answered; no takeover before this time, and whether the
    /// administrator was told.
    takeover_blocked: Option<Instant>,
    blocked_noticed: bool,
}

/// The secondary's takeover probe, one at a time: made before the silence
/// on both networks reached dead_after (`Engine::probe_early`), kept
/// after its answer for the takeover at dead_after; or a takeover waiting
/// for its probe's answer (`Engine::probe_then_take_over`). Never both: a
/// takeover that waits for a probe has no early probe to go by.
#[derive(Debug, Default)]
enum TakeoverProbe {
    #[default]
    None,
    Early(Early),
    /// A takeover waiting for its probe (reason, detail).
    Deciding(Reason, String),
}

/// A takeover probe started before the silence on both networks reached
/// dead_after (`Engine::probe_early`).
#[derive(Clone, Copy, Debug)]
struct Early {
    /// When it started: the silence it prepares began before this.
    started: Instant,
    /// Its answer is still awaited.
    running: bool,
    /// When it found nobody answering for the addresses, if it did.
    free_at: Option<Instant>,
}

impl SecondaryPart {
    /// Claims wait until then (a refused or failed give-back), if they do.
    pub(super) fn claims_paused_until(&self) -> Option<Instant> {
        self.claims_paused_until
    }

    /// A give-back failed or was refused: claims wait until `until`.
    pub(super) fn pause_claims(&mut self, until: Instant) {
        self.claims_paused_until = Some(until);
    }

    /// The state changed: claims heard before count no longer.
    pub(super) fn state_changed(&mut self) {
        self.claim_waiting = None;
    }

    /// The addresses were given back at `now`: silence counts anew.
    pub(super) fn gave_back(&mut self, now: Instant) {
        self.released_at = Some(now);
    }

    /// Another probe starts: the early takeover probe's answer is no
    /// longer awaited.
    pub(super) fn forget_early_probe(&mut self) {
        if matches!(self.takeover, TakeoverProbe::Early(_)) {
            self.takeover = TakeoverProbe::None;
        }
    }

    /// The early takeover probe, if one was made (answered or not).
    fn early(&self) -> Option<Early> {
        match self.takeover {
            TakeoverProbe::Early(e) => Some(e),
            _ => None,
        }
    }

    /// A takeover waits for its probe's answer.
    fn deciding(&self) -> bool {
        matches!(self.takeover, TakeoverProbe::Deciding(..))
    }

    /// A takeover (`reason`, `detail`) waits for the probe now running.
    fn decide(&mut self, reason: Reason, detail: String) {
        self.takeover = TakeoverProbe::Deciding(reason, detail);
    }

    /// No takeover waits for a probe any more (an early probe stays).
    fn stop_deciding(&mut self) {
        if self.deciding() {
            self.takeover = TakeoverProbe::None;
        }
    }

    /// The takeover that waited for the probe's answer, now answered.
    fn take_deciding(&mut self) -> Option<(Reason, String)> {
        match std::mem::take(&mut self.takeover) {
            TakeoverProbe::Deciding(reason, detail) => Some((reason, detail)),
            other => {
                self.takeover = other;
                None
            }
        }
    }

    /// The primary was heard: an early probe is forgotten, a takeover for
    /// silence waits no more (an operator's goes on). Whether the probe
    /// under way no longer counts.
    fn cancel_takeover(&mut self) -> bool {
        let drop_probe = match &self.takeover {
            TakeoverProbe::Deciding(reason, _) => *reason != Reason::Manual,
            TakeoverProbe::Early(e) => e.running,
            TakeoverProbe::None => false,
        };
        if drop_probe || matches!(self.takeover, TakeoverProbe::Early(_)) {
            self.takeover = TakeoverProbe::None;
        }
        drop_probe
    }

    /// The operator asks for a takeover: an answered probe holds it off no
    /// longer.
    pub(super) fn unblock(&mut self) {
        self.takeover_blocked = None;
    }

    /// The network the next healthy status goes on: each in turn.
    pub(super) fn next_status_net(&mut self) -> NetId {
        self.status_turn = !self.status_turn;
        if self.status_turn {
            NetId::Public
        } else {
            NetId::Private
        }
    }
}

impl Engine {
    /// A takeover waits for its probe's answer.
    pub(super) fn takeover_probe_waits(&self) -> bool {
        self.secondary.deciding()
    }

    /// Silence is counted from the last datagram, or, if none was ever
    /// heard, from the end of the start-up grace period; and never from
    /// before our own link on that network came back (a cable plugged in a
    /// moment ago has not had the time to carry a heartbeat), nor from
    /// before our last give-back.
    pub(super) fn silence_base(&self, net: NetId) -> Instant {
        let i = net.index();
        let heard = self.peer.heard[i].unwrap_or(self.clock.start + self.s.timing.startup_grace);
        let heard = self.secondary.released_at.map_or(heard, |r| heard.max(r));
        let heard = self.peer.peer_back_at.map_or(heard, |b| heard.max(b));
        if self.links.link_up[i] {
            heard.max(self.links.link_since[i])
        } else {
            heard
        }
    }

    fn silent(&self, net: NetId, now: Instant) -> bool {
        now >= self.silence_base(net) + self.s.timing.dead_after
    }

    fn silent_for(&self, net: NetId, now: Instant) -> Duration {
        now.saturating_duration_since(self.silence_base(net))
    }

    pub(super) fn goodbye(&mut self, now: Instant) {
        if self.peer_is_static() {
            // The OS keeps a static primary's addresses after its daemon
            // stops: only silence may move them.
            return;
        }
        // The primary is leaving on purpose: it is no longer alive on either
        // network, and nothing it said before counts.
        self.peer.heard = [None, None];
        // During a move (a removal of an address added from outside keeps
        // the watching state) the watch takes over once it is done.
        if self.watching_state() && self.links.link_up[NetId::Public.index()] && self.moves.moving.is_none() {
            let detail = "the primary announced that it is stopping".to_string();
            self.take_over(Reason::Goodbye, detail, now);
        }
    }

    fn watching_state(&self) -> bool {
        matches!(
            self.state,
            State::Starting
                | State::Watching
                | State::Anomaly(_)
                | State::Isolated
                | State::Failed
                | State::Vetoed
        )
    }

    pub(super) fn secondary_evaluate(&mut self, now: Instant) {
        if self.watching_state() {
            self.watch(now);
        } else if self.state == State::Holding && !self.links.link_up[NetId::Public.index()] {
            // The addresses serve nobody here, and the primary may take
            // them (its probe finds nobody): two owners when the link
            // comes back. Dropped, as the primary drops them; taken again
            // through the watch once the link is back and the primary
            // silent.
            if self.backoff.release_retry_at.is_none_or(|t| now >= t) {
                let detail = "our public link is down: the addresses serve nobody here".to_string();
                self.enter(State::Releasing, Reason::OwnPublicLinkDown, detail, now);
            }
        } else if self.partial_due(now) {
            self.restore_partial(now);
        } else if self.state == State::Holding && self.backoff.release_retry_at.is_none_or(|t| now >= t) {
            // A give-back whose removal failed waits for its retry.
            self.maybe_give_back(now);
        }
    }

    /// The primary asks for its addresses back (claim `claim`).
    pub(super) fn secondary_claim(&mut self, claim: Option<ClaimId>, now: Instant) {
        if let Some(id) = claim {
            self.claim_id = id;
        }
        let paused = self.secondary.claims_paused_until.is_some_and(|t| now < t);
        // An operator's `takeover` on the primary overrides manual failback.
        let manual = self.peer.peer_flags.is_some_and(|f| f.has(crate::proto::Flags::MANUAL));
        match self.state {
            // A stopping daemon removes the addresses at its own pace
            // (`shutdown`, `STOP_ATTEMPTS`): a claim starts no give-back
            // of its own, which would spend those attempts at the pace of
            // the claims (seed 265219).
            State::Holding if self.stopping => {}
            // A removal that failed waits for its retry (the back-off):
            // the operator's claim repeats every interval.
            State::Holding if manual && self.backoff.release_retry_at.is_none_or(|t| now >= t) => {
                let detail = "an operator on the primary asked for the addresses".to_string();
                self.enter(State::Releasing, Reason::Manual, detail, now);
            }
            State::Holding if manual => {}
            State::Holding if self.s.failback == Failback::Auto && !paused => {
                // Damped (recover_after): the give-back waits until the
                // primary has been heard steadily; `maybe_give_back` ends
                // the wait while it still claims.
                // A claim after a silence of dead_after begins a new run of
                // claims: the earlier one's primary went quiet (and a
                // backlog read at once after a freeze, the claims of a
                // primary that died meanwhile, is one instant, not two
                // rounds).
                let first = match self.secondary.claim_waiting {
                    Some((first, last)) if now < last + self.s.timing.dead_after => first,
                    _ => now,
                };
                self.secondary.claim_waiting = Some((first, now));
                self.maybe_give_back(now);
            }
            // Holding with manual failback keeps them; moving ones answer
            // when done. Otherwise we hold nothing: say so at once.
            State::Holding | State::Acquiring | State::Releasing => {}
            _ => self.pending.push(Action::SendReleased { id: self.claim_id }),
        }
    }

    /// A managed primary that claims its addresses back gets them once it
    /// has been heard steadily for `recover_after` (no silence of
    /// dead_after on some network, no restart), and only while it still
    /// claims: a primary that crash-loops or flaps is not handed the
    /// service each time it shows up. And only once it has claimed for
    /// half an interval (claims of two rounds): a primary that claims for a
    /// moment and withdraws (it thought us gone, then heard us) has its
    /// withdrawal on the way, and the addresses would go to nobody.
    /// "Heard steadily for recover_after" means a claim heard at least
    /// recover_after into the steady run, not merely recover_after of time
    /// since the run began: a backlog read at once after a freeze (seed
    /// 23846, docs/robustness.md) or a primary that claims and dies would
    /// otherwise be given the addresses with nothing heard since.
    pub(super) fn give_back_claimed(&mut self, now: Instant) {
        let Some((first, claimed)) = self.secondary.claim_waiting else { return };
        let declares_free = self.peer.peer_flags.is_some_and(|f| f.has(crate::proto::Flags::ADDRESS_FREE));
        if now >= claimed + self.s.timing.dead_after || declares_free {
            // It stopped claiming: gone again, or it now declares the
            // addresses free (public link down, unfit, stood down).
            self.secondary.claim_waiting = None;
            return;
        }
        let Some(run) = self.steady_run(now) else { return };
        if claimed < run + self.s.timing.recover_after || claimed < first + self.s.timing.half_interval() {
            return;
        }
        let detail = if self.s.timing.recover_after.is_zero() {
            "the primary claimed its addresses back".to_string()
        } else {
            format!(
                "the primary claimed its addresses back and has been heard steadily for {}",
                secs(claimed - run)
            )
        };
        self.enter(State::Releasing, Reason::PrimaryBack, detail, now);
    }

    /// Since when the primary has been heard steadily on some network.
    fn steady_run(&self, now: Instant) -> Option<Instant> {
        NetId::ALL.into_iter().filter(|&n| self.fresh(n, now)).filter_map(|n| self.steady_from(n)).min()
    }

    /// The primary declared the addresses free (its public link is down).
    fn primary_declared_free(&self, now: Instant) -> bool {
        let recent = NetId::ALL.iter().any(|&n| self.fresh(n, now));
        recent && self.peer.peer_flags.is_some_and(|f| f.has(crate::proto::Flags::ADDRESS_FREE))
    }

    fn watch(&mut self, now: Instant) {
        if self.state == State::Vetoed && self.peer.heard.iter().flatten().any(|&t| t > self.since) {
            // The Test hook's refusal stands until the primary is heard.
            let detail = "the primary is heard again".to_string();
            self.enter(State::Watching, Reason::NetworkBack, detail, now);
        }
        if self.take_over_declared_free(now) {
            return;
        }
        let public = self.silent(NetId::Public, now);
        let private = self.silent(NetId::Private, now);
        // After a stall the readers deliver their backlogs one network at a
        // time: no silence counts, for a takeover or an anomaly, until then.
        if (public || private) && self.settling(now) {
            return;
        }
        if !(public && private) {
            self.probe_early(now);
        }
        match (public, private) {
            (true, true) => {
                let detail = self.silence_detail(now);
                if !self.links.link_up[NetId::Public.index()] {
                    let detail = format!("{detail}, but our own public link is down");
                    self.enter(State::Isolated, Reason::OwnPublicLinkDown, detail, now);
                } else {
                    self.take_over(Reason::BothNetworksSilent, detail, now);
                }
            }
            (true, false) => self.anomaly(NetId::Public, now),
            (false, true) => self.anomaly(NetId::Private, now),
            (false, false) => {
                // Neither network silent is not the primary heard on both
                // when nothing was heard since its goodbye (our link came
                // back a moment ago, or we gave back): a failed takeover
                // stays failed until then, and its retry waits for the
                // back-off (seeds 172421 234133 345032 688211 791836: each
                // copy of the goodbye retried at once from `watching`).
                let heard_both = self.peer.heard.iter().all(Option::is_some);
                if !matches!(self.state, State::Starting | State::Failed) || heard_both {
                    let reason = match self.state {
                        State::Starting => Reason::Startup,
                        _ => Reason::NetworkBack,
                    };
                    let detail = "the primary is heard on both networks".to_string();
                    self.enter(State::Watching, reason, detail, now);
                }
            }
        }
        self.doubt_public_text(now);
    }

    /// The primary declared the addresses free (its public link down, its
    /// checks failing, stood down): taken over at once, without waiting
    /// for silence, by a move (never a probe). Whether the watch ends
    /// here: the takeover began, or it waits for its retry.
    fn take_over_declared_free(&mut self, now: Instant) -> bool {
        if !(self.primary_declared_free(now) && self.links.link_up[NetId::Public.index()]) {
            return false;
        }
        let (reason, detail) = if self.peer.peer_flags.is_some_and(|f| f.has(crate::proto::Flags::UNFIT)) {
            (Reason::ServiceCheckFailed, "the primary's service checks fail; it declared the addresses free")
        } else if self.peer.peer_flags.is_some_and(|f| f.has(crate::proto::Flags::MANUAL)) {
            (Reason::Manual, "an operator stood the primary down")
        } else {
            (Reason::PrimaryPublicDown, "the primary lost its public link and declared the addresses free")
        };
        let before = self.state;
        self.take_over(reason, detail.to_string(), now);
        let waits = matches!(self.state, State::Failed | State::Vetoed);
        if self.state != before || waits {
            return true;
        }
        // Not taken (our own checks gate it, another secondary
        // serves): the networks are still watched, and a silent one
        // is still an anomaly to report (simulator, seed 4697).
        false
    }

    /// Why the takeover of a primary silent on both networks: its goodbye,
    /// or the silence on each network.
    fn silence_detail(&self, now: Instant) -> String {
        if self.peer.peer_left {
            // The goodbye came while this node could not act on it
            // (its public link down, a move under way): the
            // primary stopped; it did not merely fall silent.
            "the primary announced that it was stopping, and nothing has been heard from it since".to_string()
        } else {
            format!(
                "no heartbeat on the public network for {} and on the private network for {}",
                secs(self.silent_for(NetId::Public, now)),
                secs(self.silent_for(NetId::Private, now)),
            )
        }
    }

    /// One network is silent. It is an anomaly only once the other network
    /// has shown the primary alive after this one fell silent: a host that
    /// dies falls silent on both networks a few microseconds apart (its
    /// heartbeats leave one after the other), and that is a takeover, not
    /// an anomaly followed by a takeover. So the other network must have
    /// carried a later heartbeat (heard at least half an interval, and
    /// 20 ms, after this one's last): then the anomaly is declared at
    /// dead_after. Otherwise it waits for the other network's first
    /// heartbeat after this one's deadline.
    fn anomaly(&mut self, net: NetId, now: Instant) {
        let base = self.silence_base(net);
        let deadline = base + self.s.timing.dead_after;
        let later = (base + self.s.timing.anomaly_margin()).min(deadline);
        if self.peer.heard[other(net).index()].is_none_or(|h| h < later) {
            return;
        }
        let detail = format!(
            "no heartbeat on the {} network for {}; the {} network is fine, so the address stays",
            net.as_str(),
            secs(self.silent_for(net, now)),
            other(net).as_str(),
        );
        self.enter(State::Anomaly(net), Reason::NetworkSilent, detail, now);
    }

    pub(super) fn take_over(&mut self, reason: Reason, detail: String, now: Instant) {
        if !self.fitness.fit && self.s.gates_takeover && reason != Reason::Manual {
            // docs/design.md §9: our own service is down; we take over as soon as our
            // checks pass (this is evaluated again on every input).
            if !self.fitness.gated_noticed {
                self.fitness.gated_noticed = true;
                self.pending.push(Action::Notify(super::Notice::TakeoverGated));
            }
            return;
        }
        if reason != Reason::Manual && self.rival_blocks(now) {
            // Another secondary of this pair serves, or outranks us and
            // will: exactly one takes over (`rival_blocks`). Evaluated
            // again when it falls silent.
            return;
        }
        match self.state {
            // The operator's Test said no: asked again only after the
            // primary has been heard (which leaves this state).
            State::Vetoed => {}
            // A failed takeover is tried again after a pause.
            State::Failed if self.backoff.retry_at.is_some_and(|t| now < t) => {}
            // The primary declared the addresses removed: no probe needed.
            _ if matches!(
                reason,
                Reason::Goodbye | Reason::PrimaryPublicDown | Reason::ServiceCheckFailed
            ) || self.declared_free_now(now) =>
            {
                self.secondary.stop_deciding();
                self.enter(State::Acquiring, reason, detail, now)
            }
            _ => self.probe_then_take_over(reason, detail, now),
        }
    }

    fn declared_free_now(&self, now: Instant) -> bool {
        self.primary_declared_free(now)
    }

    /// A silent primary may still have the addresses (its daemon crashed or
    /// was killed, its key differs from ours, or another node runs as
    /// secondary): take them only if nobody answers a probe for them.
    pub(super) fn probe_then_take_over(&mut self, reason: Reason, detail: String, now: Instant) {
        let wait = self.s.timing.takeover_probe;
        if wait.is_zero() {
            return self.enter(State::Acquiring, reason, detail, now);
        }
        if reason != Reason::Manual && !self.secondary.deciding() {
            if self.early_free(now) {
                // Probed before the silence reached dead_after, nothing
                // heard since: taken now, on time.
                self.secondary.forget_early_probe();
                self.secondary.takeover_blocked = None;
                self.secondary.blocked_noticed = false;
                let detail = format!("{detail}; nobody answered a probe for the addresses");
                return self.enter(State::Acquiring, reason, detail, now);
            }
            if self.secondary.early().is_some_and(|e| e.running) {
                // Still probing: its answer decides, as the probe made now
                // would.
                self.secondary.decide(reason, detail);
                return;
            }
        }
        // One probe at a time: an answer does not say which probe it is.
        if self.secondary.deciding()
            || self.text_probe.running()
            || self.secondary.takeover_blocked.is_some_and(|t| now < t)
        {
            return;
        }
        self.secondary.decide(reason, detail);
        self.start_probe(wait);
    }

    /// `free: None`: the probe could not be made; taken as
    /// `takeover_probe = 0` would (see `probed_any` for why).
    pub(super) fn takeover_probed(&mut self, free: Option<bool>, now: Instant) {
        if !self.secondary.deciding() {
            // The early probe, answered before dead_after of silence: only
            // "free" is kept, for the takeover at dead_after. An answer
            // ("held") is most likely the primary itself, alive with its
            // heartbeats lost a while, and a probe that could not be made
            // proves nothing yet: either way the silence may still end, and
            // if it does not, the probe made at dead_after decides as it
            // always did (`probe_then_take_over`).
            if let TakeoverProbe::Early(e) = &mut self.secondary.takeover {
                if e.running {
                    e.running = false;
                    e.free_at = (free == Some(true)).then_some(now);
                }
            }
            return;
        }
        let Some((reason, detail)) = self.secondary.take_deciding() else { return };
        // Our public link may have gone down during the probe: the
        // addresses would serve nobody here, and nobody could answer the
        // probe through it (seed 287873).
        let still = self.watching_state()
            && !self.stopping
            && self.moves.moving.is_none()
            && self.links.link_up[NetId::Public.index()]
            && (reason == Reason::Manual
                || (self.silent(NetId::Public, now)
                    && self.silent(NetId::Private, now)
                    && !self.rival_blocks(now)));
        let Some(free) = free else {
            if still {
                let detail = format!(
                    "{detail}; the addresses could not be probed (see the log): taking them on the silence \
                     alone, as takeover_probe = 0 does"
                );
                self.enter(State::Acquiring, reason, detail, now);
            } else if reason == Reason::Manual {
                self.pending
                    .push(Action::Answer(Err("the situation changed during the probe; try again".into())));
            }
            return;
        };
        if !free {
            self.secondary.takeover_blocked = Some(now + self.s.timing.dead_after);
            if !self.secondary.blocked_noticed {
                self.secondary.blocked_noticed = true;
                self.pending.push(Action::Notify(super::Notice::TakeoverBlocked));
            }
            if reason == Reason::Manual {
                self.pending.push(Action::Answer(Err(
                    "another host answers for the addresses (see the log for its MAC): not taking them"
                        .into(),
                )));
            }
            return;
        }
        self.secondary.takeover_blocked = None;
        self.secondary.blocked_noticed = false;
        if still {
            let detail = format!("{detail}; nobody answered a probe for the addresses");
            self.enter(State::Acquiring, reason, detail, now);
        } else if reason == Reason::Manual {
            self.pending
                .push(Action::Answer(Err("the situation changed during the probe; try again".into())));
        }
    }

    /// How long before the silence on both networks reaches dead_after
    /// the takeover probe starts (issue 32; `Timing::probe_lead`).
    pub(super) fn probe_lead(&self) -> Duration {
        self.s.timing.probe_lead()
    }

    /// When the silence on both networks reaches dead_after.
    fn both_silent_at(&self) -> Instant {
        let base = self.silence_base(NetId::Public).max(self.silence_base(NetId::Private));
        base + self.s.timing.dead_after
    }

    /// Whether the early probe has been made for the present silence
    /// (one per silence: a datagram, or our link coming back, starts a
    /// new one).
    fn probed_early(&self) -> bool {
        let base = self.silence_base(NetId::Public).max(self.silence_base(NetId::Private));
        self.secondary.early().is_some_and(|e| e.started >= base)
    }

    /// The takeover probe of a silent primary starts `probe_lead` before
    /// the silence on both networks reaches dead_after, while the
    /// datagrams are still listened for: one that arrives cancels it
    /// (`cancel_takeover_probe`). The decision stays at dead_after of
    /// silence on both networks; a probe that found the addresses free by
    /// then is acted on at once (`probe_then_take_over`), one still
    /// running is waited for. Only where the takeover would be probed
    /// then: not while something else keeps it off (our checks, a rival,
    /// our public link, a refusal, a failed takeover's pause, a probe that
    /// was answered) or another probe runs.
    fn probe_early(&mut self, now: Instant) {
        let wait = self.s.timing.takeover_probe;
        let at = self.both_silent_at();
        let due = at.checked_sub(self.probe_lead()).is_some_and(|t| now >= t) && now < at;
        if !due || wait.is_zero() || self.probed_early() {
            return;
        }
        let blocked = (!self.fitness.fit && self.s.gates_takeover)
            || self.rival_blocks(now)
            || !self.links.link_up[NetId::Public.index()]
            || self.state == State::Vetoed
            || (self.state == State::Failed && self.backoff.retry_at.is_some_and(|t| at < t))
            || self.secondary.takeover_blocked.is_some_and(|t| at < t)
            || self.probes.probe.is_some()
            || self.text_probe.running()
            || self.secondary.deciding()
            || self.settling(now)
            || self.primary_declared_free(now);
        if blocked {
            return;
        }
        self.start_probe(wait);
        self.secondary.takeover = TakeoverProbe::Early(Early { started: now, running: true, free_at: None });
    }

    /// The early probe found the addresses free lately, and nothing was
    /// heard since it started: a takeover at dead_after needs no other.
    /// Lately: within the probe's lead of the answer, the age an answer has
    /// at dead_after when the takeover comes on time. A takeover held off
    /// longer (our checks failed meanwhile, a monitor woken late) probes
    /// again: the primary may have come back within reach, with the
    /// addresses still on its interface, before its heartbeat reaches us
    /// (simulator seed 523630: a free answer 80 ms old, the primary back on
    /// the network 67 ms before the takeover).
    fn early_free(&self, now: Instant) -> bool {
        let fresh = self.probe_lead();
        self.probed_early()
            && self.secondary.early().is_some_and(|e| e.free_at.is_some_and(|t| now <= t + fresh))
    }

    /// The primary was heard: a takeover probe under way prepares a
    /// takeover that will not come, and its answer, whatever it is, must
    /// not count (an answer then is the primary's own: it holds the
    /// addresses). The operator's `takeover` is not a silence: its probe
    /// goes on.
    pub(super) fn cancel_takeover_probe(&mut self) {
        if self.secondary.cancel_takeover() {
            self.probes.probe = None;
        }
    }

    pub(super) fn peer_is_static(&self) -> bool {
        self.s.mode == Mode::Static
            || self.peer.peer_flags.is_some_and(|f| f.has(crate::proto::Flags::STATIC))
    }

    pub(super) fn secondary_deadlines(&self) -> Vec<Instant> {
        if self.moves.moving.is_some() {
            return Vec::new();
        }
        let mut d = Vec::new();
        if self.watching_state() {
            d.extend(NetId::ALL.iter().map(|&n| self.silence_base(n) + self.s.timing.dead_after));
            d.extend(self.secondary.takeover_blocked);
            if !self.s.timing.takeover_probe.is_zero() && !self.probed_early() {
                d.extend(self.both_silent_at().checked_sub(self.probe_lead()));
            }
        }
        d.extend(self.static_peer_deadlines());
        if self.state == State::Holding {
            if let (Some((_, claimed)), Some(run)) =
                (self.secondary.claim_waiting, self.steady_run(self.clock.last_step))
            {
                d.push(run + self.s.timing.recover_after);
                d.push(claimed + self.s.timing.dead_after);
            }
        }
        d
    }
}

fn other(net: NetId) -> NetId {
    match net {
        NetId::Public => NetId::Private,
        NetId::Private => NetId::Public,
    }
}

impl Engine {
    /// A watching secondary whose primary is silent on both networks but
    /// that does not take over: how long the primary has been silent, and
    /// why. `status` names this `primary-silent` rather than `watching`,
    /// which means "heard on both networks" (ipfailoverd(8)).
    pub(crate) fn held_off(&self, now: Instant) -> Option<(Duration, &'static str)> {
        if self.s.role != Role::Secondary || self.state != State::Watching || self.moves.moving.is_some() {
            return None;
        }
        if !(self.silent(NetId::Public, now) && self.silent(NetId::Private, now)) {
            return None;
        }
        let silent = self.silent_for(NetId::Public, now).min(self.silent_for(NetId::Private, now));
        let why = if self.secondary.deciding() {
            "probing whether another host answers for the addresses"
        } else if self.secondary.takeover_blocked.is_some() {
            "another host answers for the addresses (probed again every dead_after)"
        } else if !self.fitness.fit && self.s.gates_takeover {
            "this node's own service checks fail (check_gates_takeover)"
        } else if self.rival_blocks(now) {
            "another secondary of this pair serves or outranks this one"
        } else if !self.links.link_up[NetId::Public.index()] {
            "this node's public link is down"
        } else {
            "the takeover is being decided"
        };
        Some((silent, why))
    }
}
