//! Fault injection on a real cluster (issue #7). A frozen leader agent (SIGSTOP for longer than
//! `ttl`): its PostgreSQL must stop acknowledging writes before the lease can expire — the fence
//! guard kills it — so a replica can take over with no two writable nodes at any moment and no
//! acknowledged write lost, and the cluster heals by itself when the agent is thawed.

use ferroni_testkit::cluster::{Cluster, Timings};
use ferroni_testkit::probes::{Watcher, Writer, create_probe_table, missing_writes};
use ferroni_testkit::{Kit, wait_until_async};
use std::path::Path;
use std::time::{Duration, Instant};

async fn writable(connstr: &str) -> bool {
    let Ok((client, conn)) = tokio_postgres::connect(connstr, tokio_postgres::NoTls).await else {
        return false;
    };
    tokio::spawn(conn);
    client
        .query_one("SELECT pg_is_in_recovery()", &[])
        .await
        .ok()
        .and_then(|r| r.try_get::<_, bool>(0).ok())
        == Some(false)
}

/// The index of the node whose PostgreSQL accepts writes, once exactly one does and the others
/// stream from it.
async fn settled(cluster: &Cluster, deadline: Duration) -> usize {
    wait_until_async(
        deadline,
        "one primary and two streaming replicas",
        || async {
            let mut primaries = Vec::new();
            for (i, n) in cluster.nodes.iter().enumerate() {
                if writable(&n.connstr()).await {
                    primaries.push(i);
                }
            }
            let [leader] = primaries[..] else {
                return None;
            };
            let (client, conn) =
                tokio_postgres::connect(&cluster.nodes[leader].connstr(), tokio_postgres::NoTls)
                    .await
                    .ok()?;
            tokio::spawn(conn);
            let streaming: i64 = client
                .query_one(
                    "SELECT count(*) FROM pg_stat_replication WHERE state = 'streaming'",
                    &[],
                )
                .await
                .ok()?
                .try_get(0)
                .ok()?;
            (streaming == 2).then_some(leader)
        },
    )
    .await
    .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_frozen_leader_agent_is_fenced_before_its_lease_expires() {
    let kit = Kit::new("fault-frozen-agent").unwrap();
    let timings = Timings::FAST.synchronous();
    let mut cluster =
        Cluster::new(&kit, Path::new(env!("CARGO_BIN_EXE_ferroni")), 3, timings).unwrap();
    cluster.start_all(&kit).unwrap();
    let writes = cluster.write_connstr();
    wait_until_async(Duration::from_secs(60), "a writable leader", || async {
        create_probe_table(&writes).await.ok()
    })
    .await
    .unwrap();
    let leader = settled(&cluster, Duration::from_secs(90)).await;
    let watcher = Watcher::start(cluster.nodes.iter().map(|n| n.connstr()).collect());
    let writer = Writer::start(writes.clone());
    writer.flowing(20, Duration::from_secs(30)).await.unwrap();

    let frozen_at = Instant::now();
    cluster.nodes[leader]
        .agent
        .as_ref()
        .unwrap()
        .freeze()
        .unwrap();
    let old = cluster.nodes[leader].connstr();
    wait_until_async(
        Duration::from_secs(40),
        "the frozen leader's PostgreSQL to stop",
        || async { (!writable(&old).await).then_some(()) },
    )
    .await
    .unwrap();
    let fenced = frozen_at.elapsed();
    let others: Vec<String> = cluster
        .nodes
        .iter()
        .enumerate()
        .filter(|(i, _)| *i != leader)
        .map(|(_, n)| n.connstr())
        .collect();
    let promoted = wait_until_async(
        Duration::from_secs(60),
        "a replica to take over",
        || async {
            for c in &others {
                if writable(c).await {
                    return Some(frozen_at.elapsed());
                }
            }
            None
        },
    )
    .await
    .unwrap();
    eprintln!(
        "frozen agent: PostgreSQL fenced {fenced:?} after the freeze (ttl {} s); a replica writable after {promoted:?}",
        timings.ttl
    );
    assert!(
        fenced < Duration::from_secs(u64::from(timings.ttl)),
        "fenced after {fenced:?}"
    );
    assert!(fenced < promoted, "the fence came after the promotion");

    // Thaw after more than ttl: the old agent finds itself without the lock and rejoins.
    let thaw_at = frozen_at + Duration::from_secs(u64::from(timings.ttl) + 10);
    tokio::time::sleep(thaw_at.saturating_duration_since(Instant::now())).await;
    cluster.nodes[leader]
        .agent
        .as_ref()
        .unwrap()
        .thaw()
        .unwrap();
    let new_leader = settled(&cluster, Duration::from_secs(120)).await;
    assert_ne!(new_leader, leader);
    writer.flowing(20, Duration::from_secs(30)).await.unwrap();
    let log = writer.stop().await;
    eprintln!(
        "frozen agent: longest write gap {:?}; {} writes acknowledged",
        log.longest_gap_after(frozen_at),
        log.acked.len()
    );
    let missing = missing_writes(&writes, &log).await.unwrap();
    assert!(missing.is_empty(), "acknowledged writes lost: {missing:?}");
    let violations = watcher.stop().await;
    assert!(violations.is_empty(), "two writable nodes: {violations:?}");
}

/// A switchover under write load (asked through the REST API as patronictl does): no two writable
/// nodes, no acknowledged write lost, and the write gap measured.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_switchover_under_write_load() {
    let kit = Kit::new("fault-switchover").unwrap();
    let mut cluster = Cluster::new(
        &kit,
        Path::new(env!("CARGO_BIN_EXE_ferroni")),
        3,
        Timings::FAST,
    )
    .unwrap();
    cluster.start_all(&kit).unwrap();
    let writes = cluster.write_connstr();
    wait_until_async(Duration::from_secs(60), "a writable leader", || async {
        create_probe_table(&writes).await.ok()
    })
    .await
    .unwrap();
    let leader = settled(&cluster, Duration::from_secs(90)).await;
    let candidate = (leader + 1) % 3;
    let watcher = Watcher::start(cluster.nodes.iter().map(|n| n.connstr()).collect());
    let writer = Writer::start(writes.clone());
    writer.flowing(50, Duration::from_secs(30)).await.unwrap();
    let body = format!(
        r#"{{"leader": "{}", "candidate": "{}"}}"#,
        cluster.nodes[leader].name, cluster.nodes[candidate].name
    );
    let asked = Instant::now();
    let response = reqwest::Client::new()
        .post(format!(
            "http://127.0.0.1:{}/switchover",
            cluster.nodes[leader].api_port
        ))
        .header("Content-Type", "application/json")
        .body(body)
        .send()
        .await
        .unwrap();
    let answered = asked.elapsed();
    assert_eq!(response.status(), 200, "{:?}", response.text().await);
    writer.flowing(50, Duration::from_secs(30)).await.unwrap();
    let log = writer.stop().await;
    let gap = log.longest_gap_after(asked);
    eprintln!("switchover under load: answered after {answered:?}; longest write gap {gap:?}");
    let missing = missing_writes(&writes, &log).await.unwrap();
    assert!(missing.is_empty(), "acknowledged writes lost: {missing:?}");
    let violations = watcher.stop().await;
    assert!(violations.is_empty(), "two writable nodes: {violations:?}");
    assert_eq!(settled(&cluster, Duration::from_secs(60)).await, candidate);
}
