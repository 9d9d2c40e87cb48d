//! What the monitor tells people: log lines and mails for transitions,
//! moves and notices (rejected datagrams: `pairing.rs`).

use super::Monitor;
use crate::config::NetId;
use crate::daemon::mail::bodies;
use crate::daemon::mail::rate::MailKind;
use crate::daemon::mail::Mail;
use crate::daemon::view::counters::Mailed;
use crate::engine::{Direction, Notice, State, Transition};
use crate::log;
use std::time::{Instant, SystemTime};

impl Monitor {
    /// Who answered the latest probe, as the mails say it.
    fn probe_answer_words(&self) -> String {
        match self.view.probe_answers.as_slice() {
            [] => "the log names the MAC".to_string(),
            all => all.join(", "),
        }
    }

    /// Every mail goes this way, with its kind (`mail_kind`): at most one
    /// of a kind per mail_min_interval (`MailLimit`); `None` is never held
    /// back.
    /// A mail held back says so in the log: every mail handed on does, so
    /// an operator who pulls a cable twice would otherwise find nothing.
    pub(super) fn send_mail(&mut self, kind: Option<MailKind>, mail: Mail) {
        let subject = mail.subject.clone();
        match self.mail_limit.offer(kind, mail, Instant::now(), SystemTime::now()) {
            Some(mail) => self.hand_to_notifier(mail),
            None => log::info!(
                "mail \"{subject}\" held back: one of its kind was mailed less than {} ago \
                 (mail_min_interval); when that interval is over the latest of them is mailed with a count",
                crate::timefmt::secs(self.cfg.mail_min_interval)
            ),
        }
    }

    /// A move's mail: the same outcome again within mail_min_interval is
    /// held back (`MailLimit::offer_move`), the first always goes.
    pub(super) fn send_move_mail(&mut self, key: String, mail: Mail) {
        let subject = mail.subject.clone();
        match self.mail_limit.offer_move(key, mail, Instant::now(), SystemTime::now()) {
            Some(mail) => self.hand_to_notifier(mail),
            None => log::info!(
                "mail \"{subject}\" held back: the same outcome of a move was mailed less than {} ago \
                 (mail_min_interval); when that interval is over the latest is mailed with a count",
                crate::timefmt::secs(self.cfg.mail_min_interval)
            ),
        }
    }

    /// Mails held back whose interval is over: the latest of each kind,
    /// with a count.
    pub(super) fn flush_mail(&mut self) {
        for mail in self.mail_limit.due(Instant::now()) {
            self.hand_to_notifier(mail);
        }
    }

    fn hand_to_notifier(&mut self, mail: Mail) {
        if !crate::daemon::mail::hand_over(&self.io.mail, mail) {
            self.view.counters.mailed(Mailed::Dropped(1));
        }
    }

    pub(super) fn record(&mut self, mut t: Transition) {
        // The engine knows how many addresses, the monitor which.
        match t.reason {
            crate::engine::Reason::AddressLost => {
                t.detail = format!("{} ({})", t.detail, self.kernel_words(false))
            }
            crate::engine::Reason::AddressAdded => {
                t.detail = format!("{} ({})", t.detail, self.kernel_words(true))
            }
            _ => {}
        }
        let detail = if t.detail.is_empty() { String::new() } else { format!(": {}", t.detail) };
        log::notice!("state {} -> {} ({}){detail}", t.from, t.to, t.reason);
        self.view.counters.transition(t.reason);
        self.view.publisher.urgent();
        crate::daemon::sdnotify::notify(&format!(
            "STATUS={} since {} ({})",
            t.to,
            crate::timefmt::utc_iso8601(std::time::SystemTime::now()),
            t.reason
        ));
        if matches!(t.to, State::Acquiring | State::Releasing) {
            self.moves.started(&t.detail);
        }
        self.view.remember(t);
    }

    pub(super) fn notice(&mut self, n: Notice) {
        let kind = mail_kind(&n);
        let (subject, details) = match n {
            Notice::Move { id, dir, reason, outcome } => {
                let Some(r) = self.moves.report(id) else {
                    return log::error!("no report for move {id}: its mail is lost");
                };
                let list: Vec<String> = self.cfg.addresses.iter().map(|a| a.addr.to_string()).collect();
                let mail = bodies::move_mail(r, dir == Direction::Acquire, outcome, self.moves.detail(), &list.join(", "));
                // Alike: the same direction, reason and outcome, with the
                // same addresses left in the wrong place.
                let wrong: Vec<String> = r.wrong.iter().map(|a| a.to_string()).collect();
                let key = format!("{dir:?} {reason} {outcome:?} [{}]", wrong.join(" "));
                // With the first client packet after it, when known soon
                // (`confirm.rs`).
                return self.move_mail_with_clients(id, key, mail);
            }
            Notice::Anomaly { net, detail } => {
                self.view.counters.anomaly(net);
                return self.send_mail(kind, bodies::anomaly_mail(&detail, true, net.as_str()))
            }
            Notice::AnomalyCleared { net, detail } => {
                return self.send_mail(kind, bodies::anomaly_mail(&detail, false, net.as_str()))
            }
            Notice::Fitness { fit: false } => (
                "service checks FAIL on this node".to_string(),
                "One of this node's service checks failed check_fall times in a row (the log names it and its last output line; 'ipfailoverd status' shows every check). A primary hands the addresses to a fit secondary; a secondary does not take them over while its own checks fail (check_gates_takeover).".to_string(),
            ),
            Notice::Fitness { fit: true } => (
                "service checks pass again on this node".to_string(),
                "Every service check of this node passes again (check_rise successes in a row).".to_string(),
            ),
            Notice::PeerFitness { fit: false } => (
                "the secondary's service checks fail: the pair has no fit standby".to_string(),
                "The secondary says its own service checks fail. If this node's service fails now, nothing moves: the addresses only ever move towards a node whose checks pass.".to_string(),
            ),
            Notice::PeerFitness { fit: true } => (
                "the secondary's service checks pass again: the pair has its standby back".to_string(),
                "The secondary says its service checks pass again.".to_string(),
            ),
            Notice::NoFitStandby => (
                "service DOWN here and no fit standby: nothing moves".to_string(),
                "This node's service checks fail, but the secondary is not heard or its own checks fail too, so the addresses stay here. Check the service on both nodes.".to_string(),
            ),
            // Which check said no, and what it said.
            Notice::TakeoverGated => super::fitness::gated_words(&self.view.check_views),
            Notice::TakeoverBlocked if self.peer_in_other_pair(self.timing().lately()).is_some() => {
                let (subject, details) = self.peer_in_other_pair(self.timing().lately()).unwrap_or_default();
                (format!("NOT taking over: {subject}"), format!("The primary seems silent, but a probe for the service addresses was answered. {details}"))
            }
            Notice::TakeoverBlocked => (
                "NOT taking over: another host answers for the service addresses".to_string(),
                format!("The primary is silent on both networks, but a probe for the service addresses was answered: {}. Another host still has them: most likely the primary with its daemon stopped or crashed, a primary whose key differs from ours (its datagrams are then counted as bad-mac in 'ipfailoverd status'), or a second node configured as secondary. This node does not add them while someone answers; it probes again every dead_after and takes over as soon as nobody answers.", self.probe_answer_words()),
            ),
            Notice::StoppedHolding => (
                "stopping WITHOUT removing the service addresses".to_string(),
                "The daemon was asked to stop but could not remove the service addresses (see the log). It stops without a goodbye, so the secondary takes over only after dead_after. Remove the addresses by hand now (ip addr del) or two hosts will answer for them.".to_string(),
            ),
            // Alive but not authenticated is not gone: said as a key mismatch.
            Notice::PeerLost { silent_for } => self
                .peer_lost_to_key(silent_for)
                .or_else(|| self.peer_in_other_pair(self.timing().before_silence(silent_for)))
                .unwrap_or_else(|| self.peer_lost_words(silent_for)),
            Notice::PeerBack => ("secondary heard again: the pair has its standby back".to_string(), "The secondary's status datagrams arrive again.".to_string()),
            Notice::PeerKeeps => self.peer_keeps_words(),
            Notice::SameRole { holding } => self.same_role_words(holding),
            Notice::AddressLost { again, wait } => self.address_lost_words(again, wait),
            Notice::AddressAdded { kept } => self.address_added_words(kept),
            Notice::ProbeAnswered => (
                "service address in use by another host".to_string(),
                format!("The secondary is silent, but a probe for the service addresses was answered: {}. The primary does not add them while someone else has them; it probes again every dead_after.", self.probe_answer_words()),
            ),
        };
        log::warn!("{subject}: {details}");
        self.send_mail(kind, bodies::text_mail(subject, details));
    }
}

impl Monitor {
    /// `ADDR/PREFIX on IF` of each service address the kernel showed at the
    /// latest look (`present`), or of each it did not.
    fn kernel_words(&self, present: bool) -> String {
        let list: Vec<String> = self
            .cfg
            .addresses
            .iter()
            .filter(|a| self.moves.shown(a) == present)
            .map(|a| format!("{}/{} on {}", a.addr, a.prefix, a.interface))
            .collect();
        if list.is_empty() {
            "no service address".to_string()
        } else {
            list.join(", ")
        }
    }

    fn address_lost_words(&self, again: u32, wait: std::time::Duration) -> (String, String) {
        let gone = self.kernel_words(false);
        let when = if wait.is_zero() {
            "It is put back at once".to_string()
        } else {
            format!(
                "It was put back {again} time(s) in a row just before: something keeps removing it, so it is put \
                 back in {}, not at once (the wait doubles up to a minute). Find what removes it and stop it",
                crate::timefmt::secs(wait)
            )
        };
        (
            format!("service address REMOVED from outside this daemon: {gone}"),
            format!(
                "{gone} was removed from this node, which serves it ({}), by something other than this daemon: \
                 'ip addr del' or 'ip addr flush', NetworkManager or another network manager reapplying its \
                 configuration, or a second ipfailoverd started by mistake. {when}. To take the addresses off \
                 this node on purpose, use 'ipfailoverd release'.",
                // The state may already be the put-back's `acquiring`.
                match self.cfg.role {
                    crate::config::Role::Primary => "the active primary",
                    crate::config::Role::Secondary => "the holding secondary",
                }
            ),
        )
    }

    fn address_added_words(&self, kept: bool) -> (String, String) {
        let here = self.kernel_words(true);
        if kept {
            return (
                format!("service address added from outside this daemon: kept: {here}"),
                format!(
                    "{here} was added to this node by something other than this daemon. The primary is silent (or \
                     this node's own acquire had failed), so this node should hold the addresses anyway: it keeps \
                     them and serves."
                ),
            );
        }
        (
            format!("service address added from outside this daemon: REMOVED: {here}"),
            format!(
                "{here} was added to this node by something other than this daemon ('ip addr add', NetworkManager, \
                 a second ipfailoverd), while this node must not serve it (state {}: the peer serves the addresses, \
                 or nobody may before the pair agrees). Two hosts answering for one address is a conflict: it is \
                 removed. To move the addresses here on purpose, use 'ipfailoverd takeover'.",
                self.engine.state()
            ),
        )
    }

    /// Why the secondary keeps the addresses, most likely first, from
    /// what its own status says: a secondary that hears us on neither
    /// network never got our claims.
    fn peer_keeps_words(&self) -> (String, String) {
        use crate::proto::Flags;
        let hears = self
            .engine
            .peer_flags()
            .is_some_and(|f| f.has(Flags::HEARS_PUBLIC) || f.has(Flags::HEARS_PRIVATE));
        if !hears {
            return (
                "the secondary keeps the service addresses: it does not hear our claims".to_string(),
                format!(
                    "The primary claims its addresses, but the secondary's status says it hears us on neither network, so our claims do not reach it.\n\
                     Most likely: a firewall on the secondary drops UDP port {} inbound, or its key differs from ours ('ipfailoverd status' on the secondary: accepted not rising, rejected bad-mac rising; compare the key files' checksums).\n\
                     Fix that and the secondary gives the addresses back by itself. Until then they stay on the secondary, which serves them.",
                    self.cfg.port
                ),
            );
        }
        (
            "the secondary keeps the service addresses".to_string(),
            "The primary claims its addresses; the secondary hears us but keeps them: its failback is manual, or its Test hook refused the give-back (see its log).\n\
             Run 'ipfailoverd release' on the secondary, or 'ipfailoverd takeover' here, to move them back."
                .to_string(),
        )
    }
}

/// The rate limiter's kind of a notice's mail; `None`: never held back.
/// No wildcard: a new notice must say which it is. The two halves of a
/// pair are one family, so that flapping gives one mail per interval whose
/// latest word is the current state.
fn mail_kind(n: &Notice) -> Option<MailKind> {
    let (family, variant) = match n {
        // Limited by their outcome instead (`send_move_mail`).
        Notice::Move { .. } => return None,
        Notice::Anomaly { net: NetId::Public, .. } => ("anomaly-public", "raised"),
        Notice::AnomalyCleared { net: NetId::Public, .. } => ("anomaly-public", "cleared"),
        Notice::Anomaly { net: NetId::Private, .. } => ("anomaly-private", "raised"),
        Notice::AnomalyCleared { net: NetId::Private, .. } => ("anomaly-private", "cleared"),
        Notice::PeerLost { .. } => ("peer", "lost"),
        Notice::PeerBack => ("peer", "back"),
        Notice::PeerKeeps => ("peer-keeps", "keeps"),
        Notice::ProbeAnswered => ("probe-answered", "answered"),
        Notice::TakeoverBlocked => ("takeover-blocked", "blocked"),
        Notice::SameRole { holding: false } => ("same-role", "heard"),
        Notice::SameRole { holding: true } => ("same-role", "holding"),
        Notice::StoppedHolding => ("stopped-holding", "stopped"),
        Notice::Fitness { fit: false } => ("fitness", "unfit"),
        Notice::Fitness { fit: true } => ("fitness", "fit"),
        Notice::PeerFitness { fit: false } => ("peer-fitness", "unfit"),
        Notice::PeerFitness { fit: true } => ("peer-fitness", "fit"),
        Notice::NoFitStandby => ("no-fit-standby", "down"),
        Notice::TakeoverGated => ("takeover-gated", "gated"),
        // Something that keeps removing (or adding) an address gives one
        // mail per mail_min_interval, the first at once.
        Notice::AddressLost { .. } => ("address-lost", "lost"),
        Notice::AddressAdded { kept: false } => ("address-added", "removed"),
        Notice::AddressAdded { kept: true } => ("address-added", "kept"),
    };
    Some(MailKind { family, variant })
}

impl Monitor {
    /// "Secondary no longer heard", in words that do not blame the
    /// secondary when it is this node whose links are down: then it is
    /// this node that is cut off, and the secondary has most likely taken
    /// over.
    pub(super) fn peer_lost_words(&self, silent_for: std::time::Duration) -> (String, String) {
        use crate::config::NetId;
        let silent = crate::timefmt::secs(silent_for);
        let down: Vec<&str> =
            NetId::ALL.iter().filter(|&&n| !self.engine.link_up(n)).map(|n| n.as_str()).collect();
        if down.is_empty() {
            return (
                "secondary no longer heard: the pair has no standby".to_string(),
                format!(
                    "The secondary's status datagrams stopped on both networks {silent} ago. If this server fails now, nobody takes over."
                ),
            );
        }
        (
            format!(
                "secondary no longer heard: this node's {} link{} down",
                down.join(" and "),
                if down.len() > 1 { "s are" } else { " is" }
            ),
            format!(
                "The secondary's status datagrams stopped {silent} ago, and this node's own {} link has no carrier: it is this node that is cut off. The secondary has most likely taken over the addresses; check this node's cables and switch ports.",
                down.join(" and ")
            ),
        )
    }
}
