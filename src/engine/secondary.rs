//! The secondary's rules (SPEC 1): both networks silent -> take over;
//! exactly one silent -> anomaly only; the primary heard steadily on both
//! networks again -> give back.

use super::{Action, Engine, Reason, State};
use crate::config::{Failback, Mode, NetId};
use std::time::{Duration, Instant};

impl Engine {
    /// Silence is counted from the last datagram, or, if none was ever
    /// heard, from the end of the start-up grace period.
    fn silence_base(&self, net: NetId) -> Instant {
        self.heard[net.index()].unwrap_or(self.start + self.s.timing.startup_grace)
    }

    fn silent(&self, net: NetId, now: Instant) -> bool {
        now >= self.silence_base(net) + self.s.timing.dead_after
    }

    fn silent_for(&self, net: NetId, now: Instant) -> Duration {
        now.saturating_duration_since(self.silence_base(net))
    }

    pub(super) fn goodbye(&mut self, now: Instant) {
        // The primary is leaving on purpose: it is no longer alive on either
        // network, and nothing it said before counts.
        self.heard = [None, None];
        self.streak = [None, None];
        if self.watching_state() && self.link_up[NetId::Public.index()] {
            let detail = "the primary announced that it is stopping".to_string();
            self.take_over(Reason::Goodbye, detail, now);
        }
    }

    fn watching_state(&self) -> bool {
        matches!(
            self.state,
            State::Starting | State::Watching | State::Anomaly(_) | State::Isolated | State::Failed
        )
    }

    pub(super) fn secondary_evaluate(&mut self, now: Instant) {
        if self.watching_state() {
            self.watch(now);
        } else if self.state == State::Holding {
            self.maybe_give_back(now);
        }
    }

    fn watch(&mut self, now: Instant) {
        let public = self.silent(NetId::Public, now);
        let private = self.silent(NetId::Private, now);
        match (public, private) {
            (true, true) => {
                if self.settling(now) {
                    return;
                }
                let detail = format!(
                    "no heartbeat on the public network for {} and on the private network for {}",
                    secs(self.silent_for(NetId::Public, now)),
                    secs(self.silent_for(NetId::Private, now)),
                );
                if !self.link_up[NetId::Public.index()] {
                    let detail = format!("{detail}, but our own public link is down");
                    self.enter(State::Isolated, Reason::OwnPublicLinkDown, detail, now);
                } else if self.state != State::Failed || self.retry_at.is_some_and(|t| now >= t) {
                    self.take_over(Reason::BothNetworksSilent, detail, now);
                }
            }
            (true, false) => self.anomaly(NetId::Public, now),
            (false, true) => self.anomaly(NetId::Private, now),
            (false, false) => {
                let heard_both = self.heard.iter().all(Option::is_some);
                if self.state != State::Starting || heard_both {
                    let reason = match self.state {
                        State::Starting => Reason::Startup,
                        _ => Reason::NetworkBack,
                    };
                    let detail = "the primary is heard on both networks".to_string();
                    self.enter(State::Watching, reason, detail, now);
                }
            }
        }
    }

    fn anomaly(&mut self, net: NetId, now: Instant) {
        let detail = format!(
            "no heartbeat on the {} network for {}; the {} network is fine, so the address stays",
            net.as_str(),
            secs(self.silent_for(net, now)),
            other(net).as_str(),
        );
        self.enter(State::Anomaly(net), Reason::NetworkSilent, detail, now);
    }

    fn take_over(&mut self, reason: Reason, detail: String, now: Instant) {
        self.enter(State::Acquiring, reason, detail, now);
        self.pending.push(Action::Acquire { reason });
    }

    fn maybe_give_back(&mut self, now: Instant) {
        if self.s.failback == Failback::Manual {
            return;
        }
        let ready = if self.s.mode == Mode::Static {
            // Apple's rule: the OS put the address back on the primary.
            self.fresh(NetId::Public, now)
        } else {
            self.back_on_both(now).is_some_and(|t| now >= t)
        };
        if ready {
            let detail = format!(
                "the primary has been heard again on both networks for {}",
                secs(self.recovered_for(now)),
            );
            self.enter(State::Releasing, Reason::PrimaryBack, detail, now);
            self.pending.push(Action::Release { reason: Reason::PrimaryBack });
        }
    }

    /// When the primary will have been heard steadily on both networks for
    /// recover_after, if it is heard on both now.
    fn back_on_both(&self, now: Instant) -> Option<Instant> {
        if !(self.fresh(NetId::Public, now) && self.fresh(NetId::Private, now)) {
            return None;
        }
        let since = self.streak[0]?.max(self.streak[1]?);
        Some(since + self.s.timing.recover_after)
    }

    fn recovered_for(&self, now: Instant) -> Duration {
        match (self.streak[0], self.streak[1]) {
            (Some(a), Some(b)) => now.saturating_duration_since(a.max(b)),
            _ => Duration::ZERO,
        }
    }

    pub(super) fn secondary_deadlines(&self) -> Vec<Instant> {
        if self.watching_state() {
            NetId::ALL
                .iter()
                .map(|&n| self.silence_base(n) + self.s.timing.dead_after)
                .collect()
        } else if self.state == State::Holding && self.s.failback == Failback::Auto {
            // The moment both runs of heartbeats are recover_after old.
            match (self.streak[0], self.streak[1]) {
                (Some(a), Some(b)) => vec![a.max(b) + self.s.timing.recover_after],
                _ => Vec::new(),
            }
        } else {
            Vec::new()
        }
    }
}

fn other(net: NetId) -> NetId {
    match net {
        NetId::Public => NetId::Private,
        NetId::Private => NetId::Public,
    }
}

/// "2.5s", "600ms": durations as people read them in logs and mail.
pub fn secs(d: Duration) -> String {
    if d < Duration::from_secs(1) {
        format!("{}ms", d.as_millis())
    } else {
        format!("{:.1}s", d.as_secs_f64())
    }
}
