//! Building the agent from its parts, and what it does before its first cycle: refusing to start
//! under a name another running agent has, then serving the REST API.

use super::{Runtime, Signal, rest, status};
use crate::callbacks::Callbacks;
use crate::clock::{Clock, SystemClock};
use crate::fence::{Fence, GuardFence};
use crate::peer_link::{HttpPeers, PeerLink};
use crate::settings;
use crate::tasks::Tasks;
use anyhow::{Context, Result};
use ferroni_config::Loaded;
use ferroni_dcs::Dcs;
use ferroni_ha::{Decision, Input, Memo};
use ferroni_pg::local::LocalPostgres;
use ferroni_pg::server::Postgres;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{Notify, mpsc};
use tokio::time::Instant;

/// How long a member with this agent's name has to answer `/liveness`.
const LIVENESS_TIMEOUT: Duration = Duration::from_secs(3);
/// How long to wait between reads of a DCS that does not answer at start-up.
const DCS_RETRY: Duration = Duration::from_secs(5);

/// What an agent is made of: the real ones in [`Runtime::new`], models in the simulator.
pub struct Parts {
    pub loaded: Loaded,
    /// The configuration file or directory, read again on a reload (`None`: nothing to read).
    pub config_path: Option<PathBuf>,
    pub dcs: Box<dyn Dcs>,
    pub pg: Arc<dyn Postgres>,
    pub clock: Arc<dyn Clock>,
    pub peer_link: Arc<dyn PeerLink>,
    pub fence: Box<dyn Fence>,
    /// Serve the REST API on `restapi.listen` (the simulator reads [`Runtime::state`] instead).
    pub serve_api: bool,
    /// The decision: `ferroni_ha::decide`, or in the simulator's mutation tests a rule broken on
    /// purpose, to show its oracle catches it.
    pub decide: fn(&Input) -> Decision,
}

impl Runtime {
    /// Connects to the DCS and prepares the local PostgreSQL: the real agent.
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
        let fence = GuardFence::new(&pg.settings.data_dir);
        let peer_link = HttpPeers::new(config)?;
        Ok(Runtime::from_parts(Parts {
            loaded,
            config_path,
            dcs,
            pg: Arc::new(pg),
            clock: Arc::new(SystemClock),
            peer_link: Arc::new(peer_link),
            fence: Box::new(fence),
            serve_api: true,
            decide: ferroni_ha::decide,
        }))
    }

    /// An agent made of `parts`.
    pub fn from_parts(parts: Parts) -> Runtime {
        let Parts {
            loaded,
            config_path,
            dcs,
            pg,
            clock,
            peer_link,
            fence,
            serve_api,
            decide,
        } = parts;
        let config = &loaded.config;
        let (control, commands) = ferroni_api::Control::channel();
        Runtime {
            watchdog: crate::watchdog::Watchdog::new(&config.watchdog),
            callbacks: Arc::new(Callbacks::new(config)),
            me: settings::me(config),
            status_key: status::StatusKeeper::new(&config.name),
            dynamic: loaded.bootstrap_dynamic.clone(),
            loaded,
            dcs,
            pg,
            clock,
            peer_link,
            tasks: Tasks::default(),
            task_done: Arc::new(Notify::new()),
            origin: Instant::now(),
            memo: Memo::default(),
            upstream: None,
            starting_since: None,
            exited_at: None,
            observed_at: Instant::now(),
            last_observation: None,
            running_control: None,
            last_role: "uninitialized",
            state: tokio::sync::watch::channel(Arc::default()).0,
            dcs_last_seen: 0,
            commands,
            control: Some(control),
            scheduled_restart: None,
            parameters_changed: false,
            wake_in: None,
            config_path,
            last_failsafe: None,
            failsafe_calls: ferroni_api::FailsafeCalls::default(),
            serve_api,
            rest: None,
            fence,
            lock_proven_at: None,
            fence_ttl: u64::MAX,
            decide,
        }
    }

    /// The REST API's end of the request channel, for a caller that serves the API itself (the
    /// simulator); `None` once taken or once the agent serves it.
    pub fn take_control(&mut self) -> Option<ferroni_api::Control> {
        self.control.take()
    }

    /// The failsafe calls this agent accepted, shared with whoever answers `POST /failsafe`.
    pub fn failsafe_calls(&self) -> ferroni_api::FailsafeCalls {
        self.failsafe_calls.clone()
    }

    /// Refuses to start when an agent with this name already runs in the cluster: its member key
    /// exists and its REST API answers `/liveness` (Patroni's check). Then serves the REST API.
    /// Until the DCS answers, a signal to shut down ends the agent (exit code 0).
    pub(super) async fn claim_name(
        &mut self,
        signals: &mut mpsc::Receiver<Signal>,
    ) -> Result<Option<i32>> {
        let name = &self.me.name;
        let cluster = loop {
            match self.dcs.get_cluster().await {
                Ok(cluster) => break cluster,
                Err(e) => {
                    tracing::info!("Can not get cluster from dcs: {e}");
                    tokio::select! {
                        biased;
                        signal = signals.recv() => {
                            if signal != Some(Signal::Reload) {
                                return Ok(Some(0));
                            }
                        }
                        _ = tokio::time::sleep(DCS_RETRY) => {}
                    }
                }
            }
        };
        if let Some(m) = cluster.member(name) {
            let base = m
                .data
                .api_url
                .trim_end_matches("/patroni")
                .trim_end_matches('/');
            let url = format!("{base}/liveness");
            if self.peer_link.alive(&url, LIVENESS_TIMEOUT).await {
                tracing::error!(target: "critical", "Can't start; there is already a node named '{name}' running");
                return Ok(Some(1));
            }
        }
        if !self.serve_api {
            return Ok(None);
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
}
