//! `GET /metrics`: Prometheus text with Patroni's metric names, types, labels and values, so
//! existing dashboards and alerts keep working. (The help texts are Ferroni's own.)

use crate::state::NodeState;
use std::fmt::Write as _;

/// Patroni's numbering of PostgreSQL states (`patroni_postgres_state`).
fn state_number(state: &str) -> u32 {
    match state {
        "initializing new cluster" => 0,
        "initdb failed" => 1,
        "running custom bootstrap script" => 2,
        "custom bootstrap failed" => 3,
        "creating replica" => 4,
        "running" => 5,
        "starting" => 6,
        "starting after custom bootstrap" => 7,
        "start failed" => 8,
        "restarting" => 9,
        "restart failed" => 10,
        "stopping" => 11,
        "stopped" => 12,
        "stop failed" => 13,
        _ => 14,
    }
}

/// `4.1.5` → `040105`, the zero-padded form Patroni exports.
fn version_number(version: &str) -> String {
    version
        .split('.')
        .take(3)
        .map(|p| format!("{:02}", p.parse::<u32>().unwrap_or(0)))
        .collect()
}

/// Epoch seconds of `2026-11-23 17:14:07.391574+00:00`.
fn epoch(timestamp: &str) -> Option<f64> {
    let t = chrono::DateTime::parse_from_str(timestamp, "%Y-%m-%d %H:%M:%S%.f%:z").ok()?;
    Some(t.timestamp() as f64 + f64::from(t.timestamp_subsec_micros()) / 1e6)
}

/// The `/metrics` body.
pub fn metrics(s: &NodeState) -> String {
    let pg = &s.pg;
    let running = pg.state == "running";
    let primary = s.holds_lock && pg.role == "primary";
    let replica = pg.role == "replica";
    let bit = |b: bool| if b { "1".to_string() } else { "0".to_string() };
    let start = pg
        .postmaster_start_time
        .as_deref()
        .and_then(epoch)
        .map_or("0".to_string(), |e| format!("{e}"));
    let rows: Vec<(&str, &str, &str, String)> = vec![
        (
            "patroni_version",
            "gauge",
            "The agent's version, each part two digits.",
            version_number(&s.version),
        ),
        (
            "patroni_postgres_running",
            "gauge",
            "1 when PostgreSQL runs.",
            bit(running),
        ),
        (
            "patroni_postmaster_start_time",
            "gauge",
            "When the postmaster started, in epoch seconds.",
            start,
        ),
        ("patroni_primary", "gauge", "1 on the leader.", bit(primary)),
        (
            "patroni_xlog_location",
            "counter",
            "WAL flush position of the leader; 0 elsewhere.",
            pg.location.filter(|_| primary).unwrap_or(0).to_string(),
        ),
        (
            "patroni_standby_leader",
            "gauge",
            "1 on a standby cluster's leader.",
            "0".into(),
        ),
        ("patroni_replica", "gauge", "1 on a replica.", bit(replica)),
        (
            "patroni_sync_standby",
            "gauge",
            "1 on a synchronous standby.",
            bit(s.sync_standby),
        ),
        (
            "patroni_quorum_standby",
            "gauge",
            "1 on a quorum standby.",
            bit(s.quorum_standby),
        ),
        (
            "patroni_xlog_received_location",
            "counter",
            "Received WAL position of a replica; 0 elsewhere.",
            pg.received_location
                .filter(|_| replica)
                .unwrap_or(0)
                .to_string(),
        ),
        (
            "patroni_xlog_replayed_location",
            "counter",
            "Replayed WAL position of a replica; 0 elsewhere.",
            pg.replayed_location
                .filter(|_| replica)
                .unwrap_or(0)
                .to_string(),
        ),
        (
            "patroni_xlog_replayed_timestamp",
            "gauge",
            "Time of the last replayed transaction; 0 when unknown.",
            "0".into(),
        ),
        (
            "patroni_xlog_paused",
            "gauge",
            "1 when WAL replay is paused.",
            bit(pg.replay_paused),
        ),
        (
            "patroni_postgres_streaming",
            "gauge",
            "1 when the replica streams from its upstream.",
            bit(pg.replication_state.as_deref() == Some("streaming")),
        ),
        (
            "patroni_postgres_in_archive_recovery",
            "gauge",
            "1 when the replica replays from the archive.",
            bit(pg.replication_state.as_deref() == Some("in archive recovery")),
        ),
        (
            "patroni_postgres_server_version",
            "gauge",
            "PostgreSQL's version number; 0 when not running.",
            pg.server_version
                .filter(|_| running)
                .unwrap_or(0)
                .to_string(),
        ),
        (
            "patroni_cluster_unlocked",
            "gauge",
            "1 when no member holds the leader lock.",
            bit(s.cluster_unlocked),
        ),
        (
            "patroni_failsafe_mode_is_active",
            "gauge",
            "1 while failsafe mode keeps the primary up.",
            bit(s.failsafe_active),
        ),
        (
            "patroni_postgres_timeline",
            "gauge",
            "PostgreSQL's timeline; 0 when not running.",
            pg.timeline.filter(|_| running).unwrap_or(0).to_string(),
        ),
        (
            "patroni_dcs_last_seen",
            "gauge",
            "Last successful DCS read, in epoch seconds.",
            s.dcs_last_seen.to_string(),
        ),
        (
            "patroni_pending_restart",
            "gauge",
            "1 when PostgreSQL needs a restart to apply settings.",
            bit(!pg.pending_restart_reason.is_empty()),
        ),
        (
            "patroni_is_paused",
            "gauge",
            "1 in maintenance mode.",
            bit(s.paused),
        ),
        (
            "patroni_postgres_state",
            "gauge",
            "PostgreSQL's state as a number (5 = running, 12 = stopped, …).",
            state_number(&pg.state).to_string(),
        ),
    ];
    let mut out = String::new();
    for (name, kind, help, value) in rows {
        let _ = write!(
            out,
            "# HELP {name} {help}\n# TYPE {name} {kind}\n{name}{{scope=\"{}\",name=\"{}\"}} {value}\n",
            s.scope, s.name
        );
    }
    out
}
