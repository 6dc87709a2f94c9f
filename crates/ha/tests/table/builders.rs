//! The scenarios rows are built from: a healthy three-node cluster seen by node1, and the
//! changes a row makes to it.

pub(crate) use ferroni_ha::divergence::LocalWal;
pub(crate) use ferroni_ha::*;
pub(crate) use ferroni_model::{
    Cluster, Failover, History, HistoryEntry, LeaderKey, Member, MemberKey, Status, Version,
    Versioned,
};
pub(crate) use serde_json::json;

pub(crate) const SYSID: &str = "7711416411379105180";
/// The replicas streaming from a running primary in every scenario.
pub(crate) const STREAMING: [&str; 2] = ["node2", "node3"];
/// The wall clock of every scenario: 2026-11-23T17:20:00+00:00.
pub(crate) const WALL: i64 = 1_795_454_400_000;
/// When the running server of every scenario started.
pub(crate) const STARTED: &str = "2026-11-23 08:00:00.000 UTC";

/// The slots a primary node1 keeps for the other members.
pub(crate) fn member_slots() -> Vec<String> {
    STREAMING.iter().map(|s| s.to_string()).collect()
}
/// `WALL` shifted by `seconds`, as Patroni writes `scheduled_at`.
pub(crate) fn at(seconds: i64) -> String {
    let total = 17 * 3600 + 20 * 60 + seconds;
    format!(
        "2026-11-23T{:02}:{:02}:{:02}+00:00",
        total / 3600,
        total % 3600 / 60,
        total % 60
    )
}

pub(crate) fn member(name: &str, role: &str, state: &str) -> MemberKey {
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
pub(crate) struct S(pub(crate) Input);

pub(crate) fn healthy_cluster(leader: Option<&str>) -> Cluster {
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
pub(crate) fn leader() -> S {
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
            api_url: "http://127.0.0.1:8008/node1".into(),
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
                streaming: STREAMING.iter().map(|s| s.to_string()).collect(),
                received: false,
                postmaster_start_time: Some(STARTED.into()),
                slots: member_slots(),
            }),
            wal: None,
        },
        task: None,
        peers: Vec::new(),
        failsafe: FailsafeView::default(),
        parameters_changed: false,
        memo: Memo::default(),
    })
}

/// node1 is a replica of node2.
pub(crate) fn replica() -> S {
    leader()
        .leader_key(Some("node2"))
        .lock(LockRenewal::NotHeld)
        .running_replica(1, 1000)
}

/// No leader key; node1 runs as a replica; peers node2 and node3 answer behind it.
pub(crate) fn no_leader() -> S {
    replica()
        .leader_key(None)
        .peer("node2", 900, false)
        .peer("node3", 800, false)
}

impl S {
    pub(crate) fn cluster(mut self, f: impl FnOnce(&mut Cluster)) -> S {
        if let DcsView::Reachable(c) = &mut self.0.dcs {
            f(c);
        }
        self
    }
    pub(crate) fn leader_key(self, name: Option<&str>) -> S {
        self.cluster(|c| {
            c.leader = name.map(|l| LeaderKey {
                name: l.into(),
                version: Version(3),
                lease: Some(7),
            })
        })
    }
    pub(crate) fn lock(mut self, lock: LockRenewal) -> S {
        self.0.lock = lock;
        self
    }
    pub(crate) fn running_primary(mut self, timeline: u64, wal: u64) -> S {
        self.0.pg.state = PgState::Running(Running {
            primary: true,
            timeline,
            wal_position: wal,
            streaming: STREAMING.iter().map(|s| s.to_string()).collect(),
            received: false,
            postmaster_start_time: Some(STARTED.into()),
            slots: member_slots(),
        });
        self.0.pg.wal = None;
        self
    }
    pub(crate) fn running_replica(mut self, timeline: u64, wal: u64) -> S {
        self.0.pg.state = PgState::Running(Running {
            primary: false,
            timeline,
            wal_position: wal,
            streaming: STREAMING.iter().map(|s| s.to_string()).collect(),
            received: false,
            postmaster_start_time: Some(STARTED.into()),
            slots: member_slots(),
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
    pub(crate) fn stopped(mut self, was_primary: bool) -> S {
        self.0.pg.state = PgState::Stopped { was_primary };
        self.0.pg.wal = None;
        self
    }
    /// Stopped cleanly, its WAL ending at `lsn` on `timeline` (a former primary: its shutdown
    /// checkpoint; a replica: its minimum recovery end).
    pub(crate) fn stopped_at(mut self, was_primary: bool, timeline: u64, lsn: u64) -> S {
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
    pub(crate) fn local_history(mut self, history: &[(u64, u64)]) -> S {
        if let Some(w) = &mut self.0.pg.wal {
            w.history = history.to_vec();
        }
        self
    }
    pub(crate) fn starting(mut self, since: u64) -> S {
        self.0.pg.state = PgState::Starting { since };
        self
    }
    pub(crate) fn received(mut self) -> S {
        if let PgState::Running(r) = &mut self.0.pg.state {
            r.received = true;
        }
        self
    }
    pub(crate) fn data(mut self, data: DataDir) -> S {
        self.0.pg.data = data;
        self
    }
    pub(crate) fn unreachable(mut self) -> S {
        self.0.dcs = DcsView::Unreachable;
        self
    }
    pub(crate) fn task(mut self, kind: TaskKind, outcome: TaskOutcome) -> S {
        self.0.task = Some(Task {
            kind,
            outcome,
            started: 0,
        });
        self
    }
    pub(crate) fn peer(mut self, name: &str, wal: u64, primary: bool) -> S {
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
    pub(crate) fn peer_with(mut self, name: &str, f: impl FnOnce(&mut PeerReport)) -> S {
        if let Some(p) = self.0.peers.iter_mut().find(|p| p.name == name) {
            f(p);
        }
        self
    }
    pub(crate) fn watchdog_failed(mut self) -> S {
        self.0.me.watchdog_failed = true;
        self
    }
    pub(crate) fn nofailover(mut self) -> S {
        self.0.me.nofailover = true;
        self
    }
    pub(crate) fn priority(mut self, p: i64) -> S {
        self.0.me.failover_priority = p;
        self
    }
    pub(crate) fn config(mut self, f: impl FnOnce(&mut HaConfig)) -> S {
        f(&mut self.0.config);
        self
    }
    pub(crate) fn parameters_changed(mut self) -> S {
        self.0.parameters_changed = true;
        self
    }
    pub(crate) fn paused(self) -> S {
        self.config(|c| c.paused = true)
    }
    pub(crate) fn empty_cluster(self) -> S {
        self.cluster(|c| *c = Cluster::default())
    }
    pub(crate) fn member_tags(self, name: &str, tags: serde_json::Value) -> S {
        self.cluster(|c| {
            if let Some(m) = c.members.iter_mut().find(|m| m.name == name) {
                m.data.tags = tags.as_object().cloned();
            }
        })
    }
    pub(crate) fn failover(
        self,
        leader: Option<&str>,
        member: Option<&str>,
        at: Option<String>,
    ) -> S {
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
    pub(crate) fn member_state(self, name: &str, state: &str) -> S {
        self.cluster(|c| {
            if let Some(m) = c.members.iter_mut().find(|m| m.name == name) {
                m.data.state = state.into();
            }
        })
    }
    pub(crate) fn streaming(mut self, names: &[&str]) -> S {
        if let PgState::Running(r) = &mut self.0.pg.state {
            r.streaming = names.iter().map(|s| s.to_string()).collect();
        }
        self
    }
    pub(crate) fn memo(mut self, memo: Memo) -> S {
        self.0.memo = memo;
        self
    }
    pub(crate) fn failsafe(mut self, leader: Option<&str>, members_accept: bool) -> S {
        self.0.failsafe = FailsafeView {
            leader: leader.map(Into::into),
            members_accept,
        };
        self
    }
    pub(crate) fn restart_at(mut self, at: String) -> S {
        self.0.scheduled_restart = Some(ScheduledRestart {
            at,
            postmaster_start_time: Some(STARTED.into()),
        });
        self
    }
    /// The server was restarted after the restart was scheduled.
    pub(crate) fn restarted_since_scheduled(mut self) -> S {
        if let PgState::Running(r) = &mut self.0.pg.state {
            r.postmaster_start_time = Some("2026-12-04 06:00:00.000 UTC".into());
        }
        self
    }
    pub(crate) fn only_me(self) -> S {
        self.cluster(|c| c.members.retain(|m| m.name == "node1"))
    }
}

pub(crate) struct Row {
    pub(crate) name: &'static str,
    pub(crate) input: S,
    pub(crate) actions: Vec<Action>,
    pub(crate) log: &'static str,
    pub(crate) on_failure: Option<&'static str>,
}

pub(crate) fn row(name: &'static str, input: S, actions: Vec<Action>, log: &'static str) -> Row {
    Row {
        name,
        input,
        actions,
        log,
        on_failure: None,
    }
}

pub(crate) fn row_or(
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

pub(crate) use Action::*;

/// node1, a former primary on timeline 1 with WAL up to `wal`, now a replica of node2, which
/// forked timeline 2 off at 100.
pub(crate) fn diverged_replica(wal: u64) -> S {
    replica()
        .running_replica(1, wal)
        .memo(suspect())
        .cluster(forked_at_100)
}

/// Starts PostgreSQL as a replica of node2, rewound first or not.
pub(crate) fn start_following_node2(rewind: bool) -> Vec<Action> {
    vec![StartReplica {
        leader: Some("node2".into()),
        rewind,
    }]
}

/// This node stepped down as a primary and was not rewound: its WAL is checked.
pub(crate) fn suspect() -> Memo {
    Memo {
        diverge_check: true,
        ..Memo::default()
    }
}

/// The leader node2 runs on timeline 2, which forked off timeline 1 at 0/64 (`/history`).
pub(crate) fn forked_at_100(c: &mut Cluster) {
    c.history = Some(Versioned {
        value: History(vec![entry(1)]),
        version: Version(9),
    });
    leader_on_timeline(c, 2)
}

/// The leader node2's member key says it runs on `timeline`.
pub(crate) fn leader_on_timeline(c: &mut Cluster, timeline: u64) {
    for m in &mut c.members {
        if m.name == "node2" {
            m.data.timeline = Some(timeline);
        }
    }
}

pub(crate) fn entry(timeline: u64) -> HistoryEntry {
    entry_at(timeline, 100 * timeline)
}

/// Timeline `timeline` ended at `lsn`.
pub(crate) fn entry_at(timeline: u64, lsn: u64) -> HistoryEntry {
    HistoryEntry {
        timeline,
        lsn,
        reason: "no recovery target specified".into(),
        timestamp: None,
        new_leader: None,
    }
}
