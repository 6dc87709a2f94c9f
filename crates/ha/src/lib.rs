//! ferroni-ha owns `decide()`: the HA decision of one cycle, from a snapshot of the cluster, the
//! local PostgreSQL and the configuration to the actions to take and Patroni's line that explains
//! them. Pure: no I/O, no clock (`now` is an input), no tokio.
//!
//! - [`input`]: what a cycle sees; [`output`]: the [`Decision`] and its [`Action`]s.
//! - [`bootstrap`]: an empty data directory — the initialize race, or a clone (§e.3).
//! - [`recovery`]: PostgreSQL not running — restart in the right role (§e.6).
//! - [`leader_race`]: no leader — whether this node is the healthiest, and the race (§e.4).
//! - [`leader_duty`]: this node holds the lock — stay primary, promote, or step down (§e.5).
//! - [`follower`]: another node holds the lock — follow it, demoting first if primary (§e.5).
//! - [`long_action`]: a long task is running (§e.2 step 5) or just finished.
//! - [`manual`]: a requested switchover/failover seen by the leader; scheduled actions (§e.8).
//! - [`dcs_error`]: the DCS did not answer (§e.9).
//! - [`divergence`]: whether the local WAL can continue the leader's timeline.
//! - [`callbacks`]: which user callback a change of the local PostgreSQL runs.
//! - [`status`]: the leader's `/status` key (its WAL position, slots and retained member slots).
//! - [`requests`]: the verdicts on the REST API's switchover, restart, reinitialize and failsafe
//!   requests, and [`promotable`], the one rule of which member can take over.
//! - [`stopping`]: what each demotion mode does, and the shutdown.
//!
//! The order of [`decide`] is Patroni's `_run_cycle` (§e.2).

pub mod bootstrap;
pub mod callbacks;
pub mod dcs_error;
pub mod divergence;
pub mod fence;
pub mod follower;
pub mod input;
pub mod leader_duty;
pub mod leader_race;
pub mod long_action;
pub mod manual;
pub mod output;
pub mod recovery;
pub mod requests;
pub mod status;
pub mod stopping;

pub use input::*;
pub use output::{Action, Decision, DemoteMode};

use ferroni_model::{Cluster, MemberKey};

/// Decides one cycle.
pub fn decide(input: &Input) -> Decision {
    let decision = reload_parameters(input, remember_divergence(input, decide_unpaused(input)));
    if input.config.paused {
        Decision {
            log: format!("PAUSE: {}", decision.log),
            ..decision
        }
    } else {
        decision
    }
}

/// A change of the dynamic configuration reaches the running server first thing in the cycle,
/// paused or not, as Patroni reloads it; while a long task runs it waits (the task may be
/// stopping or starting the server, and a start writes the files itself), and is applied in the
/// first cycle after the task.
fn reload_parameters(input: &Input, mut decision: Decision) -> Decision {
    let idle = input
        .task
        .as_ref()
        .is_none_or(|t| t.outcome != input::TaskOutcome::Running);
    if input.parameters_changed && idle && matches!(input.pg.state, PgState::Running(_)) {
        decision.actions.insert(0, Action::ReloadParameters);
        decision
            .notes
            .insert(0, "Reloading PostgreSQL configuration.".into());
    }
    decision
}

/// Sets or clears [`Memo::diverge_check`]: a primary that steps down, or a former primary started
/// as a replica without pg_rewind and not proven to join the leader's history, may hold WAL its
/// next leader never had; a rewind (or running as a primary again) settles the question.
fn remember_divergence(input: &Input, mut decision: Decision) -> Decision {
    let was_primary =
        input.pg.is_primary() || matches!(input.pg.state, PgState::Stopped { was_primary: true });
    for action in &decision.actions {
        match action {
            Action::Demote(_) => decision.memo.diverge_check = true,
            // Unless the leader's history proves it joins, it is checked again once running.
            Action::StartReplica {
                rewind: false,
                leader,
            } if was_primary || input.memo.diverge_check => {
                let joins = match (&input.dcs, leader) {
                    (DcsView::Reachable(c), Some(l)) => {
                        divergence::against_leader(input.pg.wal.as_ref(), c, l)
                            == divergence::Verdict::Joins
                    }
                    _ => false,
                };
                decision.memo.diverge_check = !joins
            }
            Action::StartReplica { rewind: true, .. } | Action::Rewind { .. } => {
                decision.memo.diverge_check = false
            }
            Action::StartPrimary { .. } | Action::Promote => decision.memo.diverge_check = false,
            _ => {}
        }
    }
    decision
}

fn decide_unpaused(input: &Input) -> Decision {
    let cluster = match &input.dcs {
        DcsView::Reachable(cluster) if input.lock != LockRenewal::Unanswered => cluster,
        _ => return dcs_error::decide(input),
    };
    if let Some(decision) = long_action::in_progress(input, cluster) {
        return decision;
    }
    if let Some(decision) = step_down_without_lock(input, cluster) {
        return decision;
    }
    if let Some(decision) = long_action::finished(input, cluster) {
        return decision;
    }
    let sysid = match &input.pg.data {
        DataDir::Empty => return bootstrap::decide(input, cluster),
        DataDir::Invalid => {
            return Decision::log(
                &input.memo,
                "data dir for the cluster is not empty, but system ID is invalid; consider doing reinitialize",
            );
        }
        DataDir::Initialized { sysid } => sysid,
    };
    let mut before = Vec::new();
    match cluster.initialize.as_deref() {
        Some(init) if !init.is_empty() && init != sysid => {
            let message = format!(
                "system ID mismatch, node {} belongs to a different cluster: {init} != {sysid}",
                input.me.name
            );
            return Decision::act(
                &input.memo,
                vec![Action::Exit {
                    code: 1,
                    message: message.clone(),
                }],
                message,
            );
        }
        None if cluster.leader.is_none() => {
            if input.pg.running().is_some_and(|r| !r.primary) {
                let message =
                    "No initialize key in DCS and PostgreSQL is running as replica, aborting start";
                return Decision::act(
                    &input.memo,
                    vec![Action::Exit {
                        code: 1,
                        message: message.into(),
                    }],
                    message,
                );
            }
            // An existing data directory adopts the cluster: it becomes the initialize value.
            before.push(Action::Initialize {
                create_new: true,
                sysid: sysid.clone(),
            });
        }
        // Holding the lock with `initialize` still empty (just bootstrapped) or missing: fix it.
        Some("") | None if holds_lock(input, cluster) => {
            before.push(Action::Initialize {
                create_new: false,
                sysid: sysid.clone(),
            });
        }
        _ => {}
    }
    if holds_lock(input, cluster) && cluster.config.is_none() {
        before.push(Action::WriteConfig);
    }
    let mut notes = Vec::new();
    let mut wake_in = None;
    if let (Some(scheduled), PgState::Running(running), None) =
        (&input.scheduled_restart, &input.pg.state, &input.task)
        && (!holds_lock(input, cluster) || input.lock == LockRenewal::Renewed)
        && !input.config.paused
    {
        match manual::schedule(input, "restart", &scheduled.at) {
            // Checked only once due, as Patroni does: until then the schedule stays visible.
            manual::Schedule::Due { .. }
                if scheduled.postmaster_start_time.is_some()
                    && running.postmaster_start_time.is_some()
                    && scheduled.postmaster_start_time != running.postmaster_start_time =>
            {
                notes.push(format!(
                    "Cancelling scheduled restart: postgres restart has already happened at {}",
                    running.postmaster_start_time.as_deref().unwrap_or_default()
                ));
                before.push(Action::ForgetScheduledRestart);
            }
            manual::Schedule::NotYet { wake_in: w, note } => {
                notes.push(note);
                wake_in = Some(w);
            }
            manual::Schedule::Stale { note } => {
                notes.push(note);
                before.push(Action::ForgetScheduledRestart);
            }
            manual::Schedule::Due { note } => {
                before.extend([Action::Restart, Action::ForgetScheduledRestart]);
                let mut decision = Decision::act(&input.memo, before, "restart initiated");
                decision.notes.push(note);
                return decision;
            }
        }
    }
    let mut decision = match &input.pg.state {
        PgState::Running(_) => match cluster.leader_name() {
            // The leader key expired, but the primary proved itself alive through failsafe mode:
            // it still leads.
            None if input.config.failsafe_mode
                && input
                    .failsafe
                    .leader
                    .as_deref()
                    .is_some_and(|l| l != input.me.name) =>
            {
                let leader = input.failsafe.leader.as_deref().unwrap_or_default();
                follower::decide(input, cluster, leader)
            }
            None => leader_race::decide(input, cluster),
            Some(leader) if leader == input.me.name => leader_duty::decide(input, cluster),
            Some(leader) => follower::decide(input, cluster, leader),
        },
        _ => recovery::decide(input, cluster),
    };
    if before.iter().any(|a| {
        matches!(
            a,
            Action::Initialize {
                create_new: true,
                ..
            }
        )
    }) && decision.on_failure.is_none()
    {
        decision.on_failure = Some("failed to acquire initialize lock".into());
    }
    before.append(&mut decision.actions);
    decision.actions = before;
    notes.append(&mut decision.notes);
    decision.notes = notes;
    if let Some(w) = wake_in {
        decision = decision.wake_in(w);
    }
    decision
}

/// A running primary that cannot prove it holds the lock stops at once, before anything else is
/// considered: another node holds it, or this cycle's renewal did not succeed.
fn step_down_without_lock(input: &Input, cluster: &Cluster) -> Option<Decision> {
    if !input.pg.is_primary() || input.config.paused {
        return None;
    }
    let demote = vec![Action::Demote(DemoteMode::ImmediateNoLock)];
    match cluster.leader_name() {
        Some(leader) if leader != input.me.name => Some(Decision::act(
            &input.memo,
            demote,
            "demoting self because I do not have the lock and I was a leader",
        )),
        Some(_) if input.lock != LockRenewal::Renewed => Some(Decision::act(
            &input.memo,
            demote,
            "demoted self because failed to update leader lock in DCS",
        )),
        _ => None,
    }
}

/// Whether this cycle heard from the DCS: it read the cluster and, when it holds the lock, the
/// renewal was answered (yes or no).
pub fn dcs_answered(input: &Input) -> bool {
    matches!(input.dcs, DcsView::Reachable(_)) && input.lock != LockRenewal::Unanswered
}

/// Whether the cluster view names this node as the leader.
pub fn holds_lock(input: &Input, cluster: &Cluster) -> bool {
    cluster.leader_name() == Some(input.me.name.as_str())
}

/// Whether another member could hand over to this one: its member key says it runs, and it is
/// not `nofailover` (the tag, or a `failover_priority` of 0). Judged by the key alone, as Patroni
/// does before a switchover is accepted or a leader steps down: the member's own checks come
/// later, when it is asked.
pub fn promotable(member: &MemberKey) -> bool {
    member.data.state == "running" && !member.data.nofailover()
}

/// Whether some other member (`candidate`, when named) could take over: a [`promotable`] one.
pub(crate) fn failover_possible(input: &Input, cluster: &Cluster, candidate: Option<&str>) -> bool {
    cluster
        .members
        .iter()
        .any(|m| m.name != input.me.name && candidate.is_none_or(|c| c == m.name) && promotable(m))
}
