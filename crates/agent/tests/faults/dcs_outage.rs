//! etcd frozen (SIGSTOP) for three times ttl, failsafe mode off: the primary cannot renew its
//! lock, so it must stop accepting writes before the lease could expire; nobody can be promoted
//! while etcd is away; when etcd returns the cluster elects a leader and heals by itself.

use crate::scenario::Scenario;
use ferroni_testkit::cluster::Timings;
use ferroni_testkit::probes::writable;
use ferroni_testkit::wait_until_async;
use std::time::{Duration, Instant};

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn etcd_stops_answering_for_longer_than_ttl() {
    let mut s = Scenario::start("fault-dcs-outage", Timings::FASTEST.synchronous(), false).await;
    let old = s.leader;
    let frozen = Instant::now();
    s.cluster.etcd.member.proc.freeze().unwrap();
    let stopped = s.stops_writes(old, frozen, Duration::from_secs(10)).await;
    eprintln!(
        "dcs outage: the primary stopped accepting writes {stopped:?} after etcd froze (ttl {} s, retry_timeout {} s)",
        s.timings.ttl, s.timings.retry_timeout
    );
    assert!(
        stopped < s.ttl(),
        "the primary kept writing for {stopped:?}"
    );
    // No node may accept writes while etcd is away.
    let thaw = frozen + s.ttl() * 3;
    let connstrs: Vec<String> = s.cluster.nodes.iter().map(|n| n.connstr()).collect();
    let mut polls = 0;
    while Instant::now() + Duration::from_millis(500) < thaw && polls < 1000 {
        polls += 1;
        for (i, c) in connstrs.iter().enumerate() {
            assert!(!writable(c).await, "node{} writable without the DCS", i + 1);
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    tokio::time::sleep(thaw.saturating_duration_since(Instant::now())).await;
    s.cluster.etcd.member.proc.thaw().unwrap();
    let back = Instant::now();
    let elected = wait_until_async(Duration::from_secs(30), "a primary again", || async {
        for c in &connstrs {
            if writable(c).await {
                return Some(back.elapsed());
            }
        }
        None
    })
    .await
    .unwrap();
    eprintln!("dcs outage: a primary accepted writes {elected:?} after etcd returned");
    s.finish("dcs outage", frozen).await.assert_safe();
}
