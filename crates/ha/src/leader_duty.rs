//! This node holds the lock (§e.5): stay primary, promote, or — when the renewal failed — step
//! down at once, before the lease can expire and another node can be promoted.

use crate::{Action, Decision, DemoteMode, Input, LockRenewal, TaskKind, TaskOutcome};
use ferroni_model::Cluster;

/// Decides for the lock holder, PostgreSQL running.
pub fn decide(input: &Input, cluster: &Cluster) -> Decision {
    let memo = &input.memo;
    let name = &input.me.name;
    let primary = input.pg.is_primary();
    // Only a renewal that succeeded this cycle proves the lock; anything else is treated as lost.
    match input.lock {
        // A required watchdog protects a primary whose agent stalls; without it, step down.
        LockRenewal::Renewed if input.me.watchdog_failed && !input.config.paused => {
            if primary {
                Decision::act(
                    memo,
                    vec![Action::Demote(DemoteMode::Immediate)],
                    "Demoting self because watchdog could not be activated",
                )
            } else {
                Decision::act(
                    memo,
                    vec![Action::ReleaseLock],
                    "Not promoting self because watchdog could not be activated",
                )
            }
        }
        LockRenewal::Renewed if primary => {
            let just_promoted = input.task.as_ref().is_some_and(|t| {
                t.kind == TaskKind::Promote && t.outcome == TaskOutcome::Succeeded
            });
            let normal = format!("no action. I am ({name}), the leader with the lock");
            if just_promoted || history_behind(input, cluster) {
                return Decision::act(memo, vec![Action::UpdateHistory], normal);
            }
            crate::manual::from_leader(input, cluster, &normal)
                .unwrap_or_else(|| Decision::log(memo, normal))
        }
        LockRenewal::Renewed if input.config.paused => Decision::act(
            memo,
            vec![Action::ReleaseLock],
            "removed leader lock because postgres is not running as primary",
        ),
        LockRenewal::Renewed => Decision::act(
            memo,
            vec![Action::Promote],
            "promoted self to leader because I had the session lock",
        ),
        LockRenewal::Failed | LockRenewal::NotHeld if primary && input.config.paused => {
            Decision::log(
                memo,
                "continue to run as primary after failing to update leader lock in DCS",
            )
        }
        LockRenewal::Failed | LockRenewal::NotHeld if primary => Decision::act(
            memo,
            vec![Action::Demote(DemoteMode::ImmediateNoLock)],
            "demoted self because failed to update leader lock in DCS",
        ),
        LockRenewal::Failed | LockRenewal::NotHeld => Decision::log(
            memo,
            "not promoting because failed to update leader lock in DCS",
        ),
    }
}

/// `/history` does not show the promotion that made this primary's timeline: written right
/// after the promotion, a write that failed is retried here.
fn history_behind(input: &Input, cluster: &Cluster) -> bool {
    input
        .pg
        .running()
        .map(|r| r.timeline)
        .filter(|t| *t > 1)
        .is_some_and(|t| !crate::divergence::history_reaches(cluster, &input.me.name, t))
}
