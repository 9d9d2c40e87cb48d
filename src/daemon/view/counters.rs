//! What the monitor counts for the metrics beyond the per-network
//! counters of `stats.rs`: transitions, anomalies, moves and how long they
//! took, hooks, mails. Plain numbers that only the monitor updates; the
//! metrics take a copy when the monitor publishes one (`metrics.rs`).

use crate::config::{NetId, Role};
use crate::engine::{Direction, Held, Outcome, Reason};
use crate::hooks::{Ran, Stage};
use crate::runner::Exit;
use std::collections::BTreeMap;
use std::time::Duration;

/// Upper bounds of the move duration histogram, in seconds: an address
/// change alone takes milliseconds, hooks may take up to hook_timeout.
pub(in crate::daemon) const MOVE_BUCKETS: [f64; 14] =
    [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0];

pub(in crate::daemon) const OUTCOMES: [Outcome; 4] =
    [Outcome::Done, Outcome::Partial, Outcome::Vetoed, Outcome::Failed];

pub(in crate::daemon) fn outcome_name(o: Outcome) -> &'static str {
    match o {
        Outcome::Done => "done",
        Outcome::Partial => "partial",
        Outcome::Vetoed => "vetoed",
        Outcome::Failed => "failed",
    }
}

pub(in crate::daemon) fn direction_name(d: Direction) -> &'static str {
    match d {
        Direction::Acquire => "acquire",
        Direction::Release => "release",
    }
}

/// How a move ended, from what the kernel shows after it: the engine's
/// reading for an acquisition, its mirror image for a release.
pub(in crate::daemon) fn outcome(dir: Direction, held: Held, vetoed: bool) -> Outcome {
    match (dir, held, vetoed) {
        (Direction::Acquire, Held::All, _) | (Direction::Release, Held::None, _) => Outcome::Done,
        (_, _, true) => Outcome::Vetoed,
        (_, Held::Some, false) => Outcome::Partial,
        _ => Outcome::Failed,
    }
}

/// Upper bounds of the histogram of the delay from a move's first add to
/// the first client packet (`mover/confirm.rs`), in seconds: a busy
/// service's clients come back within milliseconds of the announcement.
pub(in crate::daemon) const CLIENT_BUCKETS: [f64; 13] =
    [0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0];

/// A Prometheus histogram: cumulative bucket counts (`le` each bound of
/// `MOVE_BUCKETS`, or of the bounds `observe_in` is given), the count and
/// the sum of the observations.
#[derive(Clone, Debug, PartialEq)]
pub(in crate::daemon) struct Histogram<const N: usize = 14> {
    pub buckets: [u64; N],
    pub count: u64,
    pub sum: f64,
}

impl<const N: usize> Default for Histogram<N> {
    fn default() -> Self {
        Histogram { buckets: [0; N], count: 0, sum: 0.0 }
    }
}

impl Histogram {
    pub(in crate::daemon) fn observe(&mut self, d: Duration) {
        self.observe_in(&MOVE_BUCKETS, d);
    }
}

impl<const N: usize> Histogram<N> {
    pub(in crate::daemon) fn observe_in(&mut self, bounds: &[f64; N], d: Duration) {
        let s = d.as_secs_f64();
        for (n, le) in self.buckets.iter_mut().zip(bounds) {
            if s <= *le {
                *n += 1;
            }
        }
        self.count += 1;
        self.sum += s;
    }
}

/// The watches for the first client packet after a move (`mover/confirm.rs`).
#[derive(Clone, Debug, Default, PartialEq)]
pub(in crate::daemon) struct ConfirmCounts {
    /// Delay from the add to the first client packet, of the moves that saw one.
    pub seconds: Histogram<{ CLIENT_BUCKETS.len() }>,
    /// Moves whose watch ended with no client packet.
    pub nobody: u64,
    /// The latest move's watch, for status.
    pub last: Option<crate::daemon::mover::confirm::Confirmation>,
}

impl ConfirmCounts {
    /// A watch started (`Found::Watching`) or ended: kept as the latest,
    /// and counted when it ended with a client or with nobody. A
    /// `Watching` never replaces the end of the same move's watch (the
    /// watch may report before the move does).
    pub(in crate::daemon) fn note(&mut self, c: crate::daemon::mover::confirm::Confirmation) {
        use crate::daemon::mover::confirm::Found;
        match &c.found {
            Found::Watching { .. } if self.last.as_ref().is_some_and(|l| l.id == c.id) => return,
            Found::Client { delay, .. } => self.seconds.observe_in(&CLIENT_BUCKETS, *delay),
            Found::Nobody { .. } => self.nobody += 1,
            _ => {}
        }
        self.last = Some(c);
    }
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(in crate::daemon) struct HookCounts {
    pub run: u64,
    /// Did not exit 0: non-zero status, signal, timeout, could not start.
    pub failed: u64,
    /// Killed at hook_timeout (also counted as failed).
    pub timed_out: u64,
}

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(in crate::daemon) struct MailCounts {
    /// sendmail took it (exit 0).
    pub handed_over: u64,
    /// sendmail failed, timed out or could not be run.
    pub failed: u64,
    /// Never handed to sendmail: a queue was full.
    pub dropped: u64,
    /// Tries that sendmail refused for now (EX_TEMPFAIL) and that are
    /// tried again (`mail/mod.rs`, `RETRY_AFTER`).
    pub retried: u64,
    /// The latest failure: when, and what sendmail said.
    pub last_failure: Option<(std::time::SystemTime, String)>,
}

/// What the notifier says about each mail (`Event::Mailed`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Mailed {
    HandedOver,
    /// Given up: why (sendmail's exit and its last words).
    Failed(String),
    /// Refused for now; tried again later (why, as for `Failed`).
    Retrying(String),
    /// This many mails were dropped from a full queue.
    Dropped(u64),
}

#[derive(Clone, Debug, Default, PartialEq)]
pub(in crate::daemon) struct Counters {
    /// By reason name (`Reason::as_str`).
    pub transitions: BTreeMap<&'static str, u64>,
    /// By `NetId::index`.
    pub anomalies: [u64; 2],
    /// Secondary: the addresses taken over (not a reload's move).
    pub takeovers: u64,
    /// Secondary: the addresses given back (not a reload's move).
    pub givebacks: u64,
    /// By (direction name, outcome name).
    pub moves: BTreeMap<(&'static str, &'static str), u64>,
    /// Index 0 acquire, 1 release.
    pub move_seconds: [Histogram; 2],
    /// By stage name (`Stage::arg`).
    pub hooks: BTreeMap<&'static str, HookCounts>,
    pub mails: MailCounts,
    /// The first client packet after each move (issue 34).
    pub confirm: ConfirmCounts,
}

impl Counters {
    pub(in crate::daemon) fn transition(&mut self, reason: Reason) {
        *self.transitions.entry(reason.as_str()).or_default() += 1;
    }

    pub(in crate::daemon) fn anomaly(&mut self, net: NetId) {
        self.anomalies[net.index()] += 1;
    }

    /// A move the mover finished, whether or not the engine still waited
    /// for it: it happened, and its hooks ran.
    pub(in crate::daemon) fn moved(
        &mut self,
        role: Role,
        dir: Direction,
        reason: Reason,
        held: Held,
        vetoed: bool,
        took: Duration,
    ) {
        let outcome = outcome(dir, held, vetoed);
        *self.moves.entry((direction_name(dir), outcome_name(outcome))).or_default() += 1;
        let i = match dir {
            Direction::Acquire => 0,
            Direction::Release => 1,
        };
        self.move_seconds[i].observe(took);
        // Putting back what someone else removed, or removing what someone
        // else added, hands the service to nobody new.
        if role != Role::Secondary
            || matches!(reason, Reason::Reload | Reason::AddressLost | Reason::AddressAdded)
        {
            return;
        }
        match (dir, outcome) {
            (Direction::Acquire, Outcome::Done | Outcome::Partial) => self.takeovers += 1,
            (Direction::Release, Outcome::Done) => self.givebacks += 1,
            _ => {}
        }
    }

    pub(in crate::daemon) fn hooks_ran(&mut self, ran: &[Ran]) {
        for r in ran {
            let c = self.hooks.entry(r.stage.arg()).or_default();
            c.run += 1;
            c.failed += u64::from(!r.exit.success());
            c.timed_out += u64::from(r.exit == Exit::TimedOut);
        }
    }

    pub(in crate::daemon) fn mailed(&mut self, m: Mailed) {
        match m {
            Mailed::HandedOver => self.mails.handed_over += 1,
            Mailed::Failed(why) => {
                self.mails.failed += 1;
                self.mails.last_failure = Some((std::time::SystemTime::now(), why));
            }
            Mailed::Retrying(why) => {
                self.mails.retried += 1;
                self.mails.last_failure = Some((std::time::SystemTime::now(), why));
            }
            Mailed::Dropped(n) => self.mails.dropped += n,
        }
    }

    /// The count of hook runs of `stage`, zero when none ran.
    pub(in crate::daemon) fn hook(&self, stage: Stage) -> HookCounts {
        self.hooks.get(stage.arg()).copied().unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn outcomes_read_the_kernel() {
        use Direction::*;
        assert_eq!(outcome(Acquire, Held::All, false), Outcome::Done);
        assert_eq!(outcome(Acquire, Held::Some, false), Outcome::Partial);
        assert_eq!(outcome(Acquire, Held::None, true), Outcome::Vetoed);
        assert_eq!(outcome(Acquire, Held::None, false), Outcome::Failed);
        assert_eq!(outcome(Release, Held::None, false), Outcome::Done);
        assert_eq!(outcome(Release, Held::All, true), Outcome::Vetoed);
        assert_eq!(outcome(Release, Held::Some, false), Outcome::Partial);
        assert_eq!(outcome(Release, Held::All, false), Outcome::Failed);
    }

    #[test]
    fn histogram_buckets_are_cumulative() {
        let mut h = Histogram::default();
        h.observe(Duration::from_millis(3));
        h.observe(Duration::from_millis(300));
        h.observe(Duration::from_secs(500));
        assert_eq!(h.buckets[0], 1, "le 0.005");
        assert_eq!(h.buckets[5], 1, "le 0.25");
        assert_eq!(h.buckets[6], 2, "le 0.5");
        assert_eq!(h.buckets[13], 2, "le 120: 500 s is only in +Inf");
        assert_eq!(h.count, 3);
        assert!((h.sum - 500.303).abs() < 1e-9);
    }

    #[test]
    fn takeovers_and_givebacks_are_the_secondarys_moves() {
        let mut c = Counters::default();
        let ms = Duration::from_millis(5);
        c.moved(Role::Secondary, Direction::Acquire, Reason::BothNetworksSilent, Held::All, false, ms);
        c.moved(Role::Secondary, Direction::Acquire, Reason::BothNetworksSilent, Held::None, true, ms);
        c.moved(Role::Secondary, Direction::Acquire, Reason::Reload, Held::All, false, ms);
        c.moved(Role::Secondary, Direction::Release, Reason::PrimaryBack, Held::None, false, ms);
        c.moved(Role::Primary, Direction::Acquire, Reason::ProbedFree, Held::All, false, ms);
        c.moved(Role::Primary, Direction::Release, Reason::Shutdown, Held::None, false, ms);
        assert_eq!((c.takeovers, c.givebacks), (1, 1));
        assert_eq!(c.moves[&("acquire", "done")], 3);
        assert_eq!(c.moves[&("acquire", "vetoed")], 1);
        assert_eq!(c.moves[&("release", "done")], 2);
        assert_eq!(c.move_seconds[0].count, 4);
        assert_eq!(c.move_seconds[1].count, 2);
    }

    #[test]
    fn hooks_and_mails() {
        let mut c = Counters::default();
        let ran = |stage, exit| Ran { path: "/x".into(), stage, exit, took: Duration::ZERO };
        c.hooks_ran(&[
            ran(Stage::Test, Exit::Code(0)),
            ran(Stage::PreAcq, Exit::Code(1)),
            ran(Stage::PreAcq, Exit::TimedOut),
        ]);
        assert_eq!(c.hook(Stage::Test), HookCounts { run: 1, failed: 0, timed_out: 0 });
        assert_eq!(c.hook(Stage::PreAcq), HookCounts { run: 2, failed: 2, timed_out: 1 });
        assert_eq!(c.hook(Stage::PostRel), HookCounts::default());
        for m in [Mailed::HandedOver, Mailed::Retrying("exit status 75".into()), Mailed::HandedOver] {
            c.mailed(m);
        }
        c.mailed(Mailed::Failed("exit status 1: no such user".into()));
        c.mailed(Mailed::Dropped(3));
        let last = c.mails.last_failure.take().map(|(_, why)| why);
        assert_eq!(last.as_deref(), Some("exit status 1: no such user"));
        assert_eq!(
            c.mails,
            MailCounts { handed_over: 2, failed: 1, dropped: 3, retried: 1, last_failure: None }
        );
    }
}
