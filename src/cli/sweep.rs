//! Running many seeds of a scenario on every core, with a progress line on a terminal.

use palisade::scenarios::{Outcome, RunSpec, Scenario};
use palisade_sim::NemesisConfig;
use std::io::IsTerminal;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

/// What a sweep found.
pub struct Sweep {
    /// Outcomes in seed order.
    pub outcomes: Vec<(u64, Outcome)>,
}

/// Runs `seeds` of `scenario` in parallel (one worker per core); results come back in seed
/// order, so the sweep is as deterministic as each run.
pub fn sweep(
    scenario: &Scenario,
    seeds: &[u64],
    duration: Duration,
    nemesis: Option<&NemesisConfig>,
) -> Sweep {
    let workers = std::thread::available_parallelism().map_or(1, |n| n.get()).min(seeds.len()).max(1);
    let next = AtomicU64::new(0);
    let done = AtomicU64::new(0);
    let failing = AtomicU64::new(0);
    let results = Mutex::new(Vec::with_capacity(seeds.len()));
    let show = std::io::stderr().is_terminal() && seeds.len() > 1;
    std::thread::scope(|s| {
        for _ in 0..workers {
            s.spawn(|| {
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed) as usize;
                    let Some(&seed) = seeds.get(i) else { break };
                    let spec = RunSpec { nemesis: nemesis.cloned(), ..RunSpec::new(seed, duration) };
                    let outcome = (scenario.run)(spec);
                    if outcome.report.violation.is_some() {
                        failing.fetch_add(1, Ordering::Relaxed);
                    }
                    results.lock().unwrap_or_else(|e| e.into_inner()).push((seed, outcome));
                    done.fetch_add(1, Ordering::Relaxed);
                }
            });
        }
        if show {
            progress(seeds.len() as u64, &done, &failing);
        }
    });
    let mut outcomes = results.into_inner().unwrap_or_else(|e| e.into_inner());
    outcomes.sort_by_key(|(seed, _)| *seed);
    Sweep { outcomes }
}

fn progress(total: u64, done: &AtomicU64, failing: &AtomicU64) {
    const WIDTH: u64 = 30;
    loop {
        let d = done.load(Ordering::Relaxed);
        let filled = (d * WIDTH).checked_div(total).unwrap_or(WIDTH);
        let bar: String = (0..WIDTH).map(|i| if i < filled { '#' } else { '.' }).collect();
        eprint!("\r[{bar}] {d}/{total} seeds, {} failing", failing.load(Ordering::Relaxed));
        if d >= total {
            eprintln!();
            return;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}
