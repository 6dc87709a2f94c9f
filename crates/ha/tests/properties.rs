//! Properties of `decide()` over generated inputs: it never promotes without the lock, and a
//! primary that cannot prove it holds the lock always steps down.

use ferroni_ha::divergence::{LocalWal, off_cluster_history};
use ferroni_ha::*;
use ferroni_model::{
    Cluster, History, HistoryEntry, LeaderKey, Member, MemberKey, Status, Version, Versioned,
};
use proptest::prelude::*;

const SYSID: &str = "42";
const STREAMING: [&str; 1] = ["node2"];

fn arb_cluster() -> impl Strategy<Value = Cluster> {
    (
        prop::option::of(prop::sample::select(vec!["node1", "node2"])),
        prop::option::of(prop::sample::select(vec!["", SYSID, "43"])),
        any::<bool>(),
        0u64..3000,
        prop::option::of(500u64..2500),
    )
        .prop_map(|(leader, initialize, with_members, optime, fork)| Cluster {
            // Timeline 1 ended at `fork`: the cluster is on timeline 2.
            history: fork.map(|lsn| Versioned {
                value: History(vec![HistoryEntry {
                    timeline: 1,
                    lsn,
                    reason: String::new(),
                    timestamp: None,
                    new_leader: None,
                }]),
                version: Version(1),
            }),
            initialize: initialize.map(str::to_string),
            leader: leader.map(|l| LeaderKey {
                name: l.into(),
                version: Version(1),
                lease: None,
            }),
            members: if with_members {
                ["node1", "node2", "node3"]
                    .iter()
                    .map(|n| MemberKey {
                        name: n.to_string(),
                        data: Member {
                            state: "running".into(),
                            role: "replica".into(),
                            ..Member::default()
                        },
                        version: Version(1),
                        lease: None,
                    })
                    .collect()
            } else {
                Vec::new()
            },
            status: Some(Status {
                optime,
                ..Status::default()
            }),
            ..Cluster::default()
        })
}

fn arb_pg() -> impl Strategy<Value = PgView> {
    let data = prop_oneof![
        Just(DataDir::Empty),
        Just(DataDir::Invalid),
        Just(DataDir::Initialized {
            sysid: SYSID.into()
        }),
        Just(DataDir::Initialized { sysid: "43".into() }),
    ];
    let state = prop_oneof![
        (any::<bool>(), 1u64..4, 0u64..3000).prop_map(|(primary, timeline, wal_position)| {
            PgState::Running(Running {
                primary,
                timeline,
                wal_position,
                streaming: STREAMING.iter().map(|s| s.to_string()).collect(),
                received: false,
                postmaster_start_time: None,
                slots: Vec::new(),
            })
        }),
        (0u64..1_000_000).prop_map(|since| PgState::Starting { since }),
        any::<bool>().prop_map(|was_primary| PgState::Stopped { was_primary }),
    ];
    // Where the local WAL ends, as a replica (running or stopped) reports it.
    (data, state).prop_map(|(data, state)| {
        let wal = match &state {
            PgState::Running(r) if !r.primary => Some(LocalWal {
                timeline: r.timeline,
                lsn: r.wal_position,
                in_recovery: true,
                history: Vec::new(),
            }),
            _ => None,
        };
        PgView { data, state, wal }
    })
}

fn arb_task() -> impl Strategy<Value = Option<Task>> {
    let kind = prop_oneof![
        Just(TaskKind::Bootstrap),
        Just(TaskKind::Clone {
            from: "node2".into()
        }),
        Just(TaskKind::Promote),
        Just(TaskKind::StartPrimary),
        Just(TaskKind::StartReplica),
        Just(TaskKind::Demote),
    ];
    let outcome = prop_oneof![
        Just(TaskOutcome::Running),
        Just(TaskOutcome::Succeeded),
        Just(TaskOutcome::Failed)
    ];
    prop::option::of((kind, outcome).prop_map(|(kind, outcome)| Task {
        kind,
        outcome,
        started: 0,
    }))
}

fn arb_peers() -> impl Strategy<Value = Vec<PeerReport>> {
    prop::collection::vec(
        (
            prop::sample::select(vec!["node2", "node3"]),
            any::<bool>(),
            any::<bool>(),
            0u64..3000,
            any::<bool>(),
            0i64..3,
        )
            .prop_map(
                |(name, reachable, primary, wal_position, nofailover, failover_priority)| {
                    PeerReport {
                        name: name.into(),
                        reachable,
                        primary,
                        wal_position,
                        timeline: 1,
                        nofailover,
                        failover_priority,
                    }
                },
            ),
        0..3,
    )
}

fn arb_input() -> impl Strategy<Value = Input> {
    (
        prop::option::of(arb_cluster()),
        prop_oneof![
            Just(LockRenewal::NotHeld),
            Just(LockRenewal::Renewed),
            Just(LockRenewal::Failed)
        ],
        arb_pg(),
        arb_task(),
        arb_peers(),
        (
            any::<bool>(),
            any::<bool>(),
            prop::sample::select(vec![0u64, 300_000]),
            any::<bool>(),
            any::<bool>(),
        ),
    )
        .prop_map(
            |(
                cluster,
                lock,
                pg,
                task,
                peers,
                (paused, nofailover, primary_start_timeout, check_timeline, watchdog_failed),
            )| Input {
                now: 1_000_000,
                wall_clock: 1_795_454_400_000,
                scheduled_restart: None,
                config: HaConfig {
                    paused,
                    primary_start_timeout,
                    check_timeline,
                    ..HaConfig::default()
                },
                me: Me {
                    name: "node1".into(),
                    nofailover,
                    failover_priority: 1,
                    watchdog_failed,
                    api_url: String::new(),
                },
                dcs: cluster.map_or(DcsView::Unreachable, DcsView::Reachable),
                lock,
                pg,
                task,
                peers,
                failsafe: FailsafeView::default(),
                parameters_changed: false,
                memo: Memo::default(),
            },
        )
}

fn leader_of(input: &Input) -> Option<&str> {
    match &input.dcs {
        DcsView::Reachable(c) => c.leader_name(),
        DcsView::Unreachable => None,
    }
}

fn holds_renewed_lock(input: &Input) -> bool {
    leader_of(input) == Some("node1") && input.lock == LockRenewal::Renewed
}

fn demotes(d: &Decision) -> bool {
    d.actions
        .iter()
        .any(|a| matches!(a, Action::Demote(_) | Action::Exit { .. }))
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(5000))]

    #[test]
    fn never_promotes_or_starts_a_primary_without_the_lock(input in arb_input()) {
        let d = decide(&input);
        for (i, action) in d.actions.iter().enumerate() {
            if matches!(action, Action::Promote | Action::StartPrimary { .. }) {
                let acquired_first = d.actions[..i].contains(&Action::AcquireLock);
                prop_assert!(holds_renewed_lock(&input) || acquired_first,
                    "{:?} without the lock: {:?} -> {:?}", action, input, d);
            }
        }
    }

    #[test]
    fn never_races_for_a_lock_someone_else_holds(input in arb_input()) {
        let d = decide(&input);
        if leader_of(&input).is_some_and(|l| l != "node1") {
            prop_assert!(!d.actions.contains(&Action::AcquireLock), "{:?} -> {:?}", input, d);
        }
    }

    #[test]
    fn a_primary_that_cannot_prove_its_lock_steps_down(input in arb_input()) {
        let primary = input.pg.is_primary();
        let valid_data = input.pg.data == DataDir::Initialized { sysid: SYSID.into() };
        let proves_lock = holds_renewed_lock(&input);
        let someone_else = leader_of(&input).is_some_and(|l| l != "node1");
        let lost = matches!(input.dcs, DcsView::Unreachable)
            || (leader_of(&input) == Some("node1") && input.lock != LockRenewal::Renewed)
            || someone_else;
        if primary && valid_data && !input.config.paused && lost && !proves_lock {
            let d = decide(&input);
            prop_assert!(demotes(&d), "a primary kept running without its lock: {:?} -> {:?}", input, d);
        }
    }

    #[test]
    fn without_its_required_watchdog_a_node_never_becomes_primary(input in arb_input()) {
        if input.me.watchdog_failed && !input.config.paused {
            let d = decide(&input);
            prop_assert!(
                !d.actions.iter().any(|a| matches!(
                    a,
                    Action::AcquireLock | Action::Promote | Action::StartPrimary { .. } | Action::Bootstrap
                )),
                "{:?} -> {:?}", input, d
            );
        }
    }

    #[test]
    fn a_node_whose_wal_left_the_clusters_history_never_takes_the_lock(input in arb_input()) {
        // (A bootstrap that just finished takes its lock whatever a generated WAL says.)
        if let (DcsView::Reachable(c), None) = (&input.dcs, &input.task)
            && off_cluster_history(input.pg.wal.as_ref(), c).is_some()
        {
            let d = decide(&input);
            prop_assert!(!d.actions.contains(&Action::AcquireLock), "{:?} -> {:?}", input, d);
        }
    }

    #[test]
    fn every_decision_explains_itself(input in arb_input()) {
        let d = decide(&input);
        prop_assert!(!d.log.is_empty());
        if d.actions.iter().any(|a| matches!(a, Action::AcquireLock | Action::Initialize { create_new: true, .. })) {
            prop_assert!(d.on_failure.is_some(), "a race without a line for losing it: {:?}", d);
        }
    }
}
