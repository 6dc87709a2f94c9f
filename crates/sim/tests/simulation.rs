//! The simulator's own checks: a seed replays exactly, clean seeds (of every fault kind, and of
//! each alone) have no violation, and a
//! deliberately broken rule is caught (without which the oracle is not to be trusted).

use ferroni_sim::agents::Mutation;
use ferroni_sim::schedule::FaultKind;
use ferroni_sim::{run_mutated, run_schedule, run_seed, run_seeds};

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
    let (mut rewinds, mut rewound, mut followed) = (0, Vec::new(), Vec::new());
    for seed in 0..40 {
        let report = run_seed(seed);
        assert!(
            report.violations.is_empty(),
            "seed {seed}: {:?}",
            report.violations
        );
        rewinds += report.rewinds;
        if report.former_primaries_rewound > 0 {
            rewound.push(seed);
        }
        if report.former_primaries_followed > 0 {
            followed.push(seed);
        }
    }
    // The divergence case both ways, with the oracle watching (a diverged server streams
    // nothing and is never promoted; a healthy standby stopped cleanly is never rewound): a
    // former primary whose WAL went past the fork is rewound before it follows the new leader,
    // one whose WAL had not follows it without.
    println!("former primaries rewound in seeds {rewound:?}, followed without in {followed:?}");
    assert!(rewinds > 0, "40 seeds and no pg_rewind");
    assert!(
        !rewound.is_empty(),
        "40 seeds and no former primary past the fork"
    );
    assert!(
        !followed.is_empty(),
        "40 seeds and no former primary that joined as it was"
    );
}

#[test]
fn a_fence_that_never_fires_is_caught() {
    let caught = (0..1000).find(|seed| {
        !run_mutated(*seed, Some(Mutation::NoFence))
            .violations
            .is_empty()
    });
    let Some(seed) = caught else {
        panic!("1000 seeds and no violation with the fence broken");
    };
    print_trace(seed, Mutation::NoFence, "no-fence");
}

#[test]
fn a_decision_without_the_lag_check_is_caught() {
    // In chunks over every core, stopping at the first chunk with a violation.
    let caught = (0..10).find_map(|chunk| {
        run_seeds(chunk * 100..(chunk + 1) * 100, Some(Mutation::NoLagCheck))
            .into_iter()
            .find(|r| !r.violations.is_empty())
            .map(|r| (r.seed, r))
    });
    let Some((seed, report)) = caught else {
        panic!("1000 seeds and no violation with promotion unchecked for lag");
    };
    assert!(
        report.violations.iter().any(|v| v.contains("behind")),
        "seed {seed}: {:?}",
        report.violations
    );
    print_trace(seed, Mutation::NoLagCheck, "no-lag-check");
}

/// Replays a caught seed with the agents' log lines on the test's output (shown with
/// `--nocapture`, or when the test fails), and says how to replay it by hand.
fn print_trace(seed: u64, mutation: Mutation, flag: &str) {
    let subscriber = tracing_subscriber::fmt()
        .with_test_writer()
        .with_target(false)
        .finish();
    let report =
        tracing::subscriber::with_default(subscriber, || run_mutated(seed, Some(mutation)));
    for v in &report.violations {
        println!("seed {seed}: {v}");
    }
    println!("replay: cargo run -p ferroni-sim --release -- --seed {seed} --mutation {flag}");
}

#[test]
fn each_fault_kind_alone_has_no_violation() {
    for kind in FaultKind::ALL {
        for seed in 0..8 {
            let report = run_schedule(seed, Some(kind), None);
            assert!(
                report.violations.is_empty(),
                "{} only, seed {seed}: {:?}",
                kind.name(),
                report.violations
            );
            assert_eq!(
                report.faults.keys().copied().collect::<Vec<_>>(),
                vec![kind.name()]
            );
        }
    }
}
