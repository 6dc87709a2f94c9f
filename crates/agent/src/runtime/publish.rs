//! The last phase of a cycle: what the others see. The member key, the leader's `/failsafe`,
//! `/status` and its replicas' slots, the state the REST API answers from, and the fence's
//! deadline for this cycle.

use super::{Runtime, ScheduledRestart};
use crate::member;
use ferroni_ha::fence::FenceOrder;
use ferroni_ha::{DataDir, Input, LockRenewal};
use ferroni_model::Cluster;
use serde_json::{Map, Value};
use std::sync::Arc;

impl Runtime {
    /// The member key, and the leader's slots for its replicas.
    pub(super) async fn publish(&mut self, cluster: &Cluster, input: &Input, released: bool) {
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
    }

    /// Publishes at once that PostgreSQL is not running, so no health check answers from a
    /// state that predates its exit. Returns whether the published state said it was running.
    pub(super) fn mark_postgres_gone(&self) -> bool {
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
    pub(super) fn publish_state(
        &self,
        cluster: &Cluster,
        input: &Input,
        member: &ferroni_model::Member,
    ) {
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
            last_cycle: self.clock.unix_secs(),
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
    pub(super) fn update_fence(&mut self, input: &Input) {
        self.fence_ttl = self.fence_ttl.min(u64::from(self.dynamic.ttl) * 1000);
        let proven = self.lock_proven_at.take();
        let order = ferroni_ha::fence::order(ferroni_ha::fence::FenceInput {
            proven_at: proven,
            ttl: self.fence_ttl,
            paused: self.dynamic.pause,
            primary: input.pg.is_primary(),
        });
        match order {
            FenceOrder::Arm { deadline } => {
                self.fence.arm(deadline);
                if input.pg.is_primary() {
                    self.watchdog.keepalive(self.dynamic.ttl);
                }
            }
            FenceOrder::Disarm => {
                self.fence.disarm();
                self.watchdog.disable();
            }
            FenceOrder::Keep => {}
        }
    }

    /// Parameters waiting for a restart: changed in `postgresql.conf` (PostgreSQL says so) or
    /// on the command line (compared with `postmaster.opts`).
    pub(super) fn pending_restart_reason(&self) -> Map<String, Value> {
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

    /// A cycle without the DCS: what the health checks say is `decide()`'s rule
    /// ([`ferroni_ha::dcs_error::health`]).
    pub(super) fn publish_without_dcs(&self, input: &Input) {
        let health = ferroni_ha::dcs_error::health(input);
        self.state.send_modify(|s| {
            let s = Arc::make_mut(s);
            s.holds_lock = health.holds_lock;
            s.failsafe_active = health.failsafe_active;
            s.cluster_unlocked |= health.failsafe_active;
        });
    }
}
