//! The parts an agent is built from ([`ferroni::runtime::Parts`]), over the simulated world:
//! its PostgreSQL server, the fence guard, the clocks, the link to the other members and the
//! DCS. Time is tokio's, paused and advanced by the runtime when every task waits.

use crate::agents;
use crate::world::{Shared, lock};
use async_trait::async_trait;
use ferroni::clock::Clock;
use ferroni::fence::Fence;
use ferroni::peer_link::{Answer, PeerLink};
use ferroni_dcs::memory::MemoryDcs;
use ferroni_dcs::{Dcs, DcsError};
use ferroni_model::{Cluster, KeyLayout, Member, Status, Version};
use ferroni_pg::controldata::ControlData;
use ferroni_pg::local::{
    DataDirState, Observation, PgError, PgSettings, Recovery, StopMode, Upstream, WalPositions,
};
use ferroni_pg::params::ServerParameters;
use ferroni_pg::server::Postgres;
use serde_json::{Map, Value};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::watch;
use tokio::time::Instant;

/// How long a model server takes to start, stop or promote.
const PG_STEP: Duration = Duration::from_millis(200);

/// Member `i`'s address (`127.0.0.<i+1>`).
pub fn host(i: usize) -> String {
    format!("127.0.0.{}", i + 1)
}

/// The member at `host`.
fn member_at(host: &str) -> Option<usize> {
    let last: usize = host.rsplit('.').next()?.parse().ok()?;
    last.checked_sub(1)
}

/// The simulation's clocks: monotonic from the paused tokio clock, the wall clock a fixed
/// origin plus the same (clock jumps are not modelled yet).
pub struct SimClock {
    pub origin: Instant,
}

impl Clock for SimClock {
    fn monotonic_ms(&self) -> u64 {
        1_000_000 + u64::try_from(self.origin.elapsed().as_millis()).unwrap_or(0)
    }

    fn unix_ms(&self) -> i64 {
        1_800_000_000_000 + i64::try_from(self.origin.elapsed().as_millis()).unwrap_or(0)
    }
}

/// The TTL clock of the shared DCS store.
pub struct StoreClock {
    pub origin: Instant,
}

impl ferroni_dcs::memory::Clock for StoreClock {
    fn now(&self) -> Duration {
        self.origin.elapsed()
    }
}

/// Member `i`'s fence guard: the world stops its server when the moment passes. It runs beside
/// the agent, so a frozen agent does not stop it, as the real guard process.
pub struct SimFence {
    pub world: Shared,
    pub node: usize,
    /// A deliberately broken guard that never stops anything (to prove the oracle sees it).
    pub broken: bool,
}

impl Fence for SimFence {
    fn arm(&mut self, deadline: u64) {
        if self.broken {
            return;
        }
        let mut w = lock(&self.world);
        if w.servers[self.node].running {
            w.servers[self.node].fence_deadline = Some(deadline);
        }
    }

    fn disarm(&mut self) {
        lock(&self.world).servers[self.node].fence_deadline = None;
    }
}

/// Member `i`'s server.
pub struct SimPostgres {
    pub world: Shared,
    pub node: usize,
    pub settings: PgSettings,
}

impl SimPostgres {
    fn fail(what: &str) -> PgError {
        PgError::Program {
            program: what.into(),
            reason: "not possible in this state".into(),
        }
    }
}

#[async_trait]
impl Postgres for SimPostgres {
    fn settings(&self) -> &PgSettings {
        &self.settings
    }

    async fn reconfigured(&self, settings: PgSettings) -> Result<Arc<dyn Postgres>, PgError> {
        Ok(Arc::new(SimPostgres {
            world: self.world.clone(),
            node: self.node,
            settings,
        }))
    }

    async fn data_dir_state(&self) -> DataDirState {
        let w = lock(&self.world);
        let s = &w.servers[self.node];
        if !s.initialized {
            return DataDirState::Empty;
        }
        let state = match (s.running, s.was_primary) {
            (true, true) | (false, true) if !s.clean => "in production",
            (_, true) => "shut down",
            (true, false) => "in archive recovery",
            (false, false) => "shut down in recovery",
        };
        // A clean shutdown's checkpoint record is the last of its WAL: it starts just before
        // the end. A standby's minimum recovery point is the end it replayed.
        let lsn = ferroni_model::format_lsn;
        let (recovery_end, recovery_timeline) = match state {
            "in archive recovery" | "shut down in recovery" => (s.flush, s.timeline),
            _ => (0, 0),
        };
        let all = [
            ("Database system identifier", s.sysid.clone()),
            ("Database cluster state", state.to_string()),
            ("Latest checkpoint location", lsn(s.flush.saturating_sub(1))),
            ("Latest checkpoint's TimeLineID", s.timeline.to_string()),
            ("Minimum recovery ending location", lsn(recovery_end)),
            (
                "Min recovery ending loc's timeline",
                recovery_timeline.to_string(),
            ),
        ];
        DataDirState::Initialized(ControlData {
            system_identifier: s.sysid.clone(),
            state: state.into(),
            timeline: s.timeline,
            all: all.into_iter().map(|(k, v)| (k.to_string(), v)).collect(),
        })
    }

    fn postmaster_pid(&self) -> Option<i32> {
        let w = lock(&self.world);
        let s = &w.servers[self.node];
        s.running.then_some(s.pid)
    }

    async fn exited(&self, pid: i32) {
        // The world has no notification: look every 50 ms (simulated time costs nothing).
        loop {
            {
                let w = lock(&self.world);
                let s = &w.servers[self.node];
                if !s.running || s.pid != pid {
                    return;
                }
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    async fn observe(&self) -> Option<Observation> {
        let w = lock(&self.world);
        let s = &w.servers[self.node];
        if !s.running {
            return None;
        }
        let replication = (0..w.servers.len())
            .filter(|r| w.servers[*r].streaming_from == Some(self.node))
            .map(|r| ferroni_model::ReplicationRow {
                usename: "replicator".into(),
                application_name: format!("node{}", r + 1),
                client_addr: Some(host(r)),
                state: "streaming".into(),
                sync_state: "async".into(),
                sync_priority: 0,
            })
            .collect();
        Some(Observation {
            in_recovery: s.in_recovery,
            timeline: s.timeline,
            wal_position: s.flush,
            receive_lsn: (s.in_recovery && s.streaming_from.is_some()).then_some(s.flush),
            replay_lsn: s.in_recovery.then_some(s.flush),
            receiver_streaming: s.in_recovery && s.streaming_from.is_some(),
            slots: s.slots.clone(),
            replication,
            server_version: Some(150_000),
            postmaster_start_time: Some(format!("pid {}", s.pid)),
            ..Observation::default()
        })
    }

    async fn wal_positions(&self) -> Option<WalPositions> {
        let o = self.observe().await?;
        Some(WalPositions {
            in_recovery: o.in_recovery,
            timeline: o.timeline,
            wal_position: o.wal_position,
            receive_lsn: o.receive_lsn,
            replay_lsn: o.replay_lsn,
        })
    }

    fn parameters(&self, _dynamic: &Map<String, Value>) -> ServerParameters {
        ServerParameters::default()
    }

    fn cmdline_changes(&self, _params: &ServerParameters) -> Map<String, Value> {
        Map::new()
    }

    fn configure(&self, _params: &ServerParameters, role: Recovery<'_>) -> Result<(), PgError> {
        let mut w = lock(&self.world);
        let s = &mut w.servers[self.node];
        match role {
            Recovery::Primary => {
                s.standby = false;
                s.upstream = None;
            }
            Recovery::Standby(upstream) => {
                s.standby = true;
                s.upstream = upstream.and_then(|u| member_at(&u.host));
            }
        }
        Ok(())
    }

    async fn start(&self, _params: &ServerParameters, _timeout: Duration) -> Result<(), PgError> {
        tokio::time::sleep(PG_STEP).await;
        let mut w = lock(&self.world);
        if !w.servers[self.node].initialized {
            return Err(Self::fail("pg_ctl start"));
        }
        if !w.servers[self.node].running {
            w.start(self.node);
        }
        Ok(())
    }

    async fn stop(&self, mode: StopMode, _timeout: Duration) -> Result<(), PgError> {
        tokio::time::sleep(PG_STEP / 2).await;
        lock(&self.world).stop(self.node, mode != StopMode::Immediate);
        Ok(())
    }

    async fn reload(&self) -> Result<(), PgError> {
        Ok(())
    }

    async fn promote(&self) -> Result<(), PgError> {
        tokio::time::sleep(PG_STEP).await;
        let mut w = lock(&self.world);
        let s = &w.servers[self.node];
        if !s.running || !s.in_recovery {
            return Err(Self::fail("pg_ctl promote"));
        }
        w.promote(self.node);
        Ok(())
    }

    async fn initdb(&self) -> Result<(), PgError> {
        tokio::time::sleep(PG_STEP).await;
        lock(&self.world).initdb(self.node);
        Ok(())
    }

    async fn post_bootstrap(&self) -> Result<(), PgError> {
        Ok(())
    }

    async fn basebackup(&self, from: &Upstream) -> Result<(), PgError> {
        tokio::time::sleep(PG_STEP * 2).await;
        let source = member_at(&from.host).ok_or_else(|| Self::fail("pg_basebackup"))?;
        lock(&self.world)
            .basebackup(self.node, source)
            .then_some(())
            .ok_or_else(|| Self::fail("pg_basebackup"))
    }

    async fn rewind(&self, source: &Upstream) -> Result<(), PgError> {
        tokio::time::sleep(PG_STEP).await;
        let source = member_at(&source.host).ok_or_else(|| Self::fail("pg_rewind"))?;
        lock(&self.world)
            .rewind(self.node, source)
            .then_some(())
            .ok_or_else(|| Self::fail("pg_rewind"))
    }

    async fn sync_slots(&self, wanted: &[String], _existing: &[String]) -> Result<(), PgError> {
        lock(&self.world).servers[self.node].slots = wanted.to_vec();
        Ok(())
    }

    async fn shutdown_checkpoint(&self) -> Option<u64> {
        let w = lock(&self.world);
        let s = &w.servers[self.node];
        (!s.running && s.clean).then_some(s.flush)
    }

    async fn timeline_history(&self, timeline: u64) -> Result<String, PgError> {
        let w = lock(&self.world);
        let s = &w.servers[self.node];
        if s.timeline != timeline {
            return Err(Self::fail("read the history file"));
        }
        Ok(s.history
            .iter()
            .map(|(t, lsn)| {
                format!(
                    "{t}\t{:X}/{:X}\tno recovery target specified\n",
                    lsn >> 32,
                    lsn & 0xFFFF_FFFF
                )
            })
            .collect())
    }

    async fn claim_timelines(
        &self,
        local_timeline: u64,
        timelines: &[u64],
    ) -> Result<Vec<u64>, PgError> {
        let mut w = lock(&self.world);
        let s = &mut w.servers[self.node];
        let new: Vec<u64> = timelines
            .iter()
            .copied()
            .filter(|t| *t > local_timeline.max(s.timeline) && !s.claimed.contains(t))
            .collect();
        s.claimed.extend(&new);
        Ok(new)
    }

    async fn release_claims(&self) {
        let mut w = lock(&self.world);
        let s = &mut w.servers[self.node];
        let timeline = s.timeline;
        s.claimed.retain(|t| *t < timeline);
    }

    fn remove_data(&self) {
        lock(&self.world).servers[self.node] = Default::default();
    }
}

/// Member `i`'s link to the others' REST APIs: `/patroni` answered from the other agent's
/// published state and its server's positions now, as the real endpoint; nothing crosses a cut
/// link or reaches an agent that is down.
pub struct SimPeers {
    pub world: Shared,
    pub node: usize,
    pub states: Arc<Vec<watch::Sender<Arc<ferroni_api::NodeState>>>>,
}

impl SimPeers {
    fn reachable(&self, url: &str) -> Result<usize, String> {
        let host = url
            .split("://")
            .nth(1)
            .and_then(|rest| rest.split(':').next())
            .unwrap_or_default();
        let peer = member_at(host).ok_or("no such member")?;
        let w = lock(&self.world);
        if peer >= w.servers.len() || !w.linked(self.node, peer) || w.agent_down[peer] {
            return Err("connection timed out".into());
        }
        Ok(peer)
    }
}

#[async_trait]
impl PeerLink for SimPeers {
    async fn status(&self, url: &str, _timeout: Duration) -> Result<Value, String> {
        let peer = self.reachable(url)?;
        let mut state = (*self.states[peer].borrow().clone()).clone();
        {
            let w = lock(&self.world);
            let s = &w.servers[peer];
            if state.pg.state == "running" && s.running {
                state.pg.timeline = Some(s.timeline);
                if s.in_recovery {
                    state.pg.location = None;
                    state.pg.received_location = Some(s.flush);
                    state.pg.replayed_location = Some(s.flush);
                    if state.pg.role == "primary" {
                        state.pg.role = "replica".into();
                    }
                } else {
                    state.pg.role = "primary".into();
                    state.pg.location = Some(s.flush);
                }
            } else if !s.running {
                state.pg.state = "stopped".into();
            }
        }
        serde_json::from_str(&ferroni_api::status::status_json(&state)).map_err(|e| e.to_string())
    }

    async fn post(&self, url: &str, _body: &str, _timeout: Duration) -> Result<Answer, String> {
        self.reachable(url)?;
        // Failsafe mode is not simulated yet.
        Err("not simulated".into())
    }

    async fn alive(&self, _url: &str, _timeout: Duration) -> bool {
        false
    }

    fn reconfigured(&self, _config: &ferroni_config::Config) -> anyhow::Result<Arc<dyn PeerLink>> {
        Ok(Arc::new(SimPeers {
            world: self.world.clone(),
            node: self.node,
            states: self.states.clone(),
        }))
    }
}

/// Member `i`'s DCS client: the shared in-memory store, unreachable while its link is cut.
pub struct SimDcs {
    pub inner: MemoryDcs,
    pub world: Shared,
    pub node: usize,
}

/// How long a simulated DCS client waits for an answer (a third of `retry_timeout`, as the
/// real etcd client).
const DCS_CLIENT_TIMEOUT: Duration = Duration::from_millis(agents::RETRY_TIMEOUT * 1000 / 3);

impl SimDcs {
    fn check(&self) -> Result<(), DcsError> {
        if lock(&self.world).dcs_cut[self.node] {
            return Err(DcsError::Unreachable("partitioned".into()));
        }
        Ok(())
    }

    /// `op` as a late link carries it: the request arrives after half the delay (or never,
    /// within the client's timeout), the answer after the rest; an answer later than the
    /// timeout is an error to the client though the store applied the request.
    async fn call<T>(
        &self,
        op: impl std::future::Future<Output = Result<T, DcsError>>,
    ) -> Result<T, DcsError> {
        let delay = Duration::from_millis(lock(&self.world).dcs_delay_ms[self.node]);
        let timeout = || DcsError::Unreachable("Timeout expired".into());
        let (there, back) = (delay / 2, delay - delay / 2);
        if there >= DCS_CLIENT_TIMEOUT {
            tokio::time::sleep(DCS_CLIENT_TIMEOUT).await;
            return Err(timeout());
        }
        tokio::time::sleep(there).await;
        self.check()?;
        let answer = op.await;
        if there + back >= DCS_CLIENT_TIMEOUT {
            tokio::time::sleep(DCS_CLIENT_TIMEOUT - there).await;
            return Err(timeout());
        }
        tokio::time::sleep(back).await;
        answer
    }
}

#[async_trait]
impl Dcs for SimDcs {
    fn layout(&self) -> &KeyLayout {
        self.inner.layout()
    }
    async fn get_cluster(&self) -> Result<Cluster, DcsError> {
        self.call(self.inner.get_cluster()).await
    }
    async fn attempt_to_acquire_leader(&self) -> Result<bool, DcsError> {
        self.call(self.inner.attempt_to_acquire_leader()).await
    }
    async fn update_leader(&self) -> Result<bool, DcsError> {
        self.call(self.inner.update_leader()).await
    }
    async fn delete_leader(&self) -> Result<bool, DcsError> {
        self.call(self.inner.delete_leader()).await
    }
    async fn release_leader(&self, status: &Status) -> Result<bool, DcsError> {
        self.call(self.inner.release_leader(status)).await
    }
    async fn touch_member(&self, member: &Member) -> Result<(), DcsError> {
        self.call(self.inner.touch_member(member)).await
    }
    async fn initialize(&self, create_new: bool, sysid: &str) -> Result<bool, DcsError> {
        self.call(self.inner.initialize(create_new, sysid)).await
    }
    async fn cancel_initialization(&self) -> Result<(), DcsError> {
        self.call(self.inner.cancel_initialization()).await
    }
    async fn write(
        &self,
        key: &str,
        value: &str,
        version: Option<Version>,
    ) -> Result<Version, DcsError> {
        self.call(self.inner.write(key, value, version)).await
    }
    async fn delete_sync(&self, version: Option<Version>) -> Result<(), DcsError> {
        self.call(self.inner.delete_sync(version)).await
    }
    async fn delete_cluster(&self) -> Result<(), DcsError> {
        self.call(self.inner.delete_cluster()).await
    }
    async fn watch(&self, timeout: Duration) -> Result<bool, DcsError> {
        if self.check().is_err() {
            tokio::time::sleep(timeout).await;
            return Ok(false);
        }
        self.inner.watch(timeout).await
    }
}
