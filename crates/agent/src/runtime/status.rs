//! The leader's `/status` key, which every member reads back (`maximum_lag_on_failover`, the lag
//! health checks, `ferronictl list`): written after each cycle in which this node held the lock
//! and ran the primary, when it changed (what it holds is `ferroni_ha::status`'s), and left with
//! the shutdown checkpoint when the leader releases the lock after a clean stop.

use ferroni_config::DynamicConfig;
use ferroni_dcs::{Dcs, DcsError};
use ferroni_ha::Millis;
use ferroni_ha::status::{LeaderView, Retention, leader_status, released_status};
use ferroni_model::{Cluster, Status};
use ferroni_pg::local::Observation;
use ferroni_pg::server::Postgres;

/// Patroni's default `member_slots_ttl`, in seconds.
const MEMBER_SLOTS_TTL: i64 = 1800;

/// What the leader remembers between cycles for its `/status`.
#[derive(Debug)]
pub(super) struct StatusKeeper {
    /// This member's name.
    me: String,
    retention: Retention,
}

impl StatusKeeper {
    pub(super) fn new(me: &str) -> StatusKeeper {
        StatusKeeper {
            me: me.to_string(),
            retention: Retention::default(),
        }
    }

    /// Publishes this cycle's `/status` when `holder` (the lock renewed this cycle) and the
    /// primary was observed. A node that does not hold the lock forgets its record: when it leads
    /// again, it carries on from the one in the cluster.
    pub(super) async fn publish(
        &mut self,
        dcs: &dyn Dcs,
        cluster: &Cluster,
        holder: bool,
        observation: Option<&Observation>,
        dynamic: &DynamicConfig,
        now: Millis,
    ) {
        if !holder {
            self.retention = Retention::default();
            return;
        }
        let Some(o) = observation.filter(|o| !o.in_recovery) else {
            return;
        };
        let view = LeaderView {
            me: &self.me,
            wal_position: o.wal_position,
            slots: &o.slot_lsns,
            member_slots_ttl: member_slots_ttl(dynamic),
            now,
        };
        let Some(update) = leader_status(cluster, &view, &self.retention) else {
            return;
        };
        for note in &update.notes {
            tracing::info!("{note}");
        }
        if update.write
            && let Err(e) = dcs.set_status(&update.status).await
        {
            tracing::warn!("failed to update the /status key: {e}");
            return;
        }
        self.retention = update.retention;
    }
}

/// `member_slots_ttl` of the dynamic configuration, in milliseconds (seconds, or a duration with
/// a unit, as Patroni reads it).
fn member_slots_ttl(dynamic: &DynamicConfig) -> Millis {
    let seconds = dynamic
        .raw
        .get("member_slots_ttl")
        .and_then(ferroni_config::flex::seconds)
        .unwrap_or(MEMBER_SLOTS_TTL);
    u64::try_from(seconds).unwrap_or(0).saturating_mul(1000)
}

/// Releases the leader lock once PostgreSQL has stopped: after a clean shutdown with its
/// checkpoint as the last position in `/status` (Patroni's `delete_leader(last_lsn)`), so that a
/// replica which has it does not count as lagging; else the lock alone. `last`: the status in
/// the last cluster view, whose slots are kept.
pub(super) async fn release(
    dcs: &dyn Dcs,
    pg: &dyn Postgres,
    last: Option<&Status>,
) -> Result<bool, DcsError> {
    match pg.shutdown_checkpoint().await {
        Some(lsn) => dcs.release_leader(&released_status(last, lsn)).await,
        None => dcs.delete_leader().await,
    }
}
