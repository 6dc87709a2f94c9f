//! Benchmark driver: an idle three-member cluster's DCS traffic. Three agents (one leader, two
//! replicas) run the DCS side of an idle HA cycle — read the cluster, publish an unchanged member
//! key, renew the lock (leader) or wait on the watch (replicas) — for a number of cycles, and etcd's
//! own `/metrics` count the gRPC messages it received meanwhile.
//!
//! `cargo run --release -p ferroni-dcs --example idle_cluster -- <etcd host:port> <loop_wait s> <cycles> [leader|replica|cluster]`

use ferroni_dcs::etcd3::Etcd3;
use ferroni_dcs::{Dcs, DcsSettings, EtcdOptions};
use ferroni_model::{KeyLayout, Member, Status};
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

/// gRPC messages etcd received, by method, from its Prometheus metrics.
async fn received(endpoint: &str) -> BTreeMap<String, f64> {
    let body = reqwest::get(format!("http://{endpoint}/metrics"))
        .await
        .expect("etcd metrics")
        .text()
        .await
        .expect("text");
    let mut counts = BTreeMap::new();
    for line in body
        .lines()
        .filter(|l| l.starts_with("grpc_server_msg_received_total{"))
    {
        let method = line
            .split("grpc_method=\"")
            .nth(1)
            .and_then(|s| s.split('"').next())
            .unwrap_or("?");
        let value: f64 = line
            .rsplit(' ')
            .next()
            .and_then(|v| v.parse().ok())
            .unwrap_or(0.0);
        *counts.entry(method.to_string()).or_insert(0.0) += value;
    }
    counts
}

fn member(name: &str, role: &str) -> Member {
    Member {
        conn_url: format!("postgres://127.0.0.1:5432/{name}"),
        api_url: format!("http://127.0.0.1:8008/{name}"),
        state: "running".into(),
        role: role.into(),
        version: env!("CARGO_PKG_VERSION").into(),
        xlog_location: Some(67108864),
        timeline: Some(1),
        ..Member::default()
    }
}

async fn agent(endpoint: &str, name: &str, loop_wait: Duration) -> Arc<dyn Dcs> {
    let settings = DcsSettings {
        name: name.into(),
        layout: KeyLayout::new("service", "bench", None),
        ttl: Duration::from_secs(30),
        retry_timeout: Duration::from_secs(10),
        loop_wait,
    };
    let options = EtcdOptions {
        endpoints: vec![format!("http://{endpoint}")],
        ..EtcdOptions::default()
    };
    Arc::new(Etcd3::connect(&options, settings).await.expect("connect"))
}

/// One idle HA cycle's DCS work.
async fn cycle(dcs: &dyn Dcs, name: &str, leader: bool, loop_wait: Duration) {
    dcs.get_cluster().await.expect("read");
    if leader {
        assert!(
            dcs.update_leader().await.expect("renew")
                || dcs.attempt_to_acquire_leader().await.expect("take")
        );
        dcs.set_status(&Status {
            optime: 67108864,
            ..Status::default()
        })
        .await
        .expect("status");
    }
    dcs.touch_member(&member(name, if leader { "primary" } else { "replica" }))
        .await
        .expect("touch");
    // The leader sleeps out the cycle; a replica waits on the watch, which nothing wakes.
    if leader {
        tokio::time::sleep(loop_wait).await;
    } else {
        dcs.watch(loop_wait).await.expect("watch");
    }
}

#[tokio::main]
async fn main() {
    let args: Vec<String> = std::env::args().collect();
    let endpoint = args.get(1).expect("etcd host:port").clone();
    let loop_wait =
        Duration::from_secs_f64(args.get(2).and_then(|s| s.parse().ok()).unwrap_or(10.0));
    let cycles: u32 = args.get(3).and_then(|s| s.parse().ok()).unwrap_or(6);
    let mode = args.get(4).cloned().unwrap_or_else(|| "cluster".into());
    let roles: Vec<(&str, bool)> = match mode.as_str() {
        "leader" => vec![("node1", true)],
        "replica" => vec![("node2", false)],
        _ => vec![("node1", true), ("node2", false), ("node3", false)],
    };
    let mut agents = Vec::new();
    for (name, leader) in &roles {
        agents.push((agent(&endpoint, name, loop_wait).await, *name, *leader));
    }
    // One warm-up cycle: lease grants, the first member writes, the cache's read and watch.
    futures::future::join_all(
        agents
            .iter()
            .map(|(d, n, l)| cycle(d.as_ref(), n, *l, Duration::ZERO)),
    )
    .await;
    let before = received(&endpoint).await;
    let start = std::time::Instant::now();
    futures::future::join_all(agents.iter().map(|(d, n, l)| async move {
        for _ in 0..cycles {
            cycle(d.as_ref(), n, *l, loop_wait).await;
        }
    }))
    .await;
    let seconds = start.elapsed().as_secs_f64();
    let after = received(&endpoint).await;
    let mut total = 0.0;
    let mut by_method = Vec::new();
    for (method, count) in &after {
        let delta = count - before.get(method).copied().unwrap_or(0.0);
        if delta > 0.0 {
            by_method.push(format!("{method}={delta}"));
            total += delta;
        }
    }
    let per_cycle = total / f64::from(cycles) / roles.len() as f64;
    println!(
        "mode={mode} members={} loop_wait={:?} cycles={cycles} seconds={seconds:.1} requests={total} requests_per_s={:.3} requests_per_member_cycle={per_cycle:.2} [{}]",
        roles.len(),
        loop_wait,
        total / seconds,
        by_method.join(" ")
    );
}
