//! The leader's agent frozen (SIGSTOP) for 10 s, longer than ttl, then thawed. Its PostgreSQL
//! must stop acknowledging writes before the lease can expire — the fence guard kills it — so a
//! replica takes over with no two writable nodes; the thawed agent finds its lock gone and
//! rejoins as a replica by itself.

use crate::scenario::Scenario;
use ferroni_testkit::cluster::Timings;
use std::time::{Duration, Instant};

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn the_leaders_agent_freezes_for_10_seconds() {
    let mut s = Scenario::start("fault-frozen-agent", Timings::FASTEST.synchronous(), false).await;
    let old = s.leader;
    let frozen = Instant::now();
    s.agent(old).freeze().unwrap();
    let fenced = s.stops_writes(old, frozen, Duration::from_secs(10)).await;
    let promoted = s
        .another_primary(old, frozen, Duration::from_secs(30))
        .await;
    eprintln!(
        "frozen agent: PostgreSQL fenced {fenced:?} after the freeze (ttl {} s); a replica writable after {promoted:?}",
        s.timings.ttl
    );
    assert!(fenced < s.ttl(), "fenced only after {fenced:?}");
    let thaw = frozen + Duration::from_secs(10);
    tokio::time::sleep(thaw.saturating_duration_since(Instant::now())).await;
    s.agent(old).thaw().unwrap();
    let outcome = s.finish("frozen agent", frozen).await;
    outcome.assert_safe();
    outcome.assert_stopped_before_another_wrote(old, frozen);
}
