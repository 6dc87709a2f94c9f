//! The verdicts on the REST API's requests, row by row: each row is a named input and the reply
//! Patroni gives (status and text), or the go-ahead.

use ferroni_ha::promotable;
use ferroni_ha::requests::*;
use ferroni_model::{Cluster, LeaderKey, Member, MemberKey, SyncState, Version, Versioned};
use serde_json::{Map, Value, json};
use std::fmt::Debug;

/// One case: what the function is given and what it must answer.
struct Row<I, O> {
    name: &'static str,
    input: I,
    expected: O,
}

fn row<I, O>(name: &'static str, input: I, expected: O) -> Row<I, O> {
    Row {
        name,
        input,
        expected,
    }
}

/// Judges every row and fails once, listing every row that answered otherwise.
fn assert_rows<I: Debug, O: PartialEq + Debug>(rows: &[Row<I, O>], judge: impl Fn(&I) -> O) {
    let mut names: Vec<&str> = rows.iter().map(|r| r.name).collect();
    names.sort_unstable();
    names.dedup();
    assert_eq!(names.len(), rows.len(), "row names must be unique");
    let failures: Vec<String> = rows
        .iter()
        .filter_map(|r| {
            let got = judge(&r.input);
            (got != r.expected).then(|| {
                format!(
                    "{}\n  input    {:?}\n  expected {:?}\n  got      {:?}",
                    r.name, r.input, r.expected, got
                )
            })
        })
        .collect();
    assert!(
        failures.is_empty(),
        "{} of {} rows failed:\n{}",
        failures.len(),
        rows.len(),
        failures.join("\n")
    );
}

/// A refusal as a row expects it: status, text, and the reason only the log shows.
type Answer = Option<(u16, String, Option<&'static str>)>;

fn answer(refusal: Option<Refusal>) -> Answer {
    refusal.map(|r| (r.status, r.text, r.reason))
}

const ONLY_THE_LEADER: &str =
    "switchover is not possible: cluster does not have members except leader";

fn refused(status: u16, text: &str) -> Answer {
    Some((status, text.into(), None))
}

// --- clusters -----------------------------------------------------------------------------

fn member(name: &str, state: &str, tags: Option<Value>) -> MemberKey {
    MemberKey {
        name: name.into(),
        data: Member {
            conn_url: format!("postgres://127.0.0.1:5432/{name}"),
            api_url: format!("http://127.0.0.1:8008/{name}"),
            state: state.into(),
            role: "replica".into(),
            tags: tags.and_then(|t| t.as_object().cloned()),
            ..Member::default()
        },
        version: Version(1),
        lease: None,
    }
}

/// node1 leads node2 and node3, all running, no synchronous mode.
fn healthy() -> Cluster {
    Cluster {
        initialize: Some("7711416411379105180".into()),
        config: Some(Versioned {
            value: Map::new(),
            version: Version(2),
        }),
        leader: Some(LeaderKey {
            name: "node1".into(),
            version: Version(3),
            lease: Some(7),
        }),
        members: vec![
            member("node1", "running", None),
            member("node2", "running", None),
            member("node3", "running", None),
        ],
        ..Cluster::default()
    }
}

/// `name`'s member key replaced.
fn with_member(mut cluster: Cluster, replaced: MemberKey) -> Cluster {
    for m in &mut cluster.members {
        if m.name == replaced.name {
            *m = replaced.clone();
        }
    }
    cluster
}

/// The dynamic configuration's `synchronous_mode`, and the `sync` key naming `standbys`.
fn synchronous(mut cluster: Cluster, mode: Value, standbys: Option<&str>) -> Cluster {
    if let Some(config) = &mut cluster.config {
        config.value.insert("synchronous_mode".into(), mode);
    }
    cluster.sync = standbys.map(|s| Versioned {
        value: SyncState {
            leader: Some("node1".into()),
            quorum: 0,
            sync_standby: Some(s.into()),
        },
        version: Version(4),
    });
    cluster
}

// --- failover -----------------------------------------------------------------------------

#[derive(Debug)]
struct FailoverCase {
    cluster: Cluster,
    leader: Option<&'static str>,
    candidate: Option<&'static str>,
    action: &'static str,
}

fn switchover(
    cluster: Cluster,
    leader: &'static str,
    candidate: Option<&'static str>,
) -> FailoverCase {
    FailoverCase {
        cluster,
        leader: Some(leader),
        candidate,
        action: "switchover",
    }
}

fn failover(cluster: Cluster, candidate: &'static str) -> FailoverCase {
    FailoverCase {
        cluster,
        leader: None,
        candidate: Some(candidate),
        action: "failover",
    }
}

#[test]
fn failover_refusals_as_patroni() {
    let no_candidates = "switchover is not possible: no good candidates have been found";
    let stopped = |name| member(name, "stopped", None);
    let rows = vec![
        row(
            "the named leader is not the leader",
            switchover(healthy(), "node2", Some("node3")),
            refused(412, "leader name does not match"),
        ),
        row(
            "the candidate has no member key",
            switchover(healthy(), "node1", Some("node9")),
            refused(412, "candidate does not exists"),
        ),
        row(
            "a switchover in synchronous mode goes to a synchronous standby only",
            switchover(
                synchronous(healthy(), json!(true), Some("node3")),
                "node1",
                Some("node2"),
            ),
            refused(412, "candidate name does not match with sync_standby"),
        ),
        row(
            "synchronous mode as Patroni's parse_bool reads 'on'",
            switchover(
                synchronous(healthy(), json!("on"), Some("node3")),
                "node1",
                Some("node2"),
            ),
            refused(412, "candidate name does not match with sync_standby"),
        ),
        row(
            "a failover in synchronous mode may go to an asynchronous standby",
            failover(synchronous(healthy(), json!(true), Some("node3")), "node2"),
            None,
        ),
        row(
            "quorum mode does not restrict the candidate",
            switchover(
                synchronous(healthy(), json!("quorum"), Some("node3")),
                "node1",
                Some("node2"),
            ),
            None,
        ),
        row(
            "synchronous standbys are matched case-insensitively",
            switchover(
                synchronous(healthy(), json!(true), Some("NODE3")),
                "node1",
                Some("node3"),
            ),
            None,
        ),
        row(
            "synchronous mode without a sync key has no candidate",
            switchover(synchronous(healthy(), json!(true), None), "node1", None),
            refused(412, "switchover is not possible: can not find sync_standby"),
        ),
        row(
            "synchronous mode goes to the synchronous standby",
            switchover(
                synchronous(healthy(), json!(true), Some("node3")),
                "node1",
                None,
            ),
            None,
        ),
        row(
            "the leader alone",
            switchover(
                Cluster {
                    members: vec![member("node1", "running", None)],
                    ..healthy()
                },
                "node1",
                None,
            ),
            refused(412, ONLY_THE_LEADER),
        ),
        row(
            "members without a REST API do not count",
            switchover(
                Cluster {
                    members: healthy()
                        .members
                        .into_iter()
                        .map(|mut m| {
                            if m.name != "node1" {
                                m.data.api_url.clear();
                            }
                            m
                        })
                        .collect(),
                    ..healthy()
                },
                "node1",
                None,
            ),
            refused(412, ONLY_THE_LEADER),
        ),
        row(
            "the candidate is not running",
            switchover(
                with_member(healthy(), stopped("node2")),
                "node1",
                Some("node2"),
            ),
            refused(412, no_candidates),
        ),
        row(
            "the candidate is tagged nofailover",
            switchover(
                with_member(
                    healthy(),
                    member("node2", "running", Some(json!({"nofailover": true}))),
                ),
                "node1",
                Some("node2"),
            ),
            refused(412, no_candidates),
        ),
        row(
            "the candidate has failover_priority 0",
            switchover(
                with_member(
                    healthy(),
                    member("node2", "running", Some(json!({"failover_priority": 0}))),
                ),
                "node1",
                Some("node2"),
            ),
            refused(412, no_candidates),
        ),
        row(
            "no other member is running",
            switchover(
                with_member(with_member(healthy(), stopped("node2")), stopped("node3")),
                "node1",
                None,
            ),
            refused(412, no_candidates),
        ),
        row(
            "a failover names its action",
            failover(with_member(healthy(), stopped("node2")), "node2"),
            refused(
                412,
                "failover is not possible: no good candidates have been found",
            ),
        ),
        row(
            "a switchover to a healthy candidate",
            switchover(healthy(), "node1", Some("node2")),
            None,
        ),
        row(
            "a switchover to any member, one of them healthy",
            switchover(with_member(healthy(), stopped("node2")), "node1", None),
            None,
        ),
        row(
            "a failover to a healthy candidate",
            failover(healthy(), "node3"),
            None,
        ),
    ];
    assert_eq!(rows.len(), 19);
    assert_rows(&rows, |c| {
        answer(failover_refusal(
            &c.cluster,
            c.leader,
            c.candidate,
            c.action,
        ))
    });
}

// --- restart ------------------------------------------------------------------------------

/// A replica running 15.18 with no parameter change pending and no task.
fn replica() -> RestartNode<'static> {
    RestartNode {
        role: "replica",
        server_version: Some(150_018),
        restart_pending: false,
        task: None,
    }
}

fn mismatch(reason: &'static str) -> Answer {
    Some((
        503,
        "restart conditions are not satisfied".into(),
        Some(reason),
    ))
}

#[test]
fn restart_refusals_as_patroni() {
    let any = RestartWanted::default();
    let role = |role| RestartWanted {
        role: Some(role),
        ..any
    };
    let version = |v| RestartWanted {
        postgres_version: Some(v),
        ..any
    };
    let pending = RestartWanted {
        restart_pending: true,
        ..any
    };
    let busy = RestartNode {
        task: Some("reinitialize"),
        ..replica()
    };
    let rows = vec![
        row(
            "another role",
            (role("primary"), replica()),
            mismatch("host role mismatch"),
        ),
        row(
            "the running version",
            (version("15.18"), replica()),
            mismatch("postgres version mismatch"),
        ),
        row(
            "an older version",
            (version("14.9"), replica()),
            mismatch("postgres version mismatch"),
        ),
        row(
            "an unreadable version",
            (version("fifteen"), replica()),
            mismatch("postgres version mismatch"),
        ),
        row(
            "the running version unknown",
            (
                version("15.19"),
                RestartNode {
                    server_version: None,
                    ..replica()
                },
            ),
            mismatch("postgres version mismatch"),
        ),
        row(
            "no restart pending",
            (pending, replica()),
            mismatch("pending restart flag is not set"),
        ),
        row(
            "a task in flight",
            (any, busy),
            refused(503, "reinitialize already in progress"),
        ),
        row(
            "unmet conditions are answered before the task",
            (role("primary"), busy),
            mismatch("host role mismatch"),
        ),
        row("no conditions", (any, replica()), None),
        row("the same role", (role("replica"), replica()), None),
        row("a newer version", (version("15.19"), replica()), None),
        row(
            "a newer version before 10",
            (
                version("9.6.25"),
                RestartNode {
                    server_version: Some(90_624),
                    ..replica()
                },
            ),
            None,
        ),
        row(
            "a restart pending",
            (
                pending,
                RestartNode {
                    restart_pending: true,
                    ..replica()
                },
            ),
            None,
        ),
    ];
    assert_eq!(rows.len(), 13);
    assert_rows(&rows, |(wanted, node)| {
        answer(restart_refusal(wanted, node))
    });
}

// --- reinitialize -------------------------------------------------------------------------

#[derive(Debug)]
struct ReinitCase {
    leader: Option<&'static str>,
    task: Option<&'static str>,
    force: bool,
}

/// node2 asks to re-clone itself.
fn reinit(leader: Option<&'static str>, task: Option<&'static str>, force: bool) -> ReinitCase {
    ReinitCase {
        leader,
        task,
        force,
    }
}

fn go(leader: &'static str, cancel_task: bool) -> Result<(&'static str, bool), Answer> {
    Ok((leader, cancel_task))
}

fn no(text: &str) -> Result<(&'static str, bool), Answer> {
    Err(refused(503, text))
}

#[test]
fn reinit_plans_as_patroni() {
    let no_leader = "Cluster has no leader, can not reinitialize";
    let rows = vec![
        row("no leader", reinit(None, None, false), no(no_leader)),
        row(
            "no leader, even with force",
            reinit(None, Some("restart"), true),
            no(no_leader),
        ),
        row(
            "I am the leader",
            reinit(Some("node2"), None, false),
            no("I am the leader, can not reinitialize"),
        ),
        row(
            "a task in flight",
            reinit(Some("node1"), Some("restart"), false),
            no("restart already in progress"),
        ),
        row(
            "a task in flight, forced: it is cancelled",
            reinit(Some("node1"), Some("restart"), true),
            go("node1", true),
        ),
        row(
            "nothing in flight",
            reinit(Some("node1"), None, false),
            go("node1", false),
        ),
        row(
            "nothing in flight, forced: nothing to cancel",
            reinit(Some("node1"), None, true),
            go("node1", false),
        ),
    ];
    assert_eq!(rows.len(), 7);
    assert_rows(&rows, |c| {
        reinit_plan(c.leader, "node2", c.task, c.force)
            .map(|plan| (plan.leader, plan.cancel_task))
            .map_err(|r| answer(Some(r)))
    });
}

// --- failsafe -----------------------------------------------------------------------------

#[test]
fn failsafe_acceptance_as_patroni() {
    let off = Err((
        FailsafeRefusal::ModeOff,
        refused(502, "failsafe mode is not enabled"),
    ));
    let primary = Err((
        FailsafeRefusal::RunningAsPrimary,
        refused(500, "Running as a leader"),
    ));
    let rows = vec![
        row("failsafe mode off", (false, false), off.clone()),
        row("failsafe mode off, a primary", (false, true), off),
        row("running as a primary", (true, true), primary),
        row("a replica in failsafe mode", (true, false), Ok(())),
    ];
    assert_eq!(rows.len(), 4);
    assert_rows(&rows, |&(mode, primary)| {
        failsafe_acceptance(mode, primary).map_err(|f| (f, answer(Some(f.refusal()))))
    });
}

// --- the shared rules ---------------------------------------------------------------------

#[test]
fn promotable_follows_the_one_rule() {
    let rows = vec![
        row("running", member("node2", "running", None), true),
        row("stopped", member("node2", "stopped", None), false),
        row("starting", member("node2", "starting", None), false),
        row(
            "tagged nofailover",
            member("node2", "running", Some(json!({"nofailover": true}))),
            false,
        ),
        row(
            "failover_priority 0",
            member("node2", "running", Some(json!({"failover_priority": 0}))),
            false,
        ),
        row(
            "failover_priority as text",
            member("node2", "running", Some(json!({"failover_priority": "0"}))),
            false,
        ),
        row(
            "failover_priority 2",
            member("node2", "running", Some(json!({"failover_priority": 2}))),
            true,
        ),
        row(
            "the nofailover tag wins over the priority",
            member(
                "node2",
                "running",
                Some(json!({"nofailover": false, "failover_priority": 0})),
            ),
            true,
        ),
    ];
    assert_eq!(rows.len(), 8);
    assert_rows(&rows, promotable);
}

#[test]
fn versions_as_patroni_reads_them() {
    let rows = vec![
        row("X.Y from 10", "15.2", Some(150_002)),
        row("X.Y.Z before 10", "9.6.3", Some(90_603)),
        row("X.Y before 10", "9.6", None),
        row("X.Y.Z from 10", "15.2.1", None),
        row("a major alone", "15", None),
        row("not a number", "abc", None),
    ];
    assert_eq!(rows.len(), 6);
    assert_rows(&rows, |v| version_number(v));
}

#[test]
fn booleans_as_patroni_reads_them() {
    let rows = vec![
        row("true", Some(json!(true)), true),
        row("false", Some(json!(false)), false),
        row("1", Some(json!(1)), true),
        row("2", Some(json!(2)), false),
        row("'ON'", Some(json!("ON")), true),
        row("'y'", Some(json!("y")), true),
        row("'off'", Some(json!("off")), false),
        row("null", Some(Value::Null), false),
        row("missing", None, false),
    ];
    assert_eq!(rows.len(), 9);
    assert_rows(&rows, |v| truthy(v.as_ref()));
}
