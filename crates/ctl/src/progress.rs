//! Beyond patronictl, for a person at a terminal only: while a switchover, restart, reinit or
//! resume is under way, a line for each change of the cluster's state (roles and states of the
//! members), so the operator sees the hand-over happen.

use crate::members::Format;
use ferroni_api::cluster_view::cluster_as_json;
use ferroni_dcs::Dcs;
use std::future::Future;
use std::io::{IsTerminal, Write};
use std::time::Duration;

/// Whether a person is at the terminal (stdout is one, and `NO_COLOR` is not set).
pub fn at_terminal() -> bool {
    std::io::stdout().is_terminal() && std::env::var_os("NO_COLOR").is_none()
}

/// `node1 Leader running | node2 Replica streaming | …`, or `no leader | …`.
async fn summary(dcs: &dyn Dcs, name: &str) -> Option<String> {
    let cluster = dcs.get_cluster().await.ok()?;
    let view = cluster_as_json(&cluster, name);
    let mut parts: Vec<String> = Vec::new();
    if cluster.leader.is_none() {
        parts.push("no leader".into());
    }
    for m in view["members"].as_array()? {
        let role = m["role"].as_str().unwrap_or("").replace('_', " ");
        parts.push(format!(
            "{} {} {}",
            m["name"].as_str().unwrap_or(""),
            role,
            m["state"].as_str().unwrap_or("")
        ));
    }
    Some(parts.join(" | "))
}

/// Runs `work`; at a terminal, prints each state change of the cluster meanwhile.
pub async fn watch_while<F: Future>(
    dcs: &dyn Dcs,
    name: &str,
    format: Format,
    work: F,
) -> F::Output {
    if !at_terminal() || format != Format::Pretty {
        return work.await;
    }
    tokio::pin!(work);
    let mut last = String::new();
    let mut tick = tokio::time::interval(Duration::from_millis(100));
    loop {
        tokio::select! {
            out = &mut work => return out,
            _ = tick.tick() => {
                if let Some(now) = summary(dcs, name).await
                    && now != last
                {
                    let time = chrono::Local::now().format("%H:%M:%S%.3f");
                    println!("  {time}  {now}");
                    let _ = std::io::stdout().flush();
                    last = now;
                }
            }
        }
    }
}
