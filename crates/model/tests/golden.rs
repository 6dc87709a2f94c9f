//! Golden tests: DCS values captured from a real Patroni 4.1.5 cluster decode into the expected
//! typed values, and encoding them again gives the same bytes.

use ferroni_model::{
    Cluster, Failover, History, KeyKind, KeyLayout, Member, RawKv, Status, SyncState, Version,
};
use std::path::{Path, PathBuf};

fn fixtures() -> PathBuf {
    ferroni_testkit::fixtures::path("patroni-4.1.5/dcs")
}

/// Every key file of a captured state, as `(key, value)`.
fn captured(state_dir: &Path) -> Vec<(String, String)> {
    ferroni_testkit::fixtures::captured_dcs(state_dir)
}

fn states() -> Vec<PathBuf> {
    let mut all = Vec::new();
    for backend in ["etcd3", "etcd2"] {
        for entry in std::fs::read_dir(fixtures().join(backend)).unwrap() {
            all.push(entry.unwrap().path());
        }
    }
    all.sort();
    assert!(all.len() >= 15, "fixtures are missing: {all:?}");
    all
}

fn cluster_of(state: &Path) -> Cluster {
    let layout = KeyLayout::new("service", "demo", None);
    let kvs = captured(state)
        .into_iter()
        .enumerate()
        .map(|(i, (key, value))| RawKv {
            key,
            value,
            version: Version(i as i64 + 1),
            lease: None,
        });
    let (cluster, warnings) = Cluster::from_kvs(&layout, kvs);
    assert!(warnings.is_empty(), "{}: {warnings:?}", state.display());
    cluster
}

#[test]
fn every_captured_value_round_trips_byte_for_byte() {
    let layout = KeyLayout::new("service", "demo", None);
    let mut checked = 0;
    for state in states() {
        for (key, value) in captured(&state) {
            let again = match layout
                .classify(&key)
                .unwrap_or_else(|| panic!("unknown key {key}"))
            {
                KeyKind::Member(_) => Member::decode(&value).unwrap().encode(),
                KeyKind::Failover => Failover::decode(&value).unwrap().encode(),
                KeyKind::Sync => SyncState::decode(&value).unwrap().encode(),
                KeyKind::History => History::decode(&value).unwrap().encode(),
                KeyKind::Status => Status::decode(&value).unwrap().encode(),
                KeyKind::Config | KeyKind::Failsafe => {
                    let map: serde_json::Map<String, serde_json::Value> =
                        serde_json::from_str(&value).unwrap();
                    serde_json::to_string(&map).unwrap()
                }
                KeyKind::Initialize | KeyKind::Leader | KeyKind::OptimeLeader => value.clone(),
            };
            assert_eq!(again, value, "{} {key}", state.display());
            checked += 1;
        }
    }
    assert!(checked > 100, "only {checked} values checked");
}

#[test]
fn the_healthy_cluster_decodes_to_the_expected_values() {
    let c = cluster_of(&fixtures().join("etcd3/healthy"));
    assert_eq!(c.initialize.as_deref(), Some("7711416411379105180"));
    assert_eq!(c.leader_name(), Some("node1"));
    assert_eq!(
        c.members
            .iter()
            .map(|m| m.name.as_str())
            .collect::<Vec<_>>(),
        ["node1", "node2", "node3"]
    );
    let node1 = &c.member("node1").unwrap().data;
    assert_eq!(node1.role, "primary");
    assert_eq!(node1.conn_url, "postgres://127.0.0.1:5541/postgres");
    assert_eq!(node1.api_url, "http://127.0.0.1:8111/patroni");
    assert_eq!(
        (node1.xlog_location, node1.timeline),
        (Some(67108864), Some(1))
    );
    assert_eq!(node1.replication_state, None);
    let node2 = &c.member("node2").unwrap().data;
    assert_eq!(node2.role, "replica");
    assert_eq!(node2.replication_state.as_deref(), Some("streaming"));
    assert_eq!(
        (node2.receive_lsn, node2.replay_lsn),
        (Some(67108864), Some(67108864))
    );
    let config = &c.config.as_ref().unwrap().value;
    assert_eq!(config["ttl"], 30);
    assert_eq!(config["postgresql"]["parameters"]["wal_keep_size"], "128MB");
    let status = c.status.as_ref().unwrap();
    assert_eq!(status.optime, 67108864);
    assert_eq!(
        status.retain_slots.as_deref().unwrap(),
        ["node1", "node2", "node3"]
    );
    assert!(c.failover.is_none() && c.sync.is_none() && c.history.is_none());
    assert_eq!(c.timeline(), 0);
}

#[test]
fn switchover_sync_quorum_tags_and_restart_states_decode() {
    let after = cluster_of(&fixtures().join("etcd3/after-switchover"));
    assert!(after.failover.as_ref().unwrap().value.is_empty());
    let h = &after.history.as_ref().unwrap().value;
    assert_eq!(h.0.len(), 1);
    assert_eq!(h.0[0].timeline, 1);
    assert_eq!(h.0[0].lsn, 67109256);
    assert_eq!(h.0[0].reason, "no recovery target specified");
    assert_eq!(h.0[0].new_leader.as_deref(), Some("node2"));
    assert_eq!(after.timeline(), 2);

    let scheduled = cluster_of(&fixtures().join("etcd3/scheduled-switchover"));
    assert_eq!(
        scheduled.failover.unwrap().value,
        Failover {
            leader: Some("node2".into()),
            member: Some("node1".into()),
            scheduled_at: Some("2026-11-23T17:25:28+00:00".into())
        }
    );

    let sync = cluster_of(&fixtures().join("etcd3/sync"))
        .sync
        .unwrap()
        .value;
    assert_eq!(
        (sync.leader.as_deref(), sync.quorum, sync.members()),
        (Some("node1"), 0, vec!["node2"])
    );
    assert!(sync.matches("NODE2"));
    let quorum = cluster_of(&fixtures().join("etcd3/quorum"))
        .sync
        .unwrap()
        .value;
    assert_eq!(
        (quorum.quorum, quorum.members()),
        (1, vec!["node2", "node3"])
    );

    let tags = cluster_of(&fixtures().join("etcd3/tags"));
    let node3 = &tags.member("node3").unwrap().data;
    assert!(
        node3.tag_true("nofailover") && node3.tag_true("clonefrom") && !node3.tag_true("nosync")
    );
    assert_eq!(node3.tags.as_ref().unwrap()["zone"], "b");
    assert_eq!(tags.failsafe.unwrap().len(), 3);

    let restart = cluster_of(&fixtures().join("etcd3/pending-restart-scheduled-restart"));
    let node3 = &restart.member("node3").unwrap().data;
    assert_eq!(node3.pending_restart, Some(true));
    assert_eq!(
        node3.pending_restart_reason.as_ref().unwrap()["max_connections"]["new_value"],
        "60"
    );
    assert_eq!(
        node3.scheduled_restart.as_ref().unwrap()["schedule"],
        "2026-11-23T18:16:40+00:00"
    );

    let paused = cluster_of(&fixtures().join("etcd3/paused"));
    assert_eq!(paused.config.as_ref().unwrap().value["pause"], true);
    assert_eq!(paused.member("node1").unwrap().data.pause, Some(true));
}

#[test]
fn malformed_values_are_absent_with_a_warning_naming_the_key() {
    let layout = KeyLayout::new("service", "demo", None);
    let kv = |key: &str, value: &str| RawKv {
        key: format!("/service/demo/{key}"),
        value: value.into(),
        version: Version(1),
        lease: None,
    };
    let (c, warnings) = Cluster::from_kvs(
        &layout,
        [
            kv("config", "{not json"),
            kv("members/node1", "[1,2]"),
            kv(
                "members/node2",
                r#"{"conn_url":"postgres://h:1/postgres","api_url":"http://h:2/patroni","state":"running","role":"replica","version":"4.1.5"}"#,
            ),
            kv("sync", "42"),
            kv("history", r#"[["x"]]"#),
            kv("status", "{\"optime\":\"soon\"}"),
            kv("failover", "{\"leader\":"),
            kv("leader", "node2"),
        ],
    );
    assert!(c.config.is_none() && c.sync.is_none() && c.history.is_none() && c.status.is_none());
    assert!(c.failover.is_none());
    assert_eq!(c.members.len(), 1);
    assert_eq!(c.leader_name(), Some("node2"));
    for key in [
        "config",
        "members/node1",
        "sync",
        "history",
        "status",
        "failover",
    ] {
        let full = format!("/service/demo/{key}");
        assert!(
            warnings.iter().any(|w| w.contains(&format!("{full}:"))),
            "no warning for {key}: {warnings:?}"
        );
    }
}

#[test]
fn legacy_forms_decode() {
    let m = Member::decode(
        "postgres://repl:pw@10.0.0.1:5432/postgres?application_name=http://10.0.0.1:8008/patroni",
    )
    .unwrap();
    assert_eq!(m.api_url, "http://10.0.0.1:8008/patroni");
    assert_eq!(
        Failover::decode("node1:node2").unwrap().member.as_deref(),
        Some("node2")
    );
    assert!(Failover::decode("").unwrap().is_empty());
    assert_eq!(Status::decode("67108864").unwrap().optime, 67108864);
    let s = Status::decode(r#"{"optime":5,"slots":"{\"a\":4}","retain_slots":"[\"a\"]"}"#).unwrap();
    assert_eq!(s.slots.unwrap()["a"], 4);
    let old = History::decode(r#"[[1,100,"no recovery target specified"]]"#).unwrap();
    assert_eq!(old.0[0].timestamp, None);
    assert_eq!(old.encode(), r#"[[1,100,"no recovery target specified"]]"#);
}
