//! The monitor's side of metrics_listen. What changes with every datagram
//! (each network's accepted counts and the peer's latest datagram) it
//! stores on every pass into the shelf's live figures (`scrape::Live`:
//! atomic stores, nothing else); a sample of the rest of what `status`
//! shows it leaves on the shelf only when that changed: at once after a
//! transition or a move, otherwise at most every `every(dead_after)`. It
//! never looks at the kernel for the metrics (the scrape does, at scrape
//! time) and never waits for a scrape: a shelf held by one is tried again
//! a millisecond later. An idle pair therefore publishes nothing and is
//! never woken for the metrics (issue 32: at 10 ms a sample every 7.5 ms,
//! each listing the kernel's addresses, cost 1.28x the CPU of metrics off).

use super::Monitor;
use crate::config::NetId;
use crate::daemon::scrape::Shelf;
use crate::daemon::view::metrics::Sample;
use crate::engine::Timing;
use crate::proto::Flags;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// What a sample shows that datagrams can change without an event of its
/// own: compared on every pass, so no code path that changes it can forget
/// to say so.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
struct Seen {
    peer_flags: Option<Flags>,
    peer_generation: Option<crate::proto::Generation>,
    link_up: [bool; 2],
    rejected: [u64; 2],
}

pub(super) struct Publisher {
    /// `None`: metrics_listen is off, nothing is published.
    shelf: Option<Shelf>,
    /// When the latest sample was published (or the next try is due).
    last: Instant,
    /// Something happened since the latest sample.
    dirty: bool,
    /// A transition or a move: publish at once.
    urgent: bool,
    /// What the latest pass saw of `Seen`.
    seen: Seen,
}

impl Publisher {
    pub(super) fn new(shelf: Option<Shelf>, now: Instant) -> Publisher {
        Publisher { shelf, last: now, dirty: true, urgent: true, seen: Seen::default() }
    }

    pub(super) fn changed(&mut self) {
        self.dirty = true;
    }

    pub(super) fn urgent(&mut self) {
        self.dirty = true;
        self.urgent = true;
    }

    /// When the next sample is due, if one is: at once after a transition
    /// or a move, `Timing::sample_every` after any other change (changes in
    /// a burst, a flood of rejected datagrams, make one sample).
    pub(super) fn due(&self, timing: &Timing) -> Option<Instant> {
        self.shelf.as_ref()?;
        match (self.dirty, self.urgent) {
            (false, _) => None,
            (true, true) => Some(self.last),
            (true, false) => Some(self.last + timing.sample_every()),
        }
    }

    /// This pass's `Seen`: a change makes a sample due.
    fn see(&mut self, seen: Seen) {
        if seen != self.seen {
            self.seen = seen;
            self.changed();
        }
    }
}

impl Monitor {
    /// Once per pass of the loop (and at start).
    pub(super) fn publish(&mut self, now: Instant) {
        let Some(shelf) = self.view.publisher.shelf.as_ref() else { return };
        for net in NetId::ALL {
            let st = &self.view.stats[net.index()];
            shelf.live.store(net.index(), st.accepted, st.legacy, self.engine.last_datagram(net));
        }
        let seen = Seen {
            peer_flags: self.engine.peer_flags(),
            peer_generation: self.intake.peer_generation(),
            link_up: NetId::ALL.map(|net| self.engine.link_up(net)),
            rejected: NetId::ALL.map(|net| self.view.stats[net.index()].rejected.values().sum()),
        };
        self.view.publisher.see(seen);
        if self.view.publisher.due(&self.timing()).is_none_or(|due| now < due) {
            return;
        }
        // The monitor's latest look for the addresses: the scrape looks
        // again at scrape time.
        let sample = Arc::new(Sample::of(&self.snapshot_with(false)));
        let Some(shelf) = self.view.publisher.shelf.as_ref() else { return };
        if shelf.put(sample) {
            self.view.publisher.last = now;
            self.view.publisher.dirty = false;
            self.view.publisher.urgent = false;
        } else {
            self.view.publisher.last = now + Duration::from_millis(1);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn due_at_once_when_urgent_else_after_a_while() {
        let t0 = Instant::now();
        let d = Timing::every(Duration::from_secs(1));
        let mut p = Publisher::new(Some(Shelf::default()), t0);
        assert_eq!(p.due(&d), Some(t0), "the first sample at once");
        (p.dirty, p.urgent) = (false, false);
        assert_eq!(p.due(&d), None, "nothing happened: no wake-up");
        p.changed();
        assert_eq!(p.due(&d), Some(t0 + Duration::from_millis(250)));
        assert_eq!(
            p.due(&Timing {
                dead_after: Duration::from_millis(20),
                ..Timing::every(Duration::from_millis(10))
            }),
            Some(t0 + Duration::from_millis(5))
        );
        p.urgent();
        assert_eq!(p.due(&d), Some(t0));
        assert_eq!(Publisher::new(None, t0).due(&d), None, "metrics_listen off");
    }

    #[test]
    fn only_a_change_makes_a_sample_due() {
        let t0 = Instant::now();
        let d = Timing::every(Duration::from_millis(10));
        let mut p = Publisher::new(Some(Shelf::default()), t0);
        (p.dirty, p.urgent) = (false, false);
        p.see(Seen::default());
        assert_eq!(p.due(&d), None, "the same as before: nothing to publish, no wake-up");
        let fresh = Seen { peer_flags: Some(Flags(0)), ..Seen::default() };
        p.see(fresh);
        assert_eq!(p.due(&d), Some(t0 + Duration::from_micros(7500)), "the peer's flags changed");
        (p.dirty, p.urgent) = (false, false);
        p.see(fresh);
        assert_eq!(p.due(&d), None);
        p.see(Seen { rejected: [0, 1], ..fresh });
        assert!(p.due(&d).is_some(), "a datagram rejected");
    }
}
