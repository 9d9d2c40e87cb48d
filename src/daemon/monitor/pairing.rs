//! What the monitor says about nodes that are not the peer it expects
//! (issue 16): another pair on the same network, a second node with our
//! role. Each is logged (and mailed) at a bounded rate; none of them is
//! ever a heartbeat.

use super::Monitor;
use crate::config::{NetId, Role};
use crate::daemon::stats::Every;
use crate::engine::Input;
use crate::log;
use crate::proto::{pair, Message, Reject};
use std::net::SocketAddr;
use std::time::{Duration, Instant};

const HOUR: Duration = Duration::from_secs(3600);

/// The monitor's memory of them.
pub(super) struct Strangers {
    /// Another pair's datagrams: logged once an hour.
    other_pair: Every,
    /// Where the latest datagram of another node with our role came from.
    pub same_role_from: Option<SocketAddr>,
}

impl Strangers {
    pub fn new() -> Strangers {
        Strangers { other_pair: Every::new(HOUR), same_role_from: None }
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

    /// A datagram of our own pair whose sender runs our role. Returns
    /// `true` when it was one (then it is counted as `wrong-role` and goes
    /// no further). Only a datagram naming our pair counts: one from a
    /// node of an older version (unnamed) could be another pair's.
    pub(super) fn same_role(&mut self, net: NetId, src: SocketAddr, msg: &Message) -> bool {
        if msg.role != self.cfg.role || msg.pair != self.id.pair_id {
            return false;
        }
        // Counted, not reported as a forgery: the engine's notice says it.
        self.stats[net.index()].reject(Reject::WrongRole, 1);
        self.strangers.same_role_from = Some(src);
        self.feed(Input::SameRole);
        true
    }

    /// The engine's `Notice::SameRole`, in words.
    pub(super) fn same_role_words(&self, holding: bool) -> (String, String) {
        let role = self.cfg.role.as_str();
        let from =
            self.strangers.same_role_from.map_or("an unknown address".to_string(), |s| s.ip().to_string());
        let subject = format!("another node of this pair also runs as {role} (from {from})");
        let what = match (self.cfg.role, holding) {
            (Role::Primary, false) => {
                "This primary does not add the service addresses while it hears the other one, so nobody \
                 may serve them now."
            }
            (Role::Primary, true) => {
                "This primary keeps the service addresses it holds; the other does not add them while it \
                 hears this one."
            }
            (Role::Secondary, _) => {
                "With no primary heard, both secondaries would take the service addresses over."
            }
        };
        let details = format!(
            "{subject}: check the role line of both configurations (one node has role = primary, the \
             other role = secondary). {what} Its datagrams are counted as wrong-role. Further reports: at \
             most one per hour."
        );
        (subject, details)
    }
}
