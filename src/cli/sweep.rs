//! Running many seeds of a scenario on every core, with a progress bar on a terminal and,
//! when stderr is a pipe or a file (CI logs), a progress line every [`LOG_EVERY`].

use palisade::scenarios::{Outcome, RunSpec, Scenario};
use palisade_sim::NemesisConfig;
use std::io::IsTerminal;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

/// How often a sweep whose stderr is not a terminal reports progress.
pub const LOG_EVERY: Duration = Duration::from_secs(10);

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
    let terminal = std::io::stderr().is_terminal();
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
        if seeds.len() > 1 {
            progress(scenario.name, seeds.len() as u64, &done, &failing, terminal);
        }
    });
    let mut outcomes = results.into_inner().unwrap_or_else(|e| e.into_inner());
    outcomes.sort_by_key(|(seed, _)| *seed);
    Sweep { outcomes }
}

/// Reports progress until every seed is done: a bar redrawn in place on a terminal, else a
/// line every [`LOG_EVERY`] (none for a sweep that ends sooner).
fn progress(name: &str, total: u64, done: &AtomicU64, failing: &AtomicU64, terminal: bool) {
    const WIDTH: u64 = 30;
    let started = std::time::Instant::now();
    let mut next_line = LOG_EVERY;
    loop {
        let d = done.load(Ordering::Relaxed);
        let f = failing.load(Ordering::Relaxed);
        if terminal {
            let filled = (d * WIDTH).checked_div(total).unwrap_or(WIDTH);
            let bar: String = (0..WIDTH).map(|i| if i < filled { '#' } else { '.' }).collect();
            eprint!("\r[{bar}] {d}/{total} seeds, {f} failing");
            if d >= total {
                eprintln!();
            }
        } else if started.elapsed() >= next_line && d < total {
            eprintln!("{name}: {d}/{total} seeds, {f} failing, {} s", started.elapsed().as_secs());
            next_line += LOG_EVERY;
        }
        if d >= total {
            return;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}
