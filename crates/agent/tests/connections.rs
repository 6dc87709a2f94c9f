//! The agent connects to PostgreSQL as the configuration says, on real three-node clusters that
//! bootstrap, clone, fail over and rewind:
//! - TLS only: `pg_hba` lets TCP in only with TLS and a client certificate (`hostssl …
//!   clientcert=verify-ca`, Patroni's acceptance suite's rules), so the agents' sessions,
//!   `pg_basebackup`, `primary_conninfo` and `pg_rewind` all need `sslmode: verify-ca`, `sslcert`,
//!   `sslkey` and `sslrootcert` honoured;
//! - `use_unix_socket`: the superuser has only `local` lines, so every session the agent opens
//!   to its own server must take the socket.
//!
//! The test reaches the servers over their sockets (`local … trust`).

use ferroni_testkit::certs::Certs;
use ferroni_testkit::cluster::{Cluster, Node, Timings};
use ferroni_testkit::member_config::PgAccess;
use ferroni_testkit::probes::{another_primary, query_one, settled};
use ferroni_testkit::{Kit, Proc, find_bin_dir, wait_until_async};
use nix::sys::signal::Signal;
use std::path::Path;
use std::process::Command;
use std::time::Duration;

fn agent_binary() -> &'static Path {
    Path::new(env!("CARGO_BIN_EXE_ferroni"))
}

/// Starts the crashed old primary's PostgreSQL by hand (no agent, no TCP) and commits a table
/// the new timeline does not have, so that it can only rejoin by rewinding.
async fn diverge(kit: &Kit, node: &Node) {
    let bin = find_bin_dir(None).unwrap();
    let socket = node
        .socket_dir
        .as_ref()
        .expect("the test reaches nodes by socket");
    let mut postgres = Command::new(bin.join("postgres"));
    postgres
        .arg("-D")
        .arg(&node.data_dir)
        .args(["-c", "listen_addresses=", "-c"])
        .arg(format!("port={}", node.pg_port))
        .arg("-c")
        .arg(format!("unix_socket_directories={}", socket.display()));
    let name = format!("{}-by-hand", node.name);
    let mut server = Proc::spawn(
        &name,
        postgres,
        kit.postgres_user(),
        &kit.log_path(&name),
        Signal::SIGINT,
    )
    .unwrap();
    let connstr = node.connstr();
    wait_until_async(
        Duration::from_secs(60),
        "the old primary to take a write by hand",
        || async {
            let (client, conn) = tokio_postgres::connect(&connstr, tokio_postgres::NoTls)
                .await
                .ok()?;
            tokio::spawn(conn);
            client
                .batch_execute("CREATE TABLE diverged AS SELECT 1 AS one")
                .await
                .ok()
        },
    )
    .await
    .unwrap();
    server.stop(Duration::from_secs(30)).unwrap();
}

async fn bootstrap_clone_fail_over_and_rewind(test: &str, access: impl Fn(&Kit) -> PgAccess) {
    let kit = Kit::new(test).unwrap();
    let access = access(&kit);
    let mut cluster =
        Cluster::with_access(&kit, agent_binary(), 3, Timings::FAST, &access).unwrap();
    cluster.start_all(&kit).unwrap();
    let old = settled(&cluster, Duration::from_secs(120)).await.unwrap();
    if let PgAccess::TlsOnly(_) = access {
        let over_tls: i64 = query_one(
            &cluster.nodes[old].connstr(),
            "SELECT count(*) FROM pg_stat_replication r JOIN pg_stat_ssl s USING (pid) \
             WHERE s.ssl AND r.state = 'streaming'",
        )
        .await
        .unwrap();
        assert_eq!(over_tls, 2, "both replicas stream over TLS");
    }

    cluster.nodes[old].agent.as_mut().unwrap().kill9().unwrap();
    cluster.nodes[old].agent = None;
    let new = another_primary(&cluster, old, Duration::from_secs(90))
        .await
        .unwrap();
    diverge(&kit, &cluster.nodes[old]).await;
    cluster.start(&kit, old).unwrap();
    let primary = settled(&cluster, Duration::from_secs(120)).await.unwrap();
    assert_eq!(primary, new, "the new primary stays primary");

    let old_node = &cluster.nodes[old];
    let log = std::fs::read_to_string(kit.log_path(&old_node.name)).unwrap();
    assert!(
        log.contains("running pg_rewind from") && log.contains("pg_rewind: Done!"),
        "the old primary rejoined by pg_rewind"
    );
    let diverged: i64 = query_one(
        &old_node.connstr(),
        "SELECT count(*) FROM pg_class WHERE relname = 'diverged'",
    )
    .await
    .unwrap();
    assert_eq!(diverged, 0, "the rewind undid the old timeline's write");
    let timeline: i64 = query_one(
        &old_node.connstr(),
        "SELECT received_tli::bigint FROM pg_stat_get_wal_receiver()",
    )
    .await
    .unwrap();
    assert_eq!(timeline, 2, "the old primary follows the new timeline");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_tls_only_cluster_bootstraps_clones_fails_over_and_rewinds() {
    bootstrap_clone_fail_over_and_rewind("pg-tls-only", |kit| {
        let dir = kit.postgres_dir("tls").unwrap();
        PgAccess::TlsOnly(Certs::make(&dir, kit.postgres_user()).unwrap())
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn with_use_unix_socket_the_superuser_needs_no_tcp_line() {
    bootstrap_clone_fail_over_and_rewind("pg-socket-superuser", |_| PgAccess::SocketSuperuser)
        .await;
}
