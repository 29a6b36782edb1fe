//! Clock scenarios: the skew monitor fences exactly the node whose clock is wrong.

use palisade::core::clock::SkewConfig;
use palisade::scenarios::clock::stamped::StampedEvent;
use palisade::scenarios::clock::{BAD, WRITES_IN_ORDER, skew_simulation};
use palisade::scenarios::{self, RunSpec, violations};
use std::time::Duration;

#[test]
fn the_skew_monitor_fences_the_bad_node_in_time_and_only_it() {
    assert_eq!(violations("skew", 50), vec![]);
    assert_eq!(violations("skew-calm", 50), vec![]);
}

#[test]
fn a_skewed_clock_unmonitored_misorders_writes_and_monitored_it_does_not() {
    // The damage, not the monitor's state: without the monitor n3 keeps serving writes
    // stamped seconds ahead, and writes made later are stamped before them.
    let lost = violations("skew-unmonitored", 20);
    assert_eq!(lost.len(), 20, "{lost:?}");
    assert!(lost.iter().all(|(_, c)| *c == WRITES_IN_ORDER), "{lost:?}");
    // With it, the same faults misorder nothing once the monitor could have measured.
    let spec = RunSpec::new(4, Duration::from_secs(90));
    let outcome = (scenarios::find("skew").unwrap().run)(spec);
    assert_eq!(outcome.report.violation, None);
    assert!(outcome.story.iter().any(|l| l.starts_with("n3 served") && !l.starts_with("n3 served 0 ")));
}

#[test]
fn the_bad_node_is_fenced_then_unfenced_twice() {
    let spec = RunSpec::new(4, Duration::from_secs(90));
    let outcome = (scenarios::find("skew").unwrap().run)(spec);
    assert_eq!(outcome.report.violation, None);
    let lines: Vec<&String> = outcome.story.iter().filter(|l| l.contains("n3 ")).collect();
    let fenced = lines.iter().filter(|l| l.contains("Fenced")).count();
    let unfenced = lines.iter().filter(|l| l.contains("Unfenced")).count();
    assert_eq!((fenced, unfenced), (2, 2), "{lines:?}");
}

#[test]
fn a_hair_trigger_monitor_is_caught_fencing_correct_nodes() {
    // Planted: fencing at 2% of the maximum offset (10 ms) fences nodes whose clocks are
    // merely tens of milliseconds apart; the checker must say so.
    let config = SkewConfig::default().fence_fraction(0.02);
    let (mut sim, _) = skew_simulation(2, config);
    let report = sim.run_for(Duration::from_secs(30));
    let v = report.violation.expect("correct nodes fenced");
    assert_eq!(v.checker, "skew::no_correct_node_fenced");
    let fenced =
        sim.world().history().iter().any(|o| o.node != BAD && matches!(o.event, StampedEvent::Fenced { .. }));
    assert!(fenced);
}

#[test]
fn wall_clock_lww_loses_causally_later_writes_and_hlc_and_version_vectors_do_not() {
    let lost = violations("lww", 20);
    assert_eq!(lost.len(), 20, "every seed shows the hazard: {lost:?}");
    assert!(lost.iter().all(|(_, c)| *c == "lww::no_causally_later_write_lost"));
    assert_eq!(violations("lww-hlc", 20), vec![]);
    assert_eq!(violations("lww-vv", 20), vec![]);
}

#[test]
fn version_vectors_keep_concurrent_writes_as_siblings() {
    use palisade::scenarios::lww::{Ordering, simulation};
    let mut siblings_seen = false;
    for seed in 1..=10 {
        let mut sim = simulation(seed, Ordering::VersionVectors);
        // Stop in the middle of the writing, when replication is still racing.
        sim.run_for(Duration::from_secs(20));
        siblings_seen |= sim.world().running().any(|(_, r)| r.values().len() > 1);
    }
    assert!(siblings_seen, "concurrent writes must show up as siblings somewhere");
}

#[test]
fn commit_wait_gives_external_consistency_and_its_absence_does_not() {
    assert_eq!(violations("commit-wait", 20), vec![]);
    let v = violations("commit-wait-off", 20);
    assert_eq!(v.len(), 20, "{v:?}");
    assert!(v.iter().all(|(_, c)| *c == "txn::external_consistency"));
}
