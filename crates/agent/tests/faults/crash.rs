//! kill -9 of the leader's agent and of its PostgreSQL (every process of the server), as when
//! the machine dies: a replica takes over once the lease expires, at Ferroni's fastest settings
//! within ttl plus a promotion; the crashed member, restarted as a supervisor would, rejoins.

use crate::scenario::Scenario;
use ferroni_testkit::cluster::Timings;
use ferroni_testkit::probes::writable;
use ferroni_testkit::process::descendants;
use ferroni_testkit::wait_until_async;
use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;
use std::time::{Duration, Instant};

/// `maximum_lag_on_failover` of the test configuration.
const MAXIMUM_LAG_ON_FAILOVER: i64 = 1_048_576;

/// Kills node `i`'s agent, its postmaster and every child of it, as when the machine dies.
/// Returns the moment of the crash.
fn crash(s: &mut Scenario, i: usize) -> Instant {
    let postmaster = s.cluster.nodes[i].postmaster_pid().unwrap();
    let server: Vec<u32> = descendants(postmaster.unsigned_abs());
    let crashed = Instant::now();
    s.cluster.nodes[i].agent.as_mut().unwrap().kill9().unwrap();
    let _ = kill(Pid::from_raw(postmaster), Signal::SIGKILL);
    for pid in server {
        let _ = kill(Pid::from_raw(pid.try_into().unwrap()), Signal::SIGKILL);
    }
    crashed
}

/// Crashes the leader; waits for another primary and restarts the agent. Returns the moment of
/// the crash.
async fn crash_the_leader(s: &mut Scenario) -> Instant {
    let old = s.leader;
    let crashed = crash(s, old);
    let promoted = s
        .another_primary(old, crashed, Duration::from_secs(60))
        .await;
    eprintln!(
        "crash: a replica accepted writes {promoted:?} after the crash (ttl {} s)",
        s.timings.ttl
    );
    s.cluster.start(&s.kit, old).unwrap();
    crashed
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_leaders_agent_and_postgres_are_killed() {
    let mut s = Scenario::start("fault-crash", Timings::FASTEST.synchronous(), false).await;
    let crashed = crash_the_leader(&mut s).await;
    let outcome = s.finish("crash", crashed).await;
    outcome.assert_safe();
    assert!(
        outcome.longest_gap < s.ttl() * 3,
        "writes stopped for {:?}",
        outcome.longest_gap
    );
}

/// With asynchronous commit a crash loses the writes the promoted replica had not received, and
/// `maximum_lag_on_failover` bounds how many: every lost write lies within that distance past
/// the point where the new timeline forked off (`/history`). Here the rule is the only guard: one
/// replica is stopped and the other stops receiving while the leader writes five times that much
/// WAL; the leader crashes and only the lagging replica comes back. It must not be promoted, so
/// the crashed leader, restarted, leads again and nothing acknowledged is lost. A lagging
/// replica promoted anyway (the rule broken) loses the 5 MB, and the bound below fails.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_leaders_agent_and_postgres_are_killed_with_asynchronous_commit() {
    let mut s = Scenario::start("fault-crash-async", Timings::FASTEST, false).await;
    let old = s.leader;
    let (lagging, other) = match old {
        0 => (1, 2),
        1 => (0, 2),
        _ => (0, 1),
    };
    for i in [other, lagging] {
        let agent = s.cluster.nodes[i].agent.as_mut().unwrap();
        agent.stop(Duration::from_secs(60)).unwrap();
    }
    let behind_at = s.ballast(5 * MAXIMUM_LAG_ON_FAILOVER).await;
    s.status_reaches(behind_at, Duration::from_secs(30)).await;
    let crashed = crash(&mut s, old);
    let name = s.cluster.nodes[lagging].name.clone();
    s.cluster.start(&s.kit, lagging).unwrap();
    let reason = "following a different leader because i am not the healthiest node (My wal position exceeds maximum replication lag)";
    let lagging_connstr = s.cluster.nodes[lagging].connstr();
    wait_until_async(
        Duration::from_secs(60),
        "the lagging replica to refuse to promote twice",
        || async {
            assert!(
                !writable(&lagging_connstr).await,
                "{name} was promoted although it is too far behind"
            );
            let log = std::fs::read_to_string(s.kit.log_path(&name)).ok()?;
            (log.matches(reason).count() >= 2).then_some(())
        },
    )
    .await
    .unwrap();
    s.cluster.start(&s.kit, old).unwrap();
    s.cluster.start(&s.kit, other).unwrap();
    let outcome = s.finish("crash, asynchronous commit", crashed).await;
    assert!(
        outcome.overlaps.is_empty(),
        "two writable nodes: {:?}",
        outcome.overlaps
    );
    let url = format!("{}/history", s.cluster.nodes[outcome.leader].api_url());
    let text = reqwest::get(&url).await.unwrap().text().await.unwrap();
    let history: serde_json::Value = serde_json::from_str(&text).unwrap();
    // No switch since the crash: nothing can have been lost past a fork.
    let fork = history
        .as_array()
        .and_then(|h| h.last())
        .and_then(|e| e[1].as_i64())
        .unwrap_or(i64::MAX);
    let furthest = outcome
        .missing_lsn
        .iter()
        .map(|lsn| lsn.saturating_sub(fork))
        .max();
    eprintln!(
        "crash, asynchronous commit: {} acknowledged writes lost, the furthest {furthest:?} bytes past the fork point; /history {history}",
        outcome.missing.len()
    );
    assert_eq!(
        outcome.missing_lsn.len(),
        outcome.missing.len(),
        "a lost write without its position"
    );
    assert!(
        furthest.unwrap_or(0) <= MAXIMUM_LAG_ON_FAILOVER,
        "lost writes up to {furthest:?} bytes past the fork point"
    );
}

/// A member that missed promotions must not make a timeline number the cluster already had:
/// here both replicas hold history files of timelines 2 and 3 made elsewhere (as Ferroni's
/// claims), the leader crashes, and the member promoted makes timeline 4; the other replica
/// follows it, and the old leader, restarted, rejoins it; a replica that lacks the files 2 and 3
/// fetches them from the new primary, which keeps them.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_promotion_skips_the_timeline_numbers_already_made() {
    use std::os::unix::fs::MetadataExt;
    let mut s = Scenario::start(
        "fault-crash-timelines",
        Timings::FASTEST.synchronous(),
        false,
    )
    .await;
    let old = s.leader;
    for (i, node) in s
        .cluster
        .nodes
        .iter()
        .enumerate()
        .filter(|(i, _)| *i != old)
    {
        let pg_wal = node.data_dir.join("pg_wal");
        let owner = std::fs::metadata(&pg_wal).unwrap();
        let claimed = ferroni_pg::walfiles::claim_timelines(&pg_wal, 1, &[2, 3]).unwrap();
        assert_eq!(claimed, vec![2, 3], "node{}", i + 1);
        for t in claimed {
            let file = pg_wal.join(format!("{t:08X}.history"));
            std::os::unix::fs::chown(&file, Some(owner.uid()), Some(owner.gid())).unwrap();
        }
    }
    let crashed = crash_the_leader(&mut s).await;
    let outcome = s.finish("crash, timelines 2 and 3 taken", crashed).await;
    outcome.assert_safe();
    let api = s.cluster.nodes[outcome.leader].api_url();
    let patroni = get_json(&format!("{api}/patroni"))
        .await
        .unwrap_or_default();
    assert_eq!(patroni["timeline"], 4, "{patroni}");
    let history = get_json(&format!("{api}/history"))
        .await
        .unwrap_or_default();
    let last = history
        .as_array()
        .and_then(|h| h.last())
        .cloned()
        .unwrap_or_default();
    assert_eq!(
        last[0], 1,
        "the new timeline forked off timeline 1: {history}"
    );
    assert_eq!(
        last[4],
        s.cluster.nodes[outcome.leader].name.as_str(),
        "{history}"
    );
    // A replica without those files, restarted, asks the new primary for them (PostgreSQL's
    // WAL receiver fetches every history file between its timeline and the primary's): the
    // new primary kept its claims.
    let third = (0..3).find(|i| *i != old && *i != outcome.leader).unwrap();
    let pg_wal = s.cluster.nodes[third].data_dir.join("pg_wal");
    for t in [2, 3] {
        let _ = std::fs::remove_file(pg_wal.join(format!("{t:08X}.history")));
    }
    let postmaster = s.cluster.nodes[third].postmaster_pid().unwrap();
    kill(Pid::from_raw(postmaster), Signal::SIGKILL).unwrap();
    let fetched = pg_wal.join("00000002.history");
    wait_until_async(
        Duration::from_secs(60),
        "the history file fetched again",
        || async { fetched.exists().then_some(()) },
    )
    .await
    .unwrap();
    ferroni_testkit::probes::settled(&s.cluster, Duration::from_secs(60))
        .await
        .unwrap();
    for (i, node) in s.cluster.nodes.iter().enumerate() {
        let url = format!("{}/patroni", node.api_url());
        let member: serde_json::Value = wait_until_async(
            Duration::from_secs(30),
            "every member on timeline 4",
            || async {
                let m = get_json(&url).await?;
                (m["timeline"] == 4).then_some(m)
            },
        )
        .await
        .unwrap_or_else(|e| panic!("node{}: {e}", i + 1));
        assert_eq!(member["state"], "running", "node{}: {member}", i + 1);
    }
}

async fn get_json(url: &str) -> Option<serde_json::Value> {
    let text = reqwest::get(url).await.ok()?.text().await.ok()?;
    serde_json::from_str(&text).ok()
}
