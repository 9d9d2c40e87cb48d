//! What the checks thread knows, without I/O or clock reads: each check's
//! fall/rise state and last run, and this node's fitness. Results come in
//! with the instant they were taken at, so tests drive it on a virtual
//! clock.

use crate::runner::Exit;
use std::time::{Duration, Instant};

/// Where a check stands after its fall/rise counting (docs/design.md §9).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Verdict {
    /// Since start, neither `rise` passes nor `fall` failures in a row yet.
    Starting,
    Passing,
    Failing,
}

impl Verdict {
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Verdict::Starting => "starting",
            Verdict::Passing => "passing",
            Verdict::Failing => "failing",
        }
    }
}

/// Fall/rise counting of one check: `fall` failures in a row make it
/// failing, `rise` passes in a row make it passing; anything shorter
/// changes nothing, so a check that alternates never flaps.
#[derive(Clone, Debug)]
pub(crate) struct Hysteresis {
    fall: u32,
    rise: u32,
    verdict: Verdict,
    /// Results in a row that equal the latest (passes if `last_ok`).
    streak: u32,
    last_ok: Option<bool>,
}

impl Hysteresis {
    pub(crate) fn new(fall: u32, rise: u32) -> Hysteresis {
        Hysteresis {
            fall: fall.max(1),
            rise: rise.max(1),
            verdict: Verdict::Starting,
            streak: 0,
            last_ok: None,
        }
    }

    pub(crate) fn record(&mut self, ok: bool) -> Verdict {
        self.streak = if self.last_ok == Some(ok) { self.streak.saturating_add(1) } else { 1 };
        self.last_ok = Some(ok);
        if ok && self.streak >= self.rise {
            self.verdict = Verdict::Passing;
        } else if !ok && self.streak >= self.fall {
            self.verdict = Verdict::Failing;
        }
        self.verdict
    }

    pub(crate) fn verdict(&self) -> Verdict {
        self.verdict
    }

    /// Results in a row equal to the latest one, and whether it passed.
    pub(crate) fn streak(&self) -> (u32, Option<bool>) {
        (self.streak, self.last_ok)
    }
}

/// The last run of a check.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct LastRun {
    pub exit: Exit,
    pub took: Duration,
    pub line: Option<String>,
    pub at: Instant,
}

/// One check as status shows it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct View {
    pub name: String,
    pub verdict: Verdict,
    /// Results in a row equal to the last one.
    pub streak: u32,
    pub last: Option<LastRun>,
}

/// A change of this node's fitness, with the check that made it unfit.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Change {
    pub fit: bool,
    /// (name, last output line) of the first failing check.
    pub failing: Option<(String, String)>,
}

struct Entry {
    name: String,
    counter: Hysteresis,
    last: Option<LastRun>,
}

/// All checks of this node. Fitness starts fit: checks that have not
/// decided yet (`Starting`) do not make a node unfit, so a restarting
/// primary does not hand its addresses away before its first verdicts.
pub(crate) struct Board {
    entries: Vec<Entry>,
    fit: bool,
}

impl Board {
    /// `checks`: (name, fall, rise), in configuration order.
    pub(crate) fn new(checks: &[(String, u32, u32)]) -> Board {
        let entries = checks
            .iter()
            .map(|(name, fall, rise)| Entry {
                name: name.clone(),
                counter: Hysteresis::new(*fall, *rise),
                last: None,
            })
            .collect();
        Board { entries, fit: true }
    }

    pub(crate) fn fit(&self) -> bool {
        self.fit
    }

    /// Records a run of check `index`; returns the fitness change it
    /// causes, if any.
    pub(crate) fn record(&mut self, index: usize, run: LastRun) -> Option<Change> {
        let entry = self.entries.get_mut(index)?;
        entry.counter.record(run.exit.success());
        entry.last = Some(run);
        let fit = self.failing().is_none();
        if fit == self.fit {
            return None;
        }
        self.fit = fit;
        Some(self.change())
    }

    /// Takes over the counting and last runs of `old`'s checks (after a
    /// reload): `kept[i]` is the index in `old` of check `i`, out of range
    /// for a new or changed check. Fitness follows.
    pub(crate) fn carry(&mut self, old: &Board, kept: &[usize]) {
        for (e, &k) in self.entries.iter_mut().zip(kept) {
            if let Some(o) = old.entries.get(k) {
                e.counter = o.counter.clone();
                e.last = o.last.clone();
            }
        }
        self.fit = self.failing().is_none();
    }

    /// This node's fitness as it stands, with the first failing check.
    pub(crate) fn change(&self) -> Change {
        let failing = self.failing().map(|e| {
            let line = e.last.as_ref().and_then(|l| l.line.clone()).unwrap_or_default();
            (e.name.clone(), line)
        });
        Change { fit: self.fit, failing }
    }

    fn failing(&self) -> Option<&Entry> {
        self.entries.iter().find(|e| e.counter.verdict() == Verdict::Failing)
    }

    pub(crate) fn view(&self, index: usize) -> Option<View> {
        let e = self.entries.get(index)?;
        Some(View {
            name: e.name.clone(),
            verdict: e.counter.verdict(),
            streak: e.counter.streak().0,
            last: e.last.clone(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(ok: bool, at: Instant, line: &str) -> LastRun {
        let exit = if ok { Exit::Code(0) } else { Exit::Code(2) };
        LastRun { exit, took: Duration::from_millis(5), line: Some(line.to_string()), at }
    }

    #[test]
    fn fall_and_rise_count_results_in_a_row() {
        let mut h = Hysteresis::new(3, 2);
        assert_eq!(h.record(true), Verdict::Starting);
        assert_eq!(h.record(true), Verdict::Passing);
        assert_eq!(h.record(false), Verdict::Passing);
        assert_eq!(h.record(false), Verdict::Passing);
        assert_eq!(h.record(false), Verdict::Failing);
        assert_eq!(h.streak(), (3, Some(false)));
        assert_eq!(h.record(true), Verdict::Failing);
        assert_eq!(h.record(true), Verdict::Passing);
    }

    #[test]
    fn a_flapping_check_never_flaps_fitness() {
        // Every 2 s on a virtual clock, exit codes alternating 0, 1, 0, 1...
        let t0 = Instant::now();
        let mut b = Board::new(&[("web".to_string(), 3, 2)]);
        let mut changes = Vec::new();
        for i in 0..1000u64 {
            let at = t0 + Duration::from_secs(2 * i);
            changes.extend(b.record(0, run(i % 2 == 0, at, "x")));
        }
        assert!(changes.is_empty(), "{changes:?}");
        assert!(b.fit());
        // Two failures, one pass, two failures: still nothing.
        for ok in [true, false, false, true, false, false, true] {
            assert_eq!(b.record(0, run(ok, t0, "x")), None);
        }
        assert_eq!(b.view(0).unwrap().verdict, Verdict::Starting);
    }

    #[test]
    fn unfit_after_fall_failures_fit_again_after_rise_passes() {
        let t0 = Instant::now();
        let s = |n| t0 + Duration::from_secs(n);
        let mut b = Board::new(&[("web".to_string(), 3, 2), ("db".to_string(), 1, 1)]);
        assert_eq!(b.record(1, run(true, s(0), "ok")), None);
        assert_eq!(b.record(0, run(false, s(0), "refused")), None);
        assert_eq!(b.record(0, run(false, s(2), "refused")), None);
        let change = b.record(0, run(false, s(4), "connection refused")).unwrap();
        assert_eq!(change, Change { fit: false, failing: Some(("web".into(), "connection refused".into())) });
        // Another check failing too changes nothing more.
        assert_eq!(b.record(1, run(false, s(5), "down")), None);
        assert_eq!(b.record(1, run(true, s(6), "up")), None);
        assert_eq!(b.record(0, run(true, s(6), "200")), None);
        let change = b.record(0, run(true, s(8), "200")).unwrap();
        assert_eq!(change, Change { fit: true, failing: None });
        let v = b.view(0).unwrap();
        assert_eq!((v.verdict, v.streak), (Verdict::Passing, 2));
        assert_eq!(v.last.unwrap().at, s(8));
    }

    #[test]
    fn a_reload_keeps_the_counting_of_unchanged_checks() {
        let t0 = Instant::now();
        let mut old = Board::new(&[("web".to_string(), 1, 1), ("db".to_string(), 1, 1)]);
        assert!(old.record(0, run(false, t0, "down")).is_some());
        // web kept (now second), db dropped, cache new.
        let mut new = Board::new(&[("cache".to_string(), 1, 1), ("web".to_string(), 1, 1)]);
        new.carry(&old, &[usize::MAX, 0]);
        assert!(!new.fit());
        assert_eq!(new.change().failing, Some(("web".into(), "down".into())));
        assert_eq!(new.view(0).unwrap().verdict, Verdict::Starting);
    }

    #[test]
    fn a_timeout_is_a_failure() {
        let t0 = Instant::now();
        let mut b = Board::new(&[("hang".to_string(), 1, 1)]);
        let r = LastRun { exit: Exit::TimedOut, took: Duration::from_secs(1), line: None, at: t0 };
        let change = b.record(0, r).unwrap();
        assert_eq!(change, Change { fit: false, failing: Some(("hang".into(), String::new())) });
    }
}
