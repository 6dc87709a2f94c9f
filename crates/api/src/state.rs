//! What the agent publishes for the REST API after every cycle (and before a demotion): health
//! checks are answered from it, without touching PostgreSQL or the DCS.

use serde_json::{Map, Value};

pub use ferroni_model::ReplicationRow;

/// The local PostgreSQL as last observed.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct PgStatus {
    /// `running`, `starting`, `stopped`, `creating replica`, …
    pub state: String,
    /// `primary`, `replica`, `uninitialized`, `demoted`.
    pub role: String,
    pub postmaster_start_time: Option<String>,
    pub server_version: Option<u32>,
    /// Primary: flush LSN.
    pub location: Option<u64>,
    /// Replica: received and replayed LSNs, replay timestamp, replay paused.
    pub received_location: Option<u64>,
    pub replayed_location: Option<u64>,
    pub replayed_timestamp: Option<String>,
    pub replay_paused: bool,
    pub timeline: Option<u64>,
    /// `streaming` or `in archive recovery` (replicas).
    pub replication_state: Option<String>,
    pub replication: Vec<ReplicationRow>,
    /// Parameters waiting for a restart: `{name: {old_value, new_value}}` (empty: none).
    pub pending_restart_reason: Map<String, Value>,
}

/// The published state of this node.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct NodeState {
    pub name: String,
    pub scope: String,
    pub version: String,
    pub pg: PgStatus,
    /// This node holds the leader lock (and PostgreSQL is, or is becoming, primary).
    pub holds_lock: bool,
    pub paused: bool,
    /// `failsafe_mode` of the dynamic configuration.
    pub failsafe_mode: bool,
    /// Failsafe mode keeps the cluster going without the DCS (this primary was accepted by every
    /// member, or this member accepted a primary less than `ttl` ago).
    pub failsafe_active: bool,
    /// The cluster has no leader.
    pub cluster_unlocked: bool,
    /// Unix time of the last successful DCS read.
    pub dcs_last_seen: u64,
    /// Unix time the last HA cycle started (for `/liveness`).
    pub last_cycle: u64,
    pub ttl: u64,
    /// `loop_wait`, seconds.
    pub loop_wait: u64,
    pub maximum_lag_on_failover: u64,
    /// The leader's last WAL position (`/status` optime).
    pub cluster_optime: u64,
    pub tags: Map<String, Value>,
    pub database_system_identifier: Option<String>,
    /// This node is a synchronous / quorum standby according to `/sync`.
    pub sync_standby: bool,
    pub quorum_standby: bool,
    /// The scheduled restart, as the member key carries it (`schedule`, filters,
    /// `postmaster_start_time`).
    pub scheduled_restart: Option<Map<String, Value>>,
    /// The cluster as last read from the DCS (for `/cluster`, `/history`, `/config`).
    pub cluster: Option<ferroni_model::Cluster>,
}
