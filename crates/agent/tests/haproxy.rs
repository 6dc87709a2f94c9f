//! Debian's real HAProxy in front of a three-node cluster, configured as users configure it for
//! Patroni (`tests/fixtures/haproxy/haproxy.cfg`: `OPTIONS /primary` for writes, `OPTIONS /replica`
//! round robin for reads): writes reach the leader, reads rotate over the replicas, and after a
//! kill -9 failover writes reach the new leader with no change to HAProxy.

use ferroni_testkit::cluster::{Cluster, Timings};
use ferroni_testkit::ports::free_port;
use ferroni_testkit::{Kit, Proc, wait_until_async};
use std::collections::BTreeSet;
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

/// A new connection through `port`.
async fn connect(port: u16) -> Option<tokio_postgres::Client> {
    let connstr = format!(
        "host=127.0.0.1 port={port} user=postgres password=super-pass dbname=postgres connect_timeout=2"
    );
    let (client, conn) = tokio_postgres::connect(&connstr, tokio_postgres::NoTls)
        .await
        .ok()?;
    tokio::spawn(conn);
    Some(client)
}

/// The port of the server a new connection through `port` lands on, and whether it is in recovery.
async fn landed_on(port: u16) -> Option<(i32, bool)> {
    let row = connect(port)
        .await?
        .query_one("SELECT inet_server_port(), pg_is_in_recovery()", &[])
        .await
        .ok()?;
    Some((row.get(0), row.get(1)))
}

/// A write through `port`: the port of the server that took it.
async fn write_through(port: u16) -> Option<i32> {
    let client = connect(port).await?;
    client
        .batch_execute("CREATE TABLE IF NOT EXISTS through_haproxy (at timestamptz DEFAULT now()); INSERT INTO through_haproxy DEFAULT VALUES")
        .await
        .ok()?;
    client
        .query_one("SELECT inet_server_port()", &[])
        .await
        .ok()?
        .try_get(0)
        .ok()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn haproxy_routes_writes_to_the_leader_and_reads_to_the_replicas_across_a_failover() {
    let kit = Kit::new("haproxy").unwrap();
    let mut cluster = Cluster::new(
        &kit,
        Path::new(env!("CARGO_BIN_EXE_ferroni")),
        3,
        Timings::FAST,
    )
    .unwrap();
    cluster.start_all(&kit).unwrap();

    let (write_port, read_port, stats_port) = (
        free_port().unwrap(),
        free_port().unwrap(),
        free_port().unwrap(),
    );
    let template = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/fixtures/haproxy/haproxy.cfg"),
    )
    .unwrap();
    let mut cfg = template
        .replace("@@WRITE_PORT@@", &write_port.to_string())
        .replace("@@READ_PORT@@", &read_port.to_string())
        .replace("@@STATS_PORT@@", &stats_port.to_string());
    for (i, node) in cluster.nodes.iter().enumerate() {
        cfg = cfg
            .replace(&format!("@@PG_PORT_{}@@", i + 1), &node.pg_port.to_string())
            .replace(
                &format!("@@REST_PORT_{}@@", i + 1),
                &node.api_port.to_string(),
            );
    }
    let cfg_path = kit.path().join("haproxy.cfg");
    std::fs::write(&cfg_path, cfg).unwrap();
    let mut cmd = Command::new("haproxy");
    cmd.arg("-db").arg("-f").arg(&cfg_path);
    let _haproxy = Proc::spawn(
        "haproxy",
        cmd,
        None,
        &kit.log_path("haproxy"),
        nix::sys::signal::Signal::SIGTERM,
    )
    .unwrap();

    // Writes land on the leader.
    let leader_port = wait_until_async(Duration::from_secs(90), "a write through HAProxy", || {
        write_through(write_port)
    })
    .await
    .unwrap();
    let leader = cluster
        .nodes
        .iter()
        .position(|n| i32::from(n.pg_port) == leader_port)
        .unwrap();
    // Reads rotate over both replicas once HAProxy sees them up.
    let replicas: BTreeSet<i32> = cluster
        .nodes
        .iter()
        .enumerate()
        .filter(|(i, _)| *i != leader)
        .map(|(_, n)| i32::from(n.pg_port))
        .collect();
    wait_until_async(
        Duration::from_secs(60),
        "reads rotating over both replicas",
        || async {
            let mut seen = BTreeSet::new();
            for _ in 0..6 {
                let (port, in_recovery) = landed_on(read_port).await?;
                if !in_recovery {
                    return None;
                }
                seen.insert(port);
            }
            (seen == replicas).then_some(())
        },
    )
    .await
    .unwrap();

    // kill -9 the leader's agent and PostgreSQL; HAProxy is left alone.
    cluster.nodes[leader]
        .agent
        .as_mut()
        .unwrap()
        .kill9()
        .unwrap();
    cluster.nodes[leader].agent = None;
    let killed = Instant::now();
    let new_port = wait_until_async(
        Duration::from_secs(90),
        "a write through HAProxy after the failover",
        || async {
            write_through(write_port)
                .await
                .filter(|p| *p != leader_port)
        },
    )
    .await
    .unwrap();
    eprintln!(
        "haproxy: writes reached the new leader (port {new_port}) {:?} after kill -9 of the old one",
        killed.elapsed()
    );
    assert!(replicas.contains(&new_port));
    let (port, in_recovery) = landed_on(read_port).await.unwrap();
    assert!(
        in_recovery && port != new_port,
        "reads go to the remaining replica"
    );
}
