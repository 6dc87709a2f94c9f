//! The status JSON of `GET /patroni` (and the body of every GET health check), with Patroni's
//! fields, order and separators.

use crate::json::python_json;
use crate::state::NodeState;
use serde_json::{Map, Value, json};

/// The `/patroni` body.
pub fn status_json(s: &NodeState) -> String {
    let pg = &s.pg;
    let mut m = Map::new();
    m.insert("state".into(), json!(pg.state));
    if let Some(t) = &pg.postmaster_start_time {
        m.insert("postmaster_start_time".into(), json!(t));
    }
    m.insert("role".into(), json!(pg.role));
    if let Some(v) = pg.server_version {
        m.insert("server_version".into(), json!(v));
    }
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
    if let Some(t) = pg.timeline {
        m.insert("timeline".into(), json!(t));
    }
    if let Some(r) = &pg.replication_state {
        m.insert("replication_state".into(), json!(r));
    }
    if !pg.replication.is_empty() {
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
    python_json(&Value::Object(m))
}
