//! kill -9 of the leader's agent and of its PostgreSQL (every process of the server), as when
//! the machine dies: a replica takes over once the lease expires, at Ferroni's fastest settings
//! within ttl plus a promotion; the crashed member, restarted as a supervisor would, rejoins.

use crate::scenario::Scenario;
use ferroni_testkit::cluster::Timings;
use ferroni_testkit::process::descendants;
use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;
use std::time::{Duration, Instant};

/// `maximum_lag_on_failover` of the test configuration.
const MAXIMUM_LAG_ON_FAILOVER: i64 = 1_048_576;

/// Kills the leader's agent, its postmaster and every child of it; waits for another primary and
/// restarts the agent. Returns the moment of the crash.
async fn crash_the_leader(s: &mut Scenario) -> Instant {
    let old = s.leader;
    let postmaster = s.cluster.nodes[old].postmaster_pid().unwrap();
    let server: Vec<u32> = descendants(postmaster.unsigned_abs());
    let crashed = Instant::now();
    s.cluster.nodes[old]
        .agent
        .as_mut()
        .unwrap()
        .kill9()
        .unwrap();
    let _ = kill(Pid::from_raw(postmaster), Signal::SIGKILL);
    for pid in server {
        let _ = kill(Pid::from_raw(pid.try_into().unwrap()), Signal::SIGKILL);
    }
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

/// With asynchronous commit a crash can lose the writes the promoted replica had not received —
/// but no more than `maximum_lag_on_failover` of WAL: every lost write lies within that distance
/// past the point where the new timeline forked off (`/history`).
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_leaders_agent_and_postgres_are_killed_with_asynchronous_commit() {
    let mut s = Scenario::start("fault-crash-async", Timings::FASTEST, false).await;
    let crashed = crash_the_leader(&mut s).await;
    let outcome = s.finish("crash, asynchronous commit", crashed).await;
    assert!(
        outcome.overlaps.is_empty(),
        "two writable nodes: {:?}",
        outcome.overlaps
    );
    let url = format!("{}/history", s.cluster.nodes[outcome.leader].api_url());
    let text = reqwest::get(&url).await.unwrap().text().await.unwrap();
    let history: serde_json::Value = serde_json::from_str(&text).unwrap();
    let fork = history
        .as_array()
        .and_then(|h| h.last())
        .and_then(|e| e[1].as_i64())
        .unwrap_or_else(|| panic!("no switch in /history: {history}"));
    let furthest = outcome.missing_lsn.iter().map(|lsn| lsn - fork).max();
    eprintln!(
        "crash, asynchronous commit: {} acknowledged writes lost, the furthest {furthest:?} bytes past the fork point",
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
