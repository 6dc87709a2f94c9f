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
    }
}

/// The decision while a task runs or right after it ends; `None` when the normal cycle applies.
pub fn decide(input: &Input, cluster: &Cluster) -> Option<Decision> {
    let task: &Task = input.task.as_ref()?;
    let memo = &input.memo;
    let name = describe(&task.kind);
    match task.outcome {
        TaskOutcome::Running => Some(if holds_lock(input, cluster) {
            match input.lock {
                LockRenewal::Failed => {
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
                _ => Decision::log(memo, format!("updated leader lock during {name}")),
            }
        } else {
            Decision::log(memo, format!("{name} in progress"))
        }),
        TaskOutcome::Succeeded if task.kind == TaskKind::Bootstrap => {
            let sysid = match &input.pg.data {
                crate::DataDir::Initialized { sysid } => sysid.clone(),
                _ => String::new(),
            };
            Some(
                Decision::act(
                    memo,
                    vec![
                        Action::Initialize {
                            create_new: false,
                            sysid,
                        },
                        Action::WriteConfig,
                        Action::AcquireLock,
                    ],
                    "initialized a new cluster",
                )
                .or_else("failed to take the leader lock after bootstrap"),
            )
        }
        TaskOutcome::Failed if task.kind == TaskKind::Bootstrap => Some(Decision::act(
            memo,
            vec![Action::CancelInitialize],
            "removing initialize key after failed attempt to bootstrap the cluster",
        )),
        TaskOutcome::Failed => Some(Decision::log(memo, format!("{name} failed"))),
        TaskOutcome::Succeeded => None,
    }
}
