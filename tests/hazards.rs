//! Every row of the hazard table: the scenario without the defence shows violations within
//! a few seeds, and the one with it shows none over the same seeds. (The tour runs 200
//! seeds of each; this keeps the claim in the test suite too.)

use palisade::scenarios::hazards::HAZARDS;
use palisade::scenarios::violations;

const SEEDS: u64 = 20;

#[test]
fn every_hazard_shows_without_its_defence_and_not_with_it() {
    for h in HAZARDS {
        let bad = violations(h.without, SEEDS);
        assert!(!bad.is_empty(), "{}: `{}` showed no violation in {SEEDS} seeds", h.hazard, h.without);
        // Pinned: the hazard breaks the row's checker, and nothing else.
        assert!(
            bad.iter().all(|(_, c)| *c == h.checker),
            "{}: `{}` failed another checker than {}: {bad:?}",
            h.hazard,
            h.without,
            h.checker
        );
        let good = violations(h.with, SEEDS);
        assert!(good.is_empty(), "{}: `{}` violated: {good:?}", h.hazard, h.with);
    }
}
