//! The agent's loop: gather → decide → act → publish → wait. Only this module and the tasks it
//! starts do I/O; every decision is `ferroni_ha::decide`'s. The loop is built from its parts
//! ([`Parts`]: the DCS, the PostgreSQL server, the clocks, the link to the other members, the
//! fence), so the simulator runs the same loop over models of them; the real agent wires the
//! real ones in [`Runtime::new`].
//!
//! One file per phase: [`startup`] (building, claiming the name, the REST API), [`gather`]
//! (the cluster, the lock renewal, the local server, the peers, failsafe), [`execute`] (the
//! decision's actions), [`publish`] (member key, `/status`, the REST API's state, the fence),
//! [`shutdown`]; beside them the REST API's requests ([`commands`]), reloads ([`reload`]),
//! `/history` ([`history`]) and failsafe mode ([`failsafe`]).

mod commands;
mod execute;
mod failsafe;
mod gather;
mod handover;
mod history;
mod peers;
mod publish;
mod reload;
mod rest;
mod shutdown;
mod startup;
mod status;

pub use startup::Parts;

use crate::callbacks::Callbacks;
use crate::clock::Clock;
use crate::fence::Fence;
use crate::peer_link::PeerLink;
use crate::tasks::Tasks;
use anyhow::Result;
use commands::ScheduledRestart;
use ferroni_config::{DynamicConfig, Loaded};
use ferroni_dcs::Dcs;
use ferroni_ha::{Action, DcsView, FailsafeView, Input, Me, Memo, Millis, dcs_answered};
use ferroni_model::Cluster;
use ferroni_model::member::host_port;
use ferroni_pg::local::{Observation, Upstream};
use ferroni_pg::server::Postgres;
use serde_json::{Map, Value};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{Notify, mpsc};
use tokio::time::Instant;

/// How long after PostgreSQL exits the next cycle acts on it (see the wait in `run`).
const EXIT_GRACE: Duration = Duration::from_secs(1);

/// What the loop is told from outside: Unix signals in the real agent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Signal {
    /// SIGTERM, SIGINT: stop PostgreSQL, release the lock, exit.
    Shutdown,
    /// SIGHUP: read the configuration file again.
    Reload,
}

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
    pg: Arc<dyn Postgres>,
    clock: Arc<dyn Clock>,
    /// For calls to the other members' REST API.
    peer_link: Arc<dyn PeerLink>,
    tasks: Tasks,
    task_done: Arc<Notify>,
    origin: Instant,
    me: Me,
    dynamic: DynamicConfig,
    memo: Memo,
    /// Where the replica is configured to stream from.
    upstream: Option<Upstream>,
    starting_since: Option<Millis>,
    /// When the postmaster was last seen to exit: no start follows sooner than [`EXIT_GRACE`].
    exited_at: Option<Instant>,
    /// When PostgreSQL last answered a cycle's observation.
    observed_at: Instant,
    last_observation: Option<Observation>,
    /// The control data read while postmaster `pid` runs: what the cycle uses of it (the
    /// system identifier) does not change until that postmaster exits, so `pg_controldata` is
    /// not run every cycle.
    running_control: Option<(i32, ferroni_pg::controldata::ControlData)>,
    last_role: &'static str,
    /// What the REST API answers from.
    state: tokio::sync::watch::Sender<Arc<ferroni_api::NodeState>>,
    /// The REST API's requests, and the API's end of that channel (until the API starts).
    commands: ferroni_api::Commands,
    control: Option<ferroni_api::Control>,
    scheduled_restart: Option<ScheduledRestart>,
    /// `/config` changed PostgreSQL's parameters since the server's files were last written
    /// from it (`Input::parameters_changed`).
    parameters_changed: bool,
    /// The last decision asked for the next cycle this soon (a scheduled action).
    wake_in: Option<Millis>,
    /// The configuration file or directory, for reloads.
    config_path: Option<PathBuf>,
    /// Failsafe mode: the last `/failsafe` topology read, and the primary that last called.
    last_failsafe: Option<Map<String, Value>>,
    failsafe_calls: ferroni_api::FailsafeCalls,
    /// Whether to serve the REST API on `restapi.listen` (the simulator reads the state).
    serve_api: bool,
    /// The REST API server, once started.
    rest: Option<rest::RestServer>,
    /// The user's scripts: callbacks, pre_promote, before_stop.
    callbacks: Arc<Callbacks>,
    /// The frozen-agent fence.
    fence: Box<dyn Fence>,
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
    /// `ferroni_ha::decide` (see [`Parts::decide`]).
    decide: fn(&Input) -> ferroni_ha::Decision,
}

/// The member a `host:port` upstream is, from its key.
fn upstream_of(cluster: &Cluster, name: &str) -> Option<Upstream> {
    let m = cluster.member(name)?;
    let (host, port) = host_port(&m.data.conn_url)?;
    Some(Upstream { host, port })
}

impl Runtime {
    fn now(&self) -> Millis {
        u64::try_from(self.origin.elapsed().as_millis()).unwrap_or(u64::MAX)
    }

    /// The cluster's `postgresql.parameters`.
    fn dynamic_parameters(&self) -> Map<String, Value> {
        self.dynamic
            .raw
            .get("postgresql")
            .and_then(|p| p.get("parameters"))
            .and_then(Value::as_object)
            .cloned()
            .unwrap_or_default()
    }

    /// What the REST API answers from, published after every cycle.
    pub fn state(&self) -> tokio::sync::watch::Receiver<Arc<ferroni_api::NodeState>> {
        self.state.subscribe()
    }

    /// Runs until told to shut down (or `signals` closes) or a fatal decision; returns the exit
    /// code.
    pub async fn run(mut self, mut signals: mpsc::Receiver<Signal>) -> Result<i32> {
        if let Some(code) = self.claim_name(&mut signals).await? {
            return Ok(code);
        }
        let warnings = self.pg.parameters(&self.dynamic_parameters()).warnings;
        for w in warnings {
            tracing::warn!("{w}");
        }
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
            if let Some(code) = self.wait(started + wait, &mut signals).await {
                return Ok(code);
            }
        }
    }

    /// Waits for the next cycle: until `deadline`, or sooner on a DCS change, a finished task or
    /// a request that asks for it. Requests are answered meanwhile. When PostgreSQL exits, that
    /// is published at once and acted on [`EXIT_GRACE`] later, whatever else happens meanwhile:
    /// `pg_ctl stop -w` checks every 100 ms whether the server is gone, and one restarted sooner
    /// looks to it like one that never stopped. Returns the exit code when told to shut down.
    async fn wait(
        &mut self,
        mut deadline: Instant,
        signals: &mut mpsc::Receiver<Signal>,
    ) -> Option<i32> {
        let mut settle: Option<Instant> = None;
        loop {
            let pid = self.pg.postmaster_pid();
            if pid.is_none() && self.mark_postgres_gone() {
                // It died during the cycle, after it was observed running.
                tracing::info!("PostgreSQL exited");
                self.exited_at = Some(Instant::now());
                settle = Some(Instant::now() + EXIT_GRACE);
            }
            let now = Instant::now();
            let settling = settle.filter(|t| *t > now);
            if let Some(t) = settling {
                deadline = t;
            }
            let remaining = deadline.saturating_duration_since(now);
            // Whether anything but the deadline may start the next cycle.
            let wakeable = settling.is_none();
            let pg = self.pg.clone();
            let pg_exit = async move {
                match pid {
                    Some(pid) => pg.exited(pid).await,
                    None => std::future::pending::<()>().await,
                }
            };
            // In a fixed order, so a simulated run takes the same branch every time.
            tokio::select! {
                biased;
                signal = signals.recv() => match signal {
                    Some(Signal::Reload) => {
                        self.reload_config().await;
                        if wakeable {
                            return None;
                        }
                    }
                    Some(Signal::Shutdown) | None => return Some(self.shutdown().await),
                },
                _ = pg_exit => {
                    self.mark_postgres_gone();
                    tracing::info!("PostgreSQL exited");
                    self.exited_at = Some(Instant::now());
                    settle = Some(Instant::now() + EXIT_GRACE);
                }
                _ = self.task_done.notified(), if wakeable => return None,
                Some((command, reply)) = self.commands.recv() => {
                    if self.command(command, reply).await && wakeable {
                        return None;
                    }
                }
                _ = self.dcs.watch(remaining), if wakeable => return None,
                _ = tokio::time::sleep(remaining), if !wakeable => return None,
            }
        }
    }

    /// One cycle: gather, decide, act, publish.
    async fn cycle(&mut self) -> Next {
        let cluster = self.read_cluster().await;
        let config_changed = cluster.as_ref().is_some_and(|c| self.refresh_dynamic(c));
        let lock = self.renew_lock(cluster.as_ref()).await;
        let pg = self.gather_pg().await;
        self.found_running(&pg);
        self.parameters_changed |= config_changed;
        let task = self.tasks.status().await;
        let peers = self.gather_peers(cluster.as_ref(), &pg).await;
        let mut input = Input {
            now: self.now(),
            failsafe: FailsafeView::default(),
            parameters_changed: self.parameters_changed,
            wall_clock: self.clock.unix_ms(),
            scheduled_restart: self.scheduled_restart.as_ref().and_then(|r| {
                Some(ferroni_ha::ScheduledRestart {
                    at: r.request.schedule.clone()?,
                    postmaster_start_time: r.postmaster_start_time.clone(),
                })
            }),
            config: self.ha_config(),
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
        input.failsafe = self.gather_failsafe(&input).await;
        let decision = (self.decide)(&input);
        self.memo = decision.memo.clone();
        self.wake_in = decision.wake_in;
        for note in &decision.notes {
            tracing::info!("{note}");
        }
        let next = self.act(&decision, cluster.as_ref(), &input).await;
        self.update_fence(&input);
        match cluster.as_ref().filter(|_| dcs_answered(&input)) {
            Some(c) => {
                self.dcs_last_seen = self.clock.unix_secs();
                // A cycle that gave the lock up leaves /status as the release wrote it.
                let released = decision
                    .actions
                    .iter()
                    .any(|a| matches!(a, Action::ReleaseLock | Action::Demote(_)));
                self.publish(c, &input, released).await;
            }
            None => self.publish_without_dcs(&input),
        }
        next
    }
}
