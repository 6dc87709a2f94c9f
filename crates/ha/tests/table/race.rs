//! Rows: Leader races and the watchdog (§e.4, §e.10).

use crate::builders::*;

pub(crate) fn rows() -> Vec<Row> {
    let acquire_promote = vec![AcquireLock, Promote];
    let lost_race = "following new leader after trying and failing to obtain lock";
    vec![
        row(
            "e4: pre_promote refused less than ttl ago: out of the race",
            no_leader().memo(Memo {
                pre_promote_refused_at: Some(1_000_000 - 29_999),
                ..Memo::default()
            }),
            vec![],
            "following a different leader because i am not the healthiest node (backoff: skip leader race after pre_promote script failure and releasing the lock voluntarily)",
        ),
        row_or(
            "e4: pre_promote refused a ttl ago: races again",
            no_leader().memo(Memo {
                pre_promote_refused_at: Some(1_000_000 - 30_000),
                ..Memo::default()
            }),
            acquire_promote.clone(),
            "promoted self to leader by acquiring session lock",
            lost_race,
        ),
        // §e.4 the leader race.
        row_or(
            "e4: healthiest replica races and promotes",
            no_leader().running_replica(1, 1000),
            acquire_promote.clone(),
            "promoted self to leader by acquiring session lock",
            lost_race,
        ),
        row_or(
            "e4: equal WAL and equal priority: everyone races, the lock decides",
            no_leader().peer_with("node2", |p| p.wal_position = 1000),
            acquire_promote.clone(),
            "promoted self to leader by acquiring session lock",
            lost_race,
        ),
        row(
            "e4: a peer ahead in WAL wins",
            no_leader().peer_with("node2", |p| p.wal_position = 1001),
            vec![],
            "following a different leader because i am not the healthiest node (Wal position of node2 is ahead of my wal position)",
        ),
        row(
            "e4: equal WAL, peer has higher failover_priority",
            no_leader().peer_with("node2", |p| {
                p.wal_position = 1000;
                p.failover_priority = 5
            }),
            vec![],
            "following a different leader because i am not the healthiest node (node2 has equally tolerable WAL position and priority 5, while this node has priority 1)",
        ),
        row_or(
            "e4: equal WAL, my priority is higher",
            no_leader()
                .priority(5)
                .peer_with("node2", |p| p.wal_position = 1000),
            acquire_promote.clone(),
            "promoted self to leader by acquiring session lock",
            lost_race,
        ),
        row_or(
            "e4: an unreachable peer ahead does not count",
            no_leader().peer_with("node2", |p| {
                p.wal_position = 5000;
                p.reachable = false
            }),
            acquire_promote.clone(),
            "promoted self to leader by acquiring session lock",
            lost_race,
        ),
        row_or(
            "e4: a nofailover peer ahead does not count",
            no_leader().peer_with("node2", |p| {
                p.wal_position = 5000;
                p.nofailover = true
            }),
            acquire_promote.clone(),
            "promoted self to leader by acquiring session lock",
            lost_race,
        ),
        row(
            "e4: a peer still running as primary",
            no_leader().peer_with("node3", |p| p.primary = true),
            vec![],
            "following a different leader because i am not the healthiest node (Primary (node3) is still alive)",
        ),
        row(
            "e4: lag beyond maximum_lag_on_failover",
            no_leader().running_replica(1, 10).cluster(|c| {
                c.status = Some(Status {
                    optime: 2_000_000,
                    ..Status::default()
                })
            }),
            vec![],
            "following a different leader because i am not the healthiest node (My wal position exceeds maximum replication lag)",
        ),
        row_or(
            "e4: lag exactly at maximum_lag_on_failover is fine",
            no_leader().running_replica(1, 1000).cluster(|c| {
                c.status = Some(Status {
                    optime: 1000 + 1_048_576,
                    ..Status::default()
                })
            }),
            acquire_promote.clone(),
            "promoted self to leader by acquiring session lock",
            lost_race,
        ),
        row(
            "e4: nofailover never races",
            no_leader().nofailover(),
            vec![],
            "following a different leader because I am not allowed to promote",
        ),
        row(
            "e4: check_timeline rejects an old timeline",
            no_leader()
                .config(|c| c.check_timeline = true)
                .cluster(|c| {
                    c.history = Some(Versioned {
                        value: History(vec![entry_at(1, 2000), entry_at(2, 3000)]),
                        version: Version(9),
                    })
                }),
            vec![],
            "following a different leader because i am not the healthiest node (my timeline 1 is behind the cluster timeline 3)",
        ),
        row_or(
            "e4: without check_timeline the timeline is not compared",
            no_leader().cluster(|c| {
                c.history = Some(Versioned {
                    value: History(vec![entry_at(1, 2000), entry_at(2, 3000)]),
                    version: Version(9),
                })
            }),
            acquire_promote.clone(),
            "promoted self to leader by acquiring session lock",
            lost_race,
        ),
        row_or(
            "e4: a running primary without leader key takes the lock without promoting",
            no_leader().running_primary(1, 1000),
            vec![AcquireLock],
            "acquired session lock as a leader",
            lost_race,
        ),
        row(
            "e4: a replica whose WAL went past the cluster's last fork point never leads",
            no_leader().running_replica(1, 150).cluster(forked_at_100),
            vec![],
            "following a different leader because i am not the healthiest node (my WAL diverged from the cluster's history: my WAL on timeline 1 ends at 0/96, past 0/64 where the leader's timeline forked off)",
        ),
        row_or(
            "e4: a replica on a timeline newer than /history knows still races",
            no_leader()
                .running_replica(3, 1000)
                .local_history(&[(1, 100), (2, 200)])
                .cluster(forked_at_100),
            acquire_promote.clone(),
            "promoted self to leader by acquiring session lock",
            lost_race,
        ),
        row_or(
            "e4: a peer ahead whose WAL went past the cluster's last fork point does not count",
            no_leader()
                .running_replica(1, 90)
                .peer_with("node2", |p| p.wal_position = 150)
                .peer_with("node3", |p| p.wal_position = 80)
                .cluster(forked_at_100),
            acquire_promote.clone(),
            "promoted self to leader by acquiring session lock",
            lost_race,
        ),
        row(
            "e4: a primary behind the cluster timeline demotes",
            no_leader().running_primary(1, 1000).cluster(|c| {
                c.history = Some(Versioned {
                    value: History(vec![entry(1)]),
                    version: Version(9),
                })
            }),
            vec![Demote(DemoteMode::Immediate)],
            "demoting self because i am not the healthiest node (my timeline 1 is behind the cluster timeline 2)",
        ),
        row(
            "e10: a required watchdog that is not usable keeps a node out of the race",
            no_leader().watchdog_failed(),
            vec![],
            "following a different leader because i am not the healthiest node (Watchdog device is not usable)",
        ),
        row(
            "e10: a primary whose required watchdog fails demotes",
            leader().watchdog_failed(),
            vec![Demote(DemoteMode::Immediate)],
            "Demoting self because watchdog could not be activated",
        ),
        row(
            "e10: a lock holder whose required watchdog fails does not promote",
            leader().running_replica(1, 1000).watchdog_failed(),
            vec![ReleaseLock],
            "Not promoting self because watchdog could not be activated",
        ),
        row(
            "e10: while paused a failed watchdog changes nothing",
            leader().watchdog_failed().paused(),
            vec![],
            "PAUSE: no action. I am (node1), the leader with the lock",
        ),
        row(
            "e10: a bootstrap that ends without the required watchdog is cancelled",
            leader()
                .leader_key(None)
                .lock(LockRenewal::NotHeld)
                .cluster(|c| {
                    c.initialize = Some(String::new());
                    c.config = None
                })
                .task(TaskKind::Bootstrap, TaskOutcome::Succeeded)
                .watchdog_failed(),
            vec![
                StopImmediate,
                CancelInitialize,
                Exit {
                    code: 1,
                    message: "Cancelling bootstrap because watchdog activation failed".into(),
                },
            ],
            "Cancelling bootstrap because watchdog activation failed",
        ),
        row(
            "e10: a lock holder whose primary stopped does not restart it without the watchdog",
            leader().stopped(true).watchdog_failed(),
            vec![ReleaseLock],
            "Not promoting self because watchdog could not be activated",
        ),
        row(
            "e10: no bootstrap without a required watchdog",
            replica()
                .stopped(false)
                .data(DataDir::Empty)
                .empty_cluster()
                .watchdog_failed(),
            vec![],
            "not bootstrapping a new cluster because Watchdog device is not usable",
        ),
        row(
            "e4: a nofailover primary demotes",
            no_leader().running_primary(1, 1000).nofailover(),
            vec![Demote(DemoteMode::Immediate)],
            "demoting self because i am not the healthiest node (I am not allowed to promote)",
        ),
        row(
            "e4: a pending manual failover to a live candidate",
            no_leader().cluster(|c| {
                c.failover = Some(Versioned {
                    value: Failover {
                        member: Some("node3".into()),
                        ..Failover::default()
                    },
                    version: Version(4),
                })
            }),
            vec![],
            "following a different leader because i am not the healthiest node (manual failover to node3 is pending)",
        ),
        row_or(
            "e4: the manual failover candidate is me",
            no_leader().cluster(|c| {
                c.failover = Some(Versioned {
                    value: Failover {
                        member: Some("node1".into()),
                        ..Failover::default()
                    },
                    version: Version(4),
                })
            }),
            vec![AcquireLock, Promote, ClearFailover],
            "promoted self to leader by acquiring session lock",
            lost_race,
        ),
        row_or(
            "e4: the manual failover candidate is unreachable: normal race",
            no_leader()
                .peer_with("node3", |p| p.reachable = false)
                .cluster(|c| {
                    c.failover = Some(Versioned {
                        value: Failover {
                            member: Some("node3".into()),
                            ..Failover::default()
                        },
                        version: Version(4),
                    })
                }),
            vec![AcquireLock, Promote, ClearFailover],
            "promoted self to leader by acquiring session lock",
            lost_race,
        ),
        row_or(
            "e4: alone in the cluster",
            replica().leader_key(None).only_me(),
            acquire_promote.clone(),
            "promoted self to leader by acquiring session lock",
            lost_race,
        ),
    ]
}
