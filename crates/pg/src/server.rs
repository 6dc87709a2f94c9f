//! [`Postgres`]: what the agent does to the PostgreSQL server beside it, as a trait, so the same
//! runtime drives a real server ([`LocalPostgres`](crate::local::LocalPostgres)) or the
//! simulator's model of one.

use crate::local::{
    DataDirState, Observation, PgError, PgSettings, Recovery, StopMode, Upstream, WalPositions,
};
use crate::params::ServerParameters;
use async_trait::async_trait;
use serde_json::{Map, Value};
use std::sync::Arc;
use std::time::Duration;

/// The local server: observe it, start and stop it, change its role, build its data directory,
/// keep its slots. Every method is safe to call whatever state the server is in; the ones that
/// cannot apply return an error.
#[async_trait]
pub trait Postgres: Send + Sync + 'static {
    /// What the server was set up with.
    fn settings(&self) -> &PgSettings;

    /// The same server under new settings (a reload): its sessions authenticate anew.
    async fn reconfigured(&self, settings: PgSettings) -> Result<Arc<dyn Postgres>, PgError>;

    /// Empty (or missing), initialized (with its control data), or neither.
    async fn data_dir_state(&self) -> DataDirState;

    /// The postmaster's PID, when one runs.
    fn postmaster_pid(&self) -> Option<i32>;

    /// Returns when the postmaster `pid` has exited (at once when it already has).
    async fn exited(&self, pid: i32);

    /// Role, timeline, WAL positions, slots and replication connections; `None` when the server
    /// does not answer.
    async fn observe(&self) -> Option<Observation>;

    /// Only where the server is in its WAL (cheaper than [`Postgres::observe`]).
    async fn wal_positions(&self) -> Option<WalPositions>;

    /// The server parameters for the cluster's `postgresql.parameters` (`dynamic`).
    fn parameters(&self, dynamic: &Map<String, Value>) -> ServerParameters;

    /// The protected parameters whose wanted value differs from the running postmaster's, as
    /// `{name: {old_value, new_value}}`.
    fn cmdline_changes(&self, params: &ServerParameters) -> Map<String, Value>;

    /// Writes the managed files for `params` and `role`.
    fn configure(&self, params: &ServerParameters, role: Recovery<'_>) -> Result<(), PgError>;

    /// Starts the postmaster and waits until it accepts connections.
    async fn start(&self, params: &ServerParameters, timeout: Duration) -> Result<(), PgError>;

    /// Stops the postmaster and waits until it is gone.
    async fn stop(&self, mode: StopMode, timeout: Duration) -> Result<(), PgError>;

    /// Asks the running server to read its configuration files again.
    async fn reload(&self) -> Result<(), PgError>;

    /// Promotes the running standby and waits until it accepts writes.
    async fn promote(&self) -> Result<(), PgError>;

    /// A new cluster in the empty data directory.
    async fn initdb(&self) -> Result<(), PgError>;

    /// The roles and the `post_bootstrap` script, once a new cluster runs.
    async fn post_bootstrap(&self) -> Result<(), PgError>;

    /// A copy of `from`'s data directory.
    async fn basebackup(&self, from: &Upstream) -> Result<(), PgError>;

    /// Rewinds the stopped data directory to `source`'s timeline.
    async fn rewind(&self, source: &Upstream) -> Result<(), PgError>;

    /// Creates the physical slots of `wanted` missing from `existing`; drops the others.
    async fn sync_slots(&self, wanted: &[String], existing: &[String]) -> Result<(), PgError>;

    /// The checkpoint location of a cleanly shut down data directory (`None`: not cleanly shut
    /// down, or unreadable).
    async fn shutdown_checkpoint(&self) -> Option<u64>;

    /// The text of the timeline history file of `timeline`.
    async fn timeline_history(&self, timeline: u64) -> Result<String, PgError>;

    /// Claims `timelines` before a promotion ([`crate::walfiles::claim_timelines`]); returns
    /// the ones claimed.
    async fn claim_timelines(
        &self,
        local_timeline: u64,
        timelines: &[u64],
    ) -> Result<Vec<u64>, PgError>;

    /// Removes the claims no timeline came after ([`crate::walfiles::release_claims`]).
    async fn release_claims(&self);

    /// Empties the data directory (a failed bootstrap).
    fn remove_data(&self);
}

#[async_trait]
impl Postgres for crate::local::LocalPostgres {
    fn settings(&self) -> &PgSettings {
        &self.settings
    }

    async fn reconfigured(&self, settings: PgSettings) -> Result<Arc<dyn Postgres>, PgError> {
        Ok(Arc::new(crate::local::LocalPostgres::new(settings).await?))
    }

    async fn data_dir_state(&self) -> DataDirState {
        crate::local::LocalPostgres::data_dir_state(self).await
    }

    fn postmaster_pid(&self) -> Option<i32> {
        crate::local::LocalPostgres::postmaster_pid(self)
    }

    async fn exited(&self, pid: i32) {
        crate::exit::exited(pid).await;
    }

    async fn observe(&self) -> Option<Observation> {
        crate::local::LocalPostgres::observe(self).await
    }

    async fn wal_positions(&self) -> Option<WalPositions> {
        crate::local::LocalPostgres::wal_positions(self).await
    }

    fn parameters(&self, dynamic: &Map<String, Value>) -> ServerParameters {
        crate::local::LocalPostgres::parameters(self, dynamic)
    }

    fn cmdline_changes(&self, params: &ServerParameters) -> Map<String, Value> {
        crate::local::LocalPostgres::cmdline_changes(self, params)
    }

    fn configure(&self, params: &ServerParameters, role: Recovery<'_>) -> Result<(), PgError> {
        crate::local::LocalPostgres::configure(self, params, role)
    }

    async fn start(&self, params: &ServerParameters, timeout: Duration) -> Result<(), PgError> {
        crate::local::LocalPostgres::start(self, params, timeout).await
    }

    async fn stop(&self, mode: StopMode, timeout: Duration) -> Result<(), PgError> {
        crate::local::LocalPostgres::stop(self, mode, timeout).await
    }

    async fn reload(&self) -> Result<(), PgError> {
        crate::local::LocalPostgres::reload(self).await
    }

    async fn promote(&self) -> Result<(), PgError> {
        crate::local::LocalPostgres::promote(self).await
    }

    async fn initdb(&self) -> Result<(), PgError> {
        crate::local::LocalPostgres::initdb(self).await
    }

    async fn post_bootstrap(&self) -> Result<(), PgError> {
        crate::local::LocalPostgres::post_bootstrap(self).await
    }

    async fn basebackup(&self, from: &Upstream) -> Result<(), PgError> {
        crate::local::LocalPostgres::basebackup(self, from).await
    }

    async fn rewind(&self, source: &Upstream) -> Result<(), PgError> {
        crate::local::LocalPostgres::rewind(self, source).await
    }

    async fn sync_slots(&self, wanted: &[String], existing: &[String]) -> Result<(), PgError> {
        crate::local::LocalPostgres::sync_slots(self, wanted, existing).await
    }

    async fn shutdown_checkpoint(&self) -> Option<u64> {
        let control = self.controldata().await?;
        if control.state != "shut down" {
            return None;
        }
        ferroni_model::parse_lsn(control.all.get("Latest checkpoint location")?)
    }

    async fn timeline_history(&self, timeline: u64) -> Result<String, PgError> {
        let file = self
            .settings
            .data_dir
            .join(format!("pg_wal/{timeline:08X}.history"));
        std::fs::read_to_string(&file).map_err(|e| PgError::Io {
            what: format!("cannot read {}", file.display()),
            reason: e.to_string(),
        })
    }

    async fn claim_timelines(
        &self,
        local_timeline: u64,
        timelines: &[u64],
    ) -> Result<Vec<u64>, PgError> {
        let pg_wal = self.settings.data_dir.join("pg_wal");
        crate::walfiles::claim_timelines(&pg_wal, local_timeline, timelines).map_err(|e| {
            PgError::Io {
                what: format!("cannot claim timelines in {}", pg_wal.display()),
                reason: e.to_string(),
            }
        })
    }

    async fn release_claims(&self) {
        crate::walfiles::release_claims(&self.settings.data_dir.join("pg_wal"));
    }

    fn remove_data(&self) {
        crate::local::LocalPostgres::remove_data(self);
    }
}
