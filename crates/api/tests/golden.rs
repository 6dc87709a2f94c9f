//! The health-check status codes and the `/patroni` body match what Patroni 4.1.5 answered for
//! the same cluster state (`tests/fixtures/patroni-4.1.5/rest/healthy/`).

use ferroni_api::cluster_view::{cluster_body, config_body, history_body};
use ferroni_api::health::{Method, status_code};
use ferroni_api::metrics::metrics;
use ferroni_api::status::status_json;
use ferroni_api::{NodeState, PgStatus, ReplicationRow};
use ferroni_model::{Cluster, KeyLayout, RawKv, Version};
use std::path::{Path, PathBuf};

fn rest(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../tests/fixtures/patroni-4.1.5/rest")
        .join(name)
}

fn row(name: &str) -> ReplicationRow {
    ReplicationRow {
        usename: "replicator".into(),
        application_name: name.into(),
        client_addr: Some("127.0.0.1".into()),
        state: "streaming".into(),
        sync_state: "async".into(),
        sync_priority: 0,
    }
}

/// node1 (leader) and node2 (replica) as captured in the healthy state.
fn healthy() -> (NodeState, NodeState) {
    let common = NodeState {
        cluster: Some(dcs_cluster("healthy")),
        scope: "demo".into(),
        version: "4.1.5".into(),
        dcs_last_seen: 1795454057,
        ttl: 30,
        maximum_lag_on_failover: 1048576,
        cluster_optime: 67108864,
        database_system_identifier: Some("7711416411379105180".into()),
        ..NodeState::default()
    };
    let leader = NodeState {
        name: "node1".into(),
        holds_lock: true,
        pg: PgStatus {
            state: "running".into(),
            role: "primary".into(),
            postmaster_start_time: Some("2026-11-23 17:14:07.391574+00:00".into()),
            server_version: Some(150018),
            location: Some(67108960),
            timeline: Some(1),
            replication: vec![row("node3"), row("node2")],
            ..PgStatus::default()
        },
        ..common.clone()
    };
    let replica = NodeState {
        name: "node2".into(),
        pg: PgStatus {
            state: "running".into(),
            role: "replica".into(),
            postmaster_start_time: Some("2026-11-23 17:14:09.825042+00:00".into()),
            server_version: Some(150018),
            received_location: Some(67108960),
            replayed_location: Some(67108960),
            timeline: Some(1),
            replication_state: Some("streaming".into()),
            ..PgStatus::default()
        },
        ..common
    };
    (leader, replica)
}

/// The body of a raw HTTP response.
fn body(file: &str) -> String {
    let raw = std::fs::read_to_string(rest(file)).unwrap();
    raw.split_once("\r\n\r\n")
        .map(|(_, b)| b.to_string())
        .unwrap_or_default()
}

#[test]
fn the_patroni_body_is_patronis_byte_for_byte() {
    let (leader, replica) = healthy();
    assert_eq!(status_json(&leader), body("healthy/leader-patroni.http"));
    assert_eq!(status_json(&replica), body("healthy/replica-patroni.http"));
}

/// `nodes` as captured with `failsafe_mode: true`: the cluster (with its `/failsafe` key) read
/// from the DCS capture `state`.
fn with_failsafe(nodes: &[&NodeState], state: &str) -> Vec<NodeState> {
    let cluster = dcs_cluster(state);
    assert!(cluster.failsafe.is_some(), "{state} has no /failsafe key");
    nodes
        .iter()
        .map(|n| NodeState {
            failsafe_mode: true,
            cluster: Some(cluster.clone()),
            ..(*n).clone()
        })
        .collect()
}

/// The cluster as captured in the DCS in `state` (`tests/fixtures/patroni-4.1.5/dcs/etcd3/<state>`).
fn dcs_cluster(state: &str) -> Cluster {
    let dir = ferroni_testkit::fixtures::path("patroni-4.1.5/dcs/etcd3").join(state);
    let kvs = ferroni_testkit::fixtures::captured_dcs(&dir)
        .into_iter()
        .map(|(key, value)| RawKv {
            key,
            value,
            version: Version(1),
            lease: None,
        });
    let (cluster, warnings) = Cluster::from_kvs(&KeyLayout::new("service", "demo", None), kvs);
    assert!(warnings.is_empty(), "{warnings:?}");
    cluster
}

#[test]
fn cluster_history_and_config_bodies_are_patronis() {
    let healthy = dcs_cluster("healthy");
    assert_eq!(
        cluster_body(&healthy, "demo"),
        body("healthy/leader-cluster.http")
    );
    assert_eq!(
        config_body(&healthy).unwrap(),
        body("healthy/leader-config.http")
    );
    let history = dcs_cluster("history-runB");
    assert_eq!(
        history_body(&history),
        body("history-runB/leader-history.http")
    );
    assert_eq!(history_body(&healthy), "[]");
    let scheduled = dcs_cluster("scheduled-switchover");
    assert_eq!(
        cluster_body(&scheduled, "demo"),
        body("scheduled-switchover/leader-cluster.http")
    );
}

#[test]
fn the_status_matrix_of_a_healthy_cluster() {
    let (leader, replica) = healthy();
    assert!(compare_matrix("healthy/status-matrix.tsv", &[&leader, &replica], &[]) >= 130);
}

#[test]
fn the_status_matrix_with_tags() {
    let (leader, replica) = healthy();
    let tags = |v: serde_json::Value| v.as_object().cloned().unwrap();
    let priority = NodeState {
        tags: tags(
            serde_json::json!({"nofailover": false, "nosync": false, "failover_priority": 5, "sync_priority": 2}),
        ),
        ..replica.clone()
    };
    let tagged = NodeState {
        name: "node3".into(),
        tags: tags(
            serde_json::json!({"nofailover": true, "noloadbalance": true, "clonefrom": true, "failover_priority": 0, "replicatefrom": "node2", "zone": "b"}),
        ),
        ..replica
    };
    let nodes = with_failsafe(&[&leader, &priority, &tagged], "tags");
    let nodes: Vec<&NodeState> = nodes.iter().collect();
    assert!(compare_matrix("tags/status-matrix.tsv", &nodes, &[]) >= 190);
    // A tag filter on a node whose tags match still honours noloadbalance; without it, it selects.
    let untagged_lb = NodeState {
        tags: tags(serde_json::json!({"zone": "b"})),
        ..tagged.clone()
    };
    assert_eq!(
        status_code(Method::Get, "replica", "tag_zone=b", &untagged_lb),
        200
    );
    assert_eq!(
        status_code(Method::Get, "replica", "tag_zone=a", &untagged_lb),
        503
    );
    assert_eq!(
        status_code(Method::Get, "replica", "tag_zone=b", &tagged),
        503
    );
}

#[test]
fn the_status_matrices_of_paused_pending_restart_and_failsafe_clusters() {
    let (leader, replica) = healthy();
    let paused = |n: &NodeState| NodeState {
        paused: true,
        ..n.clone()
    };
    assert!(
        compare_matrix(
            "paused/status-matrix.tsv",
            &[&paused(&leader), &paused(&replica)],
            &[]
        ) >= 130
    );
    let pending = |n: &NodeState| {
        let mut n = n.clone();
        n.pg.pending_restart_reason =
            serde_json::json!({"max_connections": {"old_value": "50", "new_value": "60"}})
                .as_object()
                .cloned()
                .unwrap();
        n
    };
    assert!(
        compare_matrix(
            "pending-restart/status-matrix.tsv",
            &[&pending(&leader), &pending(&replica)],
            &[]
        ) >= 130
    );
    let nodes = with_failsafe(&[&leader, &replica], "failsafe");
    let nodes: Vec<&NodeState> = nodes.iter().collect();
    assert!(compare_matrix("failsafe/status-matrix.tsv", &nodes, &[]) >= 130);
    // The body of GET /failsafe is the topology, as Patroni's.
    assert_eq!(
        ferroni_api::json::python_json(&serde_json::Value::Object(
            nodes[0].cluster.as_ref().unwrap().failsafe.clone().unwrap()
        )),
        body("failsafe/leader-failsafe.http")
    );
}

#[test]
fn the_status_matrices_of_synchronous_and_quorum_clusters() {
    let (leader, replica) = healthy();
    let standby = |name: &str, sync: bool, quorum: bool| NodeState {
        name: name.into(),
        sync_standby: sync,
        quorum_standby: quorum,
        ..replica.clone()
    };
    let nodes = [
        &leader,
        &standby("node2", true, false),
        &standby("node3", false, false),
    ];
    assert!(compare_matrix("sync/status-matrix.tsv", &nodes, &[]) >= 190);
    let nodes = [
        &leader,
        &standby("node2", false, true),
        &standby("node3", false, true),
    ];
    assert!(compare_matrix("quorum/status-matrix.tsv", &nodes, &[]) >= 190);
}

/// Compares every code of a captured matrix with ours for `nodes` (in the matrix's column order);
/// returns how many were compared.
fn compare_matrix(file: &str, nodes: &[&NodeState], skip: &[&str]) -> usize {
    let matrix = std::fs::read_to_string(rest(file)).unwrap();
    let mut compared = 0;
    let mut skipped = Vec::new();
    let mut mismatches = Vec::new();
    for line in matrix.lines().skip(2) {
        let cols: Vec<&str> = line.split('\t').collect();
        let (path, query) = cols[0].split_once('?').unwrap_or((cols[0], ""));
        if skip.contains(&path) {
            skipped.push(path);
            continue;
        }
        let first = path.trim_start_matches('/').split('/').next().unwrap_or("");
        let methods = [Method::Get, Method::Head, Method::Options];
        let columns: Vec<&NodeState> = nodes.iter().flat_map(|n| [*n, *n, *n]).collect();
        for (i, (node, method)) in columns.iter().zip(methods.iter().cycle()).enumerate() {
            let expected: u16 = cols[i + 1].parse().unwrap();
            let got = status_code(*method, first, query, node);
            compared += 1;
            if got != expected {
                mismatches.push(format!(
                    "{} {method:?} {}: expected {expected}, got {got}",
                    node.name, cols[0]
                ));
            }
        }
    }
    assert!(mismatches.is_empty(), "{file}:\n{}", mismatches.join("\n"));
    assert_eq!(skipped.len(), skip.len(), "{file}: rows to skip not found");
    compared
}

/// `(name{labels}, type, value)` of every sample, help lines left out (they are ours).
fn samples(text: &str) -> Vec<(String, String, String)> {
    let mut kind = String::new();
    let mut out = Vec::new();
    for line in text.lines() {
        if let Some(rest) = line.strip_prefix("# TYPE ") {
            kind = rest.split_whitespace().nth(1).unwrap_or("").to_string();
        } else if !line.starts_with('#') && !line.is_empty() {
            let (name, value) = line.rsplit_once(' ').unwrap();
            out.push((name.to_string(), kind.clone(), value.to_string()));
        }
    }
    out
}

#[test]
fn metrics_have_patronis_names_types_labels_and_values() {
    let (mut leader, mut replica) = healthy();
    // The captured values that depend on the moment and the program.
    for (node, seen) in [(&mut leader, 1795454066), (&mut replica, 1795454066)] {
        node.version = "4.1.5".into();
        node.dcs_last_seen = seen;
    }
    assert_eq!(
        samples(&metrics(&leader)),
        samples(&body("healthy/leader-metrics.http"))
    );
    let replica_body = body("healthy/replica-metrics.http");
    let expected = samples(&replica_body);
    let got = samples(&metrics(&replica));
    // The replica's dcs_last_seen was captured a moment later.
    let strip = |v: Vec<(String, String, String)>| -> Vec<(String, String, String)> {
        v.into_iter()
            .filter(|(n, _, _)| !n.starts_with("patroni_dcs_last_seen"))
            .collect()
    };
    assert_eq!(strip(got), strip(expected));
}
