//! Running many seeds of a scenario on every core, with a progress bar on a terminal and,
//! when stderr is a pipe or a file (CI logs), a progress line every [`LOG_EVERY`].

use crate::scenarios::sweep::run_seeds;
use crate::scenarios::{Counters, Outcome, Scenario};
use palisade_sim::NemesisConfig;
use std::io::IsTerminal;
use std::time::Duration;

/// How often a sweep whose stderr is not a terminal reports progress.
pub const LOG_EVERY: Duration = Duration::from_secs(10);

/// What a sweep found.
pub struct Sweep {
    /// Outcomes in seed order.
    pub outcomes: Vec<(u64, Outcome)>,
}

/// Runs `seeds` of `scenario` in parallel (one worker per core, [`run_seeds`]) while this
/// thread shows progress; results come back in seed order.
pub fn sweep(
    scenario: &Scenario,
    seeds: &[u64],
    duration: Duration,
    nemesis: Option<&NemesisConfig>,
) -> Sweep {
    let counters = Counters::default();
    let terminal = std::io::stderr().is_terminal();
    let outcomes = std::thread::scope(|s| {
        let runs = s.spawn(|| run_seeds(scenario, seeds, duration, nemesis, &counters));
        if seeds.len() > 1 {
            let over = || runs.is_finished();
            progress(scenario.name, seeds.len() as u64, &counters, terminal, &over);
        }
        runs.join().unwrap_or_else(|e| std::panic::resume_unwind(e))
    });
    Sweep { outcomes }
}

/// Reports progress until every seed is done: a bar redrawn in place on a terminal, else a
/// line every [`LOG_EVERY`] (none for a sweep that ends sooner).
/// Also stops when `over` says the runs have ended (a run that panicked never counts).
fn progress(name: &str, total: u64, counters: &Counters, terminal: bool, over: &dyn Fn() -> bool) {
    const WIDTH: u64 = 30;
    let started = std::time::Instant::now();
    let mut next_line = LOG_EVERY;
    loop {
        let (d, f) = (counters.done(), counters.failing());
        if terminal {
            let filled = (d * WIDTH).checked_div(total).unwrap_or(WIDTH);
            let bar: String = (0..WIDTH).map(|i| if i < filled { '#' } else { '.' }).collect();
            err!("\r[{bar}] {d}/{total} seeds, {f} failing");
            if d >= total {
                errln!();
            }
        } else if started.elapsed() >= next_line && d < total {
            errln!("{name}: {d}/{total} seeds, {f} failing, {} s", started.elapsed().as_secs());
            next_line += LOG_EVERY;
        }
        if d >= total || over() {
            return;
        }
        // Short naps while the sweep is young, so a sweep of a few milliseconds is not held
        // up by the bar; at most 100 ms once it has run for a while.
        let nap = (started.elapsed() / 4).clamp(Duration::from_millis(1), Duration::from_millis(100));
        std::thread::sleep(nap);
    }
}
