//! `sync`: which standbys are synchronous, written by the primary in synchronous mode.

use serde::{Deserialize, Serialize};

/// The `sync` key, in Patroni's field order.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct SyncState {
    pub leader: Option<String>,
    /// 0 outside quorum mode.
    #[serde(default)]
    pub quorum: i64,
    /// Comma-joined, sorted names, or `null`.
    pub sync_standby: Option<String>,
}

impl SyncState {
    pub fn decode(value: &str) -> Result<SyncState, String> {
        serde_json::from_str(value).map_err(|e| e.to_string())
    }

    pub fn encode(&self) -> String {
        crate::compact(self)
    }

    /// The synchronous standbys' names.
    pub fn members(&self) -> Vec<&str> {
        self.sync_standby
            .as_deref()
            .map(|s| s.split(',').filter(|n| !n.is_empty()).collect())
            .unwrap_or_default()
    }

    /// Whether `name` is a synchronous standby; compared case-insensitively, as
    /// `synchronous_standby_names` is.
    pub fn matches(&self, name: &str) -> bool {
        self.members().iter().any(|m| m.eq_ignore_ascii_case(name))
    }

    /// "Empty" means no leader is recorded.
    pub fn is_empty(&self) -> bool {
        self.leader.as_deref().is_none_or(str::is_empty)
    }
}
