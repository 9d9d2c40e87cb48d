//! The monitor's word to the reader threads. They own their sockets and
//! periods; after a reload the monitor sends them the timing in force
//! (`engine::Timing`) on one channel each, which a reader reads when it next wakes (at most
//! two seconds later). No state is shared.

use super::Monitor;
use crate::engine::Timing;

impl Monitor {
    /// Gives every reader the timing in force. A reader that is gone has
    /// said so itself (`Failed`); there is nobody to tell.
    pub(super) fn tell_readers(&self, timing: Timing) {
        for reader in &self.io.readers {
            let _ = reader.send(timing);
        }
    }
}
