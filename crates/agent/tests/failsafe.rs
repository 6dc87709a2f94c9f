//! Failsafe mode on a real cluster (`failsafe_mode: true`): when etcd stops answering, the primary
//! keeps accepting writes because every member accepts it through `POST /failsafe`, no replica
//! races, and the same primary takes its lock back when etcd returns. When a member cannot answer
//! as well, the primary demotes before its lease could expire.

use ferroni_testkit::cluster::{Cluster, Timings};
use ferroni_testkit::probes::{Watcher, Writer, create_probe_table, missing_writes};
use ferroni_testkit::{Kit, wait_until_async};
use serde_json::Value;
use std::path::Path;
use std::time::{Duration, Instant};

async fn get_json(url: &str) -> Option<Value> {
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(5))
        .build()
        .ok()?;
    let response = client.get(url).send().await.ok()?;
    (response.status() == 200).then_some(())?;
    serde_json::from_str(&response.text().await.ok()?).ok()
}

async fn writable(connstr: &str) -> bool {
    let Ok((client, conn)) = tokio_postgres::connect(connstr, tokio_postgres::NoTls).await else {
        return false;
    };
    tokio::spawn(conn);
    client
        .batch_execute("CREATE TABLE IF NOT EXISTS failsafe_probe (x int); INSERT INTO failsafe_probe VALUES (1)")
        .await
        .is_ok()
}

/// The leader's index once every member streams from it, as node 0's `/cluster` shows.
async fn settled(cluster: &Cluster) -> usize {
    let url = format!("http://127.0.0.1:{}/cluster", cluster.nodes[0].api_port);
    wait_until_async(
        Duration::from_secs(90),
        "a leader and two streaming replicas",
        || async {
            let view = get_json(&url).await?;
            let members = view["members"].as_array()?;
            let streaming = members.iter().filter(|m| m["state"] == "streaming").count();
            let leader = members.iter().find(|m| m["role"] == "leader")?["name"].as_str()?;
            (streaming == 2).then(|| cluster.nodes.iter().position(|n| n.name == leader))?
        },
    )
    .await
    .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn failsafe_mode_keeps_the_primary_through_a_dcs_outage() {
    let kit = Kit::new("failsafe").unwrap();
    let timings = Timings::FAST;
    let mut cluster =
        Cluster::new(&kit, Path::new(env!("CARGO_BIN_EXE_ferroni")), 3, timings).unwrap();
    for node in &cluster.nodes {
        let yaml = std::fs::read_to_string(&node.config).unwrap();
        let yaml = yaml.replacen("    ttl: ", "    failsafe_mode: true\n    ttl: ", 1);
        std::fs::write(&node.config, yaml).unwrap();
    }
    cluster.start_all(&kit).unwrap();
    let leader = settled(&cluster).await;
    let api =
        |i: usize, path: &str| format!("http://127.0.0.1:{}/{path}", cluster.nodes[i].api_port);
    // The leader publishes the topology in /failsafe.
    let full_topology = || async {
        wait_until_async(
            Duration::from_secs(20),
            "all three members in /failsafe",
            || async {
                let t = get_json(&api(leader, "failsafe")).await?;
                (t.as_object()?.len() == 3).then_some(t)
            },
        )
        .await
        .unwrap()
    };
    let topology = full_topology().await;
    assert!(
        topology[&cluster.nodes[leader].name]
            .as_str()
            .unwrap()
            .ends_with("/patroni")
    );

    let writes = cluster.write_connstr();
    create_probe_table(&writes).await.unwrap();
    let watcher = Watcher::start(cluster.nodes.iter().map(|n| n.connstr()).collect());
    let writer = Writer::start(writes.clone());
    writer.flowing(20, Duration::from_secs(30)).await.unwrap();

    // etcd stops answering for longer than ttl: the primary stays up, accepted by every member.
    let frozen_at = Instant::now();
    cluster.etcd.member.proc.freeze().unwrap();
    let active = wait_until_async(
        Duration::from_secs(15),
        "failsafe mode active on the leader",
        || async {
            let s = get_json(&api(leader, "patroni")).await?;
            (s["failsafe_mode_is_active"] == true).then_some(s)
        },
    )
    .await
    .unwrap();
    assert_eq!(active["role"], "primary");
    let outage = Duration::from_secs(u64::from(timings.ttl) + 5);
    tokio::time::sleep(outage.saturating_sub(frozen_at.elapsed())).await;
    assert!(
        writable(&cluster.nodes[leader].connstr()).await,
        "the primary stopped accepting writes"
    );
    let primary = get_json(&api(leader, "primary")).await;
    assert!(
        primary.is_some(),
        "GET /primary is not 200 on the failsafe leader"
    );
    for (i, node) in cluster
        .nodes
        .iter()
        .enumerate()
        .filter(|(i, _)| *i != leader)
    {
        let s = get_json(&api(i, "patroni")).await.unwrap();
        assert_eq!(s["role"], "replica", "{}", node.name);
        assert_eq!(s["failsafe_mode_is_active"], true, "{}", node.name);
    }
    cluster.etcd.member.proc.thaw().unwrap();
    let back = settled(&cluster).await;
    assert_eq!(back, leader, "the same primary leads after the outage");
    writer.flowing(20, Duration::from_secs(30)).await.unwrap();
    let log = writer.stop().await;
    let gap = log.longest_gap_after(frozen_at);
    eprintln!("failsafe: etcd frozen {outage:?}; longest write gap {gap:?}");
    assert!(gap < Duration::from_secs(5), "writes stopped for {gap:?}");
    let missing = missing_writes(&writes, &log).await.unwrap();
    assert!(missing.is_empty(), "acknowledged writes lost: {missing:?}");

    // A member whose key was missing when the leader wrote /failsafe is not asked (nor may it
    // race): wait until every member is back in the topology.
    full_topology().await;
    // etcd and one replica's agent stop answering: not every member accepts, the primary demotes
    // before its lease could expire.
    let replica = (leader + 1) % 3;
    let frozen_at = Instant::now();
    cluster.nodes[replica]
        .agent
        .as_ref()
        .unwrap()
        .freeze()
        .unwrap();
    cluster.etcd.member.proc.freeze().unwrap();
    let leader_conn = cluster.nodes[leader].connstr();
    wait_until_async(
        Duration::from_secs(30),
        "the primary to stop accepting writes",
        || async { (!writable(&leader_conn).await).then_some(()) },
    )
    .await
    .unwrap();
    let stopped = frozen_at.elapsed();
    eprintln!(
        "failsafe with an unreachable member: the primary stopped accepting writes after {stopped:?}"
    );
    assert!(
        stopped < Duration::from_secs(u64::from(timings.ttl)),
        "after {stopped:?}"
    );
    cluster.etcd.member.proc.thaw().unwrap();
    cluster.nodes[replica]
        .agent
        .as_ref()
        .unwrap()
        .thaw()
        .unwrap();
    settled(&cluster).await;
    let violations = watcher.stop().await;
    assert!(violations.is_empty(), "{violations:?}");
}
