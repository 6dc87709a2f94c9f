//! No leader (§e.4): decide whether this node is the healthiest, and race for the lock if so.

use crate::{Action, Decision, DemoteMode, Input, Running};
use ferroni_model::Cluster;

/// Why this node may not race, in Patroni's words; `None` when it is the healthiest.
pub fn not_healthiest(input: &Input, cluster: &Cluster, me: &Running) -> Option<String> {
    if input.me.nofailover {
        return Some("I am not allowed to promote".into());
    }
    let cluster_timeline = cluster.timeline();
    // A running primary stays the natural leader unless it is behind the cluster's history (a
    // frozen old primary must not grab the lock back).
    if me.primary {
        return (cluster_timeline > 0 && me.timeline < cluster_timeline).then(|| {
            format!(
                "my timeline {} is behind the cluster timeline {cluster_timeline}",
                me.timeline
            )
        });
    }
    if let Some(failover) = cluster.failover.as_ref().map(|f| &f.value)
        && let Some(candidate) = failover.member.as_deref()
    {
        let candidate_alive = input
            .peers
            .iter()
            .any(|p| p.name == candidate && p.reachable && !p.nofailover);
        if candidate != input.me.name && candidate_alive {
            return Some(format!("manual failover to {candidate} is pending"));
        }
    }
    if let Some(status) = &cluster.status
        && status.optime.saturating_sub(me.wal_position) > input.config.maximum_lag_on_failover
    {
        return Some("My wal position exceeds maximum replication lag".into());
    }
    if input.config.check_timeline && cluster_timeline > 0 && me.timeline < cluster_timeline {
        return Some(format!(
            "my timeline {} is behind the cluster timeline {cluster_timeline}",
            me.timeline
        ));
    }
    for peer in input
        .peers
        .iter()
        .filter(|p| p.reachable && !p.nofailover && p.name != input.me.name)
    {
        if peer.primary {
            return Some(format!("Primary ({}) is still alive", peer.name));
        }
        if peer.wal_position > me.wal_position {
            return Some(format!(
                "Wal position of {} is ahead of my wal position",
                peer.name
            ));
        }
        if peer.wal_position == me.wal_position
            && peer.failover_priority > input.me.failover_priority
        {
            return Some(format!(
                "{} has equally tolerable WAL position and priority {}, while this node has priority {}",
                peer.name, peer.failover_priority, input.me.failover_priority
            ));
        }
    }
    None
}

/// Decides a cycle without a leader, PostgreSQL running.
pub fn decide(input: &Input, cluster: &Cluster) -> Decision {
    let memo = &input.memo;
    let Some(me) = input.pg.running() else {
        return Decision::log(memo, "postgres is not running");
    };
    match not_healthiest(input, cluster, me) {
        None if me.primary => Decision::act(
            memo,
            vec![Action::AcquireLock],
            "acquired session lock as a leader",
        )
        .or_else("following new leader after trying and failing to obtain lock"),
        None => Decision::act(
            memo,
            vec![Action::AcquireLock, Action::Promote],
            "promoted self to leader by acquiring session lock",
        )
        .or_else("following new leader after trying and failing to obtain lock"),
        Some(reason) if me.primary => Decision::act(
            memo,
            vec![Action::Demote(DemoteMode::Immediate)],
            format!("demoting self because i am not the healthiest node ({reason})"),
        ),
        Some(_) if input.me.nofailover => Decision::log(
            memo,
            "following a different leader because I am not allowed to promote",
        ),
        Some(reason) => Decision::log(
            memo,
            format!("following a different leader because i am not the healthiest node ({reason})"),
        ),
    }
}
