//! Named locks granted by a majority (`palisade_core::lock`) in the simulator: safe and live
//! under every fault their model admits, crash-restart of any node included, and unsafe
//! when one clock drifts beyond the bound they budget for, as their checker shows.

use palisade::scenarios::{sweep_within_model, violations};

#[test]
fn named_locks_hold_under_every_fault_their_model_admits() {
    for kinds in ["all", "crash=12", "torn=12", "pause=12"] {
        let sweep = sweep_within_model("locks", kinds, 30);
        assert!(sweep.episodes > 0, "{kinds}: nothing was injected");
        assert_eq!(sweep.violations, vec![], "{kinds}");
    }
}

#[test]
fn a_clock_beyond_the_drift_bound_breaks_them_and_the_checker_says_so() {
    let found = violations("locks-drift-violation", 100);
    assert!(!found.is_empty(), "no violation in 100 seeds");
    assert!(found.iter().all(|&(_, c)| c == "lock::single_holder"), "{found:?}");
}
