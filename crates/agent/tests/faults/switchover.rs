//! A switchover under write load, asked through the REST API as patronictl does: no two writable
//! nodes, no acknowledged write lost, the candidate leads, and the write gap measured.

use crate::scenario::Scenario;
use ferroni_testkit::cluster::Timings;
use ferroni_testkit::wait_until_async;
use std::time::{Duration, Instant};

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_switchover_under_write_load() {
    let mut s = Scenario::start("fault-switchover", Timings::FAST, false).await;
    let candidate = (s.leader + 1) % 3;
    let body = format!(
        r#"{{"leader": "{}", "candidate": "{}"}}"#,
        s.cluster.nodes[s.leader].name, s.cluster.nodes[candidate].name
    );
    // As an operator would, wait until the cluster view shows the candidate streaming.
    let view = format!("{}/cluster", s.cluster.nodes[s.leader].api_url());
    let name = s.cluster.nodes[candidate].name.clone();
    wait_until_async(
        Duration::from_secs(30),
        "the candidate to stream",
        || async {
            let text = reqwest::get(&view).await.ok()?.text().await.ok()?;
            let cluster: serde_json::Value = serde_json::from_str(&text).ok()?;
            cluster["members"]
                .as_array()?
                .iter()
                .any(|m| m["name"] == name.as_str() && m["state"] == "streaming")
                .then_some(())
        },
    )
    .await
    .unwrap();
    let asked = Instant::now();
    let response = reqwest::Client::new()
        .post(format!(
            "{}/switchover",
            s.cluster.nodes[s.leader].api_url()
        ))
        .header("Content-Type", "application/json")
        .body(body)
        .send()
        .await
        .unwrap();
    let answered = asked.elapsed();
    assert_eq!(response.status(), 200, "{:?}", response.text().await);
    eprintln!("switchover: answered after {answered:?}");
    let outcome = s.finish("switchover", asked).await;
    outcome.assert_safe();
    assert_eq!(outcome.leader, candidate);
}
