//! The agent's loop: gather → decide → act → publish → wait. Only this module and the tasks it
//! starts do I/O; every decision is `ferroni_ha::decide`'s.

mod commands;
mod failsafe;
mod handover;
mod peers;
mod reload;
mod rest;
mod status;

use crate::callbacks::{Callbacks, Vetoed};
use crate::member;
use crate::settings;
use crate::tasks::Tasks;
use anyhow::{Context, Result};
use commands::ScheduledRestart;
use ferroni_config::{DynamicConfig, Loaded};
use ferroni_dcs::Dcs;
use ferroni_ha::callbacks::{Change, Role};
use ferroni_ha::fence::FenceOrder;
use ferroni_ha::{
    Action, DataDir, DcsView, Decision, DemoteMode, FailsafeView, Input, LockRenewal, Me, Memo,
    Millis, PgState, PgView, Running, TaskKind, decide,
};
use ferroni_model::member::host_port;
use ferroni_model::{Cluster, History, HistoryEntry, parse_lsn};
use ferroni_pg::local::{DataDirState, LocalPostgres, Observation, Recovery, StopMode, Upstream};
use serde_json::{Map, Value};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;
use tokio::signal::unix::{SignalKind, signal};
use tokio::sync::Notify;
use tokio::time::Instant;

/// How long after PostgreSQL exits the next cycle acts on it (see the wait in `run`).
const EXIT_GRACE: Duration = Duration::from_secs(1);

/// What a cycle asks of the loop.
enum Next {
    /// Wait for `loop_wait` (or an earlier wake-up).
    Wait,
    /// Run the next cycle at once (after a demotion, to come back as a replica quickly).
    Now,
    /// Stop the agent with this exit code.
    Exit(i32),
}

/// The agent.
pub struct Runtime {
    loaded: Loaded,
    dcs: Box<dyn Dcs>,
    pg: Arc<LocalPostgres>,
    tasks: Tasks,
    task_done: Arc<Notify>,
    origin: Instant,
    me: Me,
    dynamic: DynamicConfig,
    memo: Memo,
    /// Where the replica is configured to stream from.
    upstream: Option<Upstream>,
    starting_since: Option<Millis>,
    last_observation: Option<Observation>,
    last_role: &'static str,
    /// What the REST API answers from.
    state: tokio::sync::watch::Sender<Arc<ferroni_api::NodeState>>,
    /// The REST API's requests, and the API's end of that channel (until the API starts).
    commands: ferroni_api::Commands,
    control: Option<ferroni_api::Control>,
    scheduled_restart: Option<ScheduledRestart>,
    /// The last decision asked for the next cycle this soon (a scheduled action).
    wake_in: Option<Millis>,
    /// The configuration file or directory, for reloads.
    config_path: Option<PathBuf>,
    /// Failsafe mode: the last `/failsafe` topology read, and the primary that last called.
    last_failsafe: Option<Map<String, Value>>,
    failsafe_calls: ferroni_api::FailsafeCalls,
    /// For calls to the other members' REST API.
    peer_client: reqwest::Client,
    /// The REST API server, once started.
    rest: Option<rest::RestServer>,
    /// The user's scripts: callbacks, pre_promote, before_stop.
    callbacks: Arc<Callbacks>,
    /// The frozen-agent fence (its guard process starts the first time this node leads).
    fence: Option<crate::fence::Fence>,
    /// The Linux watchdog, when `watchdog.mode` asks for it.
    watchdog: crate::watchdog::Watchdog,
    /// When (monotonic ms) this cycle's lock renewal, acquisition or failsafe round began, if it
    /// succeeded: the lease runs at least `ttl` from then.
    lock_proven_at: Option<u64>,
    /// The shortest `ttl` seen (ms): a lease granted earlier may carry it.
    fence_ttl: u64,
    /// Unix time of the last successful DCS read.
    dcs_last_seen: u64,
    /// The leader's `/status` between cycles.
    status_key: status::StatusKeeper,
}

/// The member a `host:port` upstream is, from its key.
fn upstream_of(cluster: &Cluster, name: &str) -> Option<Upstream> {
    let m = cluster.member(name)?;
    let (host, port) = host_port(&m.data.conn_url)?;
    Some(Upstream { host, port })
}

/// Seconds since the Unix epoch.
fn unix_now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

impl Runtime {
    /// Connects to the DCS and prepares the local PostgreSQL.
    pub async fn new(loaded: Loaded, config_path: Option<PathBuf>) -> Result<Runtime> {
        let config = &loaded.config;
        let bin_dir = ferroni_pg::bin::find_bin_dir(
            config
                .postgresql
                .bin_dir
                .as_deref()
                .map(std::path::Path::new),
        )
        .map_err(anyhow::Error::msg)?;
        let pg = LocalPostgres::new(settings::pg_settings(config, bin_dir))
            .await
            .context("PostgreSQL binaries")?;
        let dcs = ferroni_dcs::connect(config, &loaded.bootstrap_dynamic)
            .await
            .context("cannot connect to the DCS")?;
        let (control, commands) = ferroni_api::Control::channel();
        let peer_client = rest::peer_client(config)?;
        let status_key = status::StatusKeeper::new(&config.name);
        Ok(Runtime {
            watchdog: crate::watchdog::Watchdog::new(&config.watchdog),
            callbacks: Arc::new(Callbacks::new(config)),
            me: settings::me(config),
            dynamic: loaded.bootstrap_dynamic.clone(),
            loaded,
            dcs,
            pg: Arc::new(pg),
            tasks: Tasks::default(),
            task_done: Arc::new(Notify::new()),
            origin: Instant::now(),
            memo: Memo::default(),
            upstream: None,
            starting_since: None,
            last_observation: None,
            last_role: "uninitialized",
            state: tokio::sync::watch::channel(Arc::default()).0,
            dcs_last_seen: 0,
            commands,
            control: Some(control),
            scheduled_restart: None,
            wake_in: None,
            config_path,
            last_failsafe: None,
            failsafe_calls: ferroni_api::FailsafeCalls::default(),
            peer_client,
            rest: None,
            fence: None,
            lock_proven_at: None,
            fence_ttl: u64::MAX,
            status_key,
        })
    }

    fn now(&self) -> Millis {
        u64::try_from(self.origin.elapsed().as_millis()).unwrap_or(u64::MAX)
    }

    /// Refuses to start when an agent with this name already runs in the cluster: its member key
    /// exists and its REST API answers `/liveness` (Patroni's check). Then serves the REST API.
    async fn claim_name(&mut self) -> Result<Option<i32>> {
        let name = &self.me.name;
        let cluster = loop {
            match self.dcs.get_cluster().await {
                Ok(cluster) => break cluster,
                Err(e) => {
                    tracing::info!("Can not get cluster from dcs: {e}");
                    tokio::time::sleep(Duration::from_secs(5)).await;
                }
            }
        };
        if let Some(m) = cluster.member(name) {
            let base = m
                .data
                .api_url
                .trim_end_matches("/patroni")
                .trim_end_matches('/');
            let client = reqwest::Client::builder()
                .timeout(Duration::from_secs(3))
                .build()?;
            if client
                .get(format!("{base}/liveness"))
                .send()
                .await
                .is_ok_and(|r| r.status().is_success())
            {
                tracing::error!(target: "critical", "Can't start; there is already a node named '{name}' running");
                return Ok(Some(1));
            }
        }
        let control = self
            .control
            .take()
            .context("the REST API was already started")?;
        let restapi = &self.loaded.config.restapi;
        let server = rest::RestServer::start(
            restapi,
            self.state.subscribe(),
            control,
            self.failsafe_calls.clone(),
            Some(rest::live_positions(self.pg.clone())),
        )
        .await?;
        self.rest = Some(server);
        Ok(None)
    }

    /// Runs until SIGTERM/SIGINT or a fatal decision; returns the exit code.
    pub async fn run(mut self) -> Result<i32> {
        if let Some(code) = self.claim_name().await? {
            return Ok(code);
        }
        self.fence = Some(crate::fence::Fence::new(&self.pg.settings.data_dir));
        let warnings = self.pg.parameters(&self.dynamic_parameters()).warnings;
        for w in warnings {
            tracing::warn!("{w}");
        }
        let mut term = signal(SignalKind::terminate()).context("cannot watch SIGTERM")?;
        let mut int = signal(SignalKind::interrupt()).context("cannot watch SIGINT")?;
        let mut hup = signal(SignalKind::hangup()).context("cannot watch SIGHUP")?;
        loop {
            let started = Instant::now();
            match self.cycle().await {
                Next::Exit(code) => return Ok(code),
                Next::Now => continue,
                Next::Wait => {}
            }
            let mut wait = Duration::from_secs(self.dynamic.loop_wait.into());
            if let Some(ms) = self.wake_in.take() {
                wait = wait.min(Duration::from_millis(ms));
            }
            let mut deadline = started + wait;
            // Requests from the REST API are answered while waiting; most wake the loop.
            loop {
                let pid = self.pg.postmaster_pid();
                if pid.is_none() && self.mark_postgres_gone() {
                    // It died during the cycle, after it was observed running.
                    tracing::info!("PostgreSQL exited");
                    deadline = deadline.min(Instant::now() + EXIT_GRACE);
                }
                let remaining = deadline.saturating_duration_since(Instant::now());
                let pg_exit = async move {
                    match pid {
                        Some(pid) => ferroni_pg::exit::exited(pid).await,
                        None => std::future::pending::<()>().await,
                    }
                };
                tokio::select! {
                    _ = self.dcs.watch(remaining) => break,
                    _ = self.task_done.notified() => break,
                    _ = pg_exit => {
                        self.mark_postgres_gone();
                        tracing::info!("PostgreSQL exited");
                        // Published at once, acted on a moment later: `pg_ctl stop -w` checks
                        // every 100 ms whether the server is gone, and one restarted sooner
                        // looks to it like one that never stopped.
                        deadline = deadline.min(Instant::now() + EXIT_GRACE);
                    }
                    Some((command, reply)) = self.commands.recv() => {
                        if self.command(command, reply).await {
                            break;
                        }
                    }
                    _ = hup.recv() => {
                        self.reload_config().await;
                        break;
                    }
                    _ = term.recv() => return Ok(self.shutdown().await),
                    _ = int.recv() => return Ok(self.shutdown().await),
                }
            }
        }
    }

    /// The effective dynamic configuration: the cluster's `config`, else `bootstrap.dcs`.
    /// Returns whether it changed.
    fn refresh_dynamic(&mut self, cluster: &Cluster) -> bool {
        let Some(config) = &cluster.config else {
            return false;
        };
        if config.value == self.dynamic.raw {
            return false;
        }
        match DynamicConfig::from_map(&config.value, "config") {
            Ok((dynamic, warnings)) => {
                for w in warnings {
                    tracing::warn!("{w}");
                }
                let not_acted_on = ferroni_config::unimplemented::new_dynamic_warnings(
                    &self.dynamic.raw,
                    &config.value,
                    "config",
                );
                for w in not_acted_on {
                    tracing::warn!("{w}");
                }
                self.dynamic = dynamic;
                true
            }
            Err(issues) => {
                for issue in issues {
                    tracing::error!("ignoring the new dynamic configuration: {issue}");
                }
                false
            }
        }
    }

    /// Rewrites the configuration files of the running PostgreSQL from the current settings and
    /// reloads it. Parameters that need a restart then show as pending restart.
    async fn apply_parameters(&self) {
        let Some(o) = &self.last_observation else {
            return;
        };
        let params = self.pg.parameters(&self.dynamic_parameters());
        for w in &params.warnings {
            tracing::warn!("{w}");
        }
        let recovery = if o.in_recovery {
            Recovery::Standby(self.upstream.as_ref())
        } else {
            Recovery::Primary
        };
        if let Err(e) = self.pg.configure(&params, recovery) {
            tracing::error!("cannot write the PostgreSQL configuration: {e}");
        } else if let Err(e) = self.pg.reload().await {
            tracing::error!("cannot reload PostgreSQL: {e}");
        } else {
            self.callbacks.changed(Change::Reloaded);
        }
    }

    fn dynamic_parameters(&self) -> Map<String, Value> {
        self.dynamic
            .raw
            .get("postgresql")
            .and_then(|p| p.get("parameters"))
            .and_then(Value::as_object)
            .cloned()
            .unwrap_or_default()
    }

    async fn gather_pg(&mut self) -> PgView {
        let data = match self.pg.data_dir_state().await {
            DataDirState::Empty => {
                return PgView {
                    data: DataDir::Empty,
                    state: PgState::Stopped { was_primary: false },
                };
            }
            DataDirState::Invalid => {
                return PgView {
                    data: DataDir::Invalid,
                    state: PgState::Stopped { was_primary: false },
                };
            }
            DataDirState::Initialized(control) => control,
        };
        let state = match self.pg.observe().await {
            Some(o) => {
                self.starting_since = None;
                let running = Running {
                    primary: !o.in_recovery,
                    timeline: o.timeline,
                    wal_position: o.wal_position,
                    following: None,
                    streaming: o
                        .replication
                        .iter()
                        .filter(|r| r.state == "streaming")
                        .map(|r| r.application_name.clone())
                        .collect(),
                    received: o.in_recovery && o.receive_lsn.is_some(),
                };
                self.last_observation = Some(o);
                PgState::Running(running)
            }
            None => {
                self.last_observation = None;
                if self.pg.postmaster_pid().is_some() {
                    let now = self.now();
                    PgState::Starting {
                        since: *self.starting_since.get_or_insert(now),
                    }
                } else {
                    self.starting_since = None;
                    PgState::Stopped {
                        was_primary: data.was_primary(),
                    }
                }
            }
        };
        PgView {
            data: DataDir::Initialized {
                sysid: data.system_identifier,
            },
            state,
        }
    }

    async fn cycle(&mut self) -> Next {
        let retry = Duration::from_secs(self.dynamic.retry_timeout.into());
        let cluster = match tokio::time::timeout(retry, self.dcs.get_cluster()).await {
            Ok(Ok(cluster)) => Some(cluster),
            Ok(Err(e)) => {
                tracing::error!("Error communicating with DCS: {e}");
                None
            }
            Err(_) => {
                tracing::error!("Error communicating with DCS: no answer within {retry:?}");
                None
            }
        };
        let config_changed = cluster.as_ref().is_some_and(|c| self.refresh_dynamic(c));
        let mut cluster = cluster;
        let lock = match &cluster {
            Some(c) if c.leader_name() == Some(self.me.name.as_str()) => {
                let asked = crate::fence::monotonic_ms();
                let renewed = self.dcs.update_leader().await;
                let ttl = self.fence_ttl.min(u64::from(self.dynamic.ttl) * 1000);
                let answered = crate::fence::monotonic_ms();
                match renewed {
                    Ok(true) if ferroni_ha::fence::renewal_proves_lock(asked, answered, ttl) => {
                        self.lock_proven_at = Some(asked);
                        LockRenewal::Renewed
                    }
                    Ok(true) => {
                        tracing::error!(
                            "the leader lock renewal took {} ms, past its fence deadline: the lock may be lost",
                            answered.saturating_sub(asked)
                        );
                        LockRenewal::Failed
                    }
                    Ok(false) => LockRenewal::Failed,
                    // Not an answer from the DCS: handled as a DCS outage (Patroni's
                    // `_handle_dcs_error`), where failsafe mode may keep the primary.
                    Err(e) if e.is_retriable() => {
                        tracing::error!("failed to update leader lock: {e}");
                        cluster = None;
                        LockRenewal::NotHeld
                    }
                    Err(e) => {
                        tracing::error!("failed to update leader lock: {e}");
                        LockRenewal::Failed
                    }
                }
            }
            _ => LockRenewal::NotHeld,
        };
        let pg = self.gather_pg().await;
        if let (Some(r), false) = (pg.running(), self.tasks.busy()) {
            let role = if r.primary {
                Role::Primary
            } else {
                Role::Replica
            };
            self.callbacks.changed(Change::FoundRunning { role });
        }
        if config_changed && !self.tasks.busy() {
            tracing::info!("Reloading PostgreSQL configuration.");
            self.apply_parameters().await;
        }
        let task = self.tasks.status().await;
        let mut config = settings::ha_config(&self.dynamic);
        config.can_bootstrap = true;
        // Peers matter only to a leader race.
        // A switchover or failover to this node needs no comparison: it wins at once.
        let named_me = |c: &Cluster| {
            ferroni_ha::manual::request(c)
                .and_then(|f| f.member.as_deref())
                .is_some_and(|m| m == self.me.name)
        };
        let peers = match &cluster {
            Some(c)
                if c.leader.is_none()
                    && matches!(pg.state, PgState::Running(_))
                    && !named_me(c) =>
            {
                self.peers(c).await
            }
            _ => Vec::new(),
        };
        if let Some(c) = &cluster {
            self.last_failsafe = c.failsafe.clone();
        }
        let failsafe_round = crate::fence::monotonic_ms();
        let members_accept = cluster.is_none()
            && self.dynamic.failsafe_mode
            && !self.dynamic.pause
            && matches!(&pg.state, PgState::Running(r) if r.primary)
            && self.failsafe_members_accept().await;
        if members_accept {
            self.lock_proven_at = Some(failsafe_round);
        }
        let failsafe = FailsafeView {
            leader: self.failsafe_leader().map(|l| l.name.clone()),
            members_accept,
        };
        let input = Input {
            now: self.now(),
            failsafe,
            wall_clock: chrono::Utc::now().timestamp_millis(),
            scheduled_restart: self
                .scheduled_restart
                .as_ref()
                .and_then(|r| r.request.schedule.clone()),
            config,
            me: Me {
                watchdog_failed: self.watchdog.failed(),
                ..self.me.clone()
            },
            dcs: cluster
                .clone()
                .map_or(DcsView::Unreachable, DcsView::Reachable),
            lock,
            pg,
            task,
            peers,
            memo: self.memo.clone(),
        };
        let decision = decide(&input);
        self.memo = decision.memo.clone();
        self.wake_in = decision.wake_in;
        for note in &decision.notes {
            tracing::info!("{note}");
        }
        let next = self.act(&decision, cluster.as_ref(), &input).await;
        self.update_fence(&input);
        if let Some(c) = &cluster {
            self.dcs_last_seen = unix_now();
            // A cycle that gave the lock up leaves /status as the release wrote it.
            let released = decision
                .actions
                .iter()
                .any(|a| matches!(a, Action::ReleaseLock | Action::Demote(_)));
            self.publish(c, &input, released).await;
        } else {
            // Without the DCS the lock cannot be proven: never answer "primary" — unless every
            // member accepted this primary (failsafe mode).
            let accepted = input.failsafe.members_accept;
            let active = accepted || input.failsafe.leader.is_some();
            self.state.send_modify(|s| {
                let s = Arc::make_mut(s);
                s.holds_lock = accepted && s.pg.role == "primary";
                s.failsafe_active = active;
                s.cluster_unlocked |= active;
            });
        }
        next
    }

    /// Runs the decision's actions in order; the first failure stops the rest.
    async fn act(&mut self, decision: &Decision, cluster: Option<&Cluster>, input: &Input) -> Next {
        let mut next = Next::Wait;
        for action in &decision.actions {
            match self.execute(action, cluster, input).await {
                Ok(Some(n)) => next = n,
                Ok(None) => {}
                Err(e) => {
                    match &decision.on_failure {
                        Some(line) => tracing::info!("{line}"),
                        None => tracing::error!("{action:?} failed: {e:#}"),
                    }
                    return next;
                }
            }
        }
        tracing::info!("{}", decision.log);
        next
    }

    fn spawn_task<F>(&mut self, kind: TaskKind, work: F)
    where
        F: std::future::Future<Output = Result<()>> + Send + 'static,
    {
        let done = self.task_done.clone();
        let name = ferroni_ha::long_action::describe(&kind);
        let now = self.now();
        self.tasks.start(kind, now, async move {
            let outcome = crate::tasks::outcome(&name, &work.await);
            done.notify_one();
            outcome
        });
    }

    async fn execute(
        &mut self,
        action: &Action,
        cluster: Option<&Cluster>,
        input: &Input,
    ) -> Result<Option<Next>> {
        let pg = self.pg.clone();
        let cb = self.callbacks.clone();
        let params = pg.parameters(&self.dynamic_parameters());
        let start_timeout = Duration::from_secs(
            u64::try_from(self.dynamic.primary_start_timeout)
                .unwrap_or(300)
                .max(60),
        );
        match action {
            Action::AcquireLock => {
                let asked = crate::fence::monotonic_ms();
                anyhow::ensure!(
                    self.dcs.attempt_to_acquire_leader().await?,
                    "the lock is held by another member"
                );
                self.lock_proven_at = Some(asked);
            }
            Action::ReleaseLock => {
                self.dcs.delete_leader().await?;
            }
            Action::Initialize { create_new, sysid } => {
                anyhow::ensure!(
                    self.dcs.initialize(*create_new, sysid).await?,
                    "initialize is taken"
                );
            }
            Action::CancelInitialize => self.dcs.cancel_initialization().await?,
            Action::WriteConfig => {
                self.dcs.set_config(&self.dynamic.raw, None).await?;
            }
            Action::Bootstrap => {
                let end = cb.bootstrap_began();
                self.spawn_task(TaskKind::Bootstrap, async move {
                    let result = async {
                        pg.initdb().await?;
                        pg.configure(&params, Recovery::Primary)?;
                        pg.start(&params, Duration::from_secs(120)).await?;
                        pg.post_bootstrap().await
                    }
                    .await;
                    if result.is_err() {
                        let stop = Some(Change::Stopped { demote: None });
                        let _ = cb
                            .stop(&pg, StopMode::Immediate, Duration::from_secs(30), stop)
                            .await;
                        pg.remove_data();
                        drop(end);
                    } else {
                        end.succeeded();
                    }
                    result.map_err(anyhow::Error::from)
                });
            }
            Action::Clone { from } => {
                let upstream = cluster
                    .and_then(|c| upstream_of(c, from))
                    .context("the clone source has no conn_url")?;
                self.upstream = Some(upstream.clone());
                self.spawn_task(TaskKind::Clone { from: from.clone() }, async move {
                    pg.basebackup(&upstream).await?;
                    pg.configure(&params, Recovery::Standby(Some(&upstream)))?;
                    pg.start(&params, Duration::from_secs(600)).await?;
                    cb.changed(Change::Started {
                        role: Role::Replica,
                    });
                    Ok(())
                });
            }
            Action::StartPrimary => {
                self.upstream = None;
                self.spawn_task(TaskKind::StartPrimary, async move {
                    pg.configure(&params, Recovery::Primary)?;
                    if let Err(e) = pg.start(&params, start_timeout).await {
                        if pg.postmaster_pid().is_none() {
                            cb.changed(Change::StartFailed);
                        }
                        return Err(e.into());
                    }
                    cb.changed(Change::Started {
                        role: Role::Primary,
                    });
                    Ok(())
                });
            }
            Action::StartReplica { leader, rewind } => {
                let upstream = leader
                    .as_deref()
                    .and_then(|l| cluster.and_then(|c| upstream_of(c, l)));
                self.upstream = upstream.clone();
                let rewind_from = upstream.clone().filter(|_| *rewind);
                self.spawn_task(TaskKind::StartReplica, async move {
                    if let Some(source) = &rewind_from {
                        tracing::info!("running pg_rewind from {}:{}", source.host, source.port);
                        pg.rewind(source).await?;
                    }
                    pg.configure(&params, Recovery::Standby(upstream.as_ref()))?;
                    pg.start(&params, Duration::from_secs(600)).await?;
                    cb.changed(Change::Started {
                        role: Role::Replica,
                    });
                    Ok(())
                });
            }
            Action::Rewind { leader } => {
                let upstream = cluster
                    .and_then(|c| upstream_of(c, leader))
                    .context("the leader has no conn_url")?;
                self.upstream = Some(upstream.clone());
                self.spawn_task(TaskKind::StartReplica, async move {
                    let stop = Some(Change::Stopped { demote: None });
                    cb.stop(&pg, StopMode::Fast, Duration::from_secs(60), stop)
                        .await?;
                    tracing::info!("running pg_rewind from {}:{}", upstream.host, upstream.port);
                    pg.rewind(&upstream).await?;
                    pg.configure(&params, Recovery::Standby(Some(&upstream)))?;
                    pg.start(&params, Duration::from_secs(600)).await?;
                    cb.changed(Change::Started {
                        role: Role::Replica,
                    });
                    Ok(())
                });
            }
            Action::Promote => {
                self.upstream = None;
                // The replicas' slots exist before this node is primary (a standby can hold
                // physical slots): a replica that reconnects the moment the promotion ends
                // finds its slot, instead of being refused and retrying only after
                // `wal_retrieve_retry_interval` (5 s) — with synchronous commit, 5 s of writes.
                let slots = if self.dynamic.use_slots {
                    cluster.map(|c| self.member_slots(c)).unwrap_or_default()
                } else {
                    Vec::new()
                };
                self.spawn_task(TaskKind::Promote, async move {
                    anyhow::ensure!(cb.pre_promote().await, Vetoed);
                    let existing = pg.observe().await.map(|o| o.slots).unwrap_or_default();
                    let before = pg.sync_slots(&slots, &existing).await;
                    pg.promote().await?;
                    cb.changed(Change::Promoted);
                    pg.configure(&params, Recovery::Primary)?;
                    if before.is_err() && !slots.is_empty() {
                        let existing = pg.observe().await.map(|o| o.slots).unwrap_or_default();
                        pg.sync_slots(&slots, &existing).await?;
                    }
                    Ok(())
                });
            }
            Action::Follow { leader } => {
                // A failsafe leader may have lost its member key with the DCS: its call carried
                // its conn_url.
                let failsafe = self
                    .failsafe_leader()
                    .filter(|l| l.name == *leader)
                    .and_then(|l| host_port(&l.conn_url))
                    .map(|(host, port)| Upstream { host, port });
                let upstream = cluster
                    .and_then(|c| upstream_of(c, leader))
                    .or(failsafe)
                    .context("the leader has no conn_url")?;
                if self.upstream.as_ref() != Some(&upstream) {
                    tracing::info!(
                        "following a new leader: {} ({}:{})",
                        leader,
                        upstream.host,
                        upstream.port
                    );
                    pg.configure(&params, Recovery::Standby(Some(&upstream)))?;
                    pg.reload().await?;
                    cb.changed(Change::Reloaded);
                    self.upstream = Some(upstream);
                }
            }
            Action::Demote(mode) => {
                // Health checks say "not primary" before PostgreSQL starts to stop, so no proxy
                // routes a write to a node that is demoting.
                self.state.send_modify(|s| {
                    let s = Arc::make_mut(s);
                    s.holds_lock = false;
                    s.pg.role = "demoted".into();
                });
                self.tasks.cancel();
                let stop = if matches!(mode, DemoteMode::Offline | DemoteMode::Graceful) {
                    StopMode::Fast
                } else {
                    StopMode::Immediate
                };
                let stopped = Some(Change::Stopped {
                    demote: Some(*mode),
                });
                cb.stop(&pg, stop, Duration::from_secs(60), stopped).await?;
                if let Some(fence) = self.fence.as_mut() {
                    fence.disarm();
                }
                self.watchdog.disable();
                if matches!(mode, DemoteMode::Immediate | DemoteMode::Graceful) {
                    let last = cluster.and_then(|c| c.status.as_ref());
                    let _ = status::release(self.dcs.as_ref(), &pg, last).await;
                }
                self.upstream = None;
                if *mode == DemoteMode::Graceful {
                    // A fast shutdown returns once the streaming replicas have every WAL record
                    // up to the shutdown checkpoint, so the candidate can take over without
                    // rewinding this node, which comes back at once as a replica (also when
                    // paused, where nothing else would start it), streaming from the new leader
                    // if it took the lock meanwhile.
                    self.upstream = handover::new_leader(self.dcs.as_ref(), &self.me.name).await;
                    pg.configure(&params, Recovery::Standby(self.upstream.as_ref()))?;
                    pg.start(&params, Duration::from_secs(120)).await?;
                    cb.changed(Change::Started {
                        role: Role::Replica,
                    });
                }
                return Ok(Some(Next::Now));
            }
            Action::ClearFailover => {
                if let Some(f) = cluster.and_then(|c| c.failover.as_ref()) {
                    self.dcs
                        .set_failover(&ferroni_model::Failover::default(), Some(f.version))
                        .await?;
                }
            }
            Action::Restart => {
                let Some(scheduled) = self.scheduled_restart.clone() else {
                    return Ok(None);
                };
                let now_started = self
                    .last_observation
                    .as_ref()
                    .and_then(|o| o.postmaster_start_time.clone());
                if scheduled.postmaster_start_time.is_some()
                    && now_started.is_some()
                    && scheduled.postmaster_start_time != now_started
                {
                    tracing::info!(
                        "Cancelling scheduled restart: postgres restart has already happened at {}",
                        now_started.unwrap_or_default()
                    );
                } else if let Err(refusal) = self.restart(&scheduled.request, None) {
                    tracing::warn!("Scheduled restart: {}", refusal.body);
                }
            }
            Action::ForgetScheduledRestart => self.scheduled_restart = None,
            Action::StopImmediate => {
                self.tasks.cancel();
                let stop = Some(Change::Stopped { demote: None });
                cb.stop(&pg, StopMode::Immediate, Duration::from_secs(60), stop)
                    .await?;
            }
            Action::UpdateHistory => self.update_history(cluster, input).await?,
            Action::Exit { code, message } => {
                tracing::error!(target: "critical", "{message}");
                return Ok(Some(Next::Exit(*code)));
            }
        }
        Ok(None)
    }

    /// Writes `history` from the timeline history file of the current timeline.
    async fn update_history(&self, cluster: Option<&Cluster>, input: &Input) -> Result<()> {
        let Some(timeline) = input.pg.running().map(|r| r.timeline).filter(|t| *t > 1) else {
            return Ok(());
        };
        let file = self
            .pg
            .settings
            .data_dir
            .join(format!("pg_wal/{timeline:08X}.history"));
        let text = std::fs::read_to_string(&file)
            .with_context(|| format!("cannot read {}", file.display()))?;
        let known = cluster
            .and_then(|c| c.history.as_ref())
            .map(|h| h.value.0.clone())
            .unwrap_or_default();
        let now = chrono::Local::now().to_rfc3339_opts(chrono::SecondsFormat::Micros, false);
        let mut entries = Vec::new();
        let lines: Vec<&str> = text
            .lines()
            .filter(|l| !l.trim().is_empty() && !l.starts_with('#'))
            .collect();
        for (i, line) in lines.iter().enumerate() {
            let mut fields = line.splitn(3, '\t');
            let (Some(tl), Some(lsn)) = (
                fields.next().and_then(|t| t.trim().parse().ok()),
                fields.next().and_then(parse_lsn),
            ) else {
                continue;
            };
            let reason = fields.next().unwrap_or("").trim().to_string();
            let entry = match known.iter().find(|e| e.timeline == tl) {
                Some(e) => e.clone(),
                None => HistoryEntry {
                    timeline: tl,
                    lsn,
                    reason,
                    timestamp: Some(now.clone()),
                    new_leader: (i + 1 == lines.len()).then(|| self.me.name.clone()),
                },
            };
            entries.push(entry);
        }
        self.dcs.set_history(&History(entries)).await?;
        Ok(())
    }

    /// The member key, and the leader's slots for its replicas.
    async fn publish(&mut self, cluster: &Cluster, input: &Input, released: bool) {
        let mut member = member::build(
            &self.loaded.config,
            input,
            self.last_observation.as_ref(),
            &mut self.last_role,
            self.tasks.busy(),
        );
        let pending = self.pending_restart_reason();
        if !pending.is_empty() {
            member.pending_restart = Some(true);
            member.pending_restart_reason = Some(pending);
        }
        member.scheduled_restart = self
            .scheduled_restart
            .as_ref()
            .map(ScheduledRestart::to_map);
        self.publish_state(cluster, input, &member);
        if let Err(e) = self.dcs.touch_member(&member).await {
            tracing::error!("failed to update member key: {e}");
        }
        let holder = cluster.leader_name() == Some(self.me.name.as_str())
            && input.lock == LockRenewal::Renewed
            && !released;
        if holder && self.dynamic.failsafe_mode {
            let topology = self.failsafe_topology(cluster);
            if cluster.failsafe.as_ref() != Some(&topology)
                && let Err(e) = self.dcs.set_failsafe(&topology).await
            {
                tracing::warn!("failed to update the /failsafe key: {e}");
            }
        }
        let now = self.now();
        self.status_key
            .publish(
                self.dcs.as_ref(),
                cluster,
                holder,
                self.last_observation.as_ref(),
                &self.dynamic,
                now,
            )
            .await;
        if let (true, true, Some(o)) = (holder, self.dynamic.use_slots, &self.last_observation)
            && !o.in_recovery
        {
            let wanted = self.member_slots(cluster);
            let mut sorted_wanted = wanted.clone();
            sorted_wanted.sort();
            let mut existing = o.slots.clone();
            existing.sort();
            if sorted_wanted != existing
                && let Err(e) = self.pg.sync_slots(&wanted, &o.slots).await
            {
                tracing::warn!("could not update replication slots: {e}");
            }
        }
    }

    /// Publishes at once that PostgreSQL is not running, so no health check answers from a
    /// state that predates its exit. Returns whether the published state said it was running.
    fn mark_postgres_gone(&self) -> bool {
        self.state.send_if_modified(|state| {
            if state.pg.state != "running" {
                return false;
            }
            let mut next = (**state).clone();
            next.pg.state = "stopped".into();
            *state = Arc::new(next);
            true
        })
    }

    /// The state the REST API answers from.
    fn publish_state(&self, cluster: &Cluster, input: &Input, member: &ferroni_model::Member) {
        let o = self.last_observation.as_ref();
        let primary = o.is_some_and(|o| !o.in_recovery);
        let config = &self.loaded.config;
        let sync = cluster
            .sync
            .as_ref()
            .map(|s| &s.value)
            .filter(|s| s.matches(&self.me.name));
        let quorum_mode = self.dynamic.synchronous_mode == ferroni_config::SyncMode::Quorum;
        let state = ferroni_api::NodeState {
            name: self.me.name.clone(),
            scope: config.scope.clone(),
            version: env!("CARGO_PKG_VERSION").into(),
            pg: ferroni_api::PgStatus {
                state: member.state.clone(),
                role: member.role.clone(),
                postmaster_start_time: o.and_then(|o| o.postmaster_start_time.clone()),
                server_version: o.and_then(|o| o.server_version),
                location: o.filter(|_| primary).map(|o| o.wal_position),
                received_location: o.filter(|_| !primary).and_then(|o| o.receive_lsn),
                replayed_location: o.filter(|_| !primary).and_then(|o| o.replay_lsn),
                timeline: member.timeline,
                replication_state: member.replication_state.clone(),
                replication: o.map(|o| o.replication.clone()).unwrap_or_default(),
                pending_restart_reason: member.pending_restart_reason.clone().unwrap_or_default(),
                ..ferroni_api::PgStatus::default()
            },
            holds_lock: cluster.leader_name() == Some(self.me.name.as_str())
                && input.lock == LockRenewal::Renewed,
            paused: self.dynamic.pause,
            failsafe_mode: self.dynamic.failsafe_mode,
            failsafe_active: input.failsafe.leader.is_some(),
            cluster_unlocked: cluster.leader.is_none(),
            dcs_last_seen: self.dcs_last_seen,
            last_cycle: unix_now(),
            ttl: self.dynamic.ttl.into(),
            loop_wait: self.dynamic.loop_wait.into(),
            scheduled_restart: self
                .scheduled_restart
                .as_ref()
                .map(ScheduledRestart::to_map),
            maximum_lag_on_failover: u64::try_from(self.dynamic.maximum_lag_on_failover)
                .unwrap_or(0),
            cluster_optime: cluster.status.as_ref().map_or(0, |s| s.optime),
            tags: member.tags.clone().unwrap_or_default(),
            database_system_identifier: match &input.pg.data {
                DataDir::Initialized { sysid } => Some(sysid.clone()),
                _ => None,
            },
            sync_standby: sync.is_some() && !quorum_mode,
            quorum_standby: sync.is_some() && quorum_mode,
            cluster: Some(cluster.clone()),
        };
        self.state.send_replace(Arc::new(state));
    }

    /// Tells the fence (and the watchdog) what `ferroni_ha::fence::order` decided for this cycle:
    /// armed after a cycle that proved the lock (renewed, acquired, or accepted by every member in
    /// failsafe mode), disarmed when paused or not leading, else the last moment stands.
    fn update_fence(&mut self, input: &Input) {
        self.fence_ttl = self.fence_ttl.min(u64::from(self.dynamic.ttl) * 1000);
        let proven = self.lock_proven_at.take();
        let Some(fence) = self.fence.as_mut() else {
            return;
        };
        let order = ferroni_ha::fence::order(ferroni_ha::fence::FenceInput {
            proven_at: proven,
            ttl: self.fence_ttl,
            paused: self.dynamic.pause,
            primary: input.pg.is_primary(),
        });
        match order {
            FenceOrder::Arm { deadline } => {
                fence.arm(deadline);
                if input.pg.is_primary() {
                    self.watchdog.keepalive(self.dynamic.ttl);
                }
            }
            FenceOrder::Disarm => {
                fence.disarm();
                self.watchdog.disable();
            }
            FenceOrder::Keep => {}
        }
    }

    /// Parameters waiting for a restart: changed in `postgresql.conf` (PostgreSQL says so) or
    /// on the command line (compared with `postmaster.opts`).
    fn pending_restart_reason(&self) -> Map<String, Value> {
        let Some(o) = &self.last_observation else {
            return Map::new();
        };
        let mut reasons = o.pending_restart.clone();
        reasons.extend(
            self.pg
                .cmdline_changes(&self.pg.parameters(&self.dynamic_parameters())),
        );
        reasons
    }

    /// The physical slots a primary keeps: one per other member.
    fn member_slots(&self, cluster: &Cluster) -> Vec<String> {
        cluster
            .members
            .iter()
            .filter(|m| m.name != self.me.name)
            .map(|m| ferroni_pg::slots::slot_name_from_member_name(&m.name))
            .collect()
    }

    /// SIGTERM: stop PostgreSQL (fast), release the lock if ours, publish the stop, exit 0.
    async fn shutdown(&mut self) -> i32 {
        tracing::info!("received a signal to shut down");
        // Stopping on purpose: PostgreSQL is stopped below (or, paused, left to the operator).
        if let Some(fence) = self.fence.as_mut() {
            fence.disarm();
        }
        self.watchdog.disable();
        self.tasks.cancel();
        if self.dynamic.pause {
            tracing::info!(
                "Leader key is not deleted and Postgresql is not stopped due paused state"
            );
            return 0;
        }
        let stopped = Some(Change::Stopped { demote: None });
        let stop = self
            .callbacks
            .stop(&self.pg, StopMode::Fast, Duration::from_secs(120), stopped);
        match stop.await {
            Ok(()) => {
                // Publish the stop before releasing the lock, so no replica waits for a primary
                // its member key still calls running.
                let stopped = member::stopped(&self.loaded.config, self.last_role);
                if let Err(e) = self.dcs.touch_member(&stopped).await {
                    tracing::warn!("failed to update member key: {e}");
                }
                if let Ok(cluster) = self.dcs.get_cluster().await
                    && cluster.leader_name() == Some(self.me.name.as_str())
                {
                    let last = cluster.status.as_ref();
                    match status::release(self.dcs.as_ref(), &self.pg, last).await {
                        Ok(_) => tracing::info!("Leader key released"),
                        Err(e) => tracing::error!("could not release the leader key: {e}"),
                    }
                }
            }
            Err(e) => tracing::error!("PostgreSQL shutdown failed, leader key not removed: {e}"),
        }
        self.callbacks.flush().await;
        0
    }
}
