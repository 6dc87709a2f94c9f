//! `GET /cluster`, `/history` and `/config`: the cluster as the DCS describes it, shaped as
//! Patroni's `cluster_as_json` (the same view `patronictl list` prints).

use crate::json::python_json;
use ferroni_model::{Cluster, format_lsn};
use serde_json::{Map, Value, json};

/// Whether the cluster's dynamic configuration asks for synchronous (or quorum) replication.
fn sync_mode(cluster: &Cluster) -> Option<&'static str> {
    let config = &cluster.config.as_ref()?.value;
    match config.get("synchronous_mode") {
        Some(Value::Bool(true)) => Some("sync_standby"),
        Some(Value::String(s)) if s == "quorum" => Some("quorum_standby"),
        Some(Value::String(s))
            if matches!(s.to_ascii_lowercase().as_str(), "on" | "true" | "yes" | "1") =>
        {
            Some("sync_standby")
        }
        _ => None,
    }
}

/// The members, their roles, states, positions and lags, plus `pause` and a scheduled switchover.
pub fn cluster_as_json(cluster: &Cluster, scope: &str) -> Value {
    let leader = cluster.leader_name();
    let optime = cluster.status.as_ref().map_or(0, |s| s.optime);
    let sync_role = sync_mode(cluster);
    let mut members = Vec::new();
    for m in &cluster.members {
        let d = &m.data;
        let role = if Some(m.name.as_str()) == leader {
            "leader"
        } else if let (Some(role), Some(sync)) = (sync_role, cluster.sync.as_ref()) {
            if sync.value.matches(&m.name) {
                role
            } else {
                "replica"
            }
        } else {
            "replica"
        };
        let state = if role != "leader" {
            d.replication_state.clone().filter(|s| !s.is_empty())
        } else {
            None
        }
        .unwrap_or_else(|| d.state.clone());
        let mut member = Map::new();
        member.insert("name".into(), json!(m.name));
        member.insert("role".into(), json!(role));
        member.insert("state".into(), json!(state));
        member.insert("api_url".into(), json!(d.api_url));
        if let Some((host, port)) = d.host_port() {
            member.insert("host".into(), json!(host));
            member.insert("port".into(), json!(port));
        }
        if let Some(t) = d.timeline {
            member.insert("timeline".into(), json!(t));
        }
        if let Some(p) = d.pending_restart {
            member.insert("pending_restart".into(), json!(p));
        }
        if let Some(r) = &d.pending_restart_reason {
            member.insert("pending_restart_reason".into(), Value::Object(r.clone()));
        }
        if let Some(r) = &d.scheduled_restart {
            member.insert("scheduled_restart".into(), Value::Object(r.clone()));
        }
        if let Some(t) = &d.tags {
            member.insert("tags".into(), Value::Object(t.clone()));
        }
        if role != "leader" {
            for (prefix, lsn) in [
                ("receive_", d.receive_lsn),
                ("replay_", d.replay_lsn),
                ("", d.xlog_location),
            ] {
                let (lag, text) = match lsn {
                    None | Some(0) => (json!("unknown"), json!("unknown")),
                    Some(l) => (json!(optime.saturating_sub(l)), json!(format_lsn(l))),
                };
                member.insert(format!("{prefix}lag"), lag);
                member.insert(format!("{prefix}lsn"), text);
            }
        }
        members.push(Value::Object(member));
    }
    let mut out = Map::new();
    out.insert("members".into(), Value::Array(members));
    let paused = cluster
        .config
        .as_ref()
        .and_then(|c| c.value.get("pause"))
        .and_then(Value::as_bool)
        == Some(true);
    if paused {
        out.insert("pause".into(), json!(true));
    }
    if let Some(f) = cluster.failover.as_ref().map(|f| &f.value)
        && let Some(at) = &f.scheduled_at
    {
        let mut s = Map::new();
        s.insert("at".into(), json!(at));
        if let Some(l) = &f.leader {
            s.insert("from".into(), json!(l));
        }
        if let Some(c) = &f.member {
            s.insert("to".into(), json!(c));
        }
        out.insert("scheduled_switchover".into(), Value::Object(s));
    }
    out.insert("scope".into(), json!(scope));
    Value::Object(out)
}

/// The `/cluster` body.
pub fn cluster_body(cluster: &Cluster, scope: &str) -> String {
    python_json(&cluster_as_json(cluster, scope))
}

/// The `/history` body (`[]` without history).
pub fn history_body(cluster: &Cluster) -> String {
    let history = cluster
        .history
        .as_ref()
        .map(|h| serde_json::to_value(&h.value).unwrap_or(Value::Array(Vec::new())));
    python_json(&history.unwrap_or(Value::Array(Vec::new())))
}

/// The `/config` body, when the cluster has a configuration.
pub fn config_body(cluster: &Cluster) -> Option<String> {
    cluster
        .config
        .as_ref()
        .map(|c| python_json(&Value::Object(c.value.clone())))
}
