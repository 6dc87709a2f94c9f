//! The first phase of a cycle: what `decide()` is given. The cluster as the DCS has it (and the
//! dynamic configuration in it), this cycle's lock renewal, the local server, the other members'
//! reports in a leader race, and what failsafe mode knows beyond the DCS.

use super::Runtime;
use crate::settings;
use ferroni_config::DynamicConfig;
use ferroni_ha::callbacks::{Change, Role};
use ferroni_ha::divergence::LocalWal;
use ferroni_ha::{
    DataDir, DcsView, FailsafeView, HaConfig, Input, LockRenewal, PeerReport, PgState, PgView,
    Running,
};
use ferroni_model::Cluster;
use ferroni_pg::controldata::WalEnd;
use ferroni_pg::local::DataDirState;
use std::time::Duration;

impl Runtime {
    /// The cluster, read within `retry_timeout` (`None`: the DCS did not answer).
    pub(super) async fn read_cluster(&self) -> Option<Cluster> {
        let retry = Duration::from_secs(self.dynamic.retry_timeout.into());
        match tokio::time::timeout(retry, self.dcs.get_cluster()).await {
            Ok(Ok(cluster)) => Some(cluster),
            Ok(Err(e)) => {
                tracing::error!("Error communicating with DCS: {e}");
                None
            }
            Err(_) => {
                tracing::error!("Error communicating with DCS: no answer within {retry:?}");
                None
            }
        }
    }

    /// The effective dynamic configuration: the cluster's `config`, else `bootstrap.dcs`.
    /// Returns whether it changed.
    pub(super) fn refresh_dynamic(&mut self, cluster: &Cluster) -> bool {
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

    /// Renews the leader lock when the cluster names this member its holder, and says how it
    /// went; what an unanswered renewal means is `decide()`'s ([`LockRenewal::Unanswered`]).
    pub(super) async fn renew_lock(&mut self, cluster: Option<&Cluster>) -> LockRenewal {
        let holder = cluster.is_some_and(|c| c.leader_name() == Some(self.me.name.as_str()));
        if !holder {
            return LockRenewal::NotHeld;
        }
        let asked = self.clock.monotonic_ms();
        let renewed = self.dcs.update_leader().await;
        let ttl = self.fence_ttl.min(u64::from(self.dynamic.ttl) * 1000);
        let answered = self.clock.monotonic_ms();
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
            Err(e) if e.is_retriable() => {
                tracing::error!("failed to update leader lock: {e}");
                LockRenewal::Unanswered
            }
            Err(e) => {
                tracing::error!("failed to update leader lock: {e}");
                LockRenewal::Failed
            }
        }
    }

    /// The local data directory and server.
    pub(super) async fn gather_pg(&mut self) -> PgView {
        let pid = self.pg.postmaster_pid();
        let state = match (&self.running_control, pid) {
            (Some((running, control)), Some(pid)) if *running == pid => {
                DataDirState::Initialized(control.clone())
            }
            _ => self.pg.data_dir_state().await,
        };
        self.running_control = match (&state, pid) {
            (DataDirState::Initialized(control), Some(pid)) => Some((pid, control.clone())),
            _ => None,
        };
        let data = match state {
            DataDirState::Empty => {
                return PgView {
                    data: DataDir::Empty,
                    state: PgState::Stopped { was_primary: false },
                    wal: None,
                };
            }
            DataDirState::Invalid => {
                return PgView {
                    data: DataDir::Invalid,
                    state: PgState::Stopped { was_primary: false },
                    wal: None,
                };
            }
            DataDirState::Initialized(control) => control,
        };
        let mut wal_end = None;
        let state = match self.pg.observe().await {
            Some(o) => {
                self.starting_since = None;
                self.observed_at = tokio::time::Instant::now();
                let running = Running {
                    primary: !o.in_recovery,
                    timeline: o.timeline,
                    wal_position: o.wal_position,
                    streaming: o
                        .replication
                        .iter()
                        .filter(|r| r.state == "streaming")
                        .map(|r| r.application_name.clone())
                        .collect(),
                    received: o.in_recovery && o.receiver_streaming,
                    postmaster_start_time: o.postmaster_start_time.clone(),
                    slots: o.slots.clone(),
                };
                wal_end = o.in_recovery.then(|| WalEnd {
                    timeline: o.timeline,
                    lsn: o.replay_lsn.unwrap_or(o.wal_position),
                    in_recovery: true,
                });
                self.last_observation = Some(o);
                PgState::Running(running)
            }
            None => {
                if self.last_observation.take().is_some()
                    && self.pg.postmaster_pid().is_none()
                    && self.exited_at.is_none_or(|t| t < self.observed_at)
                {
                    // Running at the last cycle, gone now, and the wait did not see it go.
                    self.exited_at = Some(tokio::time::Instant::now());
                }
                if self.pg.postmaster_pid().is_some() {
                    let now = self.now();
                    PgState::Starting {
                        since: *self.starting_since.get_or_insert(now),
                    }
                } else {
                    self.starting_since = None;
                    wal_end = data.wal_end();
                    PgState::Stopped {
                        was_primary: data.was_primary(),
                    }
                }
            }
        };
        let wal = match wal_end {
            Some(end) => Some(self.local_wal(end).await),
            None => None,
        };
        PgView {
            data: DataDir::Initialized {
                sysid: data.system_identifier,
            },
            state,
            wal,
        }
    }

    /// The local end of WAL with the history file of its timeline (none on timeline 1; an
    /// unreadable one leaves only the end to compare).
    async fn local_wal(&self, end: WalEnd) -> LocalWal {
        let history = match end.timeline {
            0 | 1 => Vec::new(),
            t => match self.pg.timeline_history(t).await {
                Ok(text) => ferroni_model::parse_timeline_history(&text)
                    .into_iter()
                    .map(|(t, lsn, _)| (t, lsn))
                    .collect(),
                Err(e) => {
                    tracing::debug!("no local history of timeline {t}: {e}");
                    Vec::new()
                }
            },
        };
        LocalWal {
            timeline: end.timeline,
            lsn: end.lsn,
            in_recovery: end.in_recovery,
            history,
        }
    }

    /// Tells the callbacks the role a running server was found in (they run `on_start` or
    /// `on_role_change` when it is not the one they last reported).
    pub(super) fn found_running(&self, pg: &PgView) {
        if let (Some(r), false) = (pg.running(), self.tasks.busy()) {
            let role = if r.primary {
                Role::Primary
            } else {
                Role::Replica
            };
            self.callbacks.changed(Change::FoundRunning { role });
        }
    }

    /// The decision's settings, from the effective dynamic configuration.
    pub(super) fn ha_config(&self) -> HaConfig {
        settings::ha_config(&self.dynamic, self.loaded.can_bootstrap)
    }

    /// The other members' reports, asked only when they matter: in a leader race (no leader, the
    /// local server running), unless a switchover or failover names this member — it wins
    /// without a comparison.
    pub(super) async fn gather_peers(
        &self,
        cluster: Option<&Cluster>,
        pg: &PgView,
    ) -> Vec<PeerReport> {
        let Some(c) = cluster else {
            return Vec::new();
        };
        let named_me = ferroni_ha::manual::request(c)
            .and_then(|f| f.member.as_deref())
            .is_some_and(|m| m == self.me.name);
        if c.leader.is_some() || !matches!(pg.state, PgState::Running(_)) || named_me {
            return Vec::new();
        }
        self.peers(c).await
    }

    /// Failsafe mode's view: the last `/failsafe` topology (kept from the last read), the
    /// primary that called this member, and — when `decide()`'s rule says a round is due — whether
    /// every member of the topology accepts this primary.
    pub(super) async fn gather_failsafe(&mut self, input: &Input) -> FailsafeView {
        if let DcsView::Reachable(c) = &input.dcs {
            self.last_failsafe = c.failsafe.clone();
        }
        let round = self.clock.monotonic_ms();
        let members_accept = ferroni_ha::dcs_error::failsafe_round_due(input)
            && self.failsafe_members_accept().await;
        if members_accept {
            self.lock_proven_at = Some(round);
        }
        FailsafeView {
            leader: self.failsafe_leader().map(|l| l.name.clone()),
            members_accept,
        }
    }
}
