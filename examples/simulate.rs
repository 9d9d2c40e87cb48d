//! Runs the deterministic pair simulator (`src/sim/`) over many seeds.
//! Used by `scripts/simulate`; see there for the options.

use ipfailover::sim;
use std::time::Instant;

fn usage() -> ! {
    eprintln!(
        "usage: simulate [--seeds N] [--from S] [--seed S [--trace]] [--jobs J] [--list] [--off SWITCH]...\n       simulate --alarms MINUTES [--loss PERCENT]"
    );
    std::process::exit(2)
}

fn main() {
    let mut args = std::env::args().skip(1);
    let (mut seeds, mut from, mut one, mut trace, mut jobs) = (1000u64, 0u64, None, false, 1usize);
    let mut list = false;
    let (mut alarms, mut loss) = (None, 5u64);
    let mut switches = sim::Switches::default();
    while let Some(a) = args.next() {
        if a == "--off" {
            // A world switch off (src/sim/world.rs, `Switches`).
            let name = args.next().unwrap_or_else(|| usage());
            *switches.get_mut(&name).unwrap_or_else(|| usage()) = false;
            continue;
        }
        let mut num = || args.next().and_then(|v| v.parse::<u64>().ok()).unwrap_or_else(|| usage());
        match a.as_str() {
            "--seeds" => seeds = num(),
            "--from" => from = num(),
            "--seed" => one = Some(num()),
            "--jobs" => jobs = num().max(1) as usize,
            "--trace" => trace = true,
            "--list" => list = true,
            "--alarms" => alarms = Some(num()),
            "--loss" => loss = num(),
            _ => usage(),
        }
    }
    if let Some(minutes) = alarms {
        // Issue 32, item 4: false "secondary no longer heard" mails of a
        // healthy pair under loss, at every interval the simulator draws.
        for (seed, interval) in [10u64, 20, 50, 100, 200, 500].into_iter().enumerate() {
            let start = Instant::now();
            // Issue 32, item 1: and the secondary's probes of the
            // addresses (ARP on the LAN) and its (false) takeovers.
            let r = sim::loss_run(seed as u64, interval, 3 * interval, loss as f64 / 100.0, minutes);
            let took = start.elapsed().as_secs_f64();
            match r {
                Ok(r) => println!(
                    "interval {interval} ms, dead_after {} ms, {loss}% loss on both networks, {minutes} virtual minutes: {} false alarms, {} probes ({:.2} an hour), {} takeovers ({took:.1} s)",
                    3 * interval,
                    r.alarms,
                    r.probes,
                    r.probes as f64 * 60.0 / minutes.max(1) as f64,
                    r.takeovers
                ),
                Err(f) => println!("{f}"),
            }
        }
        return;
    }
    if let Some(seed) = one {
        let r = sim::run_with(seed, trace, switches);
        report(&[r], 1, Instant::now());
        return;
    }
    let start = Instant::now();
    let per = seeds.div_ceil(jobs as u64);
    let handles: Vec<_> = (0..jobs as u64)
        .map(|j| {
            let lo = from + j * per;
            let hi = (lo + per).min(from + seeds);
            std::thread::spawn(move || {
                (lo..hi).map(|s| sim::run_with(s, false, switches)).collect::<Vec<_>>()
            })
        })
        .collect();
    let results: Vec<sim::Report> = handles.into_iter().flat_map(|h| h.join().expect("worker")).collect();
    if list {
        // One line per failing seed: its invariant, to sort failures by kind.
        for f in results.iter().filter_map(|r| r.failure.as_ref()) {
            println!("seed {} at {} ms: {}", f.seed, f.at, f.what);
        }
    }
    report(&results, seeds, start);
}

fn report(results: &[sim::Report], seeds: u64, start: Instant) {
    let steps: u64 = results.iter().map(|r| r.steps).sum();
    let virtual_ms: u64 = results.iter().map(|r| r.virtual_ms).sum();
    let failures: Vec<&sim::Failure> = results.iter().filter_map(|r| r.failure.as_ref()).collect();
    for f in failures.iter().take(3) {
        println!("{f}");
    }
    if failures.len() > 3 {
        let more: Vec<String> = failures.iter().skip(3).take(50).map(|f| f.seed.to_string()).collect();
        println!("further failing seeds: {}", more.join(" "));
    }
    println!(
        "seeds {seeds}, steps {steps}, simulated {:.1} h, failures {}, took {:.1} s",
        virtual_ms as f64 / 3.6e6,
        failures.len(),
        start.elapsed().as_secs_f64()
    );
    println!("simulate: {} passed, {} failed", seeds as usize - failures.len(), failures.len());
    if !failures.is_empty() {
        std::process::exit(1);
    }
}
