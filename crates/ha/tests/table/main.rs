//! `decide()`, case by case: each row is an input (a scenario built from a healthy three-node
//! cluster seen by node1) and the expected actions and Patroni log line.

// Each file is a section of Patroni's HA loop (docs/ha.md, §e).
mod builders;
mod follower;
mod lock_holder;
mod manual;
mod policies;
mod race;
mod upkeep;

use builders::*;

fn rows() -> Vec<Row> {
    let mut rows = Vec::new();
    rows.extend(lock_holder::rows());
    rows.extend(race::rows());
    rows.extend(follower::rows());
    rows.extend(manual::rows());
    rows.extend(upkeep::rows());
    rows
}

#[test]
fn every_row_decides_as_patroni() {
    let rows = rows();
    assert!(rows.len() >= 60, "only {} rows", rows.len());
    let mut failures = Vec::new();
    for r in &rows {
        let d = decide(&r.input.0);
        if d.actions != r.actions || d.log != r.log || d.on_failure.as_deref() != r.on_failure {
            failures.push(format!(
                "{}\n  expected {:?} / {:?} / {:?}\n  got      {:?} / {:?} / {:?}",
                r.name, r.actions, r.log, r.on_failure, d.actions, d.log, d.on_failure
            ));
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} rows failed:\n{}",
        failures.len(),
        rows.len(),
        failures.join("\n")
    );
}

#[test]
fn a_primary_that_steps_down_is_checked_for_divergence_until_settled() {
    let demoted = decide(&replica().running_primary(1, 1000).0);
    assert_eq!(demoted.actions, vec![Demote(DemoteMode::ImmediateNoLock)]);
    assert!(demoted.memo.diverge_check);
    let started = decide(&no_leader().leader_key(None).stopped(true).0);
    assert!(started.memo.diverge_check, "{started:?}");
    let clean = decide(&diverged_replica(100).0);
    assert!(!clean.memo.diverge_check);
    let rewound = decide(&diverged_replica(150).config(|c| c.use_pg_rewind = true).0);
    assert!(!rewound.memo.diverge_check);
    let waiting = decide(&diverged_replica(150).0);
    assert!(waiting.memo.diverge_check);
    let never = decide(&replica().0);
    assert!(!never.memo.diverge_check);
    // A former primary whose end of WAL proves it joins the leader's history is settled before
    // it starts; one that crashed (no known end) and is not rewound is checked once running.
    let joins = decide(&replica().stopped_at(true, 1, 99).cluster(forked_at_100).0);
    assert!(!joins.memo.diverge_check, "{joins:?}");
    let crashed = decide(&replica().stopped(true).cluster(forked_at_100).0);
    assert!(crashed.memo.diverge_check, "{crashed:?}");
    let rewinding = decide(
        &replica()
            .stopped(true)
            .config(|c| c.use_pg_rewind = true)
            .cluster(forked_at_100)
            .0,
    );
    assert!(!rewinding.memo.diverge_check, "{rewinding:?}");
    let ahead = decide(&replica().running_replica(3, 150).cluster(forked_at_100).0);
    assert_eq!(ahead.memo.ahead_of_leader_since, Some(1_000_000));
    let caught_up = decide(
        &replica()
            .running_replica(2, 150)
            .memo(ahead.memo.clone())
            .cluster(forked_at_100)
            .0,
    );
    assert_eq!(caught_up.memo.ahead_of_leader_since, None);
}

#[test]
fn a_scheduled_action_wakes_the_loop_at_its_time() {
    let switchover = decide(
        &leader()
            .failover(Some("node1"), Some("node2"), Some(at(4)))
            .0,
    );
    assert_eq!(switchover.wake_in, Some(4000));
    assert_eq!(
        switchover.notes,
        vec!["Awaiting switchover at 2026-11-23T17:20:04+00:00 (in 4 seconds)".to_string()]
    );
    let restart = decide(&leader().restart_at(at(90)).0);
    assert_eq!(restart.wake_in, Some(90_000));
    let stale = decide(
        &leader()
            .failover(Some("node1"), Some("node2"), Some(at(-16)))
            .0,
    );
    assert_eq!(
        stale.notes,
        vec!["Found a stale switchover value, cleaning up: 2026-11-23T17:19:44+00:00".to_string()]
    );
    let refused = decide(&leader().failover(Some("node2"), Some("node3"), None).0);
    assert_eq!(
        refused.notes,
        vec![
            "switchover: leader name does not match: node2 != node1".to_string(),
            "Cleaning up failover key".to_string()
        ]
    );
}

#[test]
fn a_refused_promotion_starts_the_backoff_and_writes_nothing_else() {
    let refused = decide(
        &leader()
            .running_replica(1, 1000)
            .task(TaskKind::Promote, TaskOutcome::Vetoed)
            .0,
    );
    assert_eq!(refused.memo.pre_promote_refused_at, Some(1_000_000));
    assert_eq!(
        refused.notes,
        vec![
            "Releasing the leader key voluntarily because the pre-promote script failed"
                .to_string()
        ]
    );
    let failed = decide(
        &leader()
            .running_replica(1, 1000)
            .task(TaskKind::Promote, TaskOutcome::Failed)
            .0,
    );
    assert_eq!(failed.memo.pre_promote_refused_at, None);
}

#[test]
fn row_names_are_unique() {
    let rows = rows();
    let mut names: Vec<&str> = rows.iter().map(|r| r.name).collect();
    names.sort();
    names.dedup();
    assert_eq!(names.len(), rows.len());
}
