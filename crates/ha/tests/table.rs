//! `decide()`, case by case: each row is an input (a scenario built from a healthy three-node
//! cluster seen by node1) and the expected actions and Patroni log line.

use ferroni_ha::divergence::LocalWal;
use ferroni_ha::*;
use ferroni_model::{
    Cluster, Failover, History, HistoryEntry, LeaderKey, Member, MemberKey, Status, Version,
    Versioned,
};
use serde_json::json;

const SYSID: &str = "7711416411379105180";
/// The replicas streaming from a running primary in every scenario.
const STREAMING: [&str; 2] = ["node2", "node3"];
/// The wall clock of every scenario: 2026-11-23T17:20:00+00:00.
const WALL: i64 = 1_795_454_400_000;
/// `WALL` shifted by `seconds`, as Patroni writes `scheduled_at`.
fn at(seconds: i64) -> String {
    let total = 17 * 3600 + 20 * 60 + seconds;
    format!(
        "2026-11-23T{:02}:{:02}:{:02}+00:00",
        total / 3600,
        total % 3600 / 60,
        total % 60
    )
}

fn member(name: &str, role: &str, state: &str) -> MemberKey {
    MemberKey {
        name: name.into(),
        data: Member {
            conn_url: format!("postgres://127.0.0.1:5432/{name}"),
            api_url: format!("http://127.0.0.1:8008/{name}"),
            state: state.into(),
            role: role.into(),
            version: "4.1.5".into(),
            ..Member::default()
        },
        version: Version(1),
        lease: None,
    }
}

/// A scenario under construction.
#[derive(Clone)]
struct S(Input);

fn healthy_cluster(leader: Option<&str>) -> Cluster {
    Cluster {
        initialize: Some(SYSID.into()),
        config: Some(Versioned {
            value: json!({"ttl": 30}).as_object().unwrap().clone(),
            version: Version(2),
        }),
        leader: leader.map(|l| LeaderKey {
            name: l.into(),
            version: Version(3),
            lease: Some(7),
        }),
        members: vec![
            member("node1", "primary", "running"),
            member("node2", "replica", "running"),
            member("node3", "replica", "running"),
        ],
        status: Some(Status {
            optime: 1000,
            ..Status::default()
        }),
        ..Cluster::default()
    }
}

/// node1 is the leader with the lock, running as primary, lock renewed.
fn leader() -> S {
    S(Input {
        now: 1_000_000,
        wall_clock: WALL,
        scheduled_restart: None,
        config: HaConfig::default(),
        me: Me {
            name: "node1".into(),
            nofailover: false,
            failover_priority: 1,
            watchdog_failed: false,
        },
        dcs: DcsView::Reachable(healthy_cluster(Some("node1"))),
        lock: LockRenewal::Renewed,
        pg: PgView {
            data: DataDir::Initialized {
                sysid: SYSID.into(),
            },
            state: PgState::Running(Running {
                primary: true,
                timeline: 1,
                wal_position: 1000,
                following: None,
                streaming: STREAMING.iter().map(|s| s.to_string()).collect(),
                received: false,
            }),
            wal: None,
        },
        task: None,
        peers: Vec::new(),
        failsafe: FailsafeView::default(),
        memo: Memo::default(),
    })
}

/// node1 is a replica of node2.
fn replica() -> S {
    leader()
        .leader_key(Some("node2"))
        .lock(LockRenewal::NotHeld)
        .running_replica(1, 1000)
}

/// No leader key; node1 runs as a replica; peers node2 and node3 answer behind it.
fn no_leader() -> S {
    replica()
        .leader_key(None)
        .peer("node2", 900, false)
        .peer("node3", 800, false)
}

impl S {
    fn cluster(mut self, f: impl FnOnce(&mut Cluster)) -> S {
        if let DcsView::Reachable(c) = &mut self.0.dcs {
            f(c);
        }
        self
    }
    fn leader_key(self, name: Option<&str>) -> S {
        self.cluster(|c| {
            c.leader = name.map(|l| LeaderKey {
                name: l.into(),
                version: Version(3),
                lease: Some(7),
            })
        })
    }
    fn lock(mut self, lock: LockRenewal) -> S {
        self.0.lock = lock;
        self
    }
    fn running_primary(mut self, timeline: u64, wal: u64) -> S {
        self.0.pg.state = PgState::Running(Running {
            primary: true,
            timeline,
            wal_position: wal,
            following: None,
            streaming: STREAMING.iter().map(|s| s.to_string()).collect(),
            received: false,
        });
        self.0.pg.wal = None;
        self
    }
    fn running_replica(mut self, timeline: u64, wal: u64) -> S {
        self.0.pg.state = PgState::Running(Running {
            primary: false,
            timeline,
            wal_position: wal,
            following: None,
            streaming: STREAMING.iter().map(|s| s.to_string()).collect(),
            received: false,
        });
        self.0.pg.wal = Some(LocalWal {
            timeline,
            lsn: wal,
            in_recovery: true,
            history: Vec::new(),
        });
        self
    }
    /// Stopped; a primary that crashed has no known end of WAL.
    fn stopped(mut self, was_primary: bool) -> S {
        self.0.pg.state = PgState::Stopped { was_primary };
        self.0.pg.wal = None;
        self
    }
    /// Stopped cleanly, its WAL ending at `lsn` on `timeline` (a former primary: its shutdown
    /// checkpoint; a replica: its minimum recovery end).
    fn stopped_at(mut self, was_primary: bool, timeline: u64, lsn: u64) -> S {
        self.0.pg.state = PgState::Stopped { was_primary };
        self.0.pg.wal = Some(LocalWal {
            timeline,
            lsn,
            in_recovery: !was_primary,
            history: Vec::new(),
        });
        self
    }
    /// The local history file of the current timeline.
    fn local_history(mut self, history: &[(u64, u64)]) -> S {
        if let Some(w) = &mut self.0.pg.wal {
            w.history = history.to_vec();
        }
        self
    }
    fn starting(mut self, since: u64) -> S {
        self.0.pg.state = PgState::Starting { since };
        self
    }
    fn received(mut self) -> S {
        if let PgState::Running(r) = &mut self.0.pg.state {
            r.received = true;
        }
        self
    }
    fn data(mut self, data: DataDir) -> S {
        self.0.pg.data = data;
        self
    }
    fn unreachable(mut self) -> S {
        self.0.dcs = DcsView::Unreachable;
        self
    }
    fn task(mut self, kind: TaskKind, outcome: TaskOutcome) -> S {
        self.0.task = Some(Task {
            kind,
            outcome,
            started: 0,
        });
        self
    }
    fn peer(mut self, name: &str, wal: u64, primary: bool) -> S {
        self.0.peers.push(PeerReport {
            name: name.into(),
            reachable: true,
            primary,
            wal_position: wal,
            timeline: 1,
            nofailover: false,
            failover_priority: 1,
        });
        self
    }
    fn peer_with(mut self, name: &str, f: impl FnOnce(&mut PeerReport)) -> S {
        if let Some(p) = self.0.peers.iter_mut().find(|p| p.name == name) {
            f(p);
        }
        self
    }
    fn watchdog_failed(mut self) -> S {
        self.0.me.watchdog_failed = true;
        self
    }
    fn nofailover(mut self) -> S {
        self.0.me.nofailover = true;
        self
    }
    fn priority(mut self, p: i64) -> S {
        self.0.me.failover_priority = p;
        self
    }
    fn config(mut self, f: impl FnOnce(&mut HaConfig)) -> S {
        f(&mut self.0.config);
        self
    }
    fn paused(self) -> S {
        self.config(|c| c.paused = true)
    }
    fn empty_cluster(self) -> S {
        self.cluster(|c| *c = Cluster::default())
    }
    fn member_tags(self, name: &str, tags: serde_json::Value) -> S {
        self.cluster(|c| {
            if let Some(m) = c.members.iter_mut().find(|m| m.name == name) {
                m.data.tags = tags.as_object().cloned();
            }
        })
    }
    fn failover(self, leader: Option<&str>, member: Option<&str>, at: Option<String>) -> S {
        self.cluster(|c| {
            c.failover = Some(Versioned {
                value: Failover {
                    leader: leader.map(Into::into),
                    member: member.map(Into::into),
                    scheduled_at: at,
                },
                version: Version(4),
            })
        })
    }
    fn member_state(self, name: &str, state: &str) -> S {
        self.cluster(|c| {
            if let Some(m) = c.members.iter_mut().find(|m| m.name == name) {
                m.data.state = state.into();
            }
        })
    }
    fn streaming(mut self, names: &[&str]) -> S {
        if let PgState::Running(r) = &mut self.0.pg.state {
            r.streaming = names.iter().map(|s| s.to_string()).collect();
        }
        self
    }
    fn memo(mut self, memo: Memo) -> S {
        self.0.memo = memo;
        self
    }
    fn failsafe(mut self, leader: Option<&str>, members_accept: bool) -> S {
        self.0.failsafe = FailsafeView {
            leader: leader.map(Into::into),
            members_accept,
        };
        self
    }
    fn restart_at(mut self, at: String) -> S {
        self.0.scheduled_restart = Some(at);
        self
    }
    fn only_me(self) -> S {
        self.cluster(|c| c.members.retain(|m| m.name == "node1"))
    }
}

struct Row {
    name: &'static str,
    input: S,
    actions: Vec<Action>,
    log: &'static str,
    on_failure: Option<&'static str>,
}

fn row(name: &'static str, input: S, actions: Vec<Action>, log: &'static str) -> Row {
    Row {
        name,
        input,
        actions,
        log,
        on_failure: None,
    }
}

fn row_or(
    name: &'static str,
    input: S,
    actions: Vec<Action>,
    log: &'static str,
    on_failure: &'static str,
) -> Row {
    Row {
        name,
        input,
        actions,
        log,
        on_failure: Some(on_failure),
    }
}

use Action::*;

fn rows() -> Vec<Row> {
    let init_race = vec![
        Initialize {
            create_new: true,
            sysid: String::new(),
        },
        Bootstrap,
    ];
    let acquire_promote = vec![AcquireLock, Promote];
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
        row_or(
            "e4: alone in the cluster",
            replica().leader_key(None).only_me(),
            acquire_promote.clone(),
            "promoted self to leader by acquiring session lock",
            lost_race,
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
            vec![StartPrimary],
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
            vec![StartPrimary],
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
        // §e.9 the DCS is unreachable.
        row(
            "e9: primary with an unreachable DCS demotes offline",
            leader().unreachable(),
            vec![Demote(DemoteMode::Offline)],
            "demoted self because DCS is not accessible and I was a leader",
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

/// node1, a former primary on timeline 1 with WAL up to `wal`, now a replica of node2, which
/// forked timeline 2 off at 100.
fn diverged_replica(wal: u64) -> S {
    replica()
        .running_replica(1, wal)
        .memo(suspect())
        .cluster(forked_at_100)
}

/// Starts PostgreSQL as a replica of node2, rewound first or not.
fn start_following_node2(rewind: bool) -> Vec<Action> {
    vec![StartReplica {
        leader: Some("node2".into()),
        rewind,
    }]
}

/// This node stepped down as a primary and was not rewound: its WAL is checked.
fn suspect() -> Memo {
    Memo {
        diverge_check: true,
        ..Memo::default()
    }
}

/// The leader node2 runs on timeline 2, which forked off timeline 1 at 0/64 (`/history`).
fn forked_at_100(c: &mut Cluster) {
    c.history = Some(Versioned {
        value: History(vec![entry(1)]),
        version: Version(9),
    });
    leader_on_timeline(c, 2)
}

/// The leader node2's member key says it runs on `timeline`.
fn leader_on_timeline(c: &mut Cluster, timeline: u64) {
    for m in &mut c.members {
        if m.name == "node2" {
            m.data.timeline = Some(timeline);
        }
    }
}

fn entry(timeline: u64) -> HistoryEntry {
    entry_at(timeline, 100 * timeline)
}

/// Timeline `timeline` ended at `lsn`.
fn entry_at(timeline: u64, lsn: u64) -> HistoryEntry {
    HistoryEntry {
        timeline,
        lsn,
        reason: "no recovery target specified".into(),
        timestamp: None,
        new_leader: None,
    }
}

#[test]
fn every_row_decides_as_patroni() {
    let rows = rows();
    assert!(rows.len() >= 60, "only {} rows", rows.len());
    let mut failures = Vec::new();
    for r in &rows {
        let d = decide(&r.input.0);
        if d.actions != r.actions || d.log != r.log || d.on_failure.as_deref() != r.on_failure {
            failures.push(format!(
                "{}\n  expected {:?} / {:?} / {:?}\n  got      {:?} / {:?} / {:?}",
                r.name, r.actions, r.log, r.on_failure, d.actions, d.log, d.on_failure
            ));
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} rows failed:\n{}",
        failures.len(),
        rows.len(),
        failures.join("\n")
    );
}

#[test]
fn a_primary_that_steps_down_is_checked_for_divergence_until_settled() {
    let demoted = decide(&replica().running_primary(1, 1000).0);
    assert_eq!(demoted.actions, vec![Demote(DemoteMode::ImmediateNoLock)]);
    assert!(demoted.memo.diverge_check);
    let started = decide(&no_leader().leader_key(None).stopped(true).0);
    assert!(started.memo.diverge_check, "{started:?}");
    let clean = decide(&diverged_replica(100).0);
    assert!(!clean.memo.diverge_check);
    let rewound = decide(&diverged_replica(150).config(|c| c.use_pg_rewind = true).0);
    assert!(!rewound.memo.diverge_check);
    let waiting = decide(&diverged_replica(150).0);
    assert!(waiting.memo.diverge_check);
    let never = decide(&replica().0);
    assert!(!never.memo.diverge_check);
    // A former primary whose end of WAL proves it joins the leader's history is settled before
    // it starts; one that crashed (no known end) and is not rewound is checked once running.
    let joins = decide(&replica().stopped_at(true, 1, 99).cluster(forked_at_100).0);
    assert!(!joins.memo.diverge_check, "{joins:?}");
    let crashed = decide(&replica().stopped(true).cluster(forked_at_100).0);
    assert!(crashed.memo.diverge_check, "{crashed:?}");
    let rewinding = decide(
        &replica()
            .stopped(true)
            .config(|c| c.use_pg_rewind = true)
            .cluster(forked_at_100)
            .0,
    );
    assert!(!rewinding.memo.diverge_check, "{rewinding:?}");
    let ahead = decide(&replica().running_replica(3, 150).cluster(forked_at_100).0);
    assert_eq!(ahead.memo.ahead_of_leader_since, Some(1_000_000));
    let caught_up = decide(
        &replica()
            .running_replica(2, 150)
            .memo(ahead.memo.clone())
            .cluster(forked_at_100)
            .0,
    );
    assert_eq!(caught_up.memo.ahead_of_leader_since, None);
}

#[test]
fn a_scheduled_action_wakes_the_loop_at_its_time() {
    let switchover = decide(
        &leader()
            .failover(Some("node1"), Some("node2"), Some(at(4)))
            .0,
    );
    assert_eq!(switchover.wake_in, Some(4000));
    assert_eq!(
        switchover.notes,
        vec!["Awaiting switchover at 2026-11-23T17:20:04+00:00 (in 4 seconds)".to_string()]
    );
    let restart = decide(&leader().restart_at(at(90)).0);
    assert_eq!(restart.wake_in, Some(90_000));
    let stale = decide(
        &leader()
            .failover(Some("node1"), Some("node2"), Some(at(-16)))
            .0,
    );
    assert_eq!(
        stale.notes,
        vec!["Found a stale switchover value, cleaning up: 2026-11-23T17:19:44+00:00".to_string()]
    );
    let refused = decide(&leader().failover(Some("node2"), Some("node3"), None).0);
    assert_eq!(
        refused.notes,
        vec![
            "switchover: leader name does not match: node2 != node1".to_string(),
            "Cleaning up failover key".to_string()
        ]
    );
}

#[test]
fn a_refused_promotion_starts_the_backoff_and_writes_nothing_else() {
    let refused = decide(
        &leader()
            .running_replica(1, 1000)
            .task(TaskKind::Promote, TaskOutcome::Vetoed)
            .0,
    );
    assert_eq!(refused.memo.pre_promote_refused_at, Some(1_000_000));
    assert_eq!(
        refused.notes,
        vec![
            "Releasing the leader key voluntarily because the pre-promote script failed"
                .to_string()
        ]
    );
    let failed = decide(
        &leader()
            .running_replica(1, 1000)
            .task(TaskKind::Promote, TaskOutcome::Failed)
            .0,
    );
    assert_eq!(failed.memo.pre_promote_refused_at, None);
}

#[test]
fn row_names_are_unique() {
    let rows = rows();
    let mut names: Vec<&str> = rows.iter().map(|r| r.name).collect();
    names.sort();
    names.dedup();
    assert_eq!(names.len(), rows.len());
}
