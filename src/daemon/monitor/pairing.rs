//! What the monitor says about nodes that are not the peer it expects
//! (issue 16): another pair on the same network, a second node with our
//! role, and the peer itself when its datagrams fail authentication (a
//! key that differs). Each is logged and mailed at a bounded rate; none
//! of them is ever a heartbeat. Every datagram the monitor drops passes
//! here (`reject`): counted, and any other authentication failure logged
//! and mailed at a bounded rate too.

use super::Monitor;
use crate::config::NetId;
use crate::daemon::mail::bodies;
use crate::daemon::mail::rate::MailKind;
use crate::daemon::throttle::{AuthLog, Every};
use crate::engine::Input;
use crate::log;
use crate::proto::{pair, Flags, PairId, Reject};
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
    unauthenticated: Option<(Instant, SocketAddr, Reject)>,
    /// Where the latest datagram of another node with our role came from.
    same_role_from: Option<SocketAddr>,
    /// The latest authentic datagram from the peer's configured address
    /// that names another pair: when, from where, its pair id.
    pair_mismatch: Option<(Instant, SocketAddr, PairId)>,
    /// The peer in another pair: logged once a minute, mailed once an hour.
    mismatch_log: Every,
    mismatch_mail: Every,
    /// Datagrams failing authentication, per network (a wrong key on the
    /// private link must not hide forgeries on the public one): logged
    /// once a minute, mailed once an hour.
    auth_log: [AuthLog; 2],
    auth_mail: [AuthLog; 2],
}

impl Strangers {
    pub(super) fn new() -> Strangers {
        Strangers {
            other_pair: Every::new(HOUR),
            key_log: Every::new(Duration::from_secs(60)),
            key_mail: Every::new(HOUR),
            unauthenticated: None,
            same_role_from: None,
            pair_mismatch: None,
            mismatch_log: Every::new(Duration::from_secs(60)),
            mismatch_mail: Every::new(HOUR),
            auth_log: [0, 1].map(|_| AuthLog::new(Duration::from_secs(60))),
            auth_mail: [0, 1].map(|_| AuthLog::new(HOUR)),
        }
    }

    /// The latest authentic datagram from the peer's configured address
    /// that named another pair: when, from where, its pair id (status).
    pub(super) fn pair_mismatch(&self) -> Option<(Instant, SocketAddr, PairId)> {
        self.pair_mismatch
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

    /// A datagram dropped, counted; said in this file's own words if it is
    /// a stranger's (`stranger`), else, for an authentication failure, a
    /// log line a minute and a mail an hour per network.
    pub(super) fn reject(&mut self, net: NetId, src: std::net::SocketAddr, reason: Reject, n: u64) {
        self.view.stats[net.index()].reject(reason, n);
        if self.stranger(net, src, reason, n) {
            return;
        }
        if reason.is_auth_failure() {
            let now = Instant::now();
            if let Some(line) = self.strangers.auth_log[net.index()].note(now, net.as_str(), src, reason, n) {
                log::warn!("{line}");
            }
            if let Some(line) = self.strangers.auth_mail[net.index()].note(now, net.as_str(), src, reason, n)
            {
                let subject = format!("datagrams failing authentication on the {} network", net.as_str());
                let details = format!(
                    "{line}.\nThey count as silence. A wrong key on one node, a replay or a forgery: \
                     check `ipfailoverd status` on both nodes.\nFurther reports: at most one per hour."
                );
                let family = match net {
                    NetId::Public => "auth-public",
                    NetId::Private => "auth-private",
                };
                self.send_mail(
                    Some(MailKind { family, variant: "failing" }),
                    bodies::text_mail(subject, details),
                );
            }
        }
    }

    /// A rejection this module reports in its own words; `true` when it
    /// did (the caller then skips the generic report).
    fn stranger(&mut self, net: NetId, src: SocketAddr, reason: Reject, n: u64) -> bool {
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
    /// From the peer's own address they are the peer itself, alive and
    /// with our key, under another pair name: said as exactly that.
    pub(super) fn other_pair(&mut self, net: NetId, src: SocketAddr, id: PairId, n: u64) {
        if self.is_peer_address(net, src) {
            return self.pair_mismatch(net, src, id, n);
        }
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

    /// The peer at `src` sends authentic datagrams of pair `id`, not ours.
    fn pair_mismatch(&mut self, net: NetId, src: SocketAddr, id: PairId, n: u64) {
        let now = Instant::now();
        self.strangers.pair_mismatch = Some((now, src, id));
        let (subject, details) = self.pair_mismatch_text(net, src, id);
        if let Some(held) = self.strangers.mismatch_log.due(now, n) {
            let more = if held > 0 { format!(" ({held} more since the last report)") } else { String::new() };
            log::warn!("{subject}: {details}{more}");
        }
        if let Some(held) = self.strangers.mismatch_mail.due(now, n) {
            let more =
                if held > 0 { format!(" ({held} more dropped since the last one)") } else { String::new() };
            let details = format!("{details}\nFurther reports: at most one per hour{more}.");
            let kind = crate::daemon::mail::rate::MailKind { family: "pair-mismatch", variant: "mismatch" };
            self.send_mail(Some(kind), bodies::text_mail(subject, details));
        }
    }

    /// This node's pair name and id as it runs, in words.
    fn own_pair_words(&self) -> String {
        match &self.id.pair {
            Some(p) if p.derived => {
                format!(
                    "{} (id {}, derived from the service addresses at start)",
                    p.name,
                    pair::hex(self.id.pair_id)
                )
            }
            Some(p) => format!("{} (id {})", p.name, pair::hex(self.id.pair_id)),
            None => format!("unnamed (id {})", pair::hex(self.id.pair_id)),
        }
    }

    /// The peer's pair id in words: named when it is the name this node's
    /// file gives now (the address list changed since this node started).
    fn peer_pair_words(&self, id: PairId) -> String {
        match self.cfg.pair_name() {
            Some(p) if pair::id(&p.name) == id => format!(
                "{} (id {}: the name this node's file gives now, which this node takes only at its next restart)",
                p.name,
                pair::hex(id)
            ),
            _ => format!("id {} (a name this node's file does not give)", pair::hex(id)),
        }
    }

    /// The subject and text of a pair mismatch with the peer at `src`.
    fn pair_mismatch_text(&self, net: NetId, src: SocketAddr, id: PairId) -> (String, String) {
        let name = match &self.id.pair {
            Some(p) if !p.derived => p.name.clone(),
            _ => "NAME".to_string(),
        };
        let subject = format!("pair mismatch: the peer at {} belongs to another pair", src.ip());
        let details = format!(
            "Our pair is {}; the peer at {} says {} on the {} network. Its datagrams pass authentication \
             (it is alive and has our key) but are dropped as other-pair: the two nodes ignore each other, \
             the pair has no standby, and the secondary may take the addresses of a live primary. Set \
             `pair = {name}` in both configurations and restart both nodes (ipfailoverd.conf(5), pair).",
            self.own_pair_words(),
            src.ip(),
            self.peer_pair_words(id),
            net.as_str(),
        );
        (subject, details)
    }

    /// The pair mismatch heard within `within`, as the words of a notice
    /// about a silent peer (it is not silent: it is in another pair).
    pub(super) fn peer_in_other_pair(&self, within: Duration) -> Option<(String, String)> {
        let (at, src, id) = self.strangers.pair_mismatch?;
        if at.elapsed() > within {
            return None;
        }
        let net = if self.cfg.peer == Some(src.ip()) { NetId::Private } else { NetId::Public };
        self.pair_mismatch_text(net, src, id).into()
    }

    /// A fresh, authentic datagram of our own pair from another node
    /// with our role (the intake's `Outcome::Rival`): counted as
    /// `wrong-role`, not reported as a forgery (the engine's notice says
    /// it), and told to the engine with its flags and whether it outranks
    /// us (the tie-break's rank: the lower sender id, then the older start).
    pub(super) fn same_role(&mut self, net: NetId, src: SocketAddr, flags: Flags, outranks: bool) {
        self.view.stats[net.index()].reject(Reject::WrongRole, 1);
        self.strangers.same_role_from = Some(src);
        self.feed(Input::SameRole { flags, outranks });
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
