//! PostgreSQL is not running, or is still starting (§e.6): start it again in the role the lock
//! gives, and give the lock up when a primary does not come back in time.

use crate::divergence::{self, Verdict};
use crate::{Action, Decision, Input, LockRenewal, PgState, failover_possible, holds_lock};
use ferroni_model::Cluster;

/// Decides for a node whose PostgreSQL is not serving.
pub fn decide(input: &Input, cluster: &Cluster) -> Decision {
    let memo = &input.memo;
    let holder = holds_lock(input, cluster);
    if input.config.paused {
        if holder {
            return Decision::act(
                memo,
                vec![Action::ReleaseLock],
                "removed leader lock because postgres is not running",
            );
        }
        return Decision::log(memo, "postgres is not running");
    }
    match &input.pg.state {
        PgState::Starting { since } => starting(input, cluster, *since),
        PgState::Stopped { was_primary } => {
            if holder && input.lock == LockRenewal::Renewed {
                if input.me.watchdog_failed {
                    return Decision::act(
                        memo,
                        vec![Action::ReleaseLock],
                        "Not promoting self because watchdog could not be activated",
                    );
                }
                if input.config.primary_start_timeout == 0
                    && failover_possible(input, cluster, None)
                {
                    return Decision::act(
                        memo,
                        vec![Action::ReleaseLock],
                        "stopped PostgreSQL to fail over after a crash",
                    );
                }
                if *was_primary {
                    return Decision::act(
                        memo,
                        vec![Action::StartPrimary {
                            wait: input.config.primary_start_timeout,
                        }],
                        "starting primary after failure",
                    );
                }
                return Decision::act(
                    memo,
                    vec![Action::StartReplica {
                        leader: None,
                        rewind: false,
                    }],
                    "starting as readonly because i had the session lock",
                );
            }
            let leader = cluster
                .leader_name()
                .filter(|l| *l != input.me.name)
                .map(str::to_string);
            let suspect = *was_primary || memo.diverge_check;
            let verdict = match leader.as_deref() {
                Some(l) if suspect => divergence::against_leader(input.pg.wal.as_ref(), cluster, l),
                _ => Verdict::Joins,
            };
            let lsn = input.pg.wal.as_ref().map_or(0, |w| w.lsn);
            let (rewind, log) = match (&verdict, leader.as_deref()) {
                (Verdict::Joins, _) | (_, None) => (false, "starting as a secondary".to_string()),
                // A former primary that crashed has no known end of WAL: pg_rewind finds out
                // after crash recovery, and does nothing when the timelines did not diverge.
                (Verdict::Unknown, Some(_)) => (
                    input.config.use_pg_rewind,
                    "starting as a secondary".to_string(),
                ),
                (v, Some(l)) if input.config.use_pg_rewind => (
                    true,
                    format!("running pg_rewind from {l}: {}", v.describe(lsn)),
                ),
                (v, Some(l)) => (
                    false,
                    format!(
                        "starting as a secondary; cannot follow the leader ({l}) without pg_rewind: {}",
                        v.describe(lsn)
                    ),
                ),
            };
            Decision::act(memo, vec![Action::StartReplica { leader, rewind }], log)
        }
        PgState::Running(_) => Decision::log(memo, "postgres is running"),
    }
}

/// The postmaster runs but does not accept connections yet.
fn starting(input: &Input, cluster: &Cluster, since: u64) -> Decision {
    let memo = &input.memo;
    let holder = holds_lock(input, cluster) && input.lock == LockRenewal::Renewed;
    if !holder {
        if holds_lock(input, cluster) || cluster.leader.is_none() {
            return Decision::log(memo, "postgres is starting");
        }
        return Decision::log(memo, "postgres is starting as a secondary");
    }
    let waited = input.now.saturating_sub(since);
    let timeout = input.config.primary_start_timeout;
    if waited >= timeout && failover_possible(input, cluster, None) {
        return Decision::act(
            memo,
            vec![Action::StopImmediate, Action::ReleaseLock],
            "stopped PostgreSQL because of startup timeout",
        );
    }
    let left = timeout.saturating_sub(waited) / 1000;
    Decision::log(
        memo,
        format!("PostgreSQL is still starting up, {left} seconds until timeout"),
    )
}
