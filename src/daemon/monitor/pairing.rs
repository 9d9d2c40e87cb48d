//! What the monitor says about nodes that are not the peer it expects
//! (issue 16): another pair on the same network, a second node with our
//! role, and the peer itself when its datagrams fail authentication (a
//! key that differs). Each is logged and mailed at a bounded rate; none
//! of them is ever a heartbeat.

use super::Monitor;
use crate::config::NetId;
use crate::daemon::mail::bodies;
use crate::daemon::throttle::Every;
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
    /// The peer's datagrams failing authentication: logged once a minute,
    /// mailed once an hour.
    key_log: Every,
    key_mail: Every,
    /// The latest datagram from the peer's configured addresses that
    /// failed authentication: when, from where, why.
    pub unauthenticated: Option<(Instant, SocketAddr, Reject)>,
    /// Where the latest datagram of another node with our role came from.
    pub same_role_from: Option<SocketAddr>,
}

impl Strangers {
    pub(super) fn new() -> Strangers {
        Strangers {
            other_pair: Every::new(HOUR),
            key_log: Every::new(Duration::from_secs(60)),
            key_mail: Every::new(HOUR),
            unauthenticated: None,
            same_role_from: None,
        }
    }
}

/// Rejections that mean "the sender does not have our key": a MAC that
/// does not match, none where we expect one, one where we expect none.
fn is_key_problem(reason: Reject) -> bool {
    matches!(reason, Reject::BadMac | Reject::Unauthenticated | Reject::UnexpectedMac)
}

impl Monitor {
    /// A datagram from the peer's configured address: `peer` on the private
    /// network, or the network's destination when that is the peer's
    /// unicast address (a broadcast address is never a source).
    fn is_peer_address(&self, net: NetId, src: SocketAddr) -> bool {
        let ip = src.ip();
        (net == NetId::Private && self.cfg.peer == Some(ip)) || self.cfg.network(net).dest == ip
    }

    /// A rejection this module reports in its own words; `true` when it
    /// did (the caller then skips the generic report).
    pub(super) fn stranger(&mut self, net: NetId, src: SocketAddr, reason: Reject, n: u64) -> bool {
        match reason {
            Reject::OtherPair => true,
            r if is_key_problem(r) && self.is_peer_address(net, src) => {
                self.key_mismatch(net, src, r, n);
                true
            }
            _ => false,
        }
    }

    /// Another pair's datagrams (counted as `other-pair` by the caller).
    pub(super) fn other_pair(&mut self, net: NetId, src: SocketAddr, id: u64, n: u64) {
        let Some(held) = self.strangers.other_pair.due(Instant::now(), n) else { return };
        let more = if held > 0 { format!(" ({held} more since the last report)") } else { String::new() };
        log::warn!(
            "datagrams of another pair (id {}) on the {} network from {}: is another ipfailover pair on this \
             network with the same key or none? They are dropped (other-pair); this pair is {}{more}. \
             Give each pair its own key (docs: ipfailoverd.conf(5), pair)",
            pair::hex(id),
            net.as_str(),
            src.ip(),
            pair::hex(self.id.pair_id),
        );
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
        // The tie-break's rank: the lower sender id, then the older start.
        let outranks = (msg.sender, msg.generation) < (self.id.sender, self.id.generation);
        self.feed(Input::SameRole { flags: msg.flags, outranks });
        true
    }

    /// The engine's `Notice::SameRole`, in words.
    pub(super) fn same_role_words(&self, holding: bool) -> (String, String) {
        let role = self.cfg.role.as_str();
        let from =
            self.strangers.same_role_from.map_or("an unknown address".to_string(), |s| s.ip().to_string());
        let subject = format!("another node of this pair also runs as {role} (from {from})");
        let what = if holding {
            format!("This {role} holds the service addresses and keeps them; the other does not add them while it hears this one.")
        } else {
            format!(
                "Exactly one of the two serves the service addresses: the one that holds them keeps them; \
                 when neither does, the one with the lower sender id (this one is {:08x}) takes them and the \
                 other stands by, as long as it hears it.",
                self.id.sender
            )
        };
        // The log line and the mail put the subject before these already.
        let details = format!(
            "Check the role line of both configurations (one node has role = primary, the other role = \
             secondary). {what} Its datagrams are counted as wrong-role. Further reports: at most one per \
             hour."
        );
        (subject, details)
    }

    /// Datagrams from the peer's own address that fail authentication:
    /// the peer is alive, but the two nodes do not share a key.
    fn key_mismatch(&mut self, net: NetId, src: SocketAddr, reason: Reject, n: u64) {
        let now = Instant::now();
        self.strangers.unauthenticated = Some((now, src, reason));
        if let Some(held) = self.strangers.key_log.due(now, n) {
            let more = if held > 0 { format!(" ({held} more since the last report)") } else { String::new() };
            log::warn!(
                "key mismatch: datagrams from the peer's address {} on the {} network fail authentication \
                 ({}){more}: {}",
                src.ip(),
                net.as_str(),
                reason.as_str(),
                self.key_advice(reason)
            );
        }
        if let Some(held) = self.strangers.key_mail.due(now, n) {
            let subject = format!("key mismatch: the peer at {} is heard but not authenticated", src.ip());
            let details = format!(
                "Datagrams from the peer's address {} on the {} network fail authentication ({}): the two \
                 nodes do not have the same key. They count as silence, so each node takes the other for \
                 dead.\n{}\nFurther reports: at most one per hour{}.",
                src.ip(),
                net.as_str(),
                reason.as_str(),
                self.key_advice(reason),
                if held > 0 { format!(" ({held} more dropped since the last one)") } else { String::new() },
            );
            let kind = crate::daemon::mail::rate::MailKind { family: "key-mismatch", variant: "mismatch" };
            self.send_mail(Some(kind), bodies::text_mail(subject, details));
        }
    }

    /// What to compare and copy, for a key problem of kind `reason`.
    fn key_advice(&self, reason: Reject) -> String {
        let ours = self.cfg.auth_key_file.as_ref().map(|p| p.display().to_string());
        let file = ours.clone().unwrap_or_else(|| "/etc/ipfailoverd.key".to_string());
        let check = format!(
            "Compare the keys: run `sha256sum {file}` on both nodes (auth_key_file); the sums must be equal. \
             Copy the key to the node where it differs (owner root, mode 0600) and restart the daemon there."
        );
        match reason {
            Reject::Unauthenticated => format!("the peer sends without a key, this node has {file}. {check}"),
            Reject::UnexpectedMac => {
                format!("the peer signs its datagrams, this node has no auth_key_file. {check}")
            }
            _ => check,
        }
    }

    /// `Notice::PeerLost` on a primary whose secondary is alive but not
    /// authenticated: datagrams from its address failed the MAC since the
    /// last one that passed. The subject and text that say so, if so.
    pub(super) fn peer_lost_to_key(&self, silent_for: Duration) -> Option<(String, String)> {
        let (at, src, reason) = self.strangers.unauthenticated?;
        let since = Instant::now().checked_sub(silent_for)?;
        if at < since {
            return None;
        }
        let subject = "secondary heard but not authenticated: the two nodes have different keys".to_string();
        let details = format!(
            "The secondary's status datagrams have not passed authentication for {}, but they still arrive \
             from {} ({}, the latest {} ago): the secondary is alive and does not have this node's key. It \
             cannot authenticate this server's heartbeats either and takes this server for dead.\n{}",
            crate::timefmt::secs(silent_for),
            src.ip(),
            reason.as_str(),
            crate::timefmt::secs(at.elapsed()),
            self.key_advice(reason),
        );
        Some((subject, details))
    }
}
