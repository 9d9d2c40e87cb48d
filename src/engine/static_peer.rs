//! The secondary's rules for a static primary: Apple's IP failover, or
//! ours with `mode = static`. Its operating system configures the service
//! addresses, so it never claims them back: the secondary alone decides
//! when to give back. And an old Mac sends nothing but Apple's text, which
//! carries no MAC: only its source address vouches for it, and a source
//! address is easy to forge on a LAN.
//!
//! - Give-back: the primary must be heard steadily (no silence of
//!   dead_after) for `recover_after`, on the public network, or on the
//!   private network while it says its public link is up. Apple gave back
//!   on the first datagram; here one forged datagram moves nothing.
//! - Apple's text alone on the public network while the private network is
//!   silent is an anomaly, as with Apple, until a probe finds that nobody
//!   answers for the service addresses. A Mac whose private link broke
//!   still answers for its addresses; a dead one does not, whatever
//!   someone sends in its name. Then the secondary takes over. A probe that
//!   is answered is repeated every ten dead_afters (`Timing::text_probe_every`) while the
//!   anomaly lasts.

use super::{Engine, Reason, State};
use crate::config::{Failback, NetId};
use crate::proto::Flags;
use crate::timefmt::secs;
use std::time::Instant;

/// The probe that checks Apple's text alone on the public network (the
/// private network silent). Only this file's rules change it.
#[derive(Debug, Default)]
pub(super) struct TextProbe {
    /// When it is next made (`None`: at once).
    next: Option<Instant>,
    /// It is under way (its answer is `text_probed`'s, not
    /// `takeover_probed`'s).
    running: bool,
}

impl TextProbe {
    /// The probe is under way.
    pub(super) fn running(&self) -> bool {
        self.running
    }
}

impl Engine {
    pub(super) fn maybe_give_back(&mut self, now: Instant) {
        // In managed mode the primary's claim triggers the give-back
        // (`secondary_claim`). A primary that sends its public heartbeats
        // from the service address itself (a Mac does) cannot be heard
        // there while we hold that address: Linux drops a datagram whose
        // source is one of its own addresses. So a static primary heard on
        // the private network that says its public link is up counts too.
        if self.s.failback == Failback::Manual {
            return;
        }
        if !self.peer_is_static() {
            return self.give_back_claimed(now);
        }
        let public_up = self.peer.peer_flags.is_some_and(|f| f.has(Flags::PUBLIC_UP));
        let heard = if self.steady(NetId::Public, now) {
            "on the public network"
        } else if self.steady(NetId::Private, now) && public_up {
            "on the private network, with its public link up"
        } else {
            return;
        };
        let detail = format!(
            "the primary (static mode) has been heard steadily for {} {heard}",
            secs(self.s.timing.recover_after)
        );
        self.enter(State::Releasing, Reason::PrimaryBack, detail, now);
    }

    /// The peer has been heard on `net` without a silence of dead_after for
    /// at least `recover_after`, and still is.
    fn steady(&self, net: NetId, now: Instant) -> bool {
        self.fresh(net, now) && self.steady_from(net).is_some_and(|t| now >= t + self.s.timing.recover_after)
    }

    /// Where a steady run on `net` counts from: never from before we took
    /// the addresses. What was heard before the takeover did not stop it
    /// (Apple's text alone on the public network, see `text_probed`), so it
    /// cannot undo it either. Nor from before the peer's latest restart (a
    /// new generation): a crash-looping peer is never steady.
    pub(super) fn steady_from(&self, net: NetId) -> Option<Instant> {
        let run = self.peer.steady_since[net.index()].map(|t| t.max(self.since));
        run.map(|t| self.peer.peer_gen_since.map_or(t, |g| t.max(g)))
    }

    /// The public network is alive only through Apple's text: no datagram
    /// of protocol v1 there within dead_after.
    fn public_by_text_only(&self, now: Instant) -> bool {
        let v1 = self.peer.heard_v1[NetId::Public.index()];
        self.fresh(NetId::Public, now) && v1.is_none_or(|t| now.duration_since(t) >= self.s.timing.dead_after)
    }

    fn doubting(&self, now: Instant) -> bool {
        self.state == State::Anomaly(NetId::Private) && self.public_by_text_only(now)
    }

    /// Called after every evaluation of the networks while watching: starts
    /// a probe when Apple's text alone keeps the secondary from taking over.
    pub(super) fn doubt_public_text(&mut self, now: Instant) {
        if !self.doubting(now) {
            self.text_probe.next = None;
            return;
        }
        if self.text_probe.running
            || self.takeover_probe_waits()
            || self.text_probe.next.is_some_and(|t| now < t)
        {
            return;
        }
        // Not the takeover probe's short wait (which may be off): nothing
        // hurries here, and a lost answer would put us beside a live Mac.
        self.text_probe.running = true;
        self.start_probe(self.s.timing.address_probe_wait());
    }

    /// The probe's answer, on the secondary. A probe that could not be
    /// made (`None`) proves nothing: tried again after dead_after.
    pub(super) fn text_probed(&mut self, free: Option<bool>, now: Instant) {
        self.text_probe.running = false;
        if !self.doubting(now) || self.moves.moving.is_some() {
            return;
        }
        if free.is_none() {
            self.text_probe.next = Some(now + self.s.timing.dead_after);
        } else if free == Some(true) {
            let detail = format!(
                "the private network has been silent for {} and the public one carries only Apple's \
                 unauthenticated text, but nobody answers for the service addresses: the primary does \
                 not serve them",
                secs(now.saturating_duration_since(self.silence_base(NetId::Private))),
            );
            // The probe the takeover would make was just made.
            self.enter(State::Acquiring, Reason::BothNetworksSilent, detail, now);
        } else {
            self.text_probe.next = Some(now + self.s.timing.text_probe_every());
        }
    }

    /// When a steady run may complete a give-back, or a doubted anomaly is
    /// probed again.
    pub(super) fn static_peer_deadlines(&self) -> Vec<Instant> {
        let mut d = Vec::new();
        if self.state == State::Holding && self.s.failback == Failback::Auto && self.peer_is_static() {
            let heard = NetId::ALL.into_iter().filter(|n| self.peer.heard[n.index()].is_some());
            d.extend(heard.filter_map(|n| self.steady_from(n)).map(|t| t + self.s.timing.recover_after));
        }
        if self.state == State::Anomaly(NetId::Private) && !self.text_probe.running {
            d.extend(self.text_probe.next);
        }
        d
    }
}
