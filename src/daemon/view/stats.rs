//! Per-network counters, kept by the monitor and shown by status and
//! SIGUSR1.

use crate::proto::Reject;
use std::collections::BTreeMap;

#[derive(Debug, Default)]
pub(in crate::daemon) struct NetStats {
    pub accepted: u64,
    pub legacy: u64,
    pub rejected: BTreeMap<Reject, u64>,
}

impl NetStats {
    pub(in crate::daemon) fn reject(&mut self, reason: Reject, n: u64) {
        *self.rejected.entry(reason).or_default() += n;
    }

    pub(in crate::daemon) fn rejected_total(&self) -> u64 {
        self.rejected.values().sum()
    }
}
