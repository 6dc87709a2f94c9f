//! The cluster as read from the DCS in one request: every key decoded, malformed values dropped
//! with a warning that names the key — never a panic.

use crate::{Failover, History, KeyKind, KeyLayout, Member, Status, SyncState};
use serde_json::{Map, Value};

/// A DCS version: etcd3 `mod_revision`, etcd2 `modifiedIndex`, the memory store's counter.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Version(pub i64);

/// A key as a backend read it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RawKv {
    pub key: String,
    pub value: String,
    pub version: Version,
    /// The lease (etcd3) or session the key is bound to.
    pub lease: Option<i64>,
}

/// A decoded value and the version it was read at, for compare-and-set.
#[derive(Debug, Clone, PartialEq)]
pub struct Versioned<T> {
    pub value: T,
    pub version: Version,
}

/// The leader key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LeaderKey {
    pub name: String,
    pub version: Version,
    pub lease: Option<i64>,
}

/// A member key.
#[derive(Debug, Clone, PartialEq)]
pub struct MemberKey {
    pub name: String,
    pub data: Member,
    pub version: Version,
    pub lease: Option<i64>,
}

/// Everything under `/<namespace>/<scope>/`.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Cluster {
    /// `None`: not initialized; `Some("")`: initializing; else the system identifier.
    pub initialize: Option<String>,
    pub config: Option<Versioned<Map<String, Value>>>,
    pub leader: Option<LeaderKey>,
    /// Sorted by name.
    pub members: Vec<MemberKey>,
    pub failover: Option<Versioned<Failover>>,
    pub sync: Option<Versioned<SyncState>>,
    pub history: Option<Versioned<History>>,
    pub status: Option<Status>,
    pub failsafe: Option<Map<String, Value>>,
}

impl Cluster {
    /// Decodes the keys of one cluster. Keys outside the layout are ignored; a malformed value
    /// leaves its key absent and adds a warning naming the key.
    pub fn from_kvs(
        layout: &KeyLayout,
        kvs: impl IntoIterator<Item = RawKv>,
    ) -> (Cluster, Vec<String>) {
        let mut c = Cluster::default();
        let mut warnings = Vec::new();
        let mut malformed = |key: &str, reason: String| {
            warnings.push(format!("ignoring malformed value of {key}: {reason}"));
        };
        for kv in kvs {
            let Some(kind) = layout.classify(&kv.key) else {
                continue;
            };
            let version = kv.version;
            match kind {
                KeyKind::Initialize => c.initialize = Some(kv.value.trim().to_string()),
                KeyKind::Leader => {
                    let name = kv.value.trim().to_string();
                    if !name.is_empty() {
                        c.leader = Some(LeaderKey {
                            name,
                            version,
                            lease: kv.lease,
                        });
                    }
                }
                KeyKind::Config => match serde_json::from_str::<Map<String, Value>>(&kv.value) {
                    Ok(value) => c.config = Some(Versioned { value, version }),
                    Err(e) => malformed(&kv.key, e.to_string()),
                },
                KeyKind::Member(name) => match Member::decode(&kv.value) {
                    Ok(data) => c.members.push(MemberKey {
                        name,
                        data,
                        version,
                        lease: kv.lease,
                    }),
                    Err(e) => malformed(&kv.key, e),
                },
                KeyKind::Failover => match Failover::decode(&kv.value) {
                    Ok(value) => c.failover = Some(Versioned { value, version }),
                    Err(e) => malformed(&kv.key, e),
                },
                KeyKind::Sync => match SyncState::decode(&kv.value) {
                    Ok(value) => c.sync = Some(Versioned { value, version }),
                    Err(e) => malformed(&kv.key, e),
                },
                KeyKind::History => match History::decode(&kv.value) {
                    Ok(value) => c.history = Some(Versioned { value, version }),
                    Err(e) => malformed(&kv.key, e),
                },
                KeyKind::Status => match Status::decode(&kv.value) {
                    Ok(value) => c.status = Some(value),
                    Err(e) => malformed(&kv.key, e),
                },
                KeyKind::Failsafe => match serde_json::from_str::<Map<String, Value>>(&kv.value) {
                    Ok(value) => c.failsafe = Some(value),
                    Err(e) => malformed(&kv.key, e.to_string()),
                },
                // The pre-2.1.0 optime key only matters when no status key exists.
                KeyKind::OptimeLeader => {
                    if c.status.is_none()
                        && let Ok(optime) = kv.value.trim().parse()
                    {
                        c.status = Some(Status {
                            optime,
                            ..Status::default()
                        });
                    }
                }
            }
        }
        c.members.sort_by(|a, b| a.name.cmp(&b.name));
        (c, warnings)
    }

    /// The member key of `name`.
    pub fn member(&self, name: &str) -> Option<&MemberKey> {
        self.members.iter().find(|m| m.name == name)
    }

    /// The leader's name, when a leader key exists.
    pub fn leader_name(&self) -> Option<&str> {
        self.leader.as_ref().map(|l| l.name.as_str())
    }

    /// The cluster timeline from `history`: 0 when unknown.
    pub fn timeline(&self) -> u64 {
        self.history.as_ref().map_or(0, |h| h.value.timeline())
    }
}
