//! Rows: Switchovers, failovers and scheduled actions (§e.8).

use crate::builders::*;

pub(crate) fn rows() -> Vec<Row> {
    let lost_race = "following new leader after trying and failing to obtain lock";
    vec![
        row_or(
            "e8: the switchover candidate wins although behind the others",
            no_leader().failover(Some("node2"), Some("node1"), None),
            vec![AcquireLock, Promote, ClearFailover],
            "promoted self to leader by acquiring session lock",
            lost_race,
        ),
        row(
            "e8: the former leader of a switchover hands over",
            no_leader()
                .peer_with("node2", |p| p.wal_position = 500)
                .failover(Some("node1"), Some("node2"), None),
            vec![],
            "following a different leader because i am not the healthiest node (manual failover to node2 is pending)",
        ),
        row(
            "e8: the former leader does not race while another can take over",
            no_leader()
                .peer_with("node2", |p| p.reachable = false)
                .peer_with("node3", |p| p.wal_position = 500)
                .failover(Some("node1"), Some("node2"), None),
            vec![],
            "following a different leader because i am not the healthiest node (switchover: I was the leader, another member takes over)",
        ),
        row_or(
            "e8: the former leader's higher WAL does not stop a switchover to a dead candidate",
            no_leader()
                .peer("node4", 5000, false)
                .peer_with("node2", |p| p.reachable = false)
                .peer_with("node3", |p| p.reachable = false)
                .failover(Some("node4"), Some("node2"), None),
            vec![AcquireLock, Promote, ClearFailover],
            "promoted self to leader by acquiring session lock",
            lost_race,
        ),
        row(
            "e8: a former leader still running as primary stops a race",
            no_leader()
                .peer("node4", 5000, true)
                .failover(Some("node4"), Some("node2"), None)
                .peer_with("node2", |p| p.reachable = false),
            vec![],
            "following a different leader because i am not the healthiest node (Primary (node4) is still alive)",
        ),
        row_or(
            "e8: the candidate of a scheduled switchover wins once the leader stepped down",
            no_leader().failover(Some("node2"), Some("node1"), Some(at(-1))),
            vec![AcquireLock, Promote, ClearFailover],
            "promoted self to leader by acquiring session lock",
            lost_race,
        ),
        row(
            "e8: leader demotes gracefully for a switchover",
            leader().failover(Some("node1"), Some("node2"), None),
            vec![Demote(DemoteMode::Graceful)],
            "switchover: demoting myself",
        ),
        row(
            "e8: leader demotes gracefully for a manual failover",
            leader().failover(None, Some("node3"), None),
            vec![Demote(DemoteMode::Graceful)],
            "manual failover: demoting myself",
        ),
        row(
            "e8: a switchover without a candidate demotes when any member can take over",
            leader().failover(Some("node1"), None, None),
            vec![Demote(DemoteMode::Graceful)],
            "switchover: demoting myself",
        ),
        row(
            "e8: a switchover waits for its candidate to stream",
            leader()
                .streaming(&["node3"])
                .failover(Some("node1"), Some("node2"), None),
            vec![],
            "no action. I am (node1), the leader with the lock",
        ),
        row(
            "e8: a switchover whose candidate never streams is cleared after ttl",
            leader()
                .streaming(&[])
                .memo(Memo {
                    switchover_wait_began: Some(1_000_000 - 30_000),
                    ..Memo::default()
                })
                .failover(Some("node1"), None, None),
            vec![ClearFailover],
            "no action. I am (node1), the leader with the lock",
        ),
        row(
            "e8: a switchover naming another leader is cleared",
            leader().failover(Some("node2"), Some("node3"), None),
            vec![ClearFailover],
            "no action. I am (node1), the leader with the lock",
        ),
        row(
            "e8: a switchover to myself is cleared",
            leader().failover(Some("node1"), Some("node1"), None),
            vec![ClearFailover],
            "no action. I am (node1), the leader with the lock",
        ),
        row(
            "e8: a switchover to a stopped member is cleared",
            leader()
                .member_state("node2", "stopped")
                .failover(Some("node1"), Some("node2"), None),
            vec![ClearFailover],
            "no action. I am (node1), the leader with the lock",
        ),
        row(
            "e8: a switchover to a nofailover member is cleared",
            leader()
                .member_tags("node2", json!({"nofailover": true}))
                .failover(Some("node1"), Some("node2"), None),
            vec![ClearFailover],
            "no action. I am (node1), the leader with the lock",
        ),
        row(
            "e8: a scheduled switchover waits for its time",
            leader().failover(Some("node1"), Some("node2"), Some(at(60))),
            vec![],
            "no action. I am (node1), the leader with the lock",
        ),
        row(
            "e8: a scheduled switchover whose time has come",
            leader().failover(Some("node1"), Some("node2"), Some(at(-3))),
            vec![Demote(DemoteMode::Graceful)],
            "switchover: demoting myself",
        ),
        row(
            "e8: a stale scheduled switchover is cleared",
            leader().failover(Some("node1"), Some("node2"), Some(at(-16))),
            vec![ClearFailover],
            "no action. I am (node1), the leader with the lock",
        ),
        row(
            "e8: an unreadable scheduled_at is cleared",
            leader().failover(Some("node1"), Some("node2"), Some("tomorrow".into())),
            vec![ClearFailover],
            "no action. I am (node1), the leader with the lock",
        ),
        row(
            "e8: paused, a switchover without a candidate is cleared",
            leader().paused().failover(Some("node1"), None, None),
            vec![ClearFailover],
            "PAUSE: no action. I am (node1), the leader with the lock",
        ),
        row(
            "e8: paused, a switchover to a candidate demotes",
            leader()
                .paused()
                .failover(Some("node1"), Some("node2"), None),
            vec![Demote(DemoteMode::Graceful)],
            "PAUSE: switchover: demoting myself",
        ),
        row(
            "e8: paused, a replica waits for the candidate of a switchover",
            no_leader()
                .paused()
                .peer_with("node2", |p| p.reachable = false)
                .failover(Some("node3"), Some("node2"), None),
            vec![],
            "PAUSE: following a different leader because i am not the healthiest node (manual failover to node2 is pending)",
        ),
        row(
            "e8: a scheduled restart whose time has come",
            leader().restart_at(at(-1)),
            vec![Restart, ForgetScheduledRestart],
            "restart initiated",
        ),
        row(
            "e8: a scheduled restart is cancelled when due if the server restarted since",
            leader().restart_at(at(-1)).restarted_since_scheduled(),
            vec![ForgetScheduledRestart],
            "no action. I am (node1), the leader with the lock",
        ),
        row(
            "e8: a restart since scheduling does not cancel it before it is due",
            replica().restart_at(at(30)).restarted_since_scheduled(),
            vec![Follow {
                leader: "node2".into(),
            }],
            "no action. I am (node1), a secondary, and following a leader (node2)",
        ),
        row(
            "e8: a scheduled restart waits for its time",
            replica().restart_at(at(30)),
            vec![Follow {
                leader: "node2".into(),
            }],
            "no action. I am (node1), a secondary, and following a leader (node2)",
        ),
        row(
            "e8: a stale scheduled restart is forgotten",
            leader().restart_at(at(-60)),
            vec![ForgetScheduledRestart],
            "no action. I am (node1), the leader with the lock",
        ),
        row(
            "e8: no scheduled restart while a task runs",
            leader()
                .restart_at(at(-1))
                .task(TaskKind::Promote, TaskOutcome::Running),
            vec![],
            "updated leader lock during promote",
        ),
    ]
}
