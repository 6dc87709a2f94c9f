//! The DCS contract against a real etcd, for both APIs: the leader lock excludes, expires and
//! cannot be taken back; compare-and-set conflicts are conflicts; a three-member etcd survives
//! losing the member in use; a watch wakes an idle agent quickly.

use ferroni_dcs::EtcdOptions;
use ferroni_dcs::etcd2::{Etcd2, parse_keys_response};
use ferroni_dcs::etcd3::Etcd3;
use ferroni_dcs::{Dcs, DcsError, DcsSettings};
use ferroni_model::{Cluster, Failover, KeyLayout, Member, Status, SyncState, Version};
use ferroni_testkit::{Etcd, EtcdCluster, Kit};
use futures::future::join_all;
use std::sync::Arc;
use std::time::{Duration, Instant};

#[derive(Debug, Clone, Copy)]
enum Api {
    V3,
    V2,
}

fn settings(name: &str, ttl: Duration, retry_timeout: Duration) -> DcsSettings {
    DcsSettings {
        name: name.to_string(),
        layout: KeyLayout::new("service", "contract", None),
        ttl,
        retry_timeout,
        loop_wait: Duration::from_secs(1),
    }
}

async fn client(api: Api, endpoints: &[String], settings: DcsSettings) -> Arc<dyn Dcs> {
    let endpoints: Vec<String> = endpoints.iter().map(|e| format!("http://{e}")).collect();
    match api {
        Api::V3 => {
            let options = EtcdOptions {
                endpoints,
                ..EtcdOptions::default()
            };
            Arc::new(
                Etcd3::connect(&options, settings)
                    .await
                    .expect("etcd3 client connects"),
            )
        }
        Api::V2 => {
            let options = EtcdOptions {
                endpoints,
                ..EtcdOptions::default()
            };
            Arc::new(Etcd2::new(options, settings).expect("etcd2 client builds"))
        }
    }
}

/// Reads the cluster until `probe` holds (the etcd3 backend reads a watch-fed cache, which
/// follows a write by a few milliseconds).
async fn cluster_until(dcs: &dyn Dcs, what: &str, probe: impl Fn(&Cluster) -> bool) -> Cluster {
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let cluster = dcs.get_cluster().await.expect("cluster read");
        if probe(&cluster) {
            return cluster;
        }
        assert!(
            Instant::now() < deadline,
            "timed out waiting for {what}: {cluster:?}"
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

async fn mutual_exclusion(api: Api) {
    let kit = Kit::new("dcs-mutex").unwrap();
    let etcd = Etcd::start(&kit).unwrap();
    let ttl = Duration::from_secs(20);
    let mut contenders = Vec::new();
    for i in 0..8 {
        contenders.push(
            client(
                api,
                &[etcd.endpoint()],
                settings(&format!("node{i}"), ttl, Duration::from_secs(5)),
            )
            .await,
        );
    }
    for round in 0..50 {
        let results = join_all(contenders.iter().map(|c| c.attempt_to_acquire_leader())).await;
        let winners: Vec<usize> = results
            .iter()
            .enumerate()
            .filter(|(_, r)| *r.as_ref().expect("no DCS error"))
            .map(|(i, _)| i)
            .collect();
        assert_eq!(winners.len(), 1, "round {round}: winners {winners:?}");
        let winner = winners[0];
        let loser = (winner + 1) % contenders.len();
        assert!(
            !contenders[loser].delete_leader().await.unwrap(),
            "round {round}: a loser released the lock"
        );
        assert!(
            !contenders[loser].update_leader().await.unwrap(),
            "round {round}: a loser renewed the lock"
        );
        assert!(
            contenders[winner].update_leader().await.unwrap(),
            "round {round}: the winner could not renew"
        );
        assert!(
            contenders[winner].delete_leader().await.unwrap(),
            "round {round}: the winner could not release"
        );
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn etcd3_eight_contenders_fifty_rounds_one_leader_each() {
    mutual_exclusion(Api::V3).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn etcd2_eight_contenders_fifty_rounds_one_leader_each() {
    mutual_exclusion(Api::V2).await;
}

async fn lock_expiry(api: Api) {
    let kit = Kit::new("dcs-expiry").unwrap();
    let etcd = Etcd::start(&kit).unwrap();
    let ttl = Duration::from_secs(3);
    let holder = client(
        api,
        &[etcd.endpoint()],
        settings("holder", ttl, Duration::from_secs(3)),
    )
    .await;
    let taker = client(
        api,
        &[etcd.endpoint()],
        settings("taker", ttl, Duration::from_secs(3)),
    )
    .await;
    assert!(holder.attempt_to_acquire_leader().await.unwrap());
    // The holder's last renewal is now; from here on it stops renewing.
    let renewed = Instant::now();
    let deadline = renewed + ttl + Duration::from_secs(5);
    let taken_after = loop {
        if taker.attempt_to_acquire_leader().await.unwrap() {
            break renewed.elapsed();
        }
        assert!(Instant::now() < deadline, "the lock was never released");
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    eprintln!(
        "{api:?}: lock taken over {taken_after:?} after the holder's last renewal (ttl {ttl:?})"
    );
    assert!(
        taken_after <= ttl + Duration::from_secs(1),
        "{api:?}: took {taken_after:?}"
    );
    assert!(
        taken_after >= ttl - Duration::from_millis(500),
        "{api:?}: the lock expired early ({taken_after:?})"
    );
    assert!(
        !holder.update_leader().await.unwrap(),
        "the old holder renewed a lock it lost"
    );
    assert!(
        !holder.delete_leader().await.unwrap(),
        "the old holder deleted someone else's lock"
    );
    cluster_until(taker.as_ref(), "the taker as leader", |c| {
        c.leader_name() == Some("taker")
    })
    .await;
    assert!(taker.update_leader().await.unwrap());
}

#[tokio::test(flavor = "multi_thread")]
async fn etcd3_an_unrenewed_lock_expires_and_cannot_be_taken_back() {
    lock_expiry(Api::V3).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn etcd2_an_unrenewed_lock_expires_and_cannot_be_taken_back() {
    lock_expiry(Api::V2).await;
}

fn is_conflict<T: std::fmt::Debug>(result: Result<T, DcsError>) -> bool {
    matches!(result, Err(DcsError::Conflict(_)))
}

async fn compare_and_set(api: Api) {
    let kit = Kit::new("dcs-cas").unwrap();
    let etcd = Etcd::start(&kit).unwrap();
    let a = client(
        api,
        &[etcd.endpoint()],
        settings("a", Duration::from_secs(20), Duration::from_secs(5)),
    )
    .await;

    let mut config = serde_json::Map::new();
    config.insert("ttl".into(), 30.into());
    let v1 = a.set_config(&config, None).await.unwrap();
    config.insert("loop_wait".into(), 10.into());
    let v2 = a.set_config(&config, Some(v1)).await.unwrap();
    assert!(
        is_conflict(a.set_config(&config, Some(v1)).await),
        "a stale config write must conflict"
    );
    let c = cluster_until(a.as_ref(), "config v2", |c| {
        c.config.as_ref().is_some_and(|v| v.version == v2)
    })
    .await;
    assert_eq!(c.config.unwrap().value["loop_wait"], 10);

    let f1 = a
        .set_failover(
            &Failover {
                leader: Some("a".into()),
                member: Some("b".into()),
                scheduled_at: None,
            },
            None,
        )
        .await
        .unwrap();
    let f2 = a
        .set_failover(&Failover::default(), Some(f1))
        .await
        .unwrap();
    assert!(is_conflict(
        a.set_failover(&Failover::default(), Some(f1)).await
    ));
    cluster_until(a.as_ref(), "failover cleared", |c| {
        c.failover
            .as_ref()
            .is_some_and(|f| f.version == f2 && f.value.is_empty())
    })
    .await;

    let sync = SyncState {
        leader: Some("a".into()),
        quorum: 0,
        sync_standby: Some("b".into()),
    };
    let s1 = a.set_sync(&sync, None).await.unwrap();
    let s2 = a
        .set_sync(
            &SyncState {
                sync_standby: Some("c".into()),
                ..sync.clone()
            },
            Some(s1),
        )
        .await
        .unwrap();
    assert!(is_conflict(a.set_sync(&sync, Some(s1)).await));
    assert!(is_conflict(a.delete_sync(Some(s1)).await));
    a.delete_sync(Some(s2)).await.unwrap();
    cluster_until(a.as_ref(), "sync deleted", |c| c.sync.is_none()).await;

    // The bootstrap race: only the first creator wins.
    assert!(a.initialize(true, "").await.unwrap());
    assert!(!a.initialize(true, "").await.unwrap());
    assert!(a.initialize(false, "7711416411379105180").await.unwrap());
    cluster_until(a.as_ref(), "initialize", |c| {
        c.initialize.as_deref() == Some("7711416411379105180")
    })
    .await;
    a.delete_cluster().await.unwrap();
    cluster_until(a.as_ref(), "an empty cluster", |c| {
        c.initialize.is_none() && c.config.is_none()
    })
    .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn etcd3_compare_and_set_conflicts_are_conflicts() {
    compare_and_set(Api::V3).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn etcd2_compare_and_set_conflicts_are_conflicts() {
    compare_and_set(Api::V2).await;
}

fn member(name: &str, xlog: u64) -> Member {
    Member {
        conn_url: format!("postgres://127.0.0.1:5432/{name}"),
        api_url: "http://127.0.0.1:8008/patroni".into(),
        state: "running".into(),
        role: "primary".into(),
        version: "4.1.5".into(),
        xlog_location: Some(xlog),
        timeline: Some(1),
        ..Member::default()
    }
}

async fn survive_member_loss(api: Api) {
    let kit = Kit::new("dcs-failover").unwrap();
    let mut cluster = EtcdCluster::start(&kit, 3).unwrap();
    let retry_timeout = Duration::from_secs(6);
    let dcs = client(
        api,
        &cluster.endpoints(),
        settings("node1", Duration::from_secs(20), retry_timeout),
    )
    .await;
    assert!(dcs.attempt_to_acquire_leader().await.unwrap());
    dcs.touch_member(&member("node1", 1)).await.unwrap();
    // The first endpoint is the one both clients start with.
    cluster.members[0].proc.kill9().unwrap();
    let mut slowest = Duration::ZERO;
    for i in 0..20u64 {
        let start = Instant::now();
        assert!(
            dcs.update_leader()
                .await
                .expect("the leader lock is renewed through another member")
        );
        dcs.touch_member(&member("node1", 100 + i))
            .await
            .expect("the member key is written");
        dcs.set_status(&Status {
            optime: 100 + i,
            ..Status::default()
        })
        .await
        .expect("status is written");
        dcs.get_cluster().await.expect("the cluster is read");
        slowest = slowest.max(start.elapsed());
    }
    eprintln!("{api:?}: slowest cycle after losing the first etcd member: {slowest:?}");
    assert!(slowest < retry_timeout, "{api:?}: a cycle took {slowest:?}");
    cluster_until(dcs.as_ref(), "the last member write", |c| {
        c.member("node1")
            .is_some_and(|m| m.data.xlog_location == Some(119))
    })
    .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn etcd3_client_survives_losing_the_member_it_uses() {
    survive_member_loss(Api::V3).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn etcd2_client_survives_losing_the_member_it_uses() {
    survive_member_loss(Api::V2).await;
}

async fn watch_latency(api: Api) -> Duration {
    let kit = Kit::new("dcs-watch").unwrap();
    let etcd = Etcd::start(&kit).unwrap();
    let ttl = Duration::from_secs(20);
    let leader = client(
        api,
        &[etcd.endpoint()],
        settings("leader", ttl, Duration::from_secs(5)),
    )
    .await;
    let replica = client(
        api,
        &[etcd.endpoint()],
        settings("replica", ttl, Duration::from_secs(5)),
    )
    .await;
    let mut latencies = Vec::new();
    for _ in 0..21 {
        assert!(leader.attempt_to_acquire_leader().await.unwrap());
        cluster_until(replica.as_ref(), "a leader", |c| {
            c.leader_name() == Some("leader")
        })
        .await;
        let waiter = {
            let replica = replica.clone();
            tokio::spawn(async move {
                let woken = replica.watch(Duration::from_secs(10)).await;
                (woken, Instant::now())
            })
        };
        tokio::task::yield_now().await;
        let deleted = Instant::now();
        assert!(leader.delete_leader().await.unwrap());
        let (woken, at) = waiter.await.unwrap();
        assert_eq!(
            woken,
            Ok(true),
            "{api:?}: the watch was not woken by the deletion"
        );
        latencies.push(at.saturating_duration_since(deleted));
    }
    latencies.sort();
    let median = latencies[latencies.len() / 2];
    eprintln!(
        "{api:?}: watch wake-up after leader deletion: median {median:?}, max {:?}",
        latencies.last().unwrap()
    );
    median
}

#[tokio::test(flavor = "multi_thread")]
async fn etcd3_watch_wakes_an_idle_agent_within_100ms_of_leader_deletion() {
    assert!(watch_latency(Api::V3).await < Duration::from_millis(100));
}

#[tokio::test(flavor = "multi_thread")]
async fn etcd2_watch_wakes_an_idle_agent_within_100ms_of_leader_deletion() {
    assert!(watch_latency(Api::V2).await < Duration::from_millis(100));
}

/// The raw `status` key: its bytes, and whether it is bound to a lease (etcd3) or a TTL (etcd2).
async fn raw_status(api: Api, endpoint: &str) -> Option<(String, bool)> {
    let key = "/service/contract/status";
    match api {
        Api::V3 => {
            let mut raw = etcd_client::Client::connect([endpoint], None).await.ok()?;
            let response = raw.get(key, None).await.ok()?;
            let kv = response.kvs().first()?;
            Some((kv.value_str().ok()?.to_string(), kv.lease() != 0))
        }
        Api::V2 => {
            let text = reqwest::get(format!("http://{endpoint}/v2/keys{key}"))
                .await
                .ok()?
                .text()
                .await
                .ok()?;
            let body: serde_json::Value = serde_json::from_str(&text).ok()?;
            let node = &body["node"];
            Some((
                node["value"].as_str()?.to_string(),
                node.get("ttl").is_some(),
            ))
        }
    }
}

/// `status` is written as Patroni writes it, without a lease, and survives the leader; releasing
/// the lock leaves the given status; a member that does not hold the lock releases nothing (and,
/// on etcd3, where it is one transaction, writes no status either).
async fn status_and_release(api: Api) {
    let kit = Kit::new("dcs-status").unwrap();
    let etcd = Etcd::start(&kit).unwrap();
    let ttl = Duration::from_secs(2);
    let a = client(api, &[etcd.endpoint()], settings("node1", ttl, ttl)).await;
    let b = client(api, &[etcd.endpoint()], settings("node2", ttl, ttl)).await;
    let captured = include_str!(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../tests/fixtures/patroni-4.1.5/dcs/etcd3/healthy/status"
    ));
    let written = Status::decode(captured).unwrap();
    assert!(a.attempt_to_acquire_leader().await.unwrap());
    a.set_status(&written).await.unwrap();
    assert_eq!(
        raw_status(api, &etcd.endpoint()).await,
        Some((captured.to_string(), false)),
        "{api:?}: Patroni's bytes, no lease"
    );
    let stale = Status {
        optime: 1,
        ..Status::default()
    };
    assert!(!b.release_leader(&stale).await.unwrap());
    if matches!(api, Api::V3) {
        assert_eq!(
            raw_status(api, &etcd.endpoint()).await.map(|r| r.0),
            Some(captured.to_string())
        );
    }
    let last = Status {
        optime: written.optime + 96,
        ..written.clone()
    };
    assert!(a.release_leader(&last).await.unwrap());
    let c = cluster_until(b.as_ref(), "the lock released", |c| c.leader.is_none()).await;
    assert_eq!(c.status.as_ref(), Some(&last));
    assert!(!a.release_leader(&last).await.unwrap());
    assert_eq!(
        raw_status(api, &etcd.endpoint()).await,
        Some((last.encode(), false))
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn etcd3_status_is_kept_without_lease_and_released_with_the_lock() {
    status_and_release(Api::V3).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn etcd2_status_is_kept_without_ttl_and_released_with_the_lock() {
    status_and_release(Api::V2).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn etcd3_an_unchanged_member_key_is_not_rewritten_and_malformed_values_are_skipped() {
    let kit = Kit::new("dcs-touch").unwrap();
    let etcd = Etcd::start(&kit).unwrap();
    let dcs = client(
        Api::V3,
        &[etcd.endpoint()],
        settings("node1", Duration::from_secs(20), Duration::from_secs(5)),
    )
    .await;
    dcs.touch_member(&member("node1", 5)).await.unwrap();
    let first = cluster_until(dcs.as_ref(), "the member key", |c| {
        c.member("node1").is_some()
    })
    .await;
    let version = first.member("node1").unwrap().version;
    for _ in 0..3 {
        dcs.touch_member(&member("node1", 5)).await.unwrap();
    }
    // A raw client plants garbage where Patroni's values live.
    let mut raw = etcd_client::Client::connect([etcd.endpoint()], None)
        .await
        .unwrap();
    raw.put("/service/contract/config", "{not json", None)
        .await
        .unwrap();
    raw.put("/service/contract/members/node2", "[]", None)
        .await
        .unwrap();
    let c = cluster_until(dcs.as_ref(), "the garbage to arrive", |c| {
        c.members.len() == 1 && c.config.is_none()
    })
    .await;
    assert_eq!(
        c.member("node1").unwrap().version,
        version,
        "the unchanged member key was rewritten"
    );
    dcs.touch_member(&member("node1", 6)).await.unwrap();
    cluster_until(dcs.as_ref(), "the changed member key", |c| {
        c.member("node1")
            .is_some_and(|m| m.version > version && m.data.xlog_location == Some(6))
    })
    .await;
}

#[test]
fn patronis_v2_tree_decodes_with_etcd_indexes_as_versions() {
    let body = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../tests/fixtures/patroni-4.1.5/dcs/etcd2/healthy/_v2-keys-recursive.json"
    ))
    .unwrap();
    let kvs = parse_keys_response(&body).unwrap();
    let (cluster, warnings) = Cluster::from_kvs(&KeyLayout::new("/service/", "demo", None), kvs);
    assert!(warnings.is_empty(), "{warnings:?}");
    let leader = cluster.leader.as_ref().unwrap();
    assert_eq!(
        (leader.name.as_str(), leader.version),
        ("node2", Version(23))
    );
    assert_eq!(cluster.members.len(), 3);
    assert_eq!(cluster.member("node1").unwrap().version, Version(27));
    assert_eq!(cluster.member("node2").unwrap().data.role, "primary");
    assert_eq!(cluster.config.unwrap().version, Version(13));
    assert_eq!(cluster.initialize.as_deref(), Some("7711420160752455086"));
    assert_eq!(cluster.status.unwrap().optime, 67108960);
}
