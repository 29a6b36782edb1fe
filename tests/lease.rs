//! Leases and fencing in the simulator: the defence holds, and both hazards are real (the
//! checkers find them).

use palisade::scenarios::{self, RunSpec};

fn violations(name: &str, seeds: u64) -> Vec<(u64, &'static str)> {
    let sc = scenarios::find(name).expect("scenario exists");
    let nemesis = sc.default_nemesis.map(|l| scenarios::nemesis_for(l, sc.default_duration).unwrap());
    (1..=seeds)
        .filter_map(|seed| {
            let spec = RunSpec { nemesis: nemesis.clone(), ..RunSpec::new(seed, sc.default_duration) };
            (sc.run)(spec).report.violation.map(|v| (seed, v.checker))
        })
        .collect()
}

#[test]
fn fencing_keeps_one_holder_increasing_tokens_no_stale_write_and_progress() {
    assert_eq!(violations("fencing", 60), vec![]);
}

#[test]
fn without_fencing_a_stale_write_is_accepted() {
    let v = violations("unfenced", 30);
    assert!(!v.is_empty(), "the unfenced hazard must show within 30 seeds");
    assert!(v.iter().all(|(_, c)| *c == "fencing::accepted_tokens_never_decrease"), "{v:?}");
}

#[test]
fn drift_beyond_the_bound_lets_two_clients_hold_the_lease() {
    let v = violations("drift-violation", 40);
    assert!(!v.is_empty(), "the drift hazard must show within 40 seeds");
    assert!(v.iter().all(|(_, c)| *c == "lease::single_holder"), "{v:?}");
}
