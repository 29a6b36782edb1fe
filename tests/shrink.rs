//! Shrinking keeps the failure: a shrunk fault schedule fails the same checker at the same
//! kind of event, no later than the original, on every hazard of the tour. `PALISADE_LONG=1`
//! runs 200 seeds of every hazard scenario (the tour's and the others, such as
//! `detector-pause-fixed` and `abd-no-write-back`) and shrinks every failing one with the
//! CLI's budget.

use palisade::scenarios::hazards::HAZARDS;
use palisade::scenarios::{self, RunSpec};
use palisade_sim::FaultKind;

fn long() -> bool {
    std::env::var_os("PALISADE_LONG").is_some()
}

#[test]
fn shrunk_schedules_fail_the_same_way_no_later_on_every_hazard() {
    let (seeds, per_hazard, budget) = if long() { (200, usize::MAX, 300) } else { (40, 2, 40) };
    let (mut shrunk_some, mut total) = (0, 0);
    let names: Vec<&str> = if long() {
        scenarios::all().into_iter().filter(|s| s.hazard).map(|s| s.name).collect()
    } else {
        HAZARDS.iter().map(|h| h.without).collect()
    };
    for name in names {
        let sc = scenarios::find(name).unwrap();
        let duration = sc.default_duration;
        let nemesis = sc.default_nemesis_config(duration);
        let mut checked = 0;
        for seed in 1..=seeds {
            if checked >= per_hazard {
                break;
            }
            let outcome = (sc.run)(RunSpec::new(seed, duration).nemesis(nemesis.clone()));
            let Some(original) = outcome.report.violation.clone() else { continue };
            if outcome.schedule.is_empty() {
                continue;
            }
            checked += 1;
            total += 1;
            let small = sc.shrink(seed, duration, &outcome, budget);
            assert!(small.len() <= outcome.schedule.len());
            let again = (sc.run)(RunSpec::new(seed, duration).schedule(Some(small.clone())));
            let v = again
                .report
                .violation
                .unwrap_or_else(|| panic!("{} seed {seed}: the shrunk schedule passes", sc.name));
            assert!(
                original.reproduced_by(&v),
                "{} seed {seed}: shrunk to {} episodes, it fails {} at a {} event at {} ns; the original {} at a {} event at {} ns",
                sc.name,
                small.len(),
                v.checker,
                v.cause,
                v.time_ns,
                original.checker,
                original.cause,
                original.time_ns
            );
            shrunk_some += usize::from(small.len() < outcome.schedule.len());
        }
    }
    eprintln!("{total} failing seeds shrunk, {shrunk_some} to fewer episodes");
    assert!(shrunk_some > 0, "some schedule got smaller");
}

#[test]
fn unfenced_seed_1_shrinks_to_the_one_pause_that_matters() {
    let sc = scenarios::find("unfenced").unwrap();
    let duration = sc.default_duration;
    let outcome = (sc.run)(RunSpec::new(1, duration).nemesis(sc.default_nemesis_config(duration)));
    let original = outcome.report.violation.clone().expect("unfenced seed 1 fails");
    assert!(outcome.schedule.len() > 10, "{} episodes", outcome.schedule.len());
    let small = sc.shrink(1, duration, &outcome, 300);
    assert_eq!(small.len(), 1, "{small:?}");
    assert!(matches!(small[0].faults[0].kind, FaultKind::Pause { .. }), "{small:?}");
    let again = (sc.run)(RunSpec::new(1, duration).schedule(Some(small)));
    let v = again.report.violation.expect("still fails");
    assert!(original.reproduced_by(&v), "{v:?} vs {original:?}");
}

#[test]
fn a_failure_that_needs_no_faults_shrinks_to_none() {
    // register-small-quorums fails without any fault in some seeds: a read quorum that
    // misses the write quorum needs only delays.
    let sc = scenarios::find("register-small-quorums").unwrap();
    let duration = sc.default_duration;
    let (seed, outcome) = (1..=200)
        .find_map(|seed| {
            let spec = RunSpec::new(seed, duration).nemesis(sc.default_nemesis_config(duration));
            let o = (sc.run)(spec);
            let none = (sc.run)(RunSpec::new(seed, duration).schedule(Some(Vec::new())));
            let fails_alone = match (&o.report.violation, &none.report.violation) {
                (Some(a), Some(b)) => a.reproduced_by(b),
                _ => false,
            };
            (fails_alone && !o.schedule.is_empty()).then_some((seed, o))
        })
        .expect("a seed whose failure needs no faults");
    assert!(sc.shrink(seed, duration, &outcome, 10).is_empty(), "seed {seed}");
}
