//! The agent's answers to the REST API's requests ([`Command`]), between cycles: the DCS writes
//! of a switchover or a configuration change, and the restarts, reloads and re-clones of the
//! local PostgreSQL (run as tasks, so the loop keeps renewing the lock meanwhile).

use super::execute::{start_replica, stop_immediately};
use super::{Runtime, upstream_of};
use ferroni_api::{Command, Reply, RestartRequest};
use ferroni_dcs::DcsError;
use ferroni_ha::TaskKind;
use ferroni_ha::callbacks::Change;
use ferroni_ha::requests::{RestartNode, RestartWanted, reinit_plan, restart_refusal};
use ferroni_model::Failover;
use ferroni_pg::local::{Recovery, StopMode};
use serde_json::{Map, Value, json};
use std::time::Duration;
use tokio::sync::oneshot;

/// A restart kept for later (`POST /restart` with `schedule`).
#[derive(Debug, Clone)]
pub struct ScheduledRestart {
    pub request: RestartRequest,
    /// The postmaster's start time when it was scheduled: a restart in between cancels it.
    pub postmaster_start_time: Option<String>,
}

impl ScheduledRestart {
    /// The member key's `scheduled_restart`, as Patroni writes it.
    pub fn to_map(&self) -> Map<String, Value> {
        let r = &self.request;
        let mut m = Map::new();
        m.insert("schedule".into(), json!(r.schedule));
        if let Some(role) = &r.role {
            m.insert("role".into(), json!(role));
        }
        if let Some(v) = &r.postgres_version {
            m.insert("postgres_version".into(), json!(v));
        }
        if let Some(t) = r.timeout {
            m.insert("timeout".into(), json!(t));
        }
        if r.restart_pending {
            m.insert("restart_pending".into(), json!(true));
        }
        m.insert(
            "postmaster_start_time".into(),
            json!(self.postmaster_start_time),
        );
        m
    }
}

/// Merges a JSON merge patch as Patroni's `patch_config`: objects merge, `null` deletes, other
/// values replace. Returns whether anything changed.
pub fn merge_patch(target: &mut Map<String, Value>, patch: &Map<String, Value>) -> bool {
    let mut changed = false;
    for (key, value) in patch {
        match (value, target.get_mut(key)) {
            (Value::Null, Some(_)) => {
                target.remove(key);
                changed = true;
            }
            (Value::Null, None) => {}
            (Value::Object(p), Some(Value::Object(t))) => changed |= merge_patch(t, p),
            (v, Some(existing)) if existing == v => {}
            (v, _) => {
                target.insert(key.clone(), v.clone());
                changed = true;
            }
        }
    }
    changed
}

/// The shared check of a dynamic configuration about to be written: a value the agents cannot
/// read is refused naming the key (Patroni writes it, and its agents then fail on it); what they
/// will adjust or not act on yet is logged before the write.
fn judged(
    current: Option<&Map<String, Value>>,
    proposed: &Map<String, Value>,
) -> Result<(), Reply> {
    match ferroni_config::change::review(current, proposed) {
        Ok(verdict) => {
            for note in verdict.notes {
                tracing::warn!("/config: {note}");
            }
            Ok(())
        }
        Err(issues) => {
            let reasons: Vec<String> = issues.iter().map(ToString::to_string).collect();
            Err(Reply::text(
                400,
                format!(
                    "Bad Request: invalid configuration, not changed: {}",
                    reasons.join("; ")
                ),
            ))
        }
    }
}

impl Runtime {
    /// Answers one request. Returns whether a cycle should run at once.
    pub(super) async fn command(
        &mut self,
        command: Command,
        reply: oneshot::Sender<Reply>,
    ) -> bool {
        let answer = match command {
            Command::ReadFailover => {
                let _ = reply.send(self.read_failover().await);
                return false;
            }
            Command::RequestFailover { failover, action } => {
                self.request_failover(failover, &action).await
            }
            Command::CancelSwitchover => self.cancel_switchover().await,
            Command::Config { body, replace } => self.change_config(body, replace).await,
            Command::Reload => {
                let _ = reply.send(Reply::text(202, "reload scheduled"));
                self.reload_config().await;
                return true;
            }
            Command::Restart(request) => {
                if let Err(refusal) = self.restart(&request, Some(reply)) {
                    tracing::info!("{}", refusal.body);
                    // The reply went back with the refusal.
                }
                return true;
            }
            Command::ScheduleRestart(request) => {
                if self.scheduled_restart.is_some() {
                    Reply::text(409, "Another restart is already scheduled")
                } else {
                    self.scheduled_restart = Some(ScheduledRestart {
                        request,
                        postmaster_start_time: self
                            .last_observation
                            .as_ref()
                            .and_then(|o| o.postmaster_start_time.clone()),
                    });
                    Reply::text(202, "Restart scheduled")
                }
            }
            Command::CancelRestart => match self.scheduled_restart.take() {
                Some(_) => Reply::text(200, "scheduled restart deleted"),
                None => Reply::text(404, "no restarts are scheduled"),
            },
            Command::Reinitialize { force, from_leader } => {
                self.reinitialize(force, from_leader).await
            }
        };
        let _ = reply.send(answer);
        true
    }

    async fn read_failover(&self) -> Reply {
        match self.dcs.get_cluster().await {
            Ok(cluster) => {
                let pending = ferroni_ha::manual::request(&cluster).is_some();
                Reply::json(
                    200,
                    json!({"leader": cluster.leader_name(), "failover": pending}).to_string(),
                )
            }
            Err(e) => Reply::text(503, format!("DCS: {e}")),
        }
    }

    /// Checks a switchover or failover against the cluster as the DCS holds it now, then writes
    /// the `failover` key.
    async fn request_failover(&self, failover: Failover, action: &str) -> Reply {
        tracing::info!(
            "received {action} request with leader={} candidate={} scheduled_at={}",
            failover.leader.as_deref().unwrap_or("None"),
            failover.member.as_deref().unwrap_or("None"),
            failover.scheduled_at.as_deref().unwrap_or("None"),
        );
        let cluster = match self.dcs.get_cluster().await {
            Ok(c) => c,
            Err(e) => return Reply::text(503, format!("DCS: {e}")),
        };
        if failover.scheduled_at.is_none()
            && let Some(refusal) = ferroni_ha::requests::failover_refusal(
                &cluster,
                failover.leader.as_deref(),
                failover.member.as_deref(),
                action,
            )
        {
            return refusal.into();
        }
        match self.dcs.set_failover(&failover, None).await {
            Ok(_) => Reply::json(200, json!({"leader": cluster.leader_name()}).to_string()),
            Err(e) => {
                tracing::error!("failed to write failover key into DCS: {e}");
                Reply::text(503, "failed to write failover key into DCS")
            }
        }
    }

    async fn cancel_switchover(&self) -> Reply {
        let cluster = match self.dcs.get_cluster().await {
            Ok(c) => c,
            Err(e) => return Reply::text(503, format!("DCS: {e}")),
        };
        match &cluster.failover {
            Some(f) if f.value.scheduled_at.is_some() => {
                match self
                    .dcs
                    .set_failover(&Failover::default(), Some(f.version))
                    .await
                {
                    Ok(_) => Reply::text(200, "scheduled switchover deleted"),
                    Err(_) => Reply::text(409, "Conflict: the failover key changed meanwhile"),
                }
            }
            _ => Reply::text(404, "no switchover is scheduled"),
        }
    }

    /// `PATCH /config` (merge, compare-and-set) or `PUT /config` (replace).
    async fn change_config(&self, body: Map<String, Value>, replace: bool) -> Reply {
        let cluster = match self.dcs.get_cluster().await {
            Ok(c) => c,
            Err(e) => return Reply::text(503, format!("DCS: {e}")),
        };
        let shown = |data: &Map<String, Value>| {
            Reply::json(
                200,
                ferroni_api::json::python_json(&Value::Object(data.clone())),
            )
        };
        let current = cluster.config.as_ref().map(|c| &c.value);
        if replace {
            if current.is_some_and(|c| *c == body) {
                return shown(&body);
            }
            if let Err(refusal) = judged(current, &body) {
                return refusal;
            }
            return match self.dcs.set_config(&body, None).await {
                Ok(_) => shown(&body),
                Err(e) => Reply::text(502, format!("Bad Gateway: the DCS refused the write: {e}")),
            };
        }
        let Some(config) = &cluster.config else {
            return Reply::text(
                503,
                "Service Unavailable: there is no configuration in the DCS",
            );
        };
        let mut data = config.value.clone();
        if merge_patch(&mut data, &body) {
            if let Err(refusal) = judged(current, &data) {
                return refusal;
            }
            match self.dcs.set_config(&data, Some(config.version)).await {
                Ok(_) => {}
                Err(DcsError::Conflict(_)) => {
                    return Reply::text(409, "Conflict: the configuration changed meanwhile");
                }
                Err(e) => return Reply::text(409, format!("Conflict: {e}")),
            }
        }
        shown(&data)
    }

    /// The task in flight, as Patroni names it.
    fn task_in_flight(&self) -> Option<String> {
        self.tasks.busy().then(|| self.tasks.describe())
    }

    /// Whether a restart may start now ([`restart_refusal`]).
    fn restart_verdict(&self, request: &RestartRequest) -> Option<Reply> {
        let wanted = RestartWanted {
            role: request.role.as_deref(),
            postgres_version: request.postgres_version.as_deref(),
            restart_pending: request.restart_pending,
        };
        let task = self.task_in_flight();
        let node = RestartNode {
            role: self.last_role,
            server_version: self
                .last_observation
                .as_ref()
                .and_then(|o| o.server_version),
            // Read only when asked for: it compares the command line the server started with.
            restart_pending: request.restart_pending && !self.pending_restart_reason().is_empty(),
            task: task.as_deref(),
        };
        let refusal = restart_refusal(&wanted, &node)?;
        if let Some(reason) = refusal.reason {
            tracing::info!("not proceeding with the restart: {reason}");
        }
        Some(refusal.into())
    }

    /// Starts a restart task; `reply` (if any) gets the outcome when it ends. Refusals are
    /// answered at once and returned.
    pub(super) fn restart(
        &mut self,
        request: &RestartRequest,
        reply: Option<oneshot::Sender<Reply>>,
    ) -> Result<(), Reply> {
        if let Some(refusal) = self.restart_verdict(request) {
            if let Some(reply) = reply {
                let _ = reply.send(refusal.clone());
            }
            return Err(refusal);
        }
        let pg = self.pg.clone();
        let params = pg.parameters(&self.dynamic_parameters());
        let primary = self
            .last_observation
            .as_ref()
            .is_some_and(|o| !o.in_recovery);
        let upstream = self.upstream.clone();
        let timeout = Duration::from_secs(
            request
                .timeout
                .unwrap_or_else(|| u64::try_from(self.dynamic.primary_start_timeout).unwrap_or(300))
                .max(1),
        );
        let cb = self.callbacks.clone();
        self.spawn_task(TaskKind::Restart, async move {
            let result = async {
                cb.stop(pg.as_ref(), StopMode::Fast, Duration::from_secs(120), None)
                    .await?;
                let recovery = if primary {
                    Recovery::Primary
                } else {
                    Recovery::Standby(upstream.as_ref())
                };
                pg.configure(&params, recovery)?;
                pg.start(&params, timeout).await?;
                cb.changed(Change::Restarted);
                Ok::<(), ferroni_pg::local::PgError>(())
            }
            .await;
            if let Some(reply) = reply {
                let _ = reply.send(match &result {
                    Ok(()) => Reply::text(200, "restarted successfully"),
                    Err(_) => Reply::text(503, "restart failed"),
                });
            }
            result.map_err(anyhow::Error::from)
        });
        Ok(())
    }

    /// `POST /reinitialize`: a replica removes its data directory and clones it again.
    async fn reinitialize(&mut self, force: bool, from_leader: bool) -> Reply {
        let cluster = match self.dcs.get_cluster().await {
            Ok(c) => c,
            Err(e) => return Reply::text(503, format!("DCS: {e}")),
        };
        let task = self.task_in_flight();
        let plan = match reinit_plan(cluster.leader_name(), &self.me.name, task.as_deref(), force) {
            Ok(plan) => plan,
            Err(refusal) => return refusal.into(),
        };
        if plan.cancel_task {
            self.tasks.cancel();
        }
        let leader = plan.leader;
        // The leader is the one source every replica can clone from (`from_leader` asks for it).
        let _ = from_leader;
        let Some(upstream) = upstream_of(&cluster, leader) else {
            return Reply::text(503, "the leader has no conn_url");
        };
        self.upstream = Some(upstream.clone());
        let pg = self.pg.clone();
        let params = pg.parameters(&self.dynamic_parameters());
        tracing::info!("reinitializing from {leader}");
        let cb = self.callbacks.clone();
        self.spawn_task(TaskKind::Reinitialize, async move {
            stop_immediately(pg.as_ref(), &cb).await?;
            pg.remove_data();
            pg.basebackup(&upstream).await?;
            start_replica(pg.as_ref(), &cb, &params, Some(&upstream)).await
        });
        Reply::text(200, "reinitialize started")
    }

    /// Re-reads the configuration file (`POST /reload`, SIGHUP) and applies what changed
    /// ([`reload`](super::reload)).
    pub(super) async fn reload_config(&mut self) {
        let loaded = match ferroni_config::load(self.config_path.as_deref(), std::env::vars()) {
            Ok(l) => l,
            Err(e) => {
                tracing::error!("the configuration was not reloaded: {e}");
                return;
            }
        };
        for w in &loaded.warnings {
            tracing::warn!("{w}");
        }
        self.me = crate::settings::me(&loaded.config);
        self.watchdog.reconfigure(&loaded.config.watchdog);
        self.apply_local(loaded).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn merge_patch_as_patroni() {
        let mut data =
            json!({"ttl": 30, "postgresql": {"parameters": {"work_mem": "4MB", "a": 1}}})
                .as_object()
                .cloned()
                .unwrap_or_default();
        let patch =
            json!({"postgresql": {"parameters": {"work_mem": "8MB", "a": null}}, "x": null});
        assert!(merge_patch(&mut data, patch.as_object().unwrap()));
        assert_eq!(
            Value::Object(data.clone()),
            json!({"ttl": 30, "postgresql": {"parameters": {"work_mem": "8MB"}}})
        );
        assert!(!merge_patch(
            &mut data,
            json!({"ttl": 30}).as_object().unwrap()
        ));
    }
}
