//! What the monitor says about nodes that are not the peer it expects
//! (issue 16): another pair on the same network. Logged at a bounded rate;
//! never a heartbeat.

use super::Monitor;
use crate::config::NetId;
use crate::daemon::stats::Every;
use crate::log;
use crate::proto::{pair, Reject};
use std::net::SocketAddr;
use std::time::{Duration, Instant};

const HOUR: Duration = Duration::from_secs(3600);

/// The monitor's memory of them.
pub(super) struct Strangers {
    /// Another pair's datagrams: logged once an hour.
    other_pair: Every,
}

impl Strangers {
    pub fn new() -> Strangers {
        Strangers { other_pair: Every::new(HOUR) }
    }
}

impl Monitor {
    /// A rejection this module reports in its own words; `true` when it
    /// did (the caller then skips the generic report).
    pub(super) fn stranger(&mut self, _net: NetId, _src: SocketAddr, reason: Reject, _n: u64) -> bool {
        reason == Reject::OtherPair
    }

    /// Another pair's datagrams (counted as `other-pair` by the caller).
    pub(super) fn other_pair(&mut self, net: NetId, src: SocketAddr, id: u64, n: u64) {
        let Some(held) = self.strangers.other_pair.due(Instant::now(), n) else { return };
        let more = if held > 0 { format!(" ({held} more since the last report)") } else { String::new() };
        log::warn(&format!(
            "datagrams of another pair (id {}) on the {} network from {}: is another ipfailover pair on this \
             network with the same key or none? They are dropped (other-pair); this pair is {}{more}. \
             Give each pair its own key (docs: ipfailoverd.conf(5), pair)",
            pair::hex(id),
            net.as_str(),
            src.ip(),
            pair::hex(self.id.pair_id),
        ));
    }
}
