//! The daemon's one timing vocabulary (issue 33): the configured periods
//! (`Timing`, from `interval`, `dead_after`, `recover_after`,
//! `startup_grace` and `takeover_probe`), and every period derived from
//! them, each a method here with its bounds named once: the engine's rules,
//! and the daemon's readers (`link_poll`), state writes (`persist_every`),
//! metrics samples (`sample_every`) and "heard lately" (`heard_within`).
//! Nothing elsewhere computes a period of its own from the configured ones.

use std::time::{Duration, Instant};

/// The configured periods. Built by `Settings::from_config` (and by the
/// simulator and tests); replaced whole by a reload; nobody changes one
/// field of it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Timing {
    pub interval: Duration,
    pub dead_after: Duration,
    pub recover_after: Duration,
    pub startup_grace: Duration,
    /// Secondary: how long an ARP / neighbour probe of the addresses waits
    /// before a takeover of a silent primary (zero: no probe).
    pub takeover_probe: Duration,
}

/// `takeover_probe = auto`: a quarter of the interval, at least 2 ms and at
/// most 50 ms. A host that has the address answers an ARP probe on a LAN in
/// well under a millisecond (0.05 ms between namespaces here), and the
/// probe is added to every failover of a silent primary: at a 10 ms
/// interval it costs 2.5 ms, at the 1 s default 50 ms of a 3 s dead_after.
pub(crate) fn auto_takeover_probe(interval: Duration) -> Duration {
    (interval / 4).clamp(AUTO_TAKEOVER_PROBE_MIN, AUTO_TAKEOVER_PROBE_MAX)
}

/// Bounds of `auto_takeover_probe`.
const AUTO_TAKEOVER_PROBE_MIN: Duration = Duration::from_millis(2);
const AUTO_TAKEOVER_PROBE_MAX: Duration = Duration::from_millis(50);

/// The longest wait between two attempts of a move that keeps failing
/// (issue 28; `Timing::retry_delay`): the attempts back off from
/// dead_after, doubling, up to this.
pub(crate) const RETRY_CAP: Duration = Duration::from_secs(600);

/// A back-off doubles at most this many times (`retry_delay`).
const RETRY_MAX_DOUBLINGS: u32 = 20;

/// A wake-up later than asked by more than an interval, and at least this,
/// is a stall (`stall_slack`).
const STALL_SLACK_MIN: Duration = Duration::from_millis(20);
/// Bounds of the settling time after a stall (`settle`).
const SETTLE_MIN: Duration = Duration::from_millis(20);
const SETTLE_MAX: Duration = Duration::from_secs(1);

/// Bounds of the pause between the removals of a stopping daemon
/// (`stop_retry_delay`).
const STOP_RETRY_MIN: Duration = Duration::from_millis(100);
const STOP_RETRY_MAX: Duration = Duration::from_secs(1);

/// A give-back refused by the operator's Test hook pauses the claims for
/// this many dead_afters, and at least `VETO_PAUSE_MIN` (`veto_pause`).
const VETO_PAUSE_DEAD_AFTERS: u32 = 10;
const VETO_PAUSE_MIN: Duration = Duration::from_secs(10);

/// A healthy secondary's statuses take turns on the networks only when
/// dead_after is at least this many intervals (`statuses_take_turns`):
/// each network then still carries one every two intervals, within
/// dead_after. (The configuration's own rule, config/parse.rs, asks for
/// dead_after of 2 intervals at least; between 2 and 3 the statuses go on
/// both networks every interval.)
const STATUS_TURN_INTERVALS: u32 = 3;

/// Bounds of how long a probe of the addresses waits that nothing hurries
/// (`address_probe_wait`): the primary's claim, Apple's text.
const PROBE_WAIT_MIN: Duration = Duration::from_millis(50);
const PROBE_WAIT_MAX: Duration = Duration::from_secs(1);

/// The primary's "secondary no longer heard" waits this many intervals of
/// silence at least (`peer_alarm_after`).
const PEER_ALARM_INTERVALS: u32 = 10;

/// How much later than the silent network's last heartbeat the other
/// network must have been heard, at least, to prove the primary alive (the
/// two networks' last datagrams of a dying host may be read a few
/// milliseconds apart on a busy host): `anomaly_margin`.
const ANOMALY_MARGIN: Duration = Duration::from_millis(20);

/// The early takeover probe starts its wait twice over and this much
/// before dead_after (`probe_lead`).
const PROBE_LEAD_SLACK: Duration = Duration::from_millis(1);

/// An answered probe of Apple's text is repeated after this many
/// dead_afters (`text_probe_every`).
const TEXT_PROBE_DEAD_AFTERS: u32 = 10;

/// A repair of the kernel's addresses this many dead_afters after the
/// latest starts a new run (`repair_quiet`), within these bounds.
const REPAIR_QUIET_DEAD_AFTERS: u32 = 10;
const REPAIR_QUIET_MIN: Duration = Duration::from_secs(5);
const REPAIR_QUIET_MAX: Duration = Duration::from_secs(60);
/// The longest wait between two repairs of one kind in a row
/// (`repair_wait`), and the most doublings before it.
const REPAIR_MAX_WAIT: Duration = Duration::from_secs(60);
const REPAIR_MAX_DOUBLINGS: u32 = 16;

/// `link_poll`: half an interval, within these bounds.
const LINK_POLL_MIN: Duration = Duration::from_millis(100);
const LINK_POLL_MAX: Duration = Duration::from_millis(500);

/// `persist_every`: at least this long between routine state writes.
const PERSIST_EVERY_MIN: Duration = Duration::from_secs(1);

/// `sample_every`: a quarter of dead_after, at most this.
const SAMPLE_EVERY_MAX: Duration = Duration::from_millis(250);

impl Timing {
    /// For tests: `interval`, dead_after (and recover_after, startup_grace)
    /// three intervals, the probe `auto`.
    #[cfg(test)]
    pub(crate) fn every(interval: Duration) -> Timing {
        let dead_after = interval * 3;
        Timing {
            interval,
            dead_after,
            recover_after: dead_after,
            startup_grace: dead_after,
            takeover_probe: auto_takeover_probe(interval),
        }
    }

    /// The periods a configuration sets (`takeover_probe` absent: `auto`).
    pub(crate) fn from_config(c: &crate::config::Config) -> Timing {
        Timing {
            interval: c.interval,
            dead_after: c.dead_after,
            recover_after: c.recover_after,
            startup_grace: c.startup_grace,
            takeover_probe: c.takeover_probe.unwrap_or_else(|| auto_takeover_probe(c.interval)),
        }
    }

    /// Something heard at `heard` is still fresh at `now`: less than
    /// dead_after ago.
    pub(crate) fn fresh(&self, heard: Instant, now: Instant) -> bool {
        self.heard_within(now.duration_since(heard))
    }

    /// Something heard `age` ago counts as heard: less than dead_after
    /// (the engine's `fresh`, and the metric `ipfailoverd_peer_heard`).
    pub(crate) fn heard_within(&self, age: Duration) -> bool {
        age < self.dead_after
    }

    /// What was seen within this counts as "lately" when a notice explains
    /// itself (a datagram of another pair behind a blocked takeover): two
    /// dead_afters, the silence and the one before it.
    pub(crate) fn lately(&self) -> Duration {
        self.dead_after * 2
    }

    /// A peer declared silent after `silent_for`: what was seen within
    /// that and one dead_after more may explain the silence (a datagram
    /// of another pair from the same host).
    pub(crate) fn before_silence(&self, silent_for: Duration) -> Duration {
        silent_for + self.dead_after
    }

    /// A reader's look at its interface when netlink cannot say it changed
    /// (and how long its recv may block): half an interval, from 100 ms to
    /// 500 ms, so a link change is noticed well within dead_after.
    pub(crate) fn link_poll(&self) -> Duration {
        (self.interval / 2).clamp(LINK_POLL_MIN, LINK_POLL_MAX)
    }

    /// How often the replay floors are written (without fsync): every
    /// interval, at least a second apart (see `daemon/monitor/persist.rs`
    /// for what a crash between two writes can cost).
    pub(crate) fn persist_every(&self) -> Duration {
        self.interval.max(PERSIST_EVERY_MIN)
    }

    /// How soon after a change that is not a transition or a move (a link,
    /// a rejected datagram, the peer's flags, a check) a metrics sample
    /// follows: a quarter of dead_after, at most 250 ms, so changes in a
    /// burst make one sample.
    pub(crate) fn sample_every(&self) -> Duration {
        (self.dead_after / 4).min(SAMPLE_EVERY_MAX)
    }

    /// How long to wait before trying a failed move again, after `failed`
    /// failures in a row: dead_after after the first failure, twice as
    /// long after each further one, at most `RETRY_CAP` (or dead_after, if
    /// that is longer). A move that cannot succeed (an address the kernel
    /// refuses) thus costs a handful of attempts, hooks and mails an hour,
    /// not one every dead_after.
    pub(crate) fn retry_delay(&self, failed: u32) -> Duration {
        let dead = self.dead_after;
        let doublings = failed.saturating_sub(1).min(RETRY_MAX_DOUBLINGS);
        dead.saturating_mul(1 << doublings).min(RETRY_CAP.max(dead))
    }

    /// How long a stopping daemon waits before it tries again to remove
    /// the addresses (not backed off): an interval, from 100 ms to 1 s.
    pub(crate) fn stop_retry_delay(&self) -> Duration {
        self.interval.clamp(STOP_RETRY_MIN, STOP_RETRY_MAX)
    }

    /// A step later than the deadline asked for by more than this is a
    /// stall (the process was frozen or starved): an interval, at least
    /// 20 ms.
    pub(crate) fn stall_slack(&self) -> Duration {
        self.interval.max(STALL_SLACK_MIN)
    }

    /// After a stall, no takeover is decided for this long (the readers
    /// deliver their backlogs): two intervals, from 20 ms to 1 s.
    pub(crate) fn settle(&self) -> Duration {
        (self.interval * 2).clamp(SETTLE_MIN, SETTLE_MAX)
    }

    /// How long a secondary whose give-back the operator's Test hook
    /// refused lets the primary's claims wait: ten dead_afters, at least
    /// 10 s, so that Test is not asked every interval.
    pub(crate) fn veto_pause(&self) -> Duration {
        (self.dead_after * VETO_PAUSE_DEAD_AFTERS).max(VETO_PAUSE_MIN)
    }

    /// Whether a healthy secondary's statuses may take turns on the two
    /// networks (dead_after at least three intervals).
    pub(crate) fn statuses_take_turns(&self) -> bool {
        self.dead_after >= self.interval * STATUS_TURN_INTERVALS
    }

    /// How long a probe that nothing hurries waits for an answer (the
    /// primary's claim of a silent secondary, a doubted Apple text): two
    /// intervals, from 50 ms to 1 s.
    pub(crate) fn address_probe_wait(&self) -> Duration {
        (self.interval * 2).clamp(PROBE_WAIT_MIN, PROBE_WAIT_MAX)
    }

    /// A claim the secondary has heard for this long without giving the
    /// addresses back is kept from us on purpose: recover_after (the
    /// secondary's damping) and dead_after more.
    pub(crate) fn claim_overdue_after(&self) -> Duration {
        self.recover_after + self.dead_after
    }

    /// A status may arrive this late (sent before the secondary's release):
    /// only reports newer than two intervals after we took the addresses
    /// prove a conflict.
    pub(crate) fn report_lag(&self) -> Duration {
        self.interval * 2
    }

    /// How long the secondary must be silent on both networks before the
    /// primary mails "secondary no longer heard": dead_after, and at least
    /// ten intervals (ten of its status datagrams in a row lost, at 5 %
    /// loss on each network one chance in 10^13, against 1 in 8000 for
    /// three: docs/robustness.md). It decides nothing else: a standing-by
    /// primary covers after dead_after.
    pub(crate) fn peer_alarm_after(&self) -> Duration {
        self.dead_after.max(self.interval * PEER_ALARM_INTERVALS)
    }

    /// Half an interval: a primary must have claimed for this long (claims
    /// of two rounds) before the secondary gives back.
    pub(crate) fn half_interval(&self) -> Duration {
        self.interval / 2
    }

    /// How much later than a silent network's last datagram the other
    /// network must have carried one to prove the primary alive: half an
    /// interval, at least 20 ms.
    pub(crate) fn anomaly_margin(&self) -> Duration {
        (self.interval / 2).max(ANOMALY_MARGIN)
    }

    /// How long before the silence on both networks reaches dead_after
    /// the takeover probe starts (issue 32): twice its wait and a
    /// millisecond (its thread and sockets take 0.5 ms on an idle host,
    /// several on a loaded one), so that it has ended by then and the
    /// takeover is not delayed by it. Never more than half an interval
    /// (the bound at 10 ms: 5 ms for a probe of 2.5): the probe then starts
    /// only once the heartbeat due half an interval before dead_after is
    /// missing on both networks, as many lost in a row as a takeover all
    /// but needs, so a healthy pair under loss probes rarely, never every
    /// interval (`scripts/simulate --alarms`).
    pub(crate) fn probe_lead(&self) -> Duration {
        let lead = self.takeover_probe * 2 + PROBE_LEAD_SLACK;
        lead.min(self.interval / 2)
    }

    /// An answered probe of Apple's text is repeated after this long: ten
    /// dead_afters.
    pub(crate) fn text_probe_every(&self) -> Duration {
        self.dead_after * TEXT_PROBE_DEAD_AFTERS
    }

    /// A loss (or an addition) of an address this long after the latest
    /// repair starts a new run, repaired at once again: ten dead_afters, at
    /// least 5 s and at most a minute (30 s at the defaults).
    pub(crate) fn repair_quiet(&self) -> Duration {
        (self.dead_after * REPAIR_QUIET_DEAD_AFTERS).clamp(REPAIR_QUIET_MIN, REPAIR_QUIET_MAX)
    }

    /// How long the repair that follows `before` repairs of one run waits
    /// after the latest: none for the first, dead_after for the second,
    /// then twice as long each time, up to a minute.
    pub(crate) fn repair_wait(&self, before: u32) -> Duration {
        match before {
            0 => Duration::ZERO,
            n => self.dead_after.saturating_mul(1 << (n - 1).min(REPAIR_MAX_DOUBLINGS)).min(REPAIR_MAX_WAIT),
        }
    }
}
