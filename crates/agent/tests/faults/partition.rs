//! The leader cut off from etcd and both peers (its link to the hub namespace down; the test
//! still reaches it on its own link) for three times ttl. It must stop accepting writes before
//! its lease expires; a replica is promoted after that; when the link returns the old leader
//! rejoins as a replica (rewound if it had diverged) with no manual step.

use crate::scenario::Scenario;
use ferroni_testkit::cluster::Timings;
use std::time::{Duration, Instant};

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_leader_is_partitioned_from_etcd_and_its_peers() {
    let mut s = Scenario::start("fault-partition", Timings::FASTEST.synchronous(), true).await;
    let old = s.leader;
    let cut = Instant::now();
    s.cluster.cut(old).unwrap();
    let stopped = s.stops_writes(old, cut, Duration::from_secs(10)).await;
    let promoted = s.another_primary(old, cut, Duration::from_secs(30)).await;
    eprintln!(
        "partition: the cut-off primary stopped accepting writes {stopped:?} after the cut (ttl {} s); a replica writable after {promoted:?}",
        s.timings.ttl
    );
    assert!(
        stopped < s.ttl(),
        "the cut-off primary kept writing for {stopped:?}"
    );
    let heal = cut + s.ttl() * 3;
    tokio::time::sleep(heal.saturating_duration_since(Instant::now())).await;
    s.cluster.heal(old).unwrap();
    let outcome = s.finish("partition", cut).await;
    outcome.assert_safe();
    outcome.assert_stopped_before_another_wrote(old, cut);
}
