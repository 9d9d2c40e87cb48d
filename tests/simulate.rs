//! The pair simulator (`src/sim/`) over a few thousand seeds: every
//! invariant after every event. A failure prints its seed and a trace;
//! `scripts/simulate --seed S --trace` replays it.

use ipfailover::sim;

/// Seeds run in CI; `SIM_SEEDS` overrides (the campaign uses
/// scripts/simulate instead).
fn seeds() -> u64 {
    std::env::var("SIM_SEEDS").ok().and_then(|v| v.parse().ok()).unwrap_or(3000)
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
        }
    }
    for f in failures.iter().take(3) {
        eprintln!("{f}");
    }
    assert!(steps > n * 100, "the simulator ran too few steps to mean anything: {steps}");
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
