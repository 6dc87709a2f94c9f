//! The PostgreSQL server beside this agent: its data directory, its files, its postmaster, and a
//! connection to ask it questions.

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

    /// Empty (or missing), initialized (with its control data), or neither.
    pub async fn data_dir_state(&self) -> DataDirState {
        let empty = match std::fs::read_dir(self.data()) {
            Err(_) => true,
            Ok(mut entries) => entries.next().is_none(),
        };
        if empty {
            return DataDirState::Empty;
        }
        if !self.data().join("global/pg_control").exists() {
            return DataDirState::Invalid;
        }
        match self.controldata().await {
            Some(c) => DataDirState::Initialized(c),
            None => DataDirState::Invalid,
        }
    }

    /// `pg_controldata` of the data directory.
    pub async fn controldata(&self) -> Option<ControlData> {
        let mut cmd = Command::new(self.settings.bin_dir.join("pg_controldata"));
        cmd.arg(self.data()).env("LANG", "C").env("LC_ALL", "C");
        let out = run(&mut cmd, "pg_controldata").await.ok()?;
        ControlData::parse(&out)
    }

    /// The postmaster's PID, when `postmaster.pid` names a live process.
    pub fn postmaster_pid(&self) -> Option<i32> {
        let text = std::fs::read_to_string(self.data().join("postmaster.pid")).ok()?;
        let pid: i32 = text.lines().next()?.trim().parse().ok()?;
        kill(Pid::from_raw(pid), None).is_ok().then_some(pid)
    }

    /// Runs initdb with the superuser's name and password and the `bootstrap.initdb` options.
    pub async fn initdb(&self) -> Result<(), PgError> {
        std::fs::create_dir_all(self.data())
            .map_err(io(format!("cannot create {}", self.data().display())))?;
        std::fs::set_permissions(self.data(), std::fs::Permissions::from_mode(0o700))
            .map_err(io("cannot chmod the data directory"))?;
        let mut cmd = Command::new(self.settings.bin_dir.join("initdb"));
        cmd.arg("-D")
            .arg(self.data())
            .args(&self.settings.initdb_options);
        cmd.arg(format!("--username={}", self.settings.superuser.username));
        let pwfile = self.data().with_extension("pwfile");
        if let Some(password) = &self.settings.superuser.password {
            write_private(&pwfile, password.expose())?;
            cmd.arg(format!("--pwfile={}", pwfile.display()));
        }
        let result = run_inherit(&mut cmd, "initdb").await;
        let _ = std::fs::remove_file(&pwfile);
        result?;
        // The legacy `bootstrap.pg_hba` lines go after initdb's own, when no whole file is set.
        if self.settings.pg_hba.is_none() && !self.settings.bootstrap_pg_hba.is_empty() {
            let hba = self.data().join("pg_hba.conf");
            let mut text = std::fs::read_to_string(&hba).map_err(io("cannot read pg_hba.conf"))?;
            for line in &self.settings.bootstrap_pg_hba {
                text.push_str(line);
                text.push('\n');
            }
            std::fs::write(&hba, text).map_err(io("cannot write pg_hba.conf"))?;
        }
        Ok(())
    }

    /// Computes the server parameters for `dynamic` (the cluster's `postgresql.parameters`).
    pub fn parameters(&self, dynamic: &Map<String, Value>) -> ServerParameters {
        let identity = Identity {
            scope: &self.settings.scope,
            listen: &self.settings.listen,
            major_version: self.major_version,
        };
        let params = server_parameters(
            dynamic,
            &self.settings.local_parameters,
            &identity,
            Some(&self.known),
        );
        let dir = params
            .conf
            .get("unix_socket_directories")
            .and_then(|v| first_socket_dir(v));
        if let Ok(mut known) = self.socket_dir.write() {
            *known = dir;
        }
        params
    }

    /// Where the agent's own sessions reach the server: the socket directory when
    /// `use_unix_socket` is set and one is configured, else TCP (as Patroni).
    pub fn local_endpoint(&self) -> Endpoint {
        let dir = self.socket_dir.read().ok().and_then(|d| d.clone());
        let (host, port) = self.local_address();
        match dir.filter(|_| self.settings.use_unix_socket) {
            Some(dir) => Endpoint { host: dir, port },
            None => Endpoint { host, port },
        }
    }

    /// The superuser's session to `endpoint`.
    fn superuser_target<'a>(&'a self, endpoint: &'a Endpoint, app: &'a str) -> Target<'a> {
        Target {
            credentials: &self.settings.superuser,
            endpoint,
            dbname: "postgres",
            application_name: app,
        }
    }

    /// Writes the managed files: `postgresql.conf` (moving the original aside to
    /// `postgresql.base.conf` the first time), `pg_hba.conf`, `pg_ident.conf`, the recovery
    /// settings and `standby.signal` for a replica, and the pgpass file.
    pub fn configure(&self, params: &ServerParameters, role: Recovery<'_>) -> Result<(), PgError> {
        let upstream = match role {
            Recovery::Standby(u) => u,
            Recovery::Primary => None,
        };
        let data = self.data();
        let conf = data.join("postgresql.conf");
        let base = data.join("postgresql.base.conf");
        if !base.exists() && conf.exists() {
            std::fs::rename(&conf, &base)
                .map_err(io("cannot move postgresql.conf to postgresql.base.conf"))?;
        } else if !base.exists() {
            write_private(&base, "")?;
        }
        self.write_pgpass(upstream)?;
        let recovery = matches!(role, Recovery::Standby(_)).then(|| {
            let conninfo = upstream.map(|u| self.primary_conninfo(u));
            let slot =
                upstream.map(|_| crate::slots::slot_name_from_member_name(&self.settings.name));
            recovery_parameters(
                conninfo.as_deref(),
                slot.as_deref(),
                &self.settings.recovery_conf,
            )
        });
        let hba_file = data.join("pg_hba.conf").display().to_string();
        let ident_file = data.join("pg_ident.conf").display().to_string();
        let text = render_postgresql_conf(&ConfFile {
            include: "postgresql.base.conf",
            parameters: &params.conf,
            hba_file: &hba_file,
            ident_file: &ident_file,
            recovery: recovery.as_ref(),
        });
        write_private(&conf, &text)?;
        if let Some(lines) = &self.settings.pg_hba {
            write_private(&data.join("pg_hba.conf"), &render_lines(lines))?;
        }
        if let Some(lines) = &self.settings.pg_ident {
            write_private(&data.join("pg_ident.conf"), &render_lines(lines))?;
        }
        let signal = data.join("standby.signal");
        if recovery.is_some() {
            write_private(&signal, "")?;
        } else if signal.exists() {
            std::fs::remove_file(&signal).map_err(io("cannot remove standby.signal"))?;
        }
        Ok(())
    }

    /// `primary_conninfo` for streaming from `upstream`: the replication user's libpq keywords,
    /// with libpq's `prefer` defaults written out as Patroni writes them.
    fn primary_conninfo(&self, upstream: &Upstream) -> String {
        let mut credentials = self.settings.replication.clone();
        let o = &mut credentials.libpq;
        for (field, default) in [
            (&mut o.sslmode, "prefer"),
            (&mut o.gssencmode, "prefer"),
            (&mut o.channel_binding, "prefer"),
        ] {
            field.get_or_insert_with(|| default.to_string());
        }
        Target {
            credentials: &credentials,
            endpoint: upstream,
            dbname: "postgres",
            application_name: &self.settings.name,
        }
        .dsn(Some(&self.settings.pgpass))
    }

    /// The pgpass file: the upstream (replication user) and the local server (superuser).
    fn write_pgpass(&self, upstream: Option<&Upstream>) -> Result<(), PgError> {
        let mut lines = Vec::new();
        if let (Some(u), Some(password)) = (upstream, &self.settings.replication.password) {
            lines.push(pgpass::line(
                &u.host,
                u.port,
                &self.settings.replication.username,
                password.expose(),
            ));
        }
        if let Some(password) = &self.settings.superuser.password {
            let local = self.local_endpoint();
            // libpq matches a socket connection against a pgpass host of `localhost`.
            let (host, port) = if local.is_socket() {
                ("localhost".to_string(), local.port)
            } else {
                (local.host, local.port)
            };
            lines.push(pgpass::line(
                &host,
                port,
                &self.settings.superuser.username,
                password.expose(),
            ));
        }
        let mut text = lines.join("\n");
        text.push('\n');
        write_private(&self.settings.pgpass, &text)
    }

    /// Host and port to reach the local server over TCP.
    pub fn local_address(&self) -> (String, u16) {
        let (hosts, port) = self
            .settings
            .listen
            .rsplit_once(':')
            .unwrap_or((&self.settings.listen, "5432"));
        let host = hosts.split(',').next().unwrap_or("").trim();
        let host = match host {
            "" | "*" | "0.0.0.0" => "127.0.0.1",
            "::" => "::1",
            other => other,
        };
        (host.to_string(), port.trim().parse().unwrap_or(5432))
    }

    /// Starts the postmaster with the protected parameters on its command line. Returns once it
    /// accepts connections, or fails after `timeout`.
    pub async fn start(&self, params: &ServerParameters, timeout: Duration) -> Result<(), PgError> {
        // A promotion that did not finish (the agent or the server died) may have left claims.
        crate::walfiles::release_claims(&self.data().join("pg_wal"));
        let mut cmd = Command::new(self.settings.bin_dir.join("postgres"));
        cmd.arg("-D")
            .arg(self.data())
            .arg(format!(
                "--config-file={}",
                self.data().join("postgresql.conf").display()
            ))
            .args(&params.cmdline)
            .stdin(std::process::Stdio::null());
        let mut child = cmd.spawn().map_err(io("cannot start postgres"))?;
        // Reap the postmaster whenever it exits, so it never lingers as a zombie; its exit also
        // ends the wait at once (a configuration error must not wait out `timeout`).
        let (exited_tx, exited) = tokio::sync::oneshot::channel();
        tokio::spawn(async move {
            let status = child.wait().await;
            let _ = exited_tx.send(status);
        });
        tokio::select! {
            ready = self.wait_ready(timeout) => ready,
            Ok(status) = exited => Err(PgError::Program {
                program: "postgres".into(),
                reason: match status {
                    Ok(s) => format!("exited while starting ({s})"),
                    Err(e) => format!("exited while starting ({e})"),
                },
            }),
        }
    }

    /// The protected parameters (given on the command line) whose wanted value differs from the
    /// one the running postmaster was started with (`postmaster.opts`), as
    /// `{name: {old_value, new_value}}`: PostgreSQL cannot report these itself.
    pub fn cmdline_changes(
        &self,
        params: &ServerParameters,
    ) -> serde_json::Map<String, serde_json::Value> {
        let Ok(opts) = std::fs::read_to_string(self.data().join("postmaster.opts")) else {
            return serde_json::Map::new();
        };
        let started: BTreeMap<&str, &str> = opts
            .split('"')
            .filter_map(|arg| arg.strip_prefix("--")?.split_once('='))
            .collect();
        params
            .cmdline
            .iter()
            .filter_map(|arg| arg.strip_prefix("--")?.split_once('='))
            .filter_map(|(name, wanted)| {
                let old = started.get(name)?;
                (*old != wanted).then(|| {
                    (
                        name.to_string(),
                        serde_json::json!({"old_value": old, "new_value": wanted}),
                    )
                })
            })
            .collect()
    }

    /// Waits until the server accepts connections.
    pub async fn wait_ready(&self, timeout: Duration) -> Result<(), PgError> {
        let deadline = Instant::now() + timeout;
        loop {
            if self.connect_fresh().await.is_ok() {
                return Ok(());
            }
            if Instant::now() >= deadline {
                return Err(PgError::Timeout(format!(
                    "PostgreSQL did not accept connections within {timeout:?}"
                )));
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Stops the postmaster and waits until it is gone.
    pub async fn stop(&self, mode: StopMode, timeout: Duration) -> Result<(), PgError> {
        let Some(pid) = self.postmaster_pid() else {
            return Ok(());
        };
        let signal = match mode {
            StopMode::Smart => Signal::SIGTERM,
            StopMode::Fast => Signal::SIGINT,
            StopMode::Immediate => Signal::SIGQUIT,
        };
        let _ = kill(Pid::from_raw(pid), signal);
        let deadline = Instant::now() + timeout;
        while kill(Pid::from_raw(pid), None).is_ok() {
            if Instant::now() >= deadline {
                return Err(PgError::Timeout(format!(
                    "PostgreSQL (pid {pid}) did not stop within {timeout:?}"
                )));
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        Ok(())
    }

    /// A connection to the local server as the superuser.
    pub async fn connect(&self) -> Result<Arc<tokio_postgres::Client>, PgError> {
        let mut session = self.session.lock().await;
        if let Some(client) = session.as_ref().filter(|c| !c.is_closed()) {
            return Ok(client.clone());
        }
        let client = Arc::new(self.connect_fresh().await?);
        *session = Some(client.clone());
        Ok(client)
    }

    /// A new connection to the local server.
    async fn connect_fresh(&self) -> Result<tokio_postgres::Client, PgError> {
        let endpoint = self.local_endpoint();
        let app = format!("Patroni {}", self.settings.name);
        self.superuser_target(&endpoint, &app)
            .connect(Duration::from_secs(2))
            .await
    }

    /// Forgets the kept connection (after an error on it: the server may have restarted).
    pub async fn reset_session(&self) {
        *self.session.lock().await = None;
    }

    /// Where the local server is in its WAL, on the kept connection (`None`: no answer).
    pub async fn wal_positions(&self) -> Option<WalPositions> {
        let client = self.connect().await.ok()?;
        let row = client.query_one(sql::POSITIONS, &[]).await.ok()?;
        let mut p = positions(&row)?;
        p.timeline = self.standby_timeline(p.in_recovery, p.timeline);
        Some(p)
    }

    /// A standby's timeline: SQL's estimate, or a newer one its WAL segments show it accepted.
    fn standby_timeline(&self, in_recovery: bool, timeline: u64) -> u64 {
        if !in_recovery {
            return timeline;
        }
        crate::walfiles::newest_segment_timeline(&self.data().join("pg_wal"))
            .map_or(timeline, |t| t.max(timeline))
    }

    /// Role, timeline, WAL positions and, on a primary, its replication connections; `None` when
    /// the server does not answer — on the kept connection, else (it may predate a restart) on a
    /// new one.
    pub async fn observe(&self) -> Option<Observation> {
        if let Some(o) = self.observe_once().await {
            return Some(o);
        }
        self.reset_session().await;
        self.observe_once().await
    }

    async fn observe_once(&self) -> Option<Observation> {
        let client = self.connect().await.ok()?;
        let row = client.query_one(sql::OBSERVE, &[]).await.ok()?;
        let mut o = observation(&row)?;
        o.timeline = self.standby_timeline(o.in_recovery, o.timeline);
        if !o.in_recovery
            && let Ok(rows) = client.query(sql::REPLICATION, &[]).await
        {
            o.replication = rows
                .iter()
                .map(|r| ReplicationRow {
                    usename: r
                        .try_get::<_, Option<String>>(0)
                        .ok()
                        .flatten()
                        .unwrap_or_default(),
                    application_name: r
                        .try_get::<_, Option<String>>(1)
                        .ok()
                        .flatten()
                        .unwrap_or_default(),
                    client_addr: r.try_get::<_, Option<String>>(2).ok().flatten(),
                    state: r
                        .try_get::<_, Option<String>>(3)
                        .ok()
                        .flatten()
                        .unwrap_or_default(),
                    sync_state: r
                        .try_get::<_, Option<String>>(4)
                        .ok()
                        .flatten()
                        .unwrap_or_default(),
                    sync_priority: r.try_get::<_, Option<i64>>(5).ok().flatten().unwrap_or(0),
                })
                .collect();
        }
        Some(o)
    }

    /// Promotes the local standby and waits until it is a primary.
    pub async fn promote(&self) -> Result<(), PgError> {
        // PostgreSQL removes standby.signal itself; removing it first makes the promotion fail.
        let mut client = self.connect().await?;
        if client.is_closed() || client.simple_query("").await.is_err() {
            // The kept connection may predate a restart of the server.
            self.reset_session().await;
            client = self.connect().await?;
        }
        client
            .query_one(sql::PROMOTE, &[])
            .await
            .map_err(|e| PgError::Sql(e.to_string()))?;
        // pg_rewind reads the new timeline from pg_control, which only a checkpoint updates:
        // without it a former primary would be told "no rewind required" and fail to follow.
        client
            .batch_execute(sql::CHECKPOINT)
            .await
            .map_err(|e| PgError::Sql(e.to_string()))?;
        Ok(())
    }

    /// Makes the server re-read its configuration (after the recovery settings changed).
    pub async fn reload(&self) -> Result<(), PgError> {
        let client = self.connect().await?;
        if client.batch_execute(sql::RELOAD).await.is_ok() {
            return Ok(());
        }
        // The kept connection may predate a restart of the server.
        self.reset_session().await;
        self.connect()
            .await?
            .batch_execute(sql::RELOAD)
            .await
            .map_err(|e| PgError::Sql(e.to_string()))
    }

    /// After initdb: the superuser's password, the replication and rewind roles, then the
    /// `post_bootstrap` script.
    pub async fn post_bootstrap(&self) -> Result<(), PgError> {
        let client = self.connect().await?;
        for statement in sql::QUIET {
            client
                .batch_execute(statement)
                .await
                .map_err(|e| PgError::Sql(e.to_string()))?;
        }
        let role = |c: &Credentials, options: &str| {
            let mut opts = format!("{options} LOGIN");
            if let Some(p) = &c.password {
                opts.push_str(&format!(" PASSWORD {}", sql::quote_literal(p.expose())));
            }
            sql::create_or_update_role(
                &sql::quote_literal(&c.username),
                &sql::quote_ident(&c.username),
                &opts,
            )
        };
        let su = &self.settings.superuser;
        let mut statements = vec![role(su, "SUPERUSER")];
        statements.push(role(&self.settings.replication, "REPLICATION"));
        if let Some(rewind) = self
            .settings
            .rewind
            .as_ref()
            .filter(|r| r.username != su.username)
        {
            statements.push(role(rewind, ""));
            for f in sql::REWIND_FUNCTIONS {
                statements.push(format!(
                    "GRANT EXECUTE ON function pg_catalog.{f} TO {}",
                    sql::quote_ident(&rewind.username)
                ));
            }
        }
        for statement in statements {
            // The error text of a role statement could quote its password: keep only the code.
            client.batch_execute(&statement).await.map_err(|e| {
                PgError::Sql(format!(
                    "role setup failed ({})",
                    e.code().map_or("unknown", |c| c.code())
                ))
            })?;
        }
        if let Some(script) = &self.settings.post_bootstrap {
            let local = self.local_endpoint();
            let service = self.data().with_extension("post-bootstrap-service");
            let (url, secret) = self.superuser_target(&local, "").program_dsn(&service)?;
            let mut cmd = Command::new("sh");
            cmd.arg("-c")
                .arg(format!("{script} \"$1\""))
                .arg("post_bootstrap")
                .arg(url);
            cmd.env("PGPASSFILE", &self.settings.pgpass);
            if secret {
                cmd.env("PGSERVICEFILE", &service);
            }
            let result = run_inherit(&mut cmd, "post_bootstrap").await;
            let _ = std::fs::remove_file(&service);
            result?;
        }
        Ok(())
    }

    /// Creates this replica's data directory with pg_basebackup from `from`.
    pub async fn basebackup(&self, from: &Upstream) -> Result<(), PgError> {
        self.write_pgpass(Some(from))?;
        std::fs::create_dir_all(self.data()).map_err(io("cannot create the data directory"))?;
        std::fs::set_permissions(self.data(), std::fs::Permissions::from_mode(0o700))
            .map_err(io("cannot chmod the data directory"))?;
        let service = self.data().with_extension("basebackup-service");
        let (dsn, secret) = Target {
            credentials: &self.settings.replication,
            endpoint: from,
            dbname: "postgres",
            application_name: &self.settings.name,
        }
        .program_dsn(&service)?;
        let mut cmd = Command::new(self.settings.bin_dir.join("pg_basebackup"));
        cmd.arg("--pgdata")
            .arg(self.data())
            .args(["-X", "stream"])
            .arg(format!("--dbname={dsn}"))
            .args(&self.settings.basebackup_options)
            .env("PGPASSFILE", &self.settings.pgpass);
        if secret {
            cmd.env("PGSERVICEFILE", &service);
        }
        let result = run_inherit(&mut cmd, "pg_basebackup").await;
        let _ = std::fs::remove_file(&service);
        if result.is_err() {
            // A half-copied directory must not be mistaken for a replica next cycle.
            clear_dir(self.data());
        }
        result
    }

    /// Brings a data directory that stopped uncleanly (a crashed primary) to a clean shutdown, by
    /// crash recovery in single-user mode: pg_rewind refuses an unclean target.
    pub async fn ensure_clean_shutdown(&self) -> Result<(), PgError> {
        if self.controldata().await.is_some_and(|c| c.clean_shutdown()) {
            return Ok(());
        }
        let mut cmd = Command::new(self.settings.bin_dir.join("postgres"));
        cmd.arg("--single")
            .arg("-D")
            .arg(self.data())
            .arg(format!(
                "--config-file={}",
                self.data().join("postgresql.conf").display()
            ))
            .args(["-c", "archive_mode=off", "postgres"]);
        run_inherit(&mut cmd, "postgres --single (crash recovery)").await
    }

    /// Rewinds this former primary onto `source`'s timeline with pg_rewind (a no-op when the
    /// timelines did not diverge), as the rewind user, else the superuser.
    pub async fn rewind(&self, source: &Upstream) -> Result<(), PgError> {
        self.ensure_clean_shutdown().await?;
        let user = self
            .settings
            .rewind
            .clone()
            .unwrap_or_else(|| self.settings.superuser.clone());
        let mut lines = Vec::new();
        if let Some(password) = &user.password {
            lines.push(pgpass::line(
                &source.host,
                source.port,
                &user.username,
                password.expose(),
            ));
        }
        let pgpass = self.data().with_extension("rewind-pgpass");
        write_private(&pgpass, &(lines.join("\n") + "\n"))?;
        let service = self.data().with_extension("rewind-service");
        let (dsn, secret) = Target {
            credentials: &user,
            endpoint: source,
            dbname: "postgres",
            application_name: "",
        }
        .program_dsn(&service)?;
        let mut cmd = Command::new(self.settings.bin_dir.join("pg_rewind"));
        cmd.arg(format!("--target-pgdata={}", self.data().display()))
            .arg(format!("--source-server={dsn}"))
            .env("PGPASSFILE", &pgpass);
        if secret {
            cmd.env("PGSERVICEFILE", &service);
        }
        let result = run_inherit(&mut cmd, "pg_rewind").await;
        let _ = std::fs::remove_file(&pgpass);
        let _ = std::fs::remove_file(&service);
        result
    }

    /// Makes the physical slots on this primary exactly `wanted` (other inactive physical slots
    /// are dropped).
    pub async fn sync_slots(&self, wanted: &[String], existing: &[String]) -> Result<(), PgError> {
        let client = self.connect().await?;
        for slot in wanted.iter().filter(|s| !existing.contains(s)) {
            client
                .execute(sql::CREATE_PHYSICAL_SLOT, &[slot])
                .await
                .map_err(|e| PgError::Sql(e.to_string()))?;
        }
        for slot in existing.iter().filter(|s| !wanted.contains(s)) {
            client
                .execute(sql::DROP_PHYSICAL_SLOT, &[slot])
                .await
                .map_err(|e| PgError::Sql(e.to_string()))?;
        }
        Ok(())
    }

    /// Empties the data directory (after a failed bootstrap).
    pub fn remove_data(&self) {
        clear_dir(self.data());
    }
}

/// Reads the row of [`sql::OBSERVE`].
/// The role and WAL columns shared by [`sql::OBSERVE`] and [`sql::POSITIONS`].
fn positions(row: &tokio_postgres::Row) -> Option<WalPositions> {
    let int = |name: &str| {
        row.try_get::<_, Option<i64>>(name)
            .ok()
            .flatten()
            .map(|v| v.max(0) as u64)
    };
    let in_recovery: bool = row.try_get("in_recovery").ok()?;
    let (receive_lsn, replay_lsn) = (int("receive_lsn"), int("replay_lsn"));
    let timeline = if in_recovery {
        [
            "receiver_timeline",
            "checkpoint_timeline",
            "recovery_end_timeline",
        ]
        .into_iter()
        .filter_map(int)
        .max()
    } else {
        int("primary_timeline")
    }
    .unwrap_or(0);
    let wal_position = if in_recovery {
        receive_lsn.unwrap_or(0).max(replay_lsn.unwrap_or(0))
    } else {
        int("flush_lsn").unwrap_or(0)
    };
    Some(WalPositions {
        in_recovery,
        timeline,
        wal_position,
        receive_lsn,
        replay_lsn,
    })
}

fn observation(row: &tokio_postgres::Row) -> Option<Observation> {
    let WalPositions {
        in_recovery,
        timeline,
        wal_position,
        receive_lsn: receive,
        replay_lsn: replay,
    } = positions(row)?;
    let list = |name: &str| {
        row.try_get::<_, Option<String>>(name)
            .ok()
            .flatten()
            .map(|s| s.split(',').map(str::to_string).collect())
            .unwrap_or_default()
    };
    let slots = list("slots");
    Some(Observation {
        pending_restart: row
            .try_get::<_, Option<String>>("pending_restart")
            .ok()
            .flatten()
            .and_then(|text| serde_json::from_str(&text).ok())
            .unwrap_or_default(),
        in_recovery,
        timeline,
        wal_position,
        receive_lsn: receive,
        replay_lsn: replay,
        receiver_streaming: row
            .try_get::<_, Option<bool>>("receiver_streaming")
            .ok()
            .flatten()
            .unwrap_or(false),
        slots,
        slot_lsns: row
            .try_get::<_, Option<String>>("slot_lsns")
            .ok()
            .flatten()
            .and_then(|text| serde_json::from_str::<serde_json::Map<_, _>>(&text).ok())
            .map(|m| {
                m.into_iter()
                    .filter_map(|(name, lsn)| Some((name, lsn.as_u64()?)))
                    .collect()
            })
            .unwrap_or_default(),
        postmaster_start_time: row
            .try_get::<_, Option<String>>("postmaster_start_time")
            .ok()
            .flatten(),
        server_version: row
            .try_get::<_, Option<i32>>("server_version")
            .ok()
            .flatten()
            .and_then(|v| u32::try_from(v).ok()),
        replication: Vec::new(),
    })
}

fn clear_dir(dir: &Path) {
    if let Ok(entries) = std::fs::read_dir(dir) {
        for entry in entries.flatten() {
            let path = entry.path();
            let _ = if path.is_dir() {
                std::fs::remove_dir_all(&path)
            } else {
                std::fs::remove_file(&path)
            };
        }
    }
}

/// Writes a file only its owner can read.
pub(crate) fn write_private(path: &Path, text: &str) -> Result<(), PgError> {
    std::fs::write(path, text).map_err(io(format!("cannot write {}", path.display())))?;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600))
        .map_err(io(format!("cannot chmod {}", path.display())))
}

/// Runs a program and returns its stdout.
async fn run(cmd: &mut Command, what: &str) -> Result<String, PgError> {
    let out = cmd
        .output()
        .await
        .map_err(io(format!("cannot run {what}")))?;
    if !out.status.success() {
        return Err(PgError::Program {
            program: what.into(),
            reason: String::from_utf8_lossy(&out.stderr).trim().to_string(),
        });
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

/// Runs a program whose output goes to the agent's own (as Patroni's logs show initdb's).
async fn run_inherit(cmd: &mut Command, what: &str) -> Result<(), PgError> {
    let status = cmd
        .stdin(std::process::Stdio::null())
        .status()
        .await
        .map_err(io(format!("cannot run {what}")))?;
    if status.success() {
        Ok(())
    } else {
        Err(PgError::Program {
            program: what.into(),
            reason: status.to_string(),
        })
    }
}
