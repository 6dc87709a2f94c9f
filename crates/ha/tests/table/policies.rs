//! The rules the runtime asks about beside `decide()`: how each demotion and the shutdown are
//! carried out, when a failsafe round runs, and what health checks say without the DCS.

use crate::builders::*;
use ferroni_ha::dcs_error::{Health, failsafe_round_due, health};
use ferroni_ha::stopping::{DemotePlan, ShutdownPlan, Stop, shutdown};

#[test]
fn each_demotion_mode_is_carried_out_as_patroni() {
    let plan = |stop, release_lock, restart_as_replica| DemotePlan {
        stop,
        release_lock,
        restart_as_replica,
    };
    let rows = [
        (DemoteMode::Offline, plan(Stop::Fast, false, false)),
        (DemoteMode::Graceful, plan(Stop::Fast, true, true)),
        (DemoteMode::Immediate, plan(Stop::Immediate, true, false)),
        (
            DemoteMode::ImmediateNoLock,
            plan(Stop::Immediate, false, false),
        ),
    ];
    for (mode, expected) in rows {
        assert_eq!(mode.plan(), expected, "{mode:?}");
    }
}

#[test]
fn a_shutdown_stops_fast_and_releases_unless_paused() {
    assert_eq!(
        shutdown(false),
        ShutdownPlan {
            stop: Some(Stop::Fast),
            release_lock: true,
            note: None,
        }
    );
    let paused = shutdown(true);
    assert_eq!((paused.stop, paused.release_lock), (None, false));
    assert_eq!(
        paused.note,
        Some("Leader key is not deleted and Postgresql is not stopped due paused state")
    );
}

#[test]
fn a_failsafe_round_runs_only_for_a_primary_cut_off_in_failsafe_mode() {
    let failsafe = |s: S| s.config(|c| c.failsafe_mode = true);
    let rows: Vec<(&str, S, bool)> = vec![
        (
            "primary, DCS unreachable",
            failsafe(leader().unreachable()),
            true,
        ),
        (
            "primary, renewal unanswered",
            failsafe(leader().lock(LockRenewal::Unanswered)),
            true,
        ),
        ("primary, DCS answered", failsafe(leader()), false),
        (
            "primary, renewal refused (the DCS answered)",
            failsafe(leader().lock(LockRenewal::Failed)),
            false,
        ),
        ("failsafe mode off", leader().unreachable(), false),
        ("paused", failsafe(leader().unreachable()).paused(), false),
        ("a replica", failsafe(replica().unreachable()), false),
        (
            "a stopped primary",
            failsafe(leader().unreachable().stopped(true)),
            false,
        ),
    ];
    let wrong: Vec<_> = rows
        .iter()
        .filter(|(_, s, due)| failsafe_round_due(&s.0) != *due)
        .map(|(name, _, due)| format!("{name}: expected {due}"))
        .collect();
    assert!(wrong.is_empty(), "{wrong:?}");
}

#[test]
fn without_the_dcs_only_an_accepted_primary_answers_as_leader() {
    let h = |holds_lock, failsafe_active| Health {
        holds_lock,
        failsafe_active,
    };
    let on = |s: S| s.config(|c| c.failsafe_mode = true);
    let rows: Vec<(&str, S, Health)> = vec![
        (
            "primary, no failsafe",
            leader().unreachable(),
            h(false, false),
        ),
        (
            "primary, every member accepted",
            on(leader().unreachable().failsafe(None, true)),
            h(true, true),
        ),
        (
            "primary, a member did not accept",
            on(leader().unreachable().failsafe(None, false)),
            h(false, false),
        ),
        (
            "acceptance without failsafe mode counts for nothing",
            leader().unreachable().failsafe(None, true),
            h(false, false),
        ),
        (
            "a replica a failsafe primary called",
            on(replica().unreachable().failsafe(Some("node2"), false)),
            h(false, true),
        ),
    ];
    let wrong: Vec<_> = rows
        .iter()
        .filter(|(_, s, expected)| health(&s.0) != *expected)
        .map(|(name, s, expected)| format!("{name}: expected {expected:?}, got {:?}", health(&s.0)))
        .collect();
    assert!(wrong.is_empty(), "{wrong:?}");
}
