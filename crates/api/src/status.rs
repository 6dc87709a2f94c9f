//! The status JSON of `GET /patroni` (and the body of every GET health check), with Patroni's
//! fields, order and separators.

use crate::json::python_json;
use crate::state::NodeState;
use serde_json::{Map, Value, json};

/// The `/patroni` body. Of a server that is not running, no WAL position and no replication
/// connections (Patroni answers only state and role when its query fails): no member in a
/// leader race counts a stopped server (a crashed primary's last position) as a live primary or
/// as ahead of it. What does not move with the server (timeline, version) stays, as health
/// checks answer from the state published at the last cycle, which may be a moment behind a
/// server that was just started again.
pub fn status_json(s: &NodeState) -> String {
    let pg = &s.pg;
    let mut m = Map::new();
    m.insert("state".into(), json!(pg.state));
    server_fields(&mut m, s, pg.state == "running");
    flags_and_identity(&mut m, s);
    python_json(&Value::Object(m))
}

/// What the server reports: start time, role, version, timeline, and when it runs
/// (`positions`) its WAL positions and replication connections.
fn server_fields(m: &mut Map<String, Value>, s: &NodeState, positions: bool) {
    let pg = &s.pg;
    if let Some(t) = &pg.postmaster_start_time {
        m.insert("postmaster_start_time".into(), json!(t));
    }
    m.insert("role".into(), json!(pg.role));
    if let Some(v) = pg.server_version {
        m.insert("server_version".into(), json!(v));
    }
    if positions {
        xlog(m, pg);
    }
    if let Some(t) = pg.timeline {
        m.insert("timeline".into(), json!(t));
    }
    if let Some(r) = &pg.replication_state {
        m.insert("replication_state".into(), json!(r));
    }
    if positions && !pg.replication.is_empty() {
        let rows: Vec<Value> = pg
            .replication
            .iter()
            .map(|r| {
                json!({"usename": r.usename, "application_name": r.application_name, "client_addr": r.client_addr,
                       "state": r.state, "sync_state": r.sync_state, "sync_priority": r.sync_priority})
            })
            .collect();
        m.insert("replication".into(), Value::Array(rows));
    }
}

/// `xlog`: a primary's location, a replica's received and replayed positions.
fn xlog(m: &mut Map<String, Value>, pg: &crate::state::PgStatus) {
    if let Some(location) = pg.location {
        m.insert("xlog".into(), json!({"location": location}));
    } else if pg.received_location.is_some() || pg.replayed_location.is_some() {
        let mut xlog = Map::new();
        xlog.insert(
            "received_location".into(),
            json!(pg.received_location.or(pg.replayed_location)),
        );
        xlog.insert("replayed_location".into(), json!(pg.replayed_location));
        xlog.insert("replayed_timestamp".into(), json!(pg.replayed_timestamp));
        xlog.insert("paused".into(), json!(pg.replay_paused));
        m.insert("xlog".into(), Value::Object(xlog));
    }
}

/// The cluster's flags and the agent's own fields, whatever the server's state.
fn flags_and_identity(m: &mut Map<String, Value>, s: &NodeState) {
    let pg = &s.pg;
    for (key, on) in [
        ("sync_standby", s.sync_standby),
        ("quorum_standby", s.quorum_standby),
        ("pause", s.paused),
        ("cluster_unlocked", s.cluster_unlocked),
        ("failsafe_mode_is_active", s.failsafe_active),
    ] {
        if on {
            m.insert(key.into(), json!(true));
        }
    }
    m.insert("dcs_last_seen".into(), json!(s.dcs_last_seen));
    if !s.tags.is_empty() {
        m.insert("tags".into(), Value::Object(s.tags.clone()));
    }
    if let Some(id) = &s.database_system_identifier {
        m.insert("database_system_identifier".into(), json!(id));
    }
    if !pg.pending_restart_reason.is_empty() {
        m.insert("pending_restart".into(), json!(true));
        m.insert(
            "pending_restart_reason".into(),
            Value::Object(pg.pending_restart_reason.clone()),
        );
    }
    m.insert(
        "patroni".into(),
        json!({"version": s.version, "scope": s.scope, "name": s.name}),
    );
    if let Some(restart) = &s.scheduled_restart {
        let mut shown = restart.clone();
        shown.remove("postmaster_start_time");
        m.insert("scheduled_restart".into(), Value::Object(shown));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::state::PgStatus;

    fn node(state: &str) -> NodeState {
        NodeState {
            name: "node1".into(),
            pg: PgStatus {
                state: state.into(),
                role: "primary".into(),
                location: Some(4096),
                timeline: Some(2),
                server_version: Some(150_000),
                ..PgStatus::default()
            },
            cluster_unlocked: true,
            ..NodeState::default()
        }
    }

    #[test]
    fn a_stopped_server_reports_no_position() {
        let body: Value = serde_json::from_str(&status_json(&node("stopped"))).unwrap();
        assert_eq!(body["state"], "stopped");
        assert_eq!(body["role"], "primary");
        assert_eq!(body["cluster_unlocked"], true);
        assert!(body.get("xlog").is_none(), "{body}");
        assert!(body.get("replication").is_none(), "{body}");
        assert_eq!(body["timeline"], 2);
    }

    #[test]
    fn a_running_primary_reports_its_position_and_timeline() {
        let body: Value = serde_json::from_str(&status_json(&node("running"))).unwrap();
        assert_eq!(body["xlog"]["location"], 4096);
        assert_eq!(body["timeline"], 2);
        assert_eq!(body["server_version"], 150_000);
    }
}
