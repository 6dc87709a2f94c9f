//! The decision's actions, carried out: DCS writes at once, long actions on the local server
//! (bootstrap, clone, start, rewind, promote) as tasks beside the loop, so it keeps renewing the
//! lock meanwhile.

use super::{EXIT_GRACE, Next, Runtime, handover, status, upstream_of};
use crate::callbacks::{Callbacks, Vetoed};
use anyhow::{Context, Result};
use ferroni_ha::callbacks::{Change, Role};
use ferroni_ha::stopping::Stop;
use ferroni_ha::{Action, Decision, Input, TaskKind};
use ferroni_model::Cluster;
use ferroni_model::member::host_port;
use ferroni_pg::local::{Recovery, StopMode, Upstream};
use ferroni_pg::params::ServerParameters;
use ferroni_pg::server::Postgres;
use serde_json::Value;
use std::sync::Arc;
use std::time::Duration;

/// How long a replica has to start: it may have a lot of WAL to replay first.
const REPLICA_START_TIMEOUT: Duration = Duration::from_secs(600);

impl Runtime {
    /// The earliest moment PostgreSQL may start again: [`EXIT_GRACE`] after it last exited.
    /// `pg_ctl stop -w` (an operator's, or a test's) checks every 100 ms whether the server is
    /// gone; one restarted sooner looks to it like one that never stopped, and it waits out its
    /// whole timeout.
    fn start_hold(&self) -> tokio::time::Instant {
        let now = tokio::time::Instant::now();
        self.exited_at.map_or(now, |t| (t + EXIT_GRACE).max(now))
    }

    /// Rewrites the configuration files of the running PostgreSQL from the current settings and
    /// reloads it. Parameters that need a restart then show as pending restart.
    /// Returns whether the server has them (else the next cycle tries again).
    pub(super) async fn apply_parameters(&self) -> bool {
        let Some(o) = &self.last_observation else {
            return false;
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
            false
        } else if let Err(e) = self.pg.reload().await {
            tracing::error!("cannot reload PostgreSQL: {e}");
            false
        } else {
            self.callbacks.changed(Change::Reloaded);
            true
        }
    }

    /// Runs the decision's actions in order; the first failure stops the rest.
    pub(super) async fn act(
        &mut self,
        decision: &Decision,
        cluster: Option<&Cluster>,
        input: &Input,
    ) -> Next {
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

    pub(super) fn spawn_task<F>(&mut self, kind: TaskKind, work: F)
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
        match action {
            Action::AcquireLock => {
                let asked = self.clock.monotonic_ms();
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
                            .stop(
                                pg.as_ref(),
                                StopMode::Immediate,
                                Duration::from_secs(30),
                                stop,
                            )
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
                    start_replica(pg.as_ref(), &cb, &params, Some(&upstream)).await
                });
            }
            Action::StartPrimary { wait } => {
                self.upstream = None;
                let start_timeout = Duration::from_millis(*wait);
                let hold = self.start_hold();
                self.spawn_task(TaskKind::StartPrimary, async move {
                    tokio::time::sleep_until(hold).await;
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
                let hold = self.start_hold();
                self.spawn_task(TaskKind::StartReplica, async move {
                    tokio::time::sleep_until(hold).await;
                    if let Some(source) = &rewind_from {
                        tracing::info!("running pg_rewind from {}:{}", source.host, source.port);
                        pg.rewind(source).await?;
                    }
                    start_replica(pg.as_ref(), &cb, &params, upstream.as_ref()).await
                });
            }
            Action::Rewind { leader } => {
                let upstream = cluster
                    .and_then(|c| upstream_of(c, leader))
                    .context("the leader has no conn_url")?;
                self.upstream = Some(upstream.clone());
                self.spawn_task(TaskKind::StartReplica, async move {
                    let stop = Some(Change::Stopped { demote: None });
                    cb.stop(pg.as_ref(), StopMode::Fast, Duration::from_secs(60), stop)
                        .await?;
                    tracing::info!("running pg_rewind from {}:{}", upstream.host, upstream.port);
                    pg.rewind(&upstream).await?;
                    start_replica(pg.as_ref(), &cb, &params, Some(&upstream)).await
                });
            }
            Action::Promote => {
                self.upstream = None;
                // The replicas' slots exist before this node is primary (a standby can hold
                // physical slots): a replica that reconnects the moment the promotion ends
                // finds its slot, instead of being refused and retrying only after
                // `wal_retrieve_retry_interval` (5 s) — with synchronous commit, 5 s of writes.
                let slots = match cluster {
                    Some(c) if self.dynamic.use_slots => {
                        ferroni_ha::leader_duty::member_slots(input, c)
                    }
                    _ => Vec::new(),
                };
                let local_timeline = input.pg.running().map_or(0, |r| r.timeline);
                let claims = cluster
                    .map(|c| ferroni_ha::divergence::timelines_to_claim(local_timeline, c))
                    .unwrap_or_default();
                self.spawn_task(TaskKind::Promote, async move {
                    anyhow::ensure!(cb.pre_promote().await, Vetoed);
                    let existing = pg.observe().await.map(|o| o.slots).unwrap_or_default();
                    let before = pg.sync_slots(&slots, &existing).await;
                    match pg.claim_timelines(local_timeline, &claims).await {
                        Ok(claimed) if !claimed.is_empty() => tracing::info!(
                            "claimed timelines {claimed:?} the cluster already had, so the promotion makes a new one"
                        ),
                        Ok(_) => {}
                        Err(e) => tracing::warn!("{e}"),
                    }
                    let promoted = pg.promote().await;
                    pg.release_claims().await;
                    promoted?;
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
                let plan = mode.plan();
                let stopped = Some(Change::Stopped {
                    demote: Some(*mode),
                });
                cb.stop(
                    pg.as_ref(),
                    stop_mode(plan.stop),
                    Duration::from_secs(60),
                    stopped,
                )
                .await?;
                self.fence.disarm();
                self.watchdog.disable();
                if plan.release_lock {
                    let last = cluster.and_then(|c| c.status.as_ref());
                    let _ = status::release(self.dcs.as_ref(), pg.as_ref(), last).await;
                }
                self.upstream = None;
                if plan.restart_as_replica {
                    // Paused, nothing else would start it.
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
                // Its conditions (role, version, pending restart) are judged by the restart
                // itself, as for `POST /restart`.
                if let Some(scheduled) = self.scheduled_restart.clone()
                    && let Err(refusal) = self.restart(&scheduled.request, None)
                {
                    tracing::warn!("Scheduled restart: {}", refusal.body);
                }
            }
            Action::ForgetScheduledRestart => self.scheduled_restart = None,
            Action::WriteFailsafe { topology } => {
                let value = topology
                    .iter()
                    .map(|(name, url)| (name.clone(), Value::String(url.clone())))
                    .collect();
                if let Err(e) = self.dcs.set_failsafe(&value).await {
                    tracing::warn!("failed to update the /failsafe key: {e}");
                }
            }
            Action::SyncSlots { wanted } => {
                let existing = input.pg.running().map(|r| r.slots.clone());
                if let Err(e) = pg.sync_slots(wanted, &existing.unwrap_or_default()).await {
                    tracing::warn!("could not update replication slots: {e}");
                }
            }
            Action::StopImmediate => {
                self.tasks.cancel();
                stop_immediately(pg.as_ref(), &cb).await?;
            }
            Action::UpdateHistory => self.update_history(cluster, input).await?,
            Action::ReloadParameters => {
                if self.apply_parameters().await {
                    self.parameters_changed = false;
                }
            }
            Action::Exit { code, message } => {
                tracing::error!(target: "critical", "{message}");
                return Ok(Some(Next::Exit(*code)));
            }
        }
        Ok(None)
    }
}

/// Starts the prepared data directory as a replica of `upstream` (without one: read-only, until
/// a cycle points it at the leader), and tells the callbacks.
pub(super) async fn start_replica(
    pg: &dyn Postgres,
    cb: &Callbacks,
    params: &ServerParameters,
    upstream: Option<&Upstream>,
) -> Result<()> {
    pg.configure(params, Recovery::Standby(upstream))?;
    pg.start(params, REPLICA_START_TIMEOUT).await?;
    cb.changed(Change::Started {
        role: Role::Replica,
    });
    Ok(())
}

/// Stops PostgreSQL at once (no checkpoint), as a stop the callbacks report.
pub(super) async fn stop_immediately(pg: &dyn Postgres, cb: &Callbacks) -> Result<()> {
    let stop = Some(Change::Stopped { demote: None });
    cb.stop(pg, StopMode::Immediate, Duration::from_secs(60), stop)
        .await?;
    Ok(())
}

/// PostgreSQL's stop mode for a stop `decide()` planned.
pub(super) fn stop_mode(stop: Stop) -> StopMode {
    match stop {
        Stop::Fast => StopMode::Fast,
        Stop::Immediate => StopMode::Immediate,
    }
}
