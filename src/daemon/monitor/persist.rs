//! The replay state on its way to the state writer (`daemon/saver.rs`):
//! how often the monitor hands it over, and when durably. The disk never
//! holds up the monitor.

use super::Monitor;
use crate::proto;
use std::time::{Duration, Instant};

/// The replay floors are written to the state file at most every
/// `Timing::persist_every` while only sequence numbers move: once a
/// second, or once an interval if that is longer (no more than one
/// datagram per network comes in between). These routine writes skip fsync, the largest part of their cost at a
/// 1 s interval (issue 19); a peer's new generation is written at once and
/// durably, and so is everything at exit. After a crash of the daemon, the
/// datagrams accepted since the last write can be replayed once each, in
/// order, and each keeps a dead peer looking alive for dead_after: at most
/// dead_after x max(1, 1 s / interval) in all, 3 s at the defaults and at
/// any interval with dead_after = 3 intervals.
/// A routine write is durable once a minute, too: after a power loss, the
/// floors are at most that old (filesystems usually write within seconds).
pub(super) const DURABLE_EVERY: Duration = Duration::from_secs(60);
/// How long the final save may take at shutdown before the daemon exits
/// without it (a stalled disk).
pub(super) const FINAL_SAVE: Duration = Duration::from_secs(5);

/// When the replay state was last handed to the writer, and last handed
/// to be written durably. Only `Monitor::persist` changes them.
pub(super) struct Saving {
    last: Instant,
    durable: Instant,
}

impl Saving {
    pub(super) fn new(now: Instant) -> Saving {
        Saving { last: now, durable: now }
    }

    /// Whether a save is due now (always when `force`d; else at most every
    /// `every`, and only if something changed, `dirty`): `Some(durable)`,
    /// and the time of it noted.
    fn due(&mut self, force: bool, dirty: impl FnOnce() -> bool, every: Duration) -> Option<bool> {
        let due = force || self.last.elapsed() >= every;
        if !due || !(force || dirty()) {
            return None;
        }
        self.last = Instant::now();
        let durable = force || self.last >= self.durable + DURABLE_EVERY;
        if durable {
            self.durable = self.last;
        }
        Some(durable)
    }

    /// Tests: as if the latest save, and the latest durable one, were
    /// that much longer ago.
    #[cfg(test)]
    pub(super) fn backdate(&mut self, last: Duration, durable: Duration) {
        self.last -= last;
        self.durable -= durable;
    }
}

impl Monitor {
    /// Hands the replay state to the state writer (at most every
    /// `persist_every` unless forced); the disk never holds up the monitor.
    pub(super) fn persist(&mut self, force: bool) {
        let every = self.timing().persist_every();
        let Some(durable) = self.saving.due(force, || self.intake.guard().dirty(), every) else { return };
        self.io.saver.submit(
            proto::store::State {
                generation: self.id.generation,
                peers: self.intake.guard_mut().floors(),
                peer_speaks_v1: self.v1.recorded(),
            },
            durable,
        );
    }
}
