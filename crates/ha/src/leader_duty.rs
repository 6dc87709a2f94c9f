//! This node holds the lock (§e.5): stay primary, promote, or — when the renewal failed — step
//! down at once, before the lease can expire and another node can be promoted.

use crate::{Action, Decision, DemoteMode, Input, LockRenewal, TaskKind, TaskOutcome};
use ferroni_model::Cluster;
use ferroni_model::slot_name::slot_name_from_member_name;
use std::collections::BTreeMap;

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
            let decision = if just_promoted || history_behind(input, cluster) {
                Decision::act(memo, vec![Action::UpdateHistory], normal)
            } else {
                crate::manual::from_leader(input, cluster, &normal)
                    .unwrap_or_else(|| Decision::log(memo, normal))
            };
            with_upkeep(input, cluster, decision)
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
        _ if primary && input.config.paused => Decision::log(
            memo,
            "continue to run as primary after failing to update leader lock in DCS",
        ),
        _ if primary => Decision::act(
            memo,
            vec![Action::Demote(DemoteMode::ImmediateNoLock)],
            "demoted self because failed to update leader lock in DCS",
        ),
        _ => Decision::log(
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

/// A leader that keeps leading also keeps the others' view current: the `/failsafe` topology
/// (failsafe mode) and a slot for every member (`use_slots`). Not in a cycle that gives the lock
/// up: the next leader owns them then.
fn with_upkeep(input: &Input, cluster: &Cluster, mut decision: Decision) -> Decision {
    let steps_down = decision
        .actions
        .iter()
        .any(|a| matches!(a, Action::Demote(_) | Action::ReleaseLock));
    if steps_down {
        return decision;
    }
    if input.config.failsafe_mode {
        let topology = failsafe_topology(input, cluster);
        let published = cluster.failsafe.as_ref().map(|f| {
            f.iter()
                .map(|(k, v)| (k.clone(), v.as_str().unwrap_or_default().to_string()))
                .collect::<BTreeMap<_, _>>()
        });
        if published.as_ref() != Some(&topology) {
            decision.actions.push(Action::WriteFailsafe { topology });
        }
    }
    if let Some(running) = input.pg.running().filter(|r| r.primary)
        && input.config.use_slots
    {
        let wanted = member_slots(input, cluster);
        let (mut want, mut have) = (wanted.clone(), running.slots.clone());
        want.sort();
        have.sort();
        if want != have {
            decision.actions.push(Action::SyncSlots { wanted });
        }
    }
    decision
}

/// The `/failsafe` value: every member with a REST API, this one included.
pub fn failsafe_topology(input: &Input, cluster: &Cluster) -> BTreeMap<String, String> {
    let mut topology: BTreeMap<String, String> = cluster
        .members
        .iter()
        .filter(|m| !m.data.api_url.is_empty())
        .map(|m| (m.name.clone(), m.data.api_url.clone()))
        .collect();
    topology
        .entry(input.me.name.clone())
        .or_insert_with(|| input.me.api_url.clone());
    topology
}

/// The physical slots a primary keeps: one per other member (also made before a promotion, so
/// a replica that reconnects at once finds its slot).
pub fn member_slots(input: &Input, cluster: &Cluster) -> Vec<String> {
    cluster
        .members
        .iter()
        .filter(|m| m.name != input.me.name)
        .map(|m| slot_name_from_member_name(&m.name))
        .collect()
}
