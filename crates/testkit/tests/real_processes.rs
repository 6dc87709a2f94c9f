//! The testkit against the real programs: etcd answers a client, PostgreSQL answers SQL as the
//! `postgres` user, and nothing the kit started outlives it — also when the test panics.

use ferroni_testkit::process::{group_members, pid_alive};
use ferroni_testkit::{Etcd, EtcdCluster, Kit, PgServer, wait_until};
use std::time::Duration;

fn assert_gone(pids: &[u32]) {
    for &pid in pids {
        assert!(!pid_alive(pid), "process {pid} is still running");
        assert!(
            group_members(pid).is_empty(),
            "process group {pid} still has {:?}",
            group_members(pid)
        );
    }
}

async fn put_get(endpoint: &str, read_from: &str) -> String {
    let mut writer = etcd_client::Client::connect([endpoint], None)
        .await
        .expect("etcd client connects");
    writer
        .put("/ferroni-test/key", "value-1", None)
        .await
        .expect("put");
    let mut reader = etcd_client::Client::connect([read_from], None)
        .await
        .expect("etcd client connects");
    let got = reader.get("/ferroni-test/key", None).await.expect("get");
    let kv = got.kvs().first().expect("the key is there");
    kv.value_str().expect("utf-8 value").to_string()
}

#[tokio::test(flavor = "multi_thread")]
async fn etcd_starts_answers_and_leaves_nothing_behind() {
    let kit = Kit::new("etcd").unwrap();
    let etcd = Etcd::start(&kit).unwrap();
    let pid = etcd.member.proc.pid();
    assert_eq!(put_get(&etcd.endpoint(), &etcd.endpoint()).await, "value-1");
    drop(etcd);
    assert_gone(&[pid]);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_three_member_etcd_cluster_replicates() {
    let kit = Kit::new("etcd3").unwrap();
    let cluster = EtcdCluster::start(&kit, 3).unwrap();
    let eps = cluster.endpoints();
    let pids: Vec<u32> = cluster.members.iter().map(|m| m.proc.pid()).collect();
    assert_eq!(put_get(&eps[0], &eps[2]).await, "value-1");
    drop(cluster);
    assert_gone(&pids);
}

fn owner_uid(pid: u32) -> u32 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).expect("process status");
    let line = status
        .lines()
        .find(|l| l.starts_with("Uid:"))
        .expect("a Uid line");
    line.split_whitespace()
        .nth(1)
        .and_then(|u| u.parse().ok())
        .expect("a numeric uid")
}

#[tokio::test(flavor = "multi_thread")]
async fn postgres_runs_as_the_postgres_user_and_answers_select_1() {
    let kit = Kit::new("pg").unwrap();
    let pg = PgServer::start(&kit, "pg1").unwrap();
    let pid = pg.proc.pid();
    if let Some(user) = kit.postgres_user() {
        assert_eq!(
            owner_uid(pid),
            user.uid,
            "the postmaster must run as postgres"
        );
    }
    let (client, connection) = tokio_postgres::connect(&pg.connstr(), tokio_postgres::NoTls)
        .await
        .expect("connects");
    let conn = tokio::spawn(connection);
    let row = client.query_one("SELECT 1", &[]).await.expect("SELECT 1");
    assert_eq!(row.get::<_, i32>(0), 1);
    // The postmaster's children (checkpointer, walwriter, this backend…) must go with it.
    let family = pg.proc.family();
    assert!(family.len() > 3, "postmaster and children: {family:?}");
    drop(client);
    let _ = conn.await;
    drop(pg);
    assert_gone(&family);
}

#[test]
fn processes_are_stopped_when_a_test_panics() {
    let kit = Kit::new("panic").unwrap();
    let pid = std::sync::Mutex::new(0u32);
    let outcome = std::panic::catch_unwind(|| {
        let etcd = Etcd::start(&kit).unwrap();
        *pid.lock().unwrap() = etcd.member.proc.pid();
        panic!("a failing test");
    });
    assert!(outcome.is_err());
    let pid = *pid.lock().unwrap();
    assert_ne!(pid, 0);
    assert_gone(&[pid]);
}

#[test]
fn freeze_thaw_and_kill() {
    let kit = Kit::new("freeze").unwrap();
    let mut etcd = Etcd::start(&kit).unwrap();
    etcd.member.proc.freeze().unwrap();
    assert!(!etcd.member.is_healthy(), "a frozen etcd does not answer");
    etcd.member.proc.thaw().unwrap();
    wait_until(Duration::from_secs(10), "etcd to answer after thaw", || {
        etcd.member.is_healthy().then_some(())
    })
    .unwrap();
    let pid = etcd.member.proc.pid();
    etcd.member.proc.kill9().unwrap();
    assert!(!etcd.member.proc.is_running());
    assert_gone(&[pid]);
}
