//! The simulator's own checks: a seed replays exactly, clean seeds have no violation, and a
//! deliberately broken rule is caught (without which the oracle is not to be trusted).

use ferroni_sim::agents::Mutation;
use ferroni_sim::{run_mutated, run_seed};

#[test]
fn a_seed_replays_exactly() {
    let (a, b) = (run_seed(11), run_seed(11));
    assert_eq!(a.violations, b.violations);
    assert_eq!(
        (a.acks, a.promotions, a.fenced),
        (b.acks, b.promotions, b.fenced)
    );
    assert_eq!(a.faults, b.faults);
    assert!(a.acks > 0, "no write was acknowledged: {a:?}");
}

#[test]
fn seeded_schedules_have_no_violation() {
    for seed in 0..40 {
        let report = run_seed(seed);
        assert!(
            report.violations.is_empty(),
            "seed {seed}: {:?}",
            report.violations
        );
    }
}

#[test]
fn a_fence_that_never_fires_is_caught() {
    let caught = (0..1000).find(|seed| {
        !run_mutated(*seed, Some(Mutation::NoFence))
            .violations
            .is_empty()
    });
    assert!(
        caught.is_some(),
        "1000 seeds and no violation with the fence broken"
    );
}
