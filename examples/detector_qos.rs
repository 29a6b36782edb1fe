//! The failure-detector QoS table: every detector under every network condition.
//!
//! `cargo run --release --example detector_qos` (a few seconds on 2 cores).
//! Each cell pools 3 seeds of 10 simulated minutes with 5 nodes (20 monitored pairs).
//! T_D: detection time of node 5's crash at 480 s. λ_M: wrong suspicions per pair-hour of
//! failure-free time. P_A: fraction of that time live nodes were trusted.

use palisade::scenarios::detector::qos::{
    Condition, Contender, WARMUP, as_seen_by, fixed, history_of, measure, phi_with_pause,
};
use palisade_core::NodeId;
use palisade_core::detector::qos::{Qos, qos_pooled};
use palisade_core::detector::{FixedTimeout, HeartbeatConfig, PhiAccrual};
use std::time::Duration;

const SEEDS: [u64; 3] = [1, 2, 3];
/// False accusations are rare events: the SWIM comparison pools more runs.
const SWIM_SEEDS: [u64; 10] = [1, 2, 3, 4, 5, 6, 7, 8, 9, 10];

fn main() {
    println!(
        "| detector | condition | T_D mean s | T_D p99 s | undetected | mistakes | λ_M per pair-hour | P_A |"
    );
    println!("|---|---|---|---|---|---|---|---|");
    for condition in Condition::ALL {
        // One thread per detector: the runs are independent and deterministic.
        let results: Vec<(Contender, Qos)> = std::thread::scope(|s| {
            let handles: Vec<_> =
                Contender::ALL.iter().map(|&c| s.spawn(move || (c, c.measure(condition, &SEEDS)))).collect();
            handles.into_iter().map(|h| h.join().expect("measurement thread")).collect()
        });
        for (c, q) in results {
            println!(
                "| {} | {} | {:.3} | {:.3} | {} | {} | {:.2} | {:.5} |",
                c.name(),
                condition.name(),
                q.detection.mean_s,
                q.detection.p99_s,
                q.undetected,
                q.mistakes,
                q.mistake_rate_per_s * 3600.0,
                q.query_accuracy
            );
        }
    }
    println!();
    equal_mistake_rate();
    observer_pause();
    lifeguard();
}

/// Goal: SWIM with Lifeguard raises at least 10x fewer false positives than plain SWIM when
/// members pause, at no worse than 2x the detection time.
fn lifeguard() {
    use palisade::scenarios::detector::swim::measure;
    use palisade_core::detector::swim::SwimConfig;
    let (plain, guarded) = std::thread::scope(|s| {
        let a = s.spawn(|| measure(&SwimConfig::plain(), &SWIM_SEEDS));
        let b = s.spawn(|| measure(&SwimConfig::default(), &SWIM_SEEDS));
        (a.join().expect("plain"), b.join().expect("lifeguard"))
    });
    println!(
        "paused members (16 members, 4 pausing 0.5-3 s every 2-10 s, 10 seeds): false accusations of healthy members: plain SWIM {}, \
         Lifeguard {} ({}); members that came to suspect a healthy one {} vs {}; \
         false deaths {} vs {}; crash detection {:.3} s vs {:.3} s ({:.2}x); undetected {} vs {}",
        plain.false_accusations,
        guarded.false_accusations,
        if guarded.false_accusations == 0 {
            "all removed".to_string()
        } else {
            format!("{:.1}x fewer", plain.false_accusations as f64 / guarded.false_accusations as f64)
        },
        plain.false_suspicions,
        guarded.false_suspicions,
        plain.false_deaths,
        guarded.false_deaths,
        plain.mean_detection_s(),
        guarded.mean_detection_s(),
        guarded.mean_detection_s() / plain.mean_detection_s(),
        plain.undetected,
        guarded.undetected
    );
}

/// Goal: at equal mistake rate, phi accrual detects a crash faster than the best fixed
/// timeout on a jittery network. Both are tuned on the same runs: the fixed timeout in
/// 125 ms steps; phi's acceptable pause in 125 ms steps for each minimum standard deviation
/// of 10, 25, 50 and 100 ms. For each, the fastest setting with no wrong suspicion at all.
fn equal_mistake_rate() {
    let steps = |max_ms: u64| (0..=max_ms / 125).map(|i| Duration::from_millis(i * 125)).collect::<Vec<_>>();
    let best_phi = [10u64, 25, 50, 100]
        .into_iter()
        .filter_map(|std_ms| {
            steps(3_000).into_iter().find_map(|p| {
                let mut c = phi_with_pause(p);
                c.detector.min_std_deviation = Duration::from_millis(std_ms);
                let q = measure::<PhiAccrual>(&c, Condition::Jitter, &SEEDS);
                (q.mistakes == 0).then_some((p, std_ms, q))
            })
        })
        .min_by(|a, b| a.2.detection.mean_s.total_cmp(&b.2.detection.mean_s));
    let best_fixed = steps(6_000).into_iter().skip(1).find_map(|t| {
        let q = measure::<FixedTimeout>(&fixed(t), Condition::Jitter, &SEEDS);
        (q.mistakes == 0).then_some((t, q))
    });
    match (best_phi, best_fixed) {
        (Some((p, std_ms, phi)), Some((t, fix))) => println!(
            "jitter, both tuned to zero mistakes: phi (acceptable pause {:.3} s, min std {std_ms} ms) detects in \
             {:.3} s mean / {:.3} s p99; the best fixed timeout ({:.3} s) in {:.3} s / {:.3} s: phi is {:.2}x faster",
            p.as_secs_f64(),
            phi.detection.mean_s,
            phi.detection.p99_s,
            t.as_secs_f64(),
            fix.detection.mean_s,
            fix.detection.p99_s,
            fix.detection.mean_s / phi.detection.mean_s
        ),
        _ => println!("jitter: no zero-mistake setting found in the ranges tried"),
    }
}

/// Goal: the pause guard cuts the paused observer's false suspicions at least 10x.
fn observer_pause() {
    let paused = NodeId(1);
    let run = |config: &HeartbeatConfig<PhiAccrual>| {
        let hs: Vec<_> = SEEDS
            .iter()
            .map(|&s| as_seen_by(history_of(config, Condition::ObserverPause, s), paused))
            .collect();
        qos_pooled(&hs, WARMUP)
    };
    let plain = run(&HeartbeatConfig::default());
    let guarded = run(&HeartbeatConfig::default().with_pause_guard());
    println!(
        "observer-pause: false suspicions raised by the paused observer: phi {}, phi + pause guard {} ({}); \
         its detection time {:.3} s vs {:.3} s",
        plain.mistakes,
        guarded.mistakes,
        if guarded.mistakes == 0 {
            "all removed".to_string()
        } else {
            format!("{:.1}x fewer", plain.mistakes as f64 / guarded.mistakes as f64)
        },
        plain.detection.mean_s,
        guarded.detection.mean_s
    );
}
