//! Rows: Following, starting again, the DCS unreachable (§e.5, §e.6, §e.9).

use crate::builders::*;

pub(crate) fn rows() -> Vec<Row> {
    vec![
        row(
            "e5: a former primary whose WAL runs past the leader's fork point is rewound",
            diverged_replica(150).config(|c| c.use_pg_rewind = true),
            vec![Rewind {
                leader: "node2".into(),
            }],
            "rewinding onto the leader (node2): my WAL on timeline 1 ends at 0/96, past 0/64 where the leader's timeline forked off",
        ),
        row(
            "e5: a former primary that streams from the leader did not diverge, whatever its position",
            diverged_replica(150)
                .config(|c| c.use_pg_rewind = true)
                .received(),
            vec![Follow {
                leader: "node2".into(),
            }],
            "no action. I am (node1), a secondary, and following a leader (node2)",
        ),
        row(
            "e5: without use_pg_rewind a diverged former primary says so and waits",
            diverged_replica(150),
            vec![],
            "cannot follow the leader (node2) without pg_rewind: my WAL on timeline 1 ends at 0/96, past 0/64 where the leader's timeline forked off",
        ),
        row(
            "e5: a former primary that stopped at the fork point follows",
            diverged_replica(100).config(|c| c.use_pg_rewind = true),
            vec![Follow {
                leader: "node2".into(),
            }],
            "no action. I am (node1), a secondary, and following a leader (node2)",
        ),
        row(
            "e5: a replica that never was primary, on the leader's timeline, is not checked",
            diverged_replica(150)
                .config(|c| c.use_pg_rewind = true)
                .memo(Memo::default())
                .cluster(|c| leader_on_timeline(c, 1)),
            vec![Follow {
                leader: "node2".into(),
            }],
            "no action. I am (node1), a secondary, and following a leader (node2)",
        ),
        row(
            "e5: a replica that never was primary, not streaming, behind the leader's timeline, is checked and rewound",
            diverged_replica(150)
                .config(|c| c.use_pg_rewind = true)
                .memo(Memo::default())
                .cluster(|c| leader_on_timeline(c, 2)),
            vec![Rewind {
                leader: "node2".into(),
            }],
            "rewinding onto the leader (node2): my WAL on timeline 1 ends at 0/96, past 0/64 where the leader's timeline forked off",
        ),
        row(
            "e5: a replica on a timeline after the leader's (an abandoned promotion) for a TTL is rewound",
            diverged_replica(150)
                .config(|c| c.use_pg_rewind = true)
                .memo(Memo {
                    ahead_of_leader_since: Some(1_000_000 - 30_000),
                    ..Memo::default()
                })
                .running_replica(3, 150)
                .cluster(|c| leader_on_timeline(c, 2)),
            vec![Rewind {
                leader: "node2".into(),
            }],
            "rewinding onto the leader (node2): my timeline 3 is not in the history of the leader's timeline 2",
        ),
        row(
            "e5: a replica on a timeline after the leader's member key waits a TTL (the leader may have frozen right after promoting)",
            diverged_replica(150)
                .config(|c| c.use_pg_rewind = true)
                .memo(Memo {
                    ahead_of_leader_since: Some(1_000_000 - 29_999),
                    ..Memo::default()
                })
                .running_replica(3, 150)
                .cluster(|c| leader_on_timeline(c, 2)),
            vec![Follow {
                leader: "node2".into(),
            }],
            "no action. I am (node1), a secondary, and following a leader (node2)",
        ),
        row(
            "e5: a replica streaming from a leader on a newer timeline is not checked",
            diverged_replica(150)
                .config(|c| c.use_pg_rewind = true)
                .memo(Memo::default())
                .received()
                .cluster(|c| leader_on_timeline(c, 2)),
            vec![Follow {
                leader: "node2".into(),
            }],
            "no action. I am (node1), a secondary, and following a leader (node2)",
        ),
        row(
            "e5: until history shows the fork point a former primary follows",
            diverged_replica(150)
                .config(|c| c.use_pg_rewind = true)
                .cluster(|c| c.history = None),
            vec![Follow {
                leader: "node2".into(),
            }],
            "no action. I am (node1), a secondary, and following a leader (node2)",
        ),
        row(
            "e9: failsafe primary without the DCS keeps running when every member accepts",
            leader()
                .unreachable()
                .config(|c| c.failsafe_mode = true)
                .failsafe(None, true),
            vec![],
            "continue to run as a leader because failsafe mode is enabled and all members are accessible",
        ),
        row(
            "e9: failsafe primary without the DCS demotes when a member does not accept",
            leader()
                .unreachable()
                .config(|c| c.failsafe_mode = true)
                .failsafe(None, false),
            vec![Demote(DemoteMode::Offline)],
            "demoted self because DCS is not accessible and I was a leader",
        ),
        row(
            "e9: members_accept without failsafe_mode does not keep a primary",
            leader().unreachable().failsafe(None, true),
            vec![Demote(DemoteMode::Offline)],
            "demoted self because DCS is not accessible and I was a leader",
        ),
        row(
            "e9: an expired leader key with a fresh failsafe call: follow that primary",
            no_leader()
                .config(|c| c.failsafe_mode = true)
                .failsafe(Some("node2"), false),
            vec![Follow {
                leader: "node2".into(),
            }],
            "no action. I am (node1), a secondary, and following a leader (node2)",
        ),
        row(
            "e9: only members of the /failsafe topology race",
            no_leader().config(|c| c.failsafe_mode = true).cluster(|c| {
                c.failsafe = json!({"node2": "http://127.0.0.1:8009/patroni"})
                    .as_object()
                    .cloned()
            }),
            vec![],
            "following a different leader because i am not the healthiest node (I am not a member of the /failsafe topology)",
        ),
        // §e.5 a leader exists.
        row(
            "e5: holder running as replica promotes",
            leader().running_replica(1, 1000),
            vec![Promote],
            "promoted self to leader because I had the session lock",
        ),
        row(
            "e5: lock renewal failed: demote before the lease expires",
            leader().lock(LockRenewal::Failed),
            vec![Demote(DemoteMode::ImmediateNoLock)],
            "demoted self because failed to update leader lock in DCS",
        ),
        row(
            "e5: lock renewal failed while paused: keep running",
            leader().lock(LockRenewal::Failed).paused(),
            vec![],
            "PAUSE: continue to run as primary after failing to update leader lock in DCS",
        ),
        row(
            "e5: lock renewal failed on a replica holder: no promotion",
            leader().lock(LockRenewal::Failed).running_replica(1, 1000),
            vec![],
            "not promoting because failed to update leader lock in DCS",
        ),
        row(
            "e5: a lock named ours but not renewed is not trusted",
            leader().lock(LockRenewal::NotHeld),
            vec![Demote(DemoteMode::ImmediateNoLock)],
            "demoted self because failed to update leader lock in DCS",
        ),
        row(
            "e5: paused holder not running as primary releases the lock",
            leader().running_replica(1, 1000).paused(),
            vec![ReleaseLock],
            "PAUSE: removed leader lock because postgres is not running as primary",
        ),
        row(
            "e5: replica follows the leader",
            replica(),
            vec![Follow {
                leader: "node2".into(),
            }],
            "no action. I am (node1), a secondary, and following a leader (node2)",
        ),
        row(
            "e5: primary without the lock demotes at once",
            replica().running_primary(1, 1000),
            vec![Demote(DemoteMode::ImmediateNoLock)],
            "demoting self because I do not have the lock and I was a leader",
        ),
        row(
            "e5: paused primary without the lock keeps running",
            replica().running_primary(1, 1000).paused(),
            vec![],
            "PAUSE: continue to run as primary without the lock, because paused (leader is node2)",
        ),
        row(
            "e5: nofailover replica still follows",
            replica().nofailover(),
            vec![Follow {
                leader: "node2".into(),
            }],
            "no action. I am (node1), a secondary, and following a leader (node2)",
        ),
        // §e.6 PostgreSQL not running.
        row(
            "e6: holder whose primary crashed restarts it as primary",
            leader().stopped(true),
            vec![StartPrimary { wait: 300_000 }],
            "starting primary after failure",
        ),
        row(
            "e6: the start waits primary_start_timeout, not more (the next cycle judges a slow start)",
            leader()
                .stopped(true)
                .config(|c| c.primary_start_timeout = 10_000),
            vec![StartPrimary { wait: 10_000 }],
            "starting primary after failure",
        ),
        row(
            "e6: holder that was a replica starts read-only",
            leader().stopped(false),
            vec![StartReplica {
                leader: None,
                rewind: false,
            }],
            "starting as readonly because i had the session lock",
        ),
        row(
            "e6: primary_start_timeout 0 with a failover target releases the lock",
            leader()
                .stopped(true)
                .config(|c| c.primary_start_timeout = 0),
            vec![ReleaseLock],
            "stopped PostgreSQL to fail over after a crash",
        ),
        row(
            "e6: primary_start_timeout 0 but nobody to fail over to: restart",
            leader()
                .stopped(true)
                .config(|c| c.primary_start_timeout = 0)
                .only_me(),
            vec![StartPrimary { wait: 0 }],
            "starting primary after failure",
        ),
        row(
            "e6: holder whose renewal failed starts as a secondary",
            leader().stopped(true).lock(LockRenewal::Failed),
            vec![StartReplica {
                leader: None,
                rewind: false,
            }],
            "starting as a secondary",
        ),
        row(
            "e6: crashed replica restarts following the leader",
            replica().stopped(false),
            start_following_node2(false),
            "starting as a secondary",
        ),
        row(
            "e6: former primary comes back and follows the new leader",
            replica().stopped(true),
            start_following_node2(false),
            "starting as a secondary",
        ),
        row(
            "e6: former primary with use_pg_rewind is rewound first",
            replica().stopped(true).config(|c| c.use_pg_rewind = true),
            start_following_node2(true),
            "starting as a secondary",
        ),
        row(
            "e6: a former replica is never rewound",
            replica().stopped(false).config(|c| c.use_pg_rewind = true),
            start_following_node2(false),
            "starting as a secondary",
        ),
        row(
            "e6: a former primary that shut down before the leader's fork point follows without pg_rewind",
            replica()
                .stopped_at(true, 1, 99)
                .config(|c| c.use_pg_rewind = true)
                .cluster(forked_at_100),
            start_following_node2(false),
            "starting as a secondary",
        ),
        row(
            "e6: a former primary whose shutdown checkpoint is at or past the fork point is rewound first",
            replica()
                .stopped_at(true, 1, 100)
                .config(|c| c.use_pg_rewind = true)
                .cluster(forked_at_100),
            start_following_node2(true),
            "running pg_rewind from node2: my WAL on timeline 1 ends at 0/64, past 0/64 where the leader's timeline forked off",
        ),
        row(
            "e6: without use_pg_rewind a diverged former primary starts as a secondary and says why it cannot follow",
            replica().stopped_at(true, 1, 150).cluster(forked_at_100),
            start_following_node2(false),
            "starting as a secondary; cannot follow the leader (node2) without pg_rewind: my WAL on timeline 1 ends at 0/96, past 0/64 where the leader's timeline forked off",
        ),
        row(
            "e6: a stopped replica that replayed exactly to the fork point follows",
            replica()
                .stopped_at(false, 1, 100)
                .memo(suspect())
                .config(|c| c.use_pg_rewind = true)
                .cluster(forked_at_100),
            start_following_node2(false),
            "starting as a secondary",
        ),
        row(
            "e6: a former primary on a timeline number the leader made differently (a partition) is rewound",
            replica()
                .stopped_at(true, 2, 300)
                .local_history(&[(1, 90)])
                .config(|c| c.use_pg_rewind = true)
                .cluster(forked_at_100),
            start_following_node2(true),
            "running pg_rewind from node2: my history has timeline 1 end at 0/5A, the leader's at 0/64",
        ),
        row(
            "e6: a former primary on the leader's timeline with the leader's history follows",
            replica()
                .stopped_at(true, 2, 300)
                .local_history(&[(1, 100)])
                .config(|c| c.use_pg_rewind = true)
                .cluster(forked_at_100),
            start_following_node2(false),
            "starting as a secondary",
        ),
        row(
            "e6: a former primary on a timeline after the leader's is rewound",
            replica()
                .stopped_at(true, 3, 300)
                .config(|c| c.use_pg_rewind = true)
                .cluster(forked_at_100),
            start_following_node2(true),
            "running pg_rewind from node2: my timeline 3 is not in the history of the leader's timeline 2",
        ),
        row(
            "e5: a replica that followed the leader onto its timeline is not rewound when the stream stops",
            replica()
                .running_replica(2, 0x500_0608)
                .local_history(&[(1, 100)])
                .memo(suspect())
                .config(|c| c.use_pg_rewind = true)
                .cluster(forked_at_100),
            vec![Follow {
                leader: "node2".into(),
            }],
            "no action. I am (node1), a secondary, and following a leader (node2)",
        ),
        row(
            "e6: stopped with no leader starts as a replica first",
            no_leader().stopped(false),
            vec![StartReplica {
                leader: None,
                rewind: false,
            }],
            "starting as a secondary",
        ),
        row(
            "e6: paused and not running: nothing",
            replica().stopped(false).paused(),
            vec![],
            "PAUSE: postgres is not running",
        ),
        row(
            "e6: paused holder not running releases the lock",
            leader().stopped(true).paused(),
            vec![ReleaseLock],
            "PAUSE: removed leader lock because postgres is not running",
        ),
        // §e.9 the DCS is unreachable.
        row(
            "e9: primary with an unreachable DCS demotes offline",
            leader().unreachable(),
            vec![Demote(DemoteMode::Offline)],
            "demoted self because DCS is not accessible and I was a leader",
        ),
        row(
            "e9: a renewal the DCS did not answer is a cycle without the DCS, not a lost lock",
            leader().lock(LockRenewal::Unanswered),
            vec![Demote(DemoteMode::Offline)],
            "demoted self because DCS is not accessible and I was a leader",
        ),
        row(
            "e9: an unanswered renewal in failsafe mode, every member accepting: stay primary",
            leader()
                .lock(LockRenewal::Unanswered)
                .config(|c| c.failsafe_mode = true)
                .failsafe(None, true),
            vec![],
            "continue to run as a leader because failsafe mode is enabled and all members are accessible",
        ),
        row(
            "e9: a refused renewal is a lost lock, even in failsafe mode",
            leader()
                .lock(LockRenewal::Failed)
                .config(|c| c.failsafe_mode = true)
                .failsafe(None, true),
            vec![Demote(DemoteMode::ImmediateNoLock)],
            "demoted self because failed to update leader lock in DCS",
        ),
        row(
            "e9: replica with an unreachable DCS keeps streaming",
            replica().unreachable(),
            vec![],
            "DCS is not accessible",
        ),
        row(
            "e9: paused primary with an unreachable DCS keeps running",
            leader().unreachable().paused(),
            vec![],
            "PAUSE: continue to run as primary because paused and DCS is not accessible",
        ),
        row(
            "e9: a stopped node with an unreachable DCS comes back read-only",
            replica().stopped(true).unreachable(),
            vec![StartReplica {
                leader: None,
                rewind: false,
            }],
            "DCS is not accessible: starting as a secondary without a leader",
        ),
        row(
            "e9: an empty node with an unreachable DCS waits",
            replica().stopped(false).data(DataDir::Empty).unreachable(),
            vec![],
            "DCS is not accessible",
        ),
    ]
}
