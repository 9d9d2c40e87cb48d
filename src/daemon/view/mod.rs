//! What status, SIGUSR1 and the metrics show; no thread, no I/O. The
//! monitor keeps the figures (`stats.rs` per network, `counters.rs` for
//! the metrics) and hands a snapshot of its state to `status.rs` (text and
//! JSON) and `metrics.rs` (the Prometheus text, which the metrics thread,
//! `scrape.rs`, renders from the sample the monitor last published).

pub(super) mod counters;
pub(super) mod metrics;
pub(super) mod stats;
pub(super) mod status;
