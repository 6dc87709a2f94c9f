//! No leader (§e.4): decide whether this node is the healthiest, and race for the lock if so.

use crate::{Action, Decision, DemoteMode, Input, Running};
use ferroni_model::Cluster;

/// Why this node may not race, in Patroni's words; `None` when it is the healthiest.
pub fn not_healthiest(input: &Input, cluster: &Cluster, me: &Running) -> Option<String> {
    // A refused promotion gave the lock up: another member gets a lease's time to take over.
    if input
        .memo
        .pre_promote_refused_at
        .is_some_and(|at| input.now.saturating_sub(at) < input.config.ttl)
    {
        return Some(
            "backoff: skip leader race after pre_promote script failure and releasing the lock voluntarily"
                .into(),
        );
    }
    if input.me.nofailover {
        return Some("I am not allowed to promote".into());
    }
    if input.me.watchdog_failed {
        return Some("Watchdog device is not usable".into());
    }
    // In failsafe mode only the members of the last `/failsafe` topology may lead.
    if input.config.failsafe_mode
        && let Some(topology) = cluster.failsafe.as_ref().filter(|t| !t.is_empty())
        && !topology.contains_key(&input.me.name)
    {
        return Some("I am not a member of the /failsafe topology".into());
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
    // A scheduled request is served once the leader has stepped down for it; while paused,
    // scheduled requests are not served at all.
    let manual = crate::manual::request(cluster)
        .filter(|f| !(input.config.paused && f.scheduled_at.is_some()));
    let former_leader = manual
        .and_then(|f| f.leader.as_deref())
        .filter(|l| !l.is_empty());
    if let Some(failover) = manual {
        let action = crate::manual::action_name(failover);
        let alive = |name: &str| {
            input
                .peers
                .iter()
                .any(|p| p.name == name && p.reachable && !p.nofailover)
        };
        let candidate = failover.member.as_deref().filter(|c| !c.is_empty());
        match candidate {
            Some(c) if c == input.me.name => return None,
            Some(c) if input.config.paused || alive(c) => {
                return Some(format!("manual failover to {c} is pending"));
            }
            // The candidate is gone: any healthy member may take over, except the former leader
            // while another can.
            _ if input.config.paused => return Some(format!("{action} is pending")),
            _ => {}
        }
        if former_leader == Some(input.me.name.as_str()) {
            let other = input
                .peers
                .iter()
                .any(|p| p.reachable && !p.nofailover && Some(p.name.as_str()) != candidate);
            return other.then(|| format!("{action}: I was the leader, another member takes over"));
        }
    }
    // Its WAL went where the cluster's did not: leading would drop what the cluster wrote since.
    if let Some(v) = crate::divergence::off_cluster_history(input.pg.wal.as_ref(), cluster) {
        let lsn = input.pg.wal.as_ref().map_or(0, |w| w.lsn);
        return Some(format!(
            "my WAL diverged from the cluster's history: {}",
            v.describe(lsn)
        ));
    }
    // A requested switchover or failover does not wait for the lag rule.
    if manual.is_none()
        && let Some(status) = &cluster.status
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
    let rivals = input
        .peers
        .iter()
        .filter(|p| p.reachable && !p.nofailover && p.name != input.me.name);
    if let Some(peer) = rivals.clone().find(|p| p.primary) {
        return Some(format!("Primary ({}) is still alive", peer.name));
    }
    // The former leader of a switchover does not compete on WAL: it hands over. Nor does a peer
    // whose WAL left the cluster's history: it cannot lead, and its position is not ahead of
    // anything the cluster has.
    let on_the_line = |p: &&crate::PeerReport| {
        let wal = crate::divergence::LocalWal {
            timeline: p.timeline,
            lsn: p.wal_position,
            in_recovery: true,
            history: Vec::new(),
        };
        crate::divergence::off_cluster_history(Some(&wal), cluster).is_none()
    };
    for peer in rivals
        .filter(|p| Some(p.name.as_str()) != former_leader)
        .filter(on_the_line)
    {
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
    // The winner of a requested switchover or failover clears the request after promoting.
    let clear = crate::manual::request(cluster).is_some();
    let with_clear = |mut actions: Vec<Action>| {
        if clear {
            actions.push(Action::ClearFailover);
        }
        actions
    };
    match not_healthiest(input, cluster, me) {
        None if me.primary => Decision::act(
            memo,
            with_clear(vec![Action::AcquireLock]),
            "acquired session lock as a leader",
        )
        .or_else("following new leader after trying and failing to obtain lock"),
        None => Decision::act(
            memo,
            with_clear(vec![Action::AcquireLock, Action::Promote]),
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
