//! The typed local configuration: the top level of `patroni.yml` and its small sections.
//! Required keys are empty strings when absent and are reported by [`crate::validate`].

use crate::bootstrap::Bootstrap;
use crate::dcs_sections::{Consul, Etcd, Exhibitor, Kubernetes, Raft, Zookeeper};
use crate::flex::{self, Int};
use crate::postgresql::Postgresql;
use crate::secret::Secret;
use serde::Deserialize;
use serde_json::{Map, Value};
use std::collections::BTreeMap;

/// Everything one agent reads from its local configuration.
#[derive(Debug, Clone, Default, Deserialize)]
#[cfg_attr(test, derive(serde::Serialize))]
#[serde(default)]
pub struct Config {
    /// This member's name, unique in the cluster.
    pub name: String,
    /// The cluster's name.
    pub scope: String,
    /// DCS namespace (`/service`).
    #[serde(default = "default_namespace")]
    pub namespace: String,
    #[serde(deserialize_with = "flex::opt_int")]
    pub thread_pool_size: Option<i64>,
    pub thread_stack_size: Option<Value>,
    pub log: Log,
    pub restapi: RestApi,
    pub ctl: Option<Ctl>,
    pub etcd: Option<Etcd>,
    pub etcd3: Option<Etcd>,
    pub consul: Option<Consul>,
    pub zookeeper: Option<Zookeeper>,
    pub exhibitor: Option<Exhibitor>,
    pub kubernetes: Option<Kubernetes>,
    pub raft: Option<Raft>,
    pub bootstrap: Bootstrap,
    pub citus: Option<Citus>,
    pub postgresql: Postgresql,
    pub watchdog: Watchdog,
    pub tags: Tags,
}

fn default_namespace() -> String {
    "/service".into()
}

/// `log`: Patroni's logging settings.
#[derive(Debug, Clone, Deserialize)]
#[cfg_attr(test, derive(serde::Serialize))]
#[serde(default)]
pub struct Log {
    /// `plain` or `json`.
    #[serde(rename = "type")]
    pub kind: String,
    pub level: String,
    pub traceback_level: String,
    pub format: Value,
    pub dateformat: Option<String>,
    pub static_fields: Map<String, Value>,
    #[serde(deserialize_with = "flex::opt_int")]
    pub max_queue_size: Option<i64>,
    /// Directory of `patroni.log`; stderr when absent.
    pub dir: Option<String>,
    #[serde(deserialize_with = "flex::opt_int")]
    pub mode: Option<i64>,
    pub file_num: Int,
    pub file_size: Int,
    pub loggers: Map<String, Value>,
    #[serde(deserialize_with = "flex::bool_or_false")]
    pub deduplicate_heartbeat_logs: bool,
}

impl Default for Log {
    fn default() -> Self {
        Log {
            kind: "plain".into(),
            level: "INFO".into(),
            traceback_level: "ERROR".into(),
            format: Value::String("%(asctime)s %(levelname)s: %(message)s".into()),
            dateformat: None,
            static_fields: Map::new(),
            max_queue_size: None,
            dir: None,
            mode: None,
            file_num: Int(4),
            file_size: Int(25_000_000),
            loggers: Map::new(),
            deduplicate_heartbeat_logs: false,
        }
    }
}

/// `username` and `password` of a REST API or DCS user.
#[derive(Debug, Clone, Default, Deserialize)]
#[cfg_attr(test, derive(serde::Serialize))]
#[serde(default)]
pub struct Credentials {
    pub username: String,
    pub password: Secret,
}

/// `restapi`: where this agent serves Patroni's REST API.
#[derive(Debug, Clone, Default, Deserialize)]
#[cfg_attr(test, derive(serde::Serialize))]
#[serde(default)]
pub struct RestApi {
    pub listen: String,
    pub connect_address: String,
    pub authentication: Option<Credentials>,
    pub certfile: Option<String>,
    pub keyfile: Option<String>,
    pub keyfile_password: Option<Secret>,
    pub cafile: Option<String>,
    pub ciphers: Option<String>,
    pub verify_client: Option<String>,
    pub allowlist: Vec<String>,
    #[serde(deserialize_with = "flex::bool_or_false")]
    pub allowlist_include_members: bool,
    pub http_extra_headers: BTreeMap<String, String>,
    pub https_extra_headers: BTreeMap<String, String>,
    #[serde(deserialize_with = "flex::opt_int")]
    pub request_queue_size: Option<i64>,
    #[serde(deserialize_with = "flex::opt_int")]
    pub thread_pool_size: Option<i64>,
    pub server_tokens: Option<String>,
}

/// `ctl`: how `ferronictl` reaches the agents' REST API.
#[derive(Debug, Clone, Default, Deserialize)]
#[cfg_attr(test, derive(serde::Serialize))]
#[serde(default)]
pub struct Ctl {
    pub authentication: Option<Credentials>,
    #[serde(deserialize_with = "flex::bool_or_false")]
    pub insecure: bool,
    pub cacert: Option<String>,
    pub certfile: Option<String>,
    pub keyfile: Option<String>,
    pub keyfile_password: Option<Secret>,
}

/// `citus`: the Citus group of this member.
#[derive(Debug, Clone, Default, Deserialize)]
#[cfg_attr(test, derive(serde::Serialize))]
#[serde(default)]
pub struct Citus {
    #[serde(deserialize_with = "flex::opt_int")]
    pub group: Option<i64>,
    pub database: Option<String>,
}

/// `watchdog`: the Linux watchdog device.
#[derive(Debug, Clone, Deserialize)]
#[cfg_attr(test, derive(serde::Serialize))]
#[serde(default)]
pub struct Watchdog {
    /// `off`, `automatic` or `required` (YAML may give `off` as `false`).
    pub mode: Value,
    pub device: String,
    pub safety_margin: Int,
    pub driver: String,
}

impl Default for Watchdog {
    fn default() -> Self {
        Watchdog {
            mode: Value::String("automatic".into()),
            device: "/dev/watchdog".into(),
            safety_margin: Int(5),
            driver: "default".into(),
        }
    }
}

/// The effective watchdog mode.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WatchdogMode {
    Off,
    Automatic,
    Required,
}

impl Watchdog {
    /// The mode, or `None` when the value is not one Patroni accepts.
    pub fn mode(&self) -> Option<WatchdogMode> {
        match &self.mode {
            Value::Bool(false) | Value::Null => Some(WatchdogMode::Off),
            Value::Bool(true) => Some(WatchdogMode::Automatic),
            Value::String(s) => match s.to_ascii_lowercase().as_str() {
                "off" | "false" | "no" => Some(WatchdogMode::Off),
                "automatic" | "on" | "true" | "yes" => Some(WatchdogMode::Automatic),
                "required" => Some(WatchdogMode::Required),
                _ => None,
            },
            _ => None,
        }
    }
}

/// `tags`: Patroni's known tags and any custom ones.
#[derive(Debug, Clone, Default, Deserialize)]
#[cfg_attr(test, derive(serde::Serialize))]
#[serde(default)]
pub struct Tags {
    #[serde(deserialize_with = "flex::opt_bool")]
    pub nofailover: Option<bool>,
    pub failover_priority: Option<flex::WrittenInt>,
    #[serde(deserialize_with = "flex::opt_bool")]
    pub nosync: Option<bool>,
    pub sync_priority: Option<flex::WrittenInt>,
    #[serde(deserialize_with = "flex::opt_bool")]
    pub clonefrom: Option<bool>,
    #[serde(deserialize_with = "flex::opt_bool")]
    pub noloadbalance: Option<bool>,
    pub replicatefrom: Option<String>,
    #[serde(deserialize_with = "flex::opt_bool")]
    pub nostream: Option<bool>,
    /// Tags Patroni does not interpret; published as they are.
    #[serde(flatten)]
    pub custom: BTreeMap<String, Value>,
    /// The tags in the order the configuration wrote them, which Patroni's member key keeps.
    #[serde(skip)]
    pub written_order: Vec<String>,
}

impl Tags {
    pub fn failover_priority(&self) -> Option<i64> {
        self.failover_priority.as_ref().map(|p| p.value)
    }

    pub fn sync_priority(&self) -> Option<i64> {
        self.sync_priority.as_ref().map(|p| p.value)
    }

    /// Whether this member may never become leader (`nofailover`, or `failover_priority: 0`).
    pub fn nofailover(&self) -> bool {
        match (self.nofailover, self.failover_priority()) {
            (Some(n), _) => n,
            (None, Some(p)) => p <= 0,
            (None, None) => false,
        }
    }
}

/// Which DCS the configuration selects.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DcsKind {
    Etcd,
    Etcd3,
    Consul,
    Zookeeper,
    Exhibitor,
    Kubernetes,
    Raft,
}

impl DcsKind {
    /// Every DCS section, in the order Patroni tries them.
    pub const ALL: [DcsKind; 7] = [
        DcsKind::Zookeeper,
        DcsKind::Exhibitor,
        DcsKind::Consul,
        DcsKind::Etcd3,
        DcsKind::Etcd,
        DcsKind::Raft,
        DcsKind::Kubernetes,
    ];

    /// The section's key in `patroni.yml`.
    pub fn key(self) -> &'static str {
        match self {
            DcsKind::Etcd => "etcd",
            DcsKind::Etcd3 => "etcd3",
            DcsKind::Consul => "consul",
            DcsKind::Zookeeper => "zookeeper",
            DcsKind::Exhibitor => "exhibitor",
            DcsKind::Kubernetes => "kubernetes",
            DcsKind::Raft => "raft",
        }
    }
}

impl Config {
    /// The DCS sections present, in Patroni's order of preference.
    pub fn dcs_sections(&self) -> Vec<DcsKind> {
        DcsKind::ALL
            .into_iter()
            .filter(|kind| match kind {
                DcsKind::Etcd => self.etcd.is_some(),
                DcsKind::Etcd3 => self.etcd3.is_some(),
                DcsKind::Consul => self.consul.is_some(),
                DcsKind::Zookeeper => self.zookeeper.is_some(),
                DcsKind::Exhibitor => self.exhibitor.is_some(),
                DcsKind::Kubernetes => self.kubernetes.is_some(),
                DcsKind::Raft => self.raft.is_some(),
            })
            .collect()
    }
}
