//! The pair simulator (`src/sim/`) over a few thousand seeds: every
//! invariant after every event. A failure prints its seed and a trace;
//! `scripts/simulate --seed S --trace` replays it.

use ipfailover::sim;

/// Seeds run in CI; `SIM_SEEDS` overrides (the campaign uses
/// scripts/simulate instead).
fn seeds() -> u64 {
    std::env::var("SIM_SEEDS").ok().and_then(|v| v.parse().ok()).unwrap_or(3000)
}

/// `SIM_FAIL_FAST=1` stops at the first failing seed: scripts/mutants runs
/// the CI seeds once per mutant, and a caught mutant need not run the rest.
fn fail_fast() -> bool {
    std::env::var("SIM_FAIL_FAST").is_ok_and(|v| v == "1")
}

#[test]
fn the_pair_keeps_its_invariants_over_thousands_of_seeds() {
    let n = seeds();
    let mut steps = 0;
    let mut failures = Vec::new();
    for seed in 0..n {
        let r = sim::run(seed, false);
        steps += r.steps;
        if let Some(f) = r.failure {
            failures.push(f);
            if fail_fast() {
                break;
            }
        }
    }
    for f in failures.iter().take(3) {
        eprintln!("{f}");
    }
    assert!(
        !failures.is_empty() || steps > n * 100,
        "the simulator ran too few steps to mean anything: {steps}"
    );
    let seeds: Vec<u64> = failures.iter().map(|f| f.seed).collect();
    assert!(failures.is_empty(), "{} of {n} seeds broke an invariant: {seeds:?}", failures.len());
}

/// The same seed gives the same run: a failing seed can be replayed.
#[test]
fn a_seed_replays_exactly() {
    for seed in [1, 77, 4242] {
        let (a, b) = (sim::run(seed, false), sim::run(seed, false));
        assert_eq!((a.steps, a.virtual_ms), (b.steps, b.virtual_ms));
    }
}

/// Seeds of the million-seed campaigns of 7 December (docs/robustness.md,
/// "Campaign"): each class of the first, and the second's (k): each passes
/// now. (The world has changed since for some of them, so a seed may no
/// longer draw the same run; each still must pass.)
#[test]
fn campaign_seeds_of_nobody_serving_and_late_takeovers_pass() {
    let seeds = [
        166283, 343179, 443224, 655878, 874756, 954727, // nobody / both after healing
        175688, 312422, 325309, 494189, 617778, 939263, // (b)
        625908, 322469, 561576, // (f), takeover too soon, anomaly not declared
        41593, 69299, 169706, 245922, 246875, 253709, 263562, 287873, // cable out
        372680, 434485, 493683, 520352, 569695, 579832, 823164, 966321, // cable out
        77268, 88540, 311405, 722679, 928582, // give-back to a dead primary
        172421, 234133, 265219, 345032, 688211, 791836, // (h)
        523630, // (k): an early probe's answer used after the takeover was held off
        193073, // (h): the peer back in the millisecond of a failure
        521360, // cable out: late reports of failed removals delay each retry
    ];
    let failed: Vec<String> = seeds
        .iter()
        .filter_map(|&seed| sim::run(seed, false).failure)
        .map(|f| format!("seed {}: {}", f.seed, f.what))
        .collect();
    assert!(failed.is_empty(), "{failed:#?}");
}

/// Issue 32, item 4: a healthy secondary sends one status per interval, on
/// the networks in turn; at 5 % loss on both networks the primary must not
/// mail "secondary no longer heard" (the alarm waits ten intervals, at
/// least dead_after). Every interval the simulator draws, at dead_after =
/// 3 intervals, the shortest it allows; `SIM_ALARM_MINUTES` sets the
/// virtual minutes per interval (the campaign's figure is in
/// docs/robustness.md).
///
/// Issue 32, item 1: in the same runs, the secondary's takeover probe,
/// which starts shortly before the silence on both networks reaches
/// dead_after, stays rare: it needs two heartbeats lost in a row on both
/// networks (about twice an hour at 10 ms); at most one a virtual minute
/// is asserted, where a probe on every single loss would be hundreds.
#[test]
fn no_false_lost_secondary_alarm_under_five_percent_loss() {
    let minutes = std::env::var("SIM_ALARM_MINUTES").ok().and_then(|v| v.parse().ok()).unwrap_or(20);
    for (seed, interval) in [10u64, 20, 50, 100, 200, 500].into_iter().enumerate() {
        match sim::loss_run(seed as u64, interval, 3 * interval, 0.05, minutes) {
            Ok(sim::LossRun { alarms, probes, takeovers }) => {
                eprintln!(
                    "interval {interval} ms, dead_after {} ms, 5% loss, {minutes} min: {alarms} false alarms, {probes} probes, {takeovers} takeovers",
                    3 * interval
                );
                assert_eq!(alarms, 0, "interval {interval} ms: {alarms} false 'secondary no longer heard'");
                assert!(probes <= minutes, "interval {interval} ms: {probes} probes in {minutes} minutes");
            }
            Err(f) => panic!("{f}"),
        }
    }
}
