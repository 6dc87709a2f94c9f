//! ferroni-dcs owns the distributed configuration store: the [`Dcs`] trait with the operations of
//! Patroni's DCS layer, and its backends.
//!
//! - [`error`]: [`DcsError`] — unreachable/timeout, compare-and-set conflict, not found, malformed.
//! - [`settings`]: [`DcsSettings`] — who we are, the key layout and the timings a backend needs.
//! - [`retry`]: retrying within `retry_timeout`.
//! - [`etcd3`]: etcd v3 (gRPC) — one lease per agent, a watch-fed cache, compare-and-set by txn.
//! - [`etcd2`]: etcd v2 (HTTP) — TTL keys, `prevExist`/`prevValue`/`prevIndex`, `wait`.
//! - [`memory`]: in-process, TTLs driven by an injected clock, for unit tests and the simulator.
//! - [`endpoints`]: etcd endpoints from `host`, `hosts`, `url`, `proxy`.

pub mod endpoints;
pub mod error;
pub mod etcd2;
pub mod etcd3;
pub mod memory;
pub mod retry;
pub mod settings;

pub use endpoints::EtcdOptions;
pub use error::DcsError;
pub use settings::DcsSettings;

use async_trait::async_trait;
use ferroni_model::{Cluster, Failover, History, KeyLayout, Member, Status, SyncState, Version};
use serde_json::{Map, Value};
use std::time::Duration;

/// The operations the agent needs from a DCS. Every write that can lose a race says so: the leader
/// lock operations answer `false`, the compare-and-set ones [`DcsError::Conflict`].
#[async_trait]
pub trait Dcs: Send + Sync {
    /// The key layout of this cluster.
    fn layout(&self) -> &KeyLayout;

    /// The whole cluster, in one read (or from a cache the backend keeps current).
    async fn get_cluster(&self) -> Result<Cluster, DcsError>;

    /// Takes the leader lock if nobody holds it, bound to this agent's lease/TTL.
    async fn attempt_to_acquire_leader(&self) -> Result<bool, DcsError>;

    /// Renews the leader lock; `false` when the lock is no longer this member's.
    async fn update_leader(&self) -> Result<bool, DcsError>;

    /// Releases the leader lock if it is this member's; `false` when it was not.
    async fn delete_leader(&self) -> Result<bool, DcsError>;

    /// Releases the leader lock if it is this member's, leaving `status` (the position it stopped
    /// at) for the members that race next: Patroni's `delete_leader(last_lsn)`. `false` when the
    /// lock was not ours. Here, as in Patroni, two requests; etcd3 and the in-memory DCS write
    /// the status only while the lock is still this member's, in one step.
    async fn release_leader(&self, status: &Status) -> Result<bool, DcsError> {
        self.set_status(status).await?;
        self.delete_leader().await
    }

    /// Publishes this member's key, bound to its lease/TTL.
    async fn touch_member(&self, member: &Member) -> Result<(), DcsError>;

    /// Writes `initialize`: when `create_new`, only if absent (the bootstrap race); `false` if lost.
    async fn initialize(&self, create_new: bool, sysid: &str) -> Result<bool, DcsError>;

    /// Deletes `initialize` (a failed bootstrap).
    async fn cancel_initialization(&self) -> Result<(), DcsError>;

    /// Writes a plain key (no lease); with a version, only if the key is still at that version.
    /// Returns the new version, or [`DcsError::Conflict`].
    async fn write(
        &self,
        key: &str,
        value: &str,
        version: Option<Version>,
    ) -> Result<Version, DcsError>;

    /// Writes a plain key unless it already holds `value` (backends with a cache skip the request).
    async fn write_if_changed(&self, key: &str, value: &str) -> Result<(), DcsError> {
        self.write(key, value, None).await.map(|_| ())
    }

    /// Writes `config`; with a version, only if unchanged since. Returns the new version.
    async fn set_config(
        &self,
        config: &Map<String, Value>,
        version: Option<Version>,
    ) -> Result<Version, DcsError> {
        let value = Value::Object(config.clone()).to_string();
        self.write(&self.layout().config(), &value, version).await
    }

    /// Writes `failover`; with a version, only if unchanged since.
    async fn set_failover(
        &self,
        failover: &Failover,
        version: Option<Version>,
    ) -> Result<Version, DcsError> {
        self.write(&self.layout().failover(), &failover.encode(), version)
            .await
    }

    /// Writes `sync`; with a version, only if unchanged since.
    async fn set_sync(
        &self,
        sync: &SyncState,
        version: Option<Version>,
    ) -> Result<Version, DcsError> {
        self.write(&self.layout().sync(), &sync.encode(), version)
            .await
    }

    /// Deletes `sync`; with a version, only if unchanged since.
    async fn delete_sync(&self, version: Option<Version>) -> Result<(), DcsError>;

    /// Writes `history`.
    async fn set_history(&self, history: &History) -> Result<(), DcsError> {
        self.write_if_changed(&self.layout().history(), &history.encode())
            .await
    }

    /// Writes `status` (no lease: it outlives the leader that wrote it).
    async fn set_status(&self, status: &Status) -> Result<(), DcsError> {
        self.write_if_changed(&self.layout().status(), &status.encode())
            .await
    }

    /// Writes `failsafe`.
    async fn set_failsafe(&self, failsafe: &Map<String, Value>) -> Result<(), DcsError> {
        self.write_if_changed(
            &self.layout().failsafe(),
            &Value::Object(failsafe.clone()).to_string(),
        )
        .await
    }

    /// Deletes every key of the cluster (`ferronictl remove`).
    async fn delete_cluster(&self) -> Result<(), DcsError>;

    /// Waits up to `timeout` for the cluster to change; `true` when woken by a change.
    async fn watch(&self, timeout: Duration) -> Result<bool, DcsError>;
}

/// Whether a change of a key of kind `kind` from `old` to `new` (values; `None`: absent) should
/// wake an agent waiting in `watch`: the leader changing hands or going, a member joining or
/// leaving, or a request or setting changing. Member refreshes, `status` and `failsafe` change
/// every cycle or two and would only make every agent run its loop for nothing.
pub(crate) fn wakes(
    kind: Option<ferroni_model::KeyKind>,
    old: Option<&str>,
    new: Option<&str>,
) -> bool {
    use ferroni_model::KeyKind;
    match kind {
        Some(KeyKind::Leader) => old != new,
        Some(KeyKind::Config | KeyKind::Failover | KeyKind::Sync | KeyKind::Initialize) => {
            old != new
        }
        // A member joining or leaving (the leader creates or drops its slot at once).
        Some(KeyKind::Member(_)) => old.is_none() != new.is_none(),
        _ => false,
    }
}

/// Decodes a backend's keys into the cluster, logging each malformed value it skipped.
pub(crate) fn decode_cluster(
    layout: &KeyLayout,
    kvs: impl IntoIterator<Item = ferroni_model::RawKv>,
) -> Cluster {
    let (cluster, warnings) = Cluster::from_kvs(layout, kvs);
    for w in warnings {
        tracing::warn!("{w}");
    }
    cluster
}

/// Connects to the DCS the configuration names (its first DCS section, in Patroni's order).
pub async fn connect(
    config: &ferroni_config::Config,
    dynamic: &ferroni_config::DynamicConfig,
) -> Result<Box<dyn Dcs>, DcsError> {
    use ferroni_config::DcsKind;
    let settings = DcsSettings::from_config(config, dynamic);
    let kind = config.dcs_sections().first().copied();
    let section = match kind {
        Some(DcsKind::Etcd3) => config.etcd3.as_ref(),
        Some(DcsKind::Etcd) => config.etcd.as_ref(),
        Some(other) => {
            return Err(DcsError::Refused(format!(
                "the {} DCS is not supported yet",
                other.key()
            )));
        }
        None => return Err(DcsError::Refused("no DCS section is configured".into())),
    };
    let Some(etcd) = section else {
        return Err(DcsError::Refused("no DCS section is configured".into()));
    };
    let endpoints = endpoints::endpoint_urls(etcd).map_err(DcsError::Refused)?;
    let username = etcd.username.clone();
    let password = etcd.password.clone();
    let options = EtcdOptions {
        endpoints,
        username,
        password,
        cacert: etcd.cacert.clone(),
        cert: etcd.cert.clone(),
        key: etcd.key.clone(),
    };
    if kind == Some(DcsKind::Etcd3) {
        Ok(Box::new(etcd3::Etcd3::connect(&options, settings).await?))
    } else {
        Ok(Box::new(etcd2::Etcd2::new(options, settings)?))
    }
}
