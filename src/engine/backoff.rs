//! The back-off of moves that keep failing (issue 28): when a failed
//! takeover, a failed removal or a partial acquire is tried again, and
//! how many failed in a row. Written by `Engine::moved` and the rules that
//! retry; `Engine::reset_backoff` starts afresh when the situation changes.

use std::time::Instant;

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
