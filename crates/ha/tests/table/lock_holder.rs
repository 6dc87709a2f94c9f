//! Rows: The lock holder and the long tasks (§e.2, §e.3).

use crate::builders::*;

pub(crate) fn rows() -> Vec<Row> {
    let init_race = vec![
        Initialize {
            create_new: true,
            sysid: String::new(),
        },
        Bootstrap,
    ];
    let lost_race = "following new leader after trying and failing to obtain lock";
    vec![
        // §e.2 cycle order: the DCS, the long action, the data directory, the system identifier.
        row(
            "e2: leader with the lock, nothing to do",
            leader(),
            vec![],
            "no action. I am (node1), the leader with the lock",
        ),
        row(
            "e2: paused leader gets the PAUSE prefix",
            leader().paused(),
            vec![],
            "PAUSE: no action. I am (node1), the leader with the lock",
        ),
        row(
            "e2: sysid differs from initialize",
            leader().data(DataDir::Initialized {
                sysid: "123".into(),
            }),
            vec![Exit {
                code: 1,
                message: format!(
                    "system ID mismatch, node node1 belongs to a different cluster: {SYSID} != 123"
                ),
            }],
            "system ID mismatch, node node1 belongs to a different cluster: 7711416411379105180 != 123",
        ),
        row(
            "e2: invalid data directory",
            replica().data(DataDir::Invalid),
            vec![],
            "data dir for the cluster is not empty, but system ID is invalid; consider doing reinitialize",
        ),
        row(
            "e2: no initialize key, no leader, running replica: abort",
            no_leader().cluster(|c| c.initialize = None),
            vec![Exit {
                code: 1,
                message:
                    "No initialize key in DCS and PostgreSQL is running as replica, aborting start"
                        .into(),
            }],
            "No initialize key in DCS and PostgreSQL is running as replica, aborting start",
        ),
        row_or(
            "e2: no initialize key, no leader, standalone primary adopts the cluster",
            leader()
                .leader_key(None)
                .lock(LockRenewal::NotHeld)
                .cluster(|c| c.initialize = None),
            vec![
                Initialize {
                    create_new: true,
                    sysid: SYSID.into(),
                },
                AcquireLock,
            ],
            "acquired session lock as a leader",
            lost_race,
        ),
        row(
            "e2: holding the lock with initialize empty writes the sysid",
            leader().cluster(|c| c.initialize = Some(String::new())),
            vec![Initialize {
                create_new: false,
                sysid: SYSID.into(),
            }],
            "no action. I am (node1), the leader with the lock",
        ),
        row(
            "e2: holding the lock without config writes it",
            leader().cluster(|c| c.config = None),
            vec![WriteConfig],
            "no action. I am (node1), the leader with the lock",
        ),
        row(
            "e2: initialize empty but not holding the lock: nothing to fix",
            replica().cluster(|c| c.initialize = Some(String::new())),
            vec![Follow {
                leader: "node2".into(),
            }],
            "no action. I am (node1), a secondary, and following a leader (node2)",
        ),
        // §e.2 step 5: long actions.
        row(
            "e2.5: bootstrap running, not yet leader",
            S(leader().0)
                .leader_key(None)
                .lock(LockRenewal::NotHeld)
                .task(TaskKind::Bootstrap, TaskOutcome::Running),
            vec![],
            "initialize a new cluster in progress",
        ),
        row(
            "e2.5: clone running",
            replica().task(
                TaskKind::Clone {
                    from: "node2".into(),
                },
                TaskOutcome::Running,
            ),
            vec![],
            "bootstrap from 'node2' in progress",
        ),
        row(
            "e2.5: leader keeps the lock during a long action",
            leader().task(TaskKind::StartPrimary, TaskOutcome::Running),
            vec![],
            "updated leader lock during starting primary after failure",
        ),
        row(
            "e2.5: leader loses the lock during promote",
            leader()
                .lock(LockRenewal::Failed)
                .running_replica(1, 1000)
                .task(TaskKind::Promote, TaskOutcome::Running),
            vec![Demote(DemoteMode::ImmediateNoLock)],
            "lost leader before promote",
        ),
        row(
            "e2.5: primary loses the lock during a long action",
            leader()
                .lock(LockRenewal::Failed)
                .task(TaskKind::StartPrimary, TaskOutcome::Running),
            vec![Demote(DemoteMode::ImmediateNoLock)],
            "lost leader lock during starting primary after failure",
        ),
        row(
            "e2.5: replica holder loses the lock during a long action",
            leader()
                .lock(LockRenewal::Failed)
                .running_replica(1, 1000)
                .task(TaskKind::StartReplica, TaskOutcome::Running),
            vec![],
            "lost leader lock during start as a secondary",
        ),
        row_or(
            "e2.7: bootstrap finished: initialize, config, lock",
            leader()
                .leader_key(None)
                .lock(LockRenewal::NotHeld)
                .cluster(|c| {
                    c.initialize = Some(String::new());
                    c.config = None
                })
                .task(TaskKind::Bootstrap, TaskOutcome::Succeeded),
            vec![
                Initialize {
                    create_new: false,
                    sysid: SYSID.into(),
                },
                WriteConfig,
                AcquireLock,
            ],
            "initialized a new cluster",
            "failed to take the leader lock after bootstrap",
        ),
        row(
            "e2.7: bootstrap failed: cancel initialize",
            leader()
                .leader_key(None)
                .lock(LockRenewal::NotHeld)
                .data(DataDir::Empty)
                .stopped(false)
                .task(TaskKind::Bootstrap, TaskOutcome::Failed),
            vec![CancelInitialize],
            "removing initialize key after failed attempt to bootstrap the cluster",
        ),
        row(
            "e2.7: a failed clone is reported, retried next cycle",
            replica().data(DataDir::Empty).stopped(false).task(
                TaskKind::Clone {
                    from: "node2".into(),
                },
                TaskOutcome::Failed,
            ),
            vec![],
            "bootstrap from 'node2' failed",
        ),
        row(
            "e2.7: the crashed primary failed to start and is down: it gives the lock up",
            leader()
                .stopped(true)
                .task(TaskKind::StartPrimary, TaskOutcome::Failed),
            vec![ReleaseLock],
            "removed leader key after trying and failing to start postgres",
        ),
        row(
            "e2.7: the crashed primary is still starting after its timeout: it keeps the lock",
            leader()
                .starting(1)
                .task(TaskKind::StartPrimary, TaskOutcome::Failed),
            vec![],
            "starting primary after failure failed",
        ),
        row(
            "e2.7: a leader on timeline 2 whose /history lacks its promotion writes it again",
            leader().running_primary(2, 1000),
            vec![UpdateHistory],
            "no action. I am (node1), the leader with the lock",
        ),
        row(
            "e2.7: a leader whose /history ends with the timeline before its own writes nothing",
            leader().running_primary(2, 1000).cluster(|c| {
                c.history = Some(Versioned {
                    value: History(vec![entry(1)]),
                    version: Version(9),
                })
            }),
            vec![],
            "no action. I am (node1), the leader with the lock",
        ),
        row(
            "e2.7: a leader that skipped claimed timeline numbers and wrote /history writes nothing",
            leader().running_primary(4, 1000).cluster(|c| {
                c.history = Some(Versioned {
                    value: History(vec![HistoryEntry {
                        new_leader: Some("node1".into()),
                        ..entry(1)
                    }]),
                    version: Version(9),
                })
            }),
            vec![],
            "no action. I am (node1), the leader with the lock",
        ),
        row(
            "e2.7: a finished promote writes history",
            leader().task(TaskKind::Promote, TaskOutcome::Succeeded),
            vec![UpdateHistory],
            "no action. I am (node1), the leader with the lock",
        ),
        row(
            "e2.7: pre_promote refused the promotion: the lock is given up",
            leader()
                .running_replica(1, 1000)
                .task(TaskKind::Promote, TaskOutcome::Vetoed),
            vec![ReleaseLock],
            "Promotion cancelled because the pre-promote script failed",
        ),
        row(
            "e2.7: pre_promote refused, the lock already gone: nothing to give up",
            replica()
                .leader_key(Some("node2"))
                .task(TaskKind::Promote, TaskOutcome::Vetoed),
            vec![],
            "promote failed",
        ),
        row(
            "e2.7: a finished replica start continues normally",
            replica().task(TaskKind::StartReplica, TaskOutcome::Succeeded),
            vec![Follow {
                leader: "node2".into(),
            }],
            "no action. I am (node1), a secondary, and following a leader (node2)",
        ),
        // §e.3 bootstrap.
        row_or(
            "e3: empty cluster, empty data dir: race for initialize",
            replica()
                .empty_cluster()
                .data(DataDir::Empty)
                .stopped(false),
            init_race.clone(),
            "trying to bootstrap a new cluster",
            "failed to acquire initialize lock",
        ),
        row(
            "e3: nofailover never initializes",
            replica()
                .empty_cluster()
                .data(DataDir::Empty)
                .stopped(false)
                .nofailover(),
            vec![],
            "waiting for leader to bootstrap",
        ),
        row(
            "e3: no bootstrap section never initializes",
            replica()
                .empty_cluster()
                .data(DataDir::Empty)
                .stopped(false)
                .config(|c| c.can_bootstrap = false),
            vec![],
            "waiting for leader to bootstrap",
        ),
        row(
            "e3: initialize taken, no leader yet: wait",
            replica()
                .leader_key(None)
                .data(DataDir::Empty)
                .stopped(false)
                .cluster(|c| c.initialize = Some(String::new())),
            vec![],
            "waiting for leader to bootstrap",
        ),
        row(
            "e3: leader exists: clone from it",
            replica().data(DataDir::Empty).stopped(false),
            vec![Clone {
                from: "node2".into(),
            }],
            "trying to bootstrap from leader 'node2'",
        ),
        row(
            "e3: a running clonefrom replica is preferred",
            replica()
                .data(DataDir::Empty)
                .stopped(false)
                .member_tags("node3", json!({"clonefrom": true})),
            vec![Clone {
                from: "node3".into(),
            }],
            "trying to bootstrap from replica 'node3'",
        ),
        row(
            "e3: a stopped clonefrom replica is not used",
            replica()
                .data(DataDir::Empty)
                .stopped(false)
                .member_tags("node3", json!({"clonefrom": true}))
                .cluster(|c| c.members[2].data.state = "stopped".into()),
            vec![Clone {
                from: "node2".into(),
            }],
            "trying to bootstrap from leader 'node2'",
        ),
        row(
            "e3/e2.8: leader with an empty data dir releases the lock",
            leader().data(DataDir::Empty).stopped(false),
            vec![ReleaseLock],
            "released leader key voluntarily as data dir empty and currently leader",
        ),
        row(
            "e2.6: primary still starting within primary_start_timeout",
            leader().starting(1_000_000 - 100_000),
            vec![],
            "PostgreSQL is still starting up, 200 seconds until timeout",
        ),
        row(
            "e2.6: primary start timed out with a failover target",
            leader().starting(1_000_000 - 300_000),
            vec![StopImmediate, ReleaseLock],
            "stopped PostgreSQL because of startup timeout",
        ),
        row(
            "e2.6: primary start timed out, nobody else: keep waiting",
            leader().starting(1_000_000 - 400_000).only_me(),
            vec![],
            "PostgreSQL is still starting up, 0 seconds until timeout",
        ),
        row(
            "e2.6: replica still starting",
            replica().starting(1_000_000 - 1000),
            vec![],
            "postgres is starting as a secondary",
        ),
    ]
}
