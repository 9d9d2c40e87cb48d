//! The monitor's side of metrics_listen: it leaves a fresh sample of what
//! `status` shows on the metrics thread's shelf after a transition or a
//! move at once, and otherwise, when anything happened, at most every
//! `every(dead_after)`. It never waits for a scrape: a shelf held by one
//! is tried again a millisecond later.

use super::Monitor;
use crate::daemon::scrape::Shelf;
use crate::daemon::view::metrics::Sample;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// How stale a sample may be: ages are carried forward to the scrape, but
/// a datagram that arrived after the sample is not in it. A quarter of
/// dead_after keeps a peer heard within dead_after from ever showing as
/// not heard (the interval is at most half of dead_after).
fn every(dead_after: Duration) -> Duration {
    (dead_after / 4).min(Duration::from_millis(250))
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
}

impl Publisher {
    pub(super) fn new(shelf: Option<Shelf>, now: Instant) -> Publisher {
        Publisher { shelf, last: now, dirty: true, urgent: true }
    }

    pub(super) fn changed(&mut self) {
        self.dirty = true;
    }

    pub(super) fn urgent(&mut self) {
        self.dirty = true;
        self.urgent = true;
    }

    /// When the next sample is due, if one is.
    pub(super) fn due(&self, dead_after: Duration) -> Option<Instant> {
        self.shelf.as_ref()?;
        match (self.dirty, self.urgent) {
            (false, _) => None,
            (true, true) => Some(self.last),
            (true, false) => Some(self.last + every(dead_after)),
        }
    }
}

impl Monitor {
    pub(super) fn publish(&mut self, now: Instant) {
        if self.publisher.due(self.cfg.dead_after).is_none_or(|due| now < due) {
            return;
        }
        let sample = Arc::new(Sample::of(&self.snapshot()));
        let Some(shelf) = self.publisher.shelf.as_ref() else { return };
        if shelf.put(sample) {
            self.publisher.last = now;
            self.publisher.dirty = false;
            self.publisher.urgent = false;
        } else {
            self.publisher.last = now + Duration::from_millis(1);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn due_at_once_when_urgent_else_after_a_while() {
        let t0 = Instant::now();
        let d = Duration::from_secs(3);
        let mut p = Publisher::new(Some(Shelf::default()), t0);
        assert_eq!(p.due(d), Some(t0), "the first sample at once");
        (p.dirty, p.urgent) = (false, false);
        assert_eq!(p.due(d), None, "nothing happened: no wake-up");
        p.changed();
        assert_eq!(p.due(d), Some(t0 + Duration::from_millis(250)));
        assert_eq!(p.due(Duration::from_millis(20)), Some(t0 + Duration::from_millis(5)));
        p.urgent();
        assert_eq!(p.due(d), Some(t0));
        assert_eq!(Publisher::new(None, t0).due(d), None, "metrics_listen off");
    }
}
