//! The back-off of moves that keep failing (issue 28): when a failed
//! takeover, a failed removal or a partial acquire is tried again, and
//! how many failed in a row. Written by `Engine::moved` and the rules that
//! retry; `Engine::reset_backoff` starts afresh when the situation changes.

use super::{Direction, Timing};
use std::time::{Duration, Instant};

/// The retries waiting and the failures in a row. See the module's comment.
#[derive(Debug, Default)]
pub(super) struct Backoff {
    /// A takeover that failed is retried no earlier than this (while
    /// stopping: the next removal of the shutdown).
    pub(super) retry_at: Option<Instant>,
    /// Failed or partial moves in a row (issue 28): each retry waits twice
    /// as long as the one before, from dead_after up to `RETRY_CAP`
    /// (`retry_delay`). Back to zero when a move succeeds or the situation
    /// changes (`reset_backoff`).
    pub(super) failed_moves: u32,
    /// Those failures are removals: the put-back of what a failed removal
    /// had already taken off succeeds without ending them.
    pub(super) failed_release: bool,
    /// A removal that failed (not while stopping) is tried again no earlier
    /// than this. Unlike `retry_at`, no transition clears it: the moves that
    /// put back what was removed meanwhile must not make the removal due at
    /// once (a hand-over that fails halfway would loop without pause).
    pub(super) release_retry_at: Option<Instant>,
    /// The latest acquire put only some of the addresses on this node: the
    /// rest are tried again at this time.
    pub(super) partial_retry: Option<Instant>,
    /// Removals that failed while stopping; after a few the daemon stops
    /// without a goodbye.
    pub(super) stop_failures: u32,
}

impl Backoff {
    /// How long the next retry waits after the failures in a row so far
    /// (`Timing::retry_delay`).
    pub(super) fn delay(&self, t: &Timing) -> Duration {
        t.retry_delay(self.failed_moves)
    }

    /// A move failed (wholly or partly, or Test refused): the next retry
    /// waits longer.
    pub(super) fn note_failure(&mut self, dir: Direction) {
        self.failed_moves = self.failed_moves.saturating_add(1);
        self.failed_release = dir == Direction::Release;
    }

    /// A move succeeded, or what made the moves fail may have changed (the
    /// peer is back, a link changed, an operator command, a reload): the
    /// next failure waits dead_after again, and so does a retry already
    /// waiting out a longer back-off. Left at its old time, a retry set
    /// after ten failures would keep an address off every node for minutes
    /// after the cause was gone (seeds 343179, 443224, 954727: a partial
    /// acquire, or a failed removal beside a holding peer, still waiting
    /// for 2^n × dead_after after the peer came back). While `stopping`,
    /// `retry_at` paces the removals of the shutdown, which no back-off
    /// governs.
    pub(super) fn reset(&mut self, now: Instant, t: &Timing, stopping: bool) {
        self.failed_moves = 0;
        self.failed_release = false;
        let soon = now + self.delay(t);
        let retry_at = if stopping { None } else { self.retry_at.as_mut() };
        for t in [retry_at, self.release_retry_at.as_mut(), self.partial_retry.as_mut()].into_iter().flatten()
        {
            *t = (*t).min(soon);
        }
    }
}
