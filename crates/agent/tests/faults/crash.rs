//! kill -9 of the leader's agent and of its PostgreSQL (every process of the server), as when
//! the machine dies: a replica takes over once the lease expires, at Ferroni's fastest settings
//! within ttl plus a promotion; the crashed member, restarted as a supervisor would, rejoins.

use crate::scenario::Scenario;
use ferroni_testkit::cluster::Timings;
use ferroni_testkit::process::descendants;
use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;
use std::time::{Duration, Instant};

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_leaders_agent_and_postgres_are_killed() {
    let mut s = Scenario::start("fault-crash", Timings::FASTEST.synchronous(), false).await;
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
    let outcome = s.finish("crash", crashed).await;
    outcome.assert_safe();
    assert!(
        outcome.longest_gap < s.ttl() * 3,
        "writes stopped for {:?}",
        outcome.longest_gap
    );
}
