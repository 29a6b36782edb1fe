//! The figures behind the tour's delay row (row 2): phi accrual against a fixed timeout on
//! the jittery WAN, at equal mean crash-detection time, over many seeds.
//!
//! `cargo run --release --example delay_row [SEEDS]` (default 2000; about a minute on 2
//! cores). Prints each detector's mean and 99th-percentile detection time, and how many
//! seeds contain at least one wrong suspicion of a live node; then the same for a fixed
//! timeout raised until its 99th-percentile detection time matches phi's, so the reader
//! can see what phi's accuracy costs in the tail.

use palisade::scenarios::detector::qos::{Condition, WARMUP, fixed, history_of};
use palisade::scenarios::detector::{JITTER_FIXED_TIMEOUT, jitter_phi_config};
use palisade_core::detector::qos::{Qos, qos, qos_pooled};
use palisade_core::detector::{Detector, HeartbeatConfig};
use std::time::Duration;

/// Pooled QoS over `seeds` and the number of seeds with at least one mistake.
fn row<D: Detector>(config: &HeartbeatConfig<D>, seeds: &[u64]) -> (Qos, usize)
where
    HeartbeatConfig<D>: Sync,
{
    let histories: Vec<_> = std::thread::scope(|s| {
        let halves: Vec<_> = seeds
            .chunks(seeds.len().div_ceil(2).max(1))
            .map(|chunk| {
                s.spawn(move || {
                    chunk.iter().map(|&seed| history_of(config, Condition::Jitter, seed)).collect::<Vec<_>>()
                })
            })
            .collect();
        halves.into_iter().flat_map(|h| h.join().expect("measurement thread")).collect()
    });
    let erring = histories.iter().filter(|h| qos(h, WARMUP).mistakes > 0).count();
    (qos_pooled(&histories, WARMUP), erring)
}

fn print(name: &str, (q, erring): &(Qos, usize), seeds: usize) {
    println!(
        "| {name} | {:.3} | {:.3} | {} | {erring} / {seeds} |",
        q.detection.mean_s, q.detection.p99_s, q.mistakes
    );
}

fn main() {
    let n: u64 = match std::env::args().nth(1).map(|a| a.parse()) {
        None => 2000,
        Some(Ok(n)) if n > 0 => n,
        Some(_) => {
            eprintln!("usage: delay_row [SEEDS] (a positive number of seeds)");
            std::process::exit(2);
        }
    };
    let seeds: Vec<u64> = (1..=n).collect();
    println!("| detector | T_D mean s | T_D p99 s | mistakes | seeds with a mistake |");
    println!("|---|---|---|---|---|");
    let phi = row(&jitter_phi_config(), &seeds);
    print("phi (acceptable pause 0.7 s, std floor 20 ms)", &phi, seeds.len());
    let same_mean = row(&fixed(JITTER_FIXED_TIMEOUT), &seeds);
    print(
        &format!("fixed {:.2} s (equal mean)", JITTER_FIXED_TIMEOUT.as_secs_f64()),
        &same_mean,
        seeds.len(),
    );
    // Raise the fixed timeout by the gap in the 99th percentiles: detection time moves one
    // for one with a fixed timeout.
    let gap = (phi.0.detection.p99_s - same_mean.0.detection.p99_s).max(0.0);
    let timeout = JITTER_FIXED_TIMEOUT + Duration::from_secs_f64(gap);
    let same_p99 = row(&fixed(timeout), &seeds);
    print(&format!("fixed {:.2} s (equal p99)", timeout.as_secs_f64()), &same_p99, seeds.len());
}
