//! A long task in flight (§e.2 step 5), or one that just finished and needs its bookkeeping
//! (after bootstrap: `initialize`, `config` and the lock; after a failed bootstrap: cancel).

use crate::{
    Action, Decision, DemoteMode, Input, LockRenewal, Task, TaskKind, TaskOutcome, holds_lock,
};
use ferroni_model::Cluster;

/// Patroni's name of a task, as it appears in log lines.
pub fn describe(kind: &TaskKind) -> String {
    match kind {
        TaskKind::Bootstrap => "initialize a new cluster".into(),
        TaskKind::Clone { from } => format!("bootstrap from '{from}'"),
        TaskKind::Promote => "promote".into(),
        TaskKind::StartPrimary => "starting primary after failure".into(),
        TaskKind::StartReplica => "start as a secondary".into(),
        TaskKind::Demote => "demote".into(),
        TaskKind::Restart => "restart".into(),
        TaskKind::Reinitialize => "reinitialize".into(),
    }
}

/// The decision while a task runs; `None` when none runs.
pub fn in_progress(input: &Input, cluster: &Cluster) -> Option<Decision> {
    let task = input
        .task
        .as_ref()
        .filter(|t| t.outcome == TaskOutcome::Running)?;
    decide(input, cluster, task)
}

/// The bookkeeping right after a task ended; `None` when the normal cycle applies.
pub fn finished(input: &Input, cluster: &Cluster) -> Option<Decision> {
    let task = input
        .task
        .as_ref()
        .filter(|t| t.outcome != TaskOutcome::Running)?;
    decide(input, cluster, task)
}

fn decide(input: &Input, cluster: &Cluster, task: &Task) -> Option<Decision> {
    let memo = &input.memo;
    let name = describe(&task.kind);
    match task.outcome {
        TaskOutcome::Running => Some(if holds_lock(input, cluster) {
            // Only a renewal that succeeded this cycle proves the lock.
            match input.lock {
                LockRenewal::Failed | LockRenewal::NotHeld | LockRenewal::Unanswered => {
                    let mut actions = Vec::new();
                    if input.pg.is_primary() || task.kind == TaskKind::Promote {
                        actions.push(Action::Demote(DemoteMode::ImmediateNoLock));
                    }
                    let log = if task.kind == TaskKind::Promote {
                        "lost leader before promote".to_string()
                    } else {
                        format!("lost leader lock during {name}")
                    };
                    Decision::act(memo, actions, log)
                }
                LockRenewal::Renewed => {
                    Decision::log(memo, format!("updated leader lock during {name}"))
                }
            }
        } else if input.pg.is_primary()
            && !input.config.paused
            && cluster.leader_name().is_some_and(|l| l != input.me.name)
        {
            // Another node holds the lock: a primary here must stop, whatever it was doing.
            Decision::act(
                memo,
                vec![Action::Demote(DemoteMode::ImmediateNoLock)],
                "demoting self because I do not have the lock and I was a leader",
            )
        } else {
            Decision::log(memo, format!("{name} in progress"))
        }),
        TaskOutcome::Succeeded if task.kind == TaskKind::Bootstrap => {
            let crate::DataDir::Initialized { sysid } = &input.pg.data else {
                return None;
            };
            // Having won the initialize race, nobody else should lead; if someone does, the
            // normal cycle follows (and demotes) rather than racing for a held lock.
            if cluster.leader_name().is_some_and(|l| l != input.me.name) {
                return None;
            }
            // The required watchdog failed while the cluster was being made: as Patroni, give
            // the cluster up rather than run a primary without it.
            if input.me.watchdog_failed && !input.config.paused {
                let message = "Cancelling bootstrap because watchdog activation failed";
                return Some(Decision::act(
                    memo,
                    vec![
                        Action::StopImmediate,
                        Action::CancelInitialize,
                        Action::Exit {
                            code: 1,
                            message: message.into(),
                        },
                    ],
                    message,
                ));
            }
            let mut actions = vec![
                Action::Initialize {
                    create_new: false,
                    sysid: sysid.clone(),
                },
                Action::WriteConfig,
            ];
            if cluster.leader.is_none() {
                actions.push(Action::AcquireLock);
            }
            Some(
                Decision::act(memo, actions, "initialized a new cluster")
                    .or_else("failed to take the leader lock after bootstrap"),
            )
        }
        TaskOutcome::Failed if task.kind == TaskKind::Bootstrap => Some(Decision::act(
            memo,
            vec![Action::CancelInitialize],
            "removing initialize key after failed attempt to bootstrap the cluster",
        )),
        // Only once it is down: a primary still starting after the timeout could come up as one.
        TaskOutcome::Failed
            if task.kind == TaskKind::StartPrimary
                && holds_lock(input, cluster)
                && matches!(input.pg.state, crate::PgState::Stopped { .. }) =>
        {
            Some(Decision::act(
                memo,
                vec![Action::ReleaseLock],
                "removed leader key after trying and failing to start postgres",
            ))
        }
        TaskOutcome::Vetoed if holds_lock(input, cluster) => Some(
            Decision::act(
                &crate::Memo {
                    pre_promote_refused_at: Some(input.now),
                    ..memo.clone()
                },
                vec![Action::ReleaseLock],
                "Promotion cancelled because the pre-promote script failed",
            )
            .note("Releasing the leader key voluntarily because the pre-promote script failed"),
        ),
        TaskOutcome::Failed | TaskOutcome::Vetoed => {
            Some(Decision::log(memo, format!("{name} failed")))
        }
        TaskOutcome::Succeeded => None,
    }
}
