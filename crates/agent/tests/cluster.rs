//! A real three-node cluster: etcd, three `ferroni` agents and their PostgreSQL 15 servers, started
//! from empty directories. Each test checks the DCS keys, the roles, and a write probe.

use ferroni_testkit::cluster::{Cluster, Timings};
use ferroni_testkit::probes::{
    Watcher, Writer, another_primary, await_probe_table, missing_writes, query_one, writable,
};
use ferroni_testkit::{Kit, wait_until_async};
use serde_json::Value;
use std::collections::BTreeMap;
use std::path::Path;
use std::time::{Duration, Instant};

fn agent_binary() -> &'static Path {
    Path::new(env!("CARGO_BIN_EXE_ferroni"))
}

/// Every key of the cluster, relative to `/service/test/`.
async fn dcs(cluster: &Cluster) -> BTreeMap<String, String> {
    let Ok(mut client) = etcd_client::Client::connect([cluster.etcd.endpoint()], None).await else {
        return BTreeMap::new();
    };
    let Ok(response) = client
        .get(
            "/service/test/",
            Some(etcd_client::GetOptions::new().with_prefix()),
        )
        .await
    else {
        return BTreeMap::new();
    };
    response
        .kvs()
        .iter()
        .filter_map(|kv| {
            let key = kv
                .key_str()
                .ok()?
                .strip_prefix("/service/test/")?
                .to_string();
            Some((key, kv.value_str().ok()?.to_string()))
        })
        .collect()
}

fn member(keys: &BTreeMap<String, String>, name: &str) -> Value {
    keys.get(&format!("members/{name}"))
        .and_then(|v| serde_json::from_str(v).ok())
        .unwrap_or(Value::Null)
}

/// The leader's index once there is one and every other node streams from it through its slot.
async fn healthy(cluster: &Cluster, timeline: i64, deadline: Duration) -> usize {
    wait_until_async(deadline, "a leader and every replica streaming", || async {
        let keys = dcs(cluster).await;
        let leader = keys.get("leader")?.clone();
        let index = cluster.nodes.iter().position(|n| n.name == leader)?;
        let leader_node = &cluster.nodes[index];
        let streaming: i64 = query_one(
            &leader_node.connstr(),
            "SELECT count(*) FROM pg_stat_replication r JOIN pg_replication_slots s ON s.active_pid = r.pid WHERE r.state = 'streaming'",
        )
        .await?;
        let want = cluster.nodes.iter().filter(|n| n.agent.is_some()).count() as i64 - 1;
        let timelines_ok = cluster.nodes.iter().filter(|n| n.agent.is_some()).all(|n| {
            member(&keys, &n.name)["timeline"].as_i64() == Some(timeline) && member(&keys, &n.name)["state"] == "running"
        });
        (streaming == want && timelines_ok).then_some(index)
    })
    .await
    .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn bootstrap_three_nodes_from_empty_directories() {
    let kit = Kit::new("ha-bootstrap").unwrap();
    let mut cluster = Cluster::new(&kit, agent_binary(), 3, Timings::DEFAULT).unwrap();
    let start = Instant::now();
    cluster.start_all(&kit).unwrap();
    let writes = cluster.write_connstr();
    await_probe_table(&writes, Duration::from_secs(60))
        .await
        .unwrap();
    let writable = start.elapsed();
    let leader = healthy(&cluster, 1, Duration::from_secs(90)).await;
    let all_streaming = start.elapsed();
    eprintln!(
        "bootstrap: leader writable after {writable:?}, all replicas streaming through their slots after {all_streaming:?}"
    );

    let keys = dcs(&cluster).await;
    let sysid: i64 = query_one(
        &cluster.nodes[leader].connstr(),
        "SELECT system_identifier::bigint FROM pg_control_system()",
    )
    .await
    .unwrap();
    assert_eq!(
        keys["initialize"],
        sysid.to_string(),
        "initialize holds the system identifier"
    );
    let config: Value = serde_json::from_str(&keys["config"]).unwrap();
    assert_eq!(
        (
            config["ttl"].as_i64(),
            config["loop_wait"].as_i64(),
            config["retry_timeout"].as_i64()
        ),
        (Some(30), Some(10), Some(10))
    );
    assert_eq!(config["postgresql"]["parameters"]["max_connections"], 50);
    assert_eq!(
        member(&keys, &cluster.nodes[leader].name)["role"],
        "primary"
    );
    for (i, node) in cluster
        .nodes
        .iter()
        .enumerate()
        .filter(|(i, _)| *i != leader)
    {
        let m = member(&keys, &node.name);
        assert_eq!(
            (m["role"].as_str(), m["replication_state"].as_str()),
            (Some("replica"), Some("streaming")),
            "node {i}"
        );
        let in_recovery: bool = query_one(&node.connstr(), "SELECT pg_is_in_recovery()")
            .await
            .unwrap();
        assert!(in_recovery);
    }
}

/// A started cluster with the probe table created and every replica streaming: the cluster, the
/// write connection string and the leader's index.
async fn up(kit: &Kit, timings: Timings) -> (Cluster, String, usize) {
    let mut cluster = Cluster::new(kit, agent_binary(), 3, timings).unwrap();
    cluster.start_all(kit).unwrap();
    let writes = cluster.write_connstr();
    await_probe_table(&writes, Duration::from_secs(60))
        .await
        .unwrap();
    let leader = healthy(&cluster, 1, Duration::from_secs(90)).await;
    (cluster, writes, leader)
}

/// Kills the leader's agent and postmaster, checks that the healthiest replica takes over with no
/// acknowledged write lost and the other follows the new timeline without a new base backup,
/// then restarts the old leader, which rejoins as a replica. Returns the write gap.
///
/// The cluster commits synchronously to any one replica: with asynchronous replication a primary
/// killed -9 can take its last acknowledged commits with it (their WAL never left it), whatever
/// the HA manager does.
async fn crash_failover(timings: Timings, name: &str) -> Duration {
    let kit = Kit::new(name).unwrap();
    let (mut cluster, writes, old) = up(&kit, timings).await;
    let watcher = Watcher::start(cluster.nodes.iter().map(|n| n.connstr()).collect());
    let writer = Writer::start(writes.clone());
    let replica_pids: Vec<Option<i32>> = cluster.nodes.iter().map(|n| n.postmaster_pid()).collect();
    writer.flowing(20, Duration::from_secs(30)).await.unwrap();
    let crashed_at = Instant::now();
    cluster.nodes[old].agent.as_mut().unwrap().kill9().unwrap();
    cluster.nodes[old].agent = None;
    let new = healthy(&cluster, 2, Duration::from_secs(120)).await;
    assert_ne!(new, old);
    let log = writer.stop().await;
    let gap = log.longest_gap_after(crashed_at);
    eprintln!(
        "{name}: write-unavailability after kill -9 of the leader: {gap:?} ({} writes acknowledged)",
        log.acked.len()
    );
    let missing = missing_writes(&writes, &log).await.unwrap();
    assert!(missing.is_empty(), "acknowledged writes lost: {missing:?}");
    let keys = dcs(&cluster).await;
    let history: Value = serde_json::from_str(&keys["history"]).unwrap();
    assert_eq!(
        history.as_array().map(Vec::len),
        Some(1),
        "history records the failover: {history}"
    );
    assert_eq!(history[0][4], cluster.nodes[new].name.as_str());
    // The third node followed the new timeline with the same postmaster: no new base backup.
    let third = (0..3).find(|i| *i != old && *i != new).unwrap();
    assert_eq!(
        cluster.nodes[third].postmaster_pid(),
        replica_pids[third],
        "the other replica was re-created"
    );

    cluster.start(&kit, old).unwrap();
    healthy(&cluster, 2, Duration::from_secs(120)).await;
    let keys = dcs(&cluster).await;
    assert_eq!(
        member(&keys, &cluster.nodes[old].name)["role"],
        "replica",
        "the old leader rejoins as a replica"
    );
    let violations = watcher.stop().await;
    assert!(violations.is_empty(), "{violations:?}");
    gap
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn leader_crash_at_default_timings() {
    crash_failover(Timings::DEFAULT.synchronous(), "ha-crash-default").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn leader_crash_at_fastest_timings() {
    crash_failover(Timings::FAST.synchronous(), "ha-crash-fast").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn graceful_stop_of_the_leader_hands_over_within_two_seconds() {
    let kit = Kit::new("ha-stop").unwrap();
    let (mut cluster, writes, old) = up(&kit, Timings::DEFAULT).await;
    let watcher = Watcher::start(cluster.nodes.iter().map(|n| n.connstr()).collect());
    let writer = Writer::start(writes.clone());
    writer.flowing(10, Duration::from_secs(30)).await.unwrap();
    let stopped_at = Instant::now();
    cluster.nodes[old]
        .agent
        .as_mut()
        .unwrap()
        .signal(nix::sys::signal::Signal::SIGTERM)
        .unwrap();
    another_primary(&cluster, old, Duration::from_secs(30))
        .await
        .unwrap();
    let handover = stopped_at.elapsed();
    eprintln!(
        "graceful stop: a replica was primary {handover:?} after SIGTERM to the leader's agent"
    );
    assert!(
        handover < Duration::from_secs(2),
        "hand-over took {handover:?}"
    );
    writer.flowing(10, Duration::from_secs(30)).await.unwrap();
    let log = writer.stop().await;
    eprintln!(
        "graceful stop: longest write gap {:?}",
        log.longest_gap_after(stopped_at)
    );
    let missing = missing_writes(&writes, &log).await.unwrap();
    assert!(missing.is_empty(), "acknowledged writes lost: {missing:?}");
    let violations = watcher.stop().await;
    assert!(violations.is_empty(), "{violations:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn dcs_outage_demotes_the_primary_before_its_lease_expires_and_heals() {
    let kit = Kit::new("ha-dcs-outage").unwrap();
    let (cluster, writes, leader) = up(&kit, Timings::DEFAULT).await;
    let watcher = Watcher::start(cluster.nodes.iter().map(|n| n.connstr()).collect());
    let writer = Writer::start(writes.clone());

    // When the lease would expire, as etcd sees it just before the outage.
    let mut etcd = etcd_client::Client::connect([cluster.etcd.endpoint()], None)
        .await
        .unwrap();
    let leader_key = etcd.get("/service/test/leader", None).await.unwrap();
    let lease = leader_key.kvs()[0].lease();
    let ttl = etcd.lease_time_to_live(lease, None).await.unwrap().ttl();
    let frozen_at = Instant::now();
    cluster.etcd.member.proc.freeze().unwrap();
    let lease_expiry = frozen_at + Duration::from_secs(u64::try_from(ttl).unwrap());

    let leader_conn = cluster.nodes[leader].connstr();
    wait_until_async(
        Duration::from_secs(40),
        "the primary to stop accepting writes",
        || async { (!writable(&leader_conn).await).then_some(()) },
    )
    .await
    .unwrap();
    let stopped_writes = Instant::now();
    eprintln!(
        "DCS outage: the primary stopped accepting writes {:?} after etcd froze; its lease had {ttl} s left",
        stopped_writes - frozen_at
    );
    assert!(
        stopped_writes < lease_expiry,
        "the primary accepted writes after its lease could have expired"
    );
    // The replicas stay replicas throughout.
    for (i, node) in cluster
        .nodes
        .iter()
        .enumerate()
        .filter(|(i, _)| *i != leader)
    {
        assert_eq!(
            query_one::<bool>(&node.connstr(), "SELECT pg_is_in_recovery()").await,
            Some(true),
            "node {i}"
        );
    }
    // Keep etcd away past the lease, then bring it back: the cluster heals by itself.
    let until = lease_expiry + Duration::from_secs(2);
    tokio::time::sleep(until.saturating_duration_since(Instant::now())).await;
    cluster.etcd.member.proc.thaw().unwrap();
    let thawed = Instant::now();
    let timeline = wait_until_async(Duration::from_secs(90), "a writable leader after the outage", || async {
        let keys = dcs(&cluster).await;
        let name = keys.get("leader")?;
        let node = cluster.nodes.iter().find(|n| &n.name == name)?;
        if !writable(&node.connstr()).await {
            return None;
        }
        // The timeline of the WAL being written (the member key may be a cycle old).
        query_one::<i64>(
            &node.connstr(),
            "SELECT ('x' || substr(pg_walfile_name(pg_current_wal_lsn()), 1, 8))::bit(32)::int::bigint",
        )
        .await
    })
    .await
    .unwrap();
    eprintln!(
        "DCS outage: writable again {:?} after etcd came back (timeline {timeline})",
        thawed.elapsed()
    );
    healthy(&cluster, timeline, Duration::from_secs(90)).await;
    let log = writer.stop().await;
    let missing = missing_writes(&writes, &log).await.unwrap();
    assert!(missing.is_empty(), "acknowledged writes lost: {missing:?}");
    let violations = watcher.stop().await;
    assert!(violations.is_empty(), "{violations:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn postgres_killed_under_a_live_agent_comes_back_in_its_role() {
    let kit = Kit::new("ha-pg-kill").unwrap();
    let (cluster, _writes, leader) = up(&kit, Timings::DEFAULT).await;
    let watcher = Watcher::start(cluster.nodes.iter().map(|n| n.connstr()).collect());
    let replica = (leader + 1) % 3;
    for (victim, role) in [(replica, "replica"), (leader, "primary")] {
        let pid = cluster.nodes[victim].postmaster_pid().unwrap();
        nix::sys::signal::kill(
            nix::unistd::Pid::from_raw(pid),
            nix::sys::signal::Signal::SIGKILL,
        )
        .unwrap();
        let killed = Instant::now();
        let name = cluster.nodes[victim].name.clone();
        let conn = cluster.nodes[victim].connstr();
        wait_until_async(
            Duration::from_secs(60),
            "PostgreSQL to come back",
            || async {
                let new_pid = cluster.nodes[victim].postmaster_pid()?;
                let back = new_pid != pid
                    && query_one::<bool>(&conn, "SELECT pg_is_in_recovery()").await
                        == Some(role == "replica");
                back.then_some(())
            },
        )
        .await
        .unwrap();
        eprintln!(
            "PostgreSQL of the {role} {name} killed: back in its role after {:?}",
            killed.elapsed()
        );
        // The leader kept the lock and its timeline; every replica streams again.
        let keys = dcs(&cluster).await;
        assert_eq!(
            keys.get("leader").map(String::as_str),
            Some(cluster.nodes[leader].name.as_str())
        );
        healthy(&cluster, 1, Duration::from_secs(90)).await;
    }
    let violations = watcher.stop().await;
    assert!(violations.is_empty(), "{violations:?}");
}

/// `watchdog.mode: required` with no usable device: the member neither bootstraps nor races for
/// the lock (Patroni: "Watchdog device is not usable"), even when it is the only one left.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_member_whose_required_watchdog_is_missing_never_leads() {
    let kit = Kit::new("ha-watchdog-required").unwrap();
    let mut cluster = Cluster::new(&kit, agent_binary(), 2, Timings::FASTEST).unwrap();
    let config = &cluster.nodes[0].config;
    let yaml = std::fs::read_to_string(config).unwrap();
    let device = kit.path().join("no-watchdog");
    std::fs::write(
        config,
        format!(
            "{yaml}watchdog:\n  mode: required\n  device: {}\n",
            device.display()
        ),
    )
    .unwrap();
    cluster.start_all(&kit).unwrap();
    let leader = healthy(&cluster, 1, Duration::from_secs(90)).await;
    assert_eq!(leader, 1, "the member without its watchdog leads");
    // The only other member stops (releasing the lock): node1 still must not lead.
    cluster.nodes[1]
        .agent
        .as_mut()
        .unwrap()
        .stop(Duration::from_secs(60))
        .unwrap();
    let ttl = Duration::from_secs(u64::from(Timings::FASTEST.ttl));
    let watched = Instant::now();
    let mut checks = 0;
    while watched.elapsed() < ttl * 3 && checks < 100 {
        checks += 1;
        assert!(
            !writable(&cluster.nodes[0].connstr()).await,
            "node1 was promoted without its required watchdog"
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    let log = std::fs::read_to_string(kit.log_path("node1")).unwrap();
    assert!(
        log.contains("Watchdog device is not usable"),
        "node1 did not say why it does not lead"
    );
}

/// `maximum_lag_on_failover` against the leader's `/status`: a replica that stopped receiving
/// while the leader wrote more than that much WAL is, once the leader is dead and it is the only
/// candidate left, not promoted, and says why; its lag health check and the cluster view measure
/// it against the same `/status` position.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_replica_too_far_behind_the_last_status_is_not_promoted() {
    let kit = Kit::new("ha-lagging-replica").unwrap();
    let (mut cluster, writes, leader) = up(&kit, Timings::FAST).await;
    let (lagging, other) = match leader {
        0 => (1, 2),
        1 => (0, 2),
        _ => (0, 1),
    };
    let name = cluster.nodes[lagging].name.clone();
    let stop = |cluster: &mut Cluster, i: usize| {
        cluster.nodes[i]
            .agent
            .as_mut()
            .unwrap()
            .stop(Duration::from_secs(60))
            .unwrap();
    };
    // Its agent stops with its PostgreSQL: it receives nothing more.
    stop(&mut cluster, lagging);
    // About 5 MB of WAL, five times maximum_lag_on_failover.
    let (client, conn) = tokio_postgres::connect(&writes, tokio_postgres::NoTls)
        .await
        .unwrap();
    tokio::spawn(conn);
    client
        .batch_execute(
            "CREATE TABLE ballast AS SELECT g, repeat('x', 200) AS pad FROM generate_series(1, 20000) g",
        )
        .await
        .unwrap();
    let behind_at: i64 = client
        .query_one(
            "SELECT pg_wal_lsn_diff(pg_current_wal_flush_lsn(), '0/0')::bigint",
            &[],
        )
        .await
        .unwrap()
        .get(0);
    let status = wait_until_async(
        Duration::from_secs(30),
        "the leader's /status at the new position",
        || async {
            let status: Value = serde_json::from_str(dcs(&cluster).await.get("status")?).ok()?;
            (status["optime"].as_i64()? >= behind_at).then_some(status)
        },
    )
    .await
    .unwrap();
    eprintln!("lagging replica: leader's /status {status}");
    let leader_name = cluster.nodes[leader].name.as_str();
    assert_eq!(
        status["slots"][leader_name].as_i64(),
        status["optime"].as_i64(),
        "the leader publishes its own position among the slots"
    );
    assert!(
        status["retain_slots"]
            .as_array()
            .is_some_and(|r| r.iter().any(|s| s == leader_name)),
        "{status}"
    );
    // The replica that is up to date leaves too; then the leader dies with its PostgreSQL.
    stop(&mut cluster, other);
    let postmaster = cluster.nodes[leader].postmaster_pid();
    cluster.nodes[leader]
        .agent
        .as_mut()
        .unwrap()
        .kill9()
        .unwrap();
    if let Some(pid) = postmaster {
        let _ = nix::sys::signal::kill(
            nix::unistd::Pid::from_raw(pid),
            nix::sys::signal::Signal::SIGKILL,
        );
    }
    cluster.nodes[leader].agent = None;
    let lagging_connstr = cluster.nodes[lagging].connstr();
    cluster.start(&kit, lagging).unwrap();
    // Once the dead leader's lease has expired, it is the only candidate, on every cycle.
    let reason = "following a different leader because i am not the healthiest node (My wal position exceeds maximum replication lag)";
    wait_until_async(
        Duration::from_secs(120),
        "the lagging replica to refuse to promote three times",
        || async {
            assert!(
                !writable(&lagging_connstr).await,
                "{name} was promoted although it is too far behind"
            );
            let log = std::fs::read_to_string(kit.log_path(&name)).ok()?;
            (log.matches(reason).count() >= 3).then_some(())
        },
    )
    .await
    .unwrap();
    let keys = dcs(&cluster).await;
    assert_eq!(keys.get("leader"), None, "{keys:?}");
    let in_recovery: bool = query_one(&lagging_connstr, "SELECT pg_is_in_recovery()")
        .await
        .unwrap();
    assert!(in_recovery, "{name} is not a replica");
    // Its own health check and cluster view measure the same lag.
    let api = cluster.nodes[lagging].api_url();
    let client = reqwest::Client::new();
    let code = |query: &'static str| {
        let (client, api) = (client.clone(), api.clone());
        async move {
            client
                .get(format!("{api}/replica?lag={query}"))
                .send()
                .await
                .map(|r| r.status().as_u16())
                .ok()
        }
    };
    let lag = wait_until_async(
        Duration::from_secs(30),
        "its member key with its position, in its /cluster",
        || async {
            let text = client
                .get(format!("{api}/cluster"))
                .send()
                .await
                .ok()?
                .text()
                .await
                .ok()?;
            let view: Value = serde_json::from_str(&text).ok()?;
            let me = view["members"]
                .as_array()?
                .iter()
                .find(|m| m["name"] == name.as_str())?
                .clone();
            me["lag"].as_i64()
        },
    )
    .await
    .unwrap();
    assert!(lag > 1_048_576, "{name}'s lag in /cluster: {lag}");
    assert_eq!(code("1048576").await, Some(503), "/replica?lag=1MB");
    assert_eq!(code("1000000000").await, Some(200), "/replica?lag=1GB");
}
