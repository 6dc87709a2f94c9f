//! What a backend needs to know: who this agent is, where the cluster's keys live, and the timings.

use ferroni_config::{Config, DynamicConfig};
use ferroni_model::KeyLayout;
use std::time::Duration;

/// A backend's settings.
#[derive(Debug, Clone)]
pub struct DcsSettings {
    /// This member's name: the leader key's value when it holds the lock.
    pub name: String,
    pub layout: KeyLayout,
    /// Lease/TTL of the leader and member keys.
    pub ttl: Duration,
    /// How long a request may be retried before the DCS counts as unreachable.
    pub retry_timeout: Duration,
    /// The HA loop period (how often the lease is kept alive).
    pub loop_wait: Duration,
}

impl DcsSettings {
    /// Settings from the local configuration and the dynamic timings.
    pub fn from_config(config: &Config, dynamic: &DynamicConfig) -> DcsSettings {
        let group = config.citus.as_ref().and_then(|c| c.group);
        DcsSettings {
            name: config.name.clone(),
            layout: KeyLayout::new(&config.namespace, &config.scope, group),
            ttl: Duration::from_secs(dynamic.ttl.into()),
            retry_timeout: Duration::from_secs(dynamic.retry_timeout.into()),
            loop_wait: Duration::from_secs(dynamic.loop_wait.into()),
        }
    }

    /// The time one request may take: a third of `retry_timeout`, so a request to a dead endpoint
    /// leaves time to try another within `retry_timeout`.
    pub fn request_timeout(&self) -> Duration {
        (self.retry_timeout / 3).max(Duration::from_millis(500))
    }
}
