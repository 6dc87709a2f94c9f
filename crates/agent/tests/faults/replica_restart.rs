//! A replica's agent stopped (it stops its PostgreSQL) and started again under write load: writes
//! go on through the other replica, nobody fails over, and the replica streams again.

use crate::scenario::Scenario;
use ferroni_testkit::cluster::Timings;
use std::time::{Duration, Instant};

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_replica_restarts_under_write_load() {
    let mut s = Scenario::start("fault-replica-restart", Timings::FAST.synchronous(), false).await;
    let replica = (s.leader + 1) % 3;
    let stopped = Instant::now();
    s.cluster.nodes[replica]
        .agent
        .as_mut()
        .unwrap()
        .stop(Duration::from_secs(60))
        .unwrap();
    s.cluster.start(&s.kit, replica).unwrap();
    let outcome = s.finish("replica restart", stopped).await;
    outcome.assert_safe();
    assert_eq!(
        outcome.leader, s.leader,
        "a replica restart moved the leader"
    );
    assert!(
        outcome.longest_gap < Duration::from_secs(5),
        "writes stopped for {:?}",
        outcome.longest_gap
    );
}
