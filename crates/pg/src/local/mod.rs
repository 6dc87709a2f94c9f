//! The PostgreSQL server beside this agent: its data directory, its files, its postmaster, and a
//! connection to ask it questions. One file per job: `files` (the configuration files it
//! writes), `process` (the postmaster and the programs beside it), `session` (observing and
//! asking the server), `copies` (initdb, base backups, pg_rewind).

mod copies;
mod files;
mod process;
mod session;

use process::{run, run_inherit};

use crate::conf::{ConfFile, recovery_parameters, render_lines, render_postgresql_conf};
use crate::controldata::ControlData;
use crate::params::{Identity, KnownGucs, ServerParameters, server_parameters};
use crate::{pgpass, sql};
use ferroni_model::ReplicationRow;
use nix::sys::signal::{Signal, kill};
use nix::unistd::Pid;
use serde_json::{Map, Value};
use std::collections::BTreeMap;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;
use tokio::process::Command;
use tokio::time::Instant;

/// Why an operation on the local server failed.
#[derive(Debug, thiserror::Error)]
pub enum PgError {
    #[error("{what}: {reason}")]
    Io { what: String, reason: String },
    #[error("{program} failed: {reason}")]
    Program { program: String, reason: String },
    #[error("PostgreSQL: {0}")]
    Sql(String),
    #[error("{0}")]
    Timeout(String),
}

fn io(what: impl Into<String>) -> impl FnOnce(std::io::Error) -> PgError {
    let what = what.into();
    move |e| PgError::Io {
        what,
        reason: e.to_string(),
    }
}

use crate::connect::Target;
pub use crate::connect::{Credentials, Endpoint, LibpqOptions};

/// Everything the local server needs from the configuration.
#[derive(Debug, Clone, Default)]
pub struct PgSettings {
    pub name: String,
    pub scope: String,
    pub data_dir: PathBuf,
    pub bin_dir: PathBuf,
    /// `postgresql.listen`: `host[,host…]:port`.
    pub listen: String,
    pub pgpass: PathBuf,
    pub superuser: Credentials,
    pub replication: Credentials,
    pub rewind: Option<Credentials>,
    /// `postgresql.use_unix_socket`: the agent's own sessions go through the socket.
    pub use_unix_socket: bool,
    /// `postgresql.pg_hba`: the whole file, when given.
    pub pg_hba: Option<Vec<String>>,
    /// `bootstrap.pg_hba`: lines appended after initdb (legacy).
    pub bootstrap_pg_hba: Vec<String>,
    pub pg_ident: Option<Vec<String>>,
    /// `postgresql.parameters`.
    pub local_parameters: Map<String, Value>,
    /// `bootstrap.initdb`, as command-line options.
    pub initdb_options: Vec<String>,
    /// `postgresql.basebackup`, as command-line options.
    pub basebackup_options: Vec<String>,
    pub post_bootstrap: Option<String>,
    pub recovery_conf: BTreeMap<String, String>,
}

/// What a running server reports.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Observation {
    pub in_recovery: bool,
    pub timeline: u64,
    /// Primary: flush LSN; replica: max(receive, replay).
    pub wal_position: u64,
    pub receive_lsn: Option<u64>,
    pub replay_lsn: Option<u64>,
    /// Replica: its WAL receiver streams now.
    pub receiver_streaming: bool,
    pub slots: Vec<String>,
    /// The `restart_lsn` of each physical slot that has one, in `pg_replication_slots` order.
    pub slot_lsns: Vec<(String, u64)>,
    /// `2026-11-23 17:14:07.391574+00:00`, as Patroni prints it.
    pub postmaster_start_time: Option<String>,
    pub server_version: Option<u32>,
    /// Primary: its replication connections.
    pub replication: Vec<ReplicationRow>,
    /// Parameters changed in `postgresql.conf` that only a restart applies, as Patroni's
    /// `pending_restart_reason`: `{name: {old_value, new_value}}`.
    pub pending_restart: serde_json::Map<String, serde_json::Value>,
}

/// Where a server is in its WAL.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WalPositions {
    pub in_recovery: bool,
    pub timeline: u64,
    /// Primary: flush LSN; replica: max(receive, replay).
    pub wal_position: u64,
    pub receive_lsn: Option<u64>,
    pub replay_lsn: Option<u64>,
}

/// The state of the data directory.
#[derive(Debug, Clone, PartialEq)]
pub enum DataDirState {
    Empty,
    Initialized(ControlData),
    Invalid,
}

/// How to stop the postmaster (the signal PostgreSQL gives each meaning).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StopMode {
    Smart,
    Fast,
    Immediate,
}

/// The role the managed files prepare the server for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Recovery<'a> {
    /// No standby.signal, no recovery settings.
    Primary,
    /// standby.signal, streaming from the upstream when there is one (read-only without).
    Standby(Option<&'a Upstream>),
}

/// Where the upstream of a replica is.
pub type Upstream = Endpoint;

/// The local PostgreSQL.
#[derive(Debug, Clone)]
pub struct LocalPostgres {
    pub settings: PgSettings,
    known: KnownGucs,
    major_version: u32,
    /// The agent's connection, kept between cycles: a new one per cycle costs an authentication
    /// (SCRAM) and a backend start, in CPU while idle and in time during a failover.
    session: Arc<tokio::sync::Mutex<Option<Arc<tokio_postgres::Client>>>>,
    /// The first absolute entry of `unix_socket_directories` the server is configured with (as
    /// Patroni picks it), known once the parameters are computed.
    socket_dir: Arc<std::sync::RwLock<Option<String>>>,
}

/// The first absolute directory of a `unix_socket_directories` value.
fn first_socket_dir(value: &str) -> Option<String> {
    value
        .split(',')
        .map(str::trim)
        .find(|d| d.starts_with('/'))
        .map(str::to_string)
}

impl LocalPostgres {
    /// Asks the binaries for their version and the parameters they know.
    pub async fn new(settings: PgSettings) -> Result<LocalPostgres, PgError> {
        let postgres = settings.bin_dir.join("postgres");
        let describe = run(
            Command::new(&postgres).arg("--describe-config"),
            "postgres --describe-config",
        )
        .await?;
        let version = run(
            Command::new(&postgres).arg("--version"),
            "postgres --version",
        )
        .await?;
        // `postgres (PostgreSQL) 15.18 (Debian …)` → 150000
        let major: u32 = version
            .split_whitespace()
            .nth(2)
            .and_then(|v| v.split('.').next())
            .and_then(|v| v.parse().ok())
            .unwrap_or(15);
        Ok(LocalPostgres {
            settings,
            known: KnownGucs::from_describe_config(&describe),
            major_version: major * 10000,
            session: Arc::new(tokio::sync::Mutex::new(None)),
            socket_dir: Arc::new(std::sync::RwLock::new(None)),
        })
    }

    fn data(&self) -> &Path {
        &self.settings.data_dir
    }
}

/// Writes a file only its owner can read.
pub(crate) fn write_private(path: &Path, text: &str) -> Result<(), PgError> {
    std::fs::write(path, text).map_err(io(format!("cannot write {}", path.display())))?;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600))
        .map_err(io(format!("cannot chmod {}", path.display())))
}
