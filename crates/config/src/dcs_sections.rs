//! The DCS sections of `patroni.yml`: `etcd`/`etcd3`, `consul`, `zookeeper`, `exhibitor`,
//! `kubernetes` and `raft`. Only etcd is served today; the others are read so a config using them
//! is understood and reported precisely.

use crate::flex::{self, HostList};
use crate::secret::Secret;
use serde::Deserialize;
use serde_json::{Map, Value};

/// `etcd` (v2 API) or `etcd3`.
#[derive(Debug, Clone, Default, Deserialize)]
#[cfg_attr(test, derive(serde::Serialize))]
#[serde(default)]
pub struct Etcd {
    pub host: Option<String>,
    pub hosts: Option<HostList>,
    #[serde(deserialize_with = "flex::opt_int")]
    pub port: Option<i64>,
    #[serde(deserialize_with = "flex::bool_or_false")]
    pub use_proxies: bool,
    pub url: Option<String>,
    pub proxy: Option<String>,
    pub srv: Option<String>,
    pub srv_suffix: Option<String>,
    pub protocol: Option<String>,
    pub username: Option<String>,
    pub password: Option<Secret>,
    pub cacert: Option<String>,
    pub cert: Option<String>,
    pub key: Option<String>,
    pub key_password: Option<Secret>,
}

impl Etcd {
    /// The endpoints as `host:port`, from `hosts`, else `host`, else the default `127.0.0.1:2379`.
    pub fn endpoints(&self) -> Vec<String> {
        if let Some(HostList(hosts)) = &self.hosts
            && !hosts.is_empty()
        {
            return hosts.clone();
        }
        match &self.host {
            Some(host) if host.contains(':') => vec![host.clone()],
            Some(host) => vec![format!("{host}:{}", self.port.unwrap_or(2379))],
            None if self.url.is_some() || self.proxy.is_some() || self.srv.is_some() => Vec::new(),
            None => vec!["127.0.0.1:2379".into()],
        }
    }
}

/// `consul`.
#[derive(Debug, Clone, Default, Deserialize)]
#[cfg_attr(test, derive(serde::Serialize))]
#[serde(default)]
pub struct Consul {
    pub host: Option<String>,
    pub url: Option<String>,
    #[serde(deserialize_with = "flex::opt_int")]
    pub port: Option<i64>,
    pub scheme: Option<String>,
    pub token: Option<Secret>,
    #[serde(deserialize_with = "flex::opt_bool")]
    pub verify: Option<bool>,
    pub cacert: Option<String>,
    pub cert: Option<String>,
    pub key: Option<String>,
    pub dc: Option<String>,
    pub consistency: Option<String>,
    pub checks: Option<Vec<String>>,
    #[serde(deserialize_with = "flex::opt_bool")]
    pub register_service: Option<bool>,
    pub service_tags: Option<Vec<String>>,
    pub service_check_interval: Option<String>,
    pub service_check_tls_server_name: Option<String>,
}

/// `zookeeper`.
#[derive(Debug, Clone, Default, Deserialize)]
#[cfg_attr(test, derive(serde::Serialize))]
#[serde(default)]
pub struct Zookeeper {
    pub hosts: HostList,
    #[serde(deserialize_with = "flex::opt_bool")]
    pub use_ssl: Option<bool>,
    pub cacert: Option<String>,
    pub cert: Option<String>,
    pub key: Option<String>,
    pub key_password: Option<Secret>,
    #[serde(deserialize_with = "flex::opt_bool")]
    pub verify: Option<bool>,
    pub set_acls: Option<Map<String, Value>>,
    pub auth_data: Option<Map<String, Value>>,
}

/// `exhibitor`.
#[derive(Debug, Clone, Default, Deserialize)]
#[cfg_attr(test, derive(serde::Serialize))]
#[serde(default)]
pub struct Exhibitor {
    pub hosts: HostList,
    #[serde(deserialize_with = "flex::opt_int")]
    pub port: Option<i64>,
    #[serde(deserialize_with = "flex::opt_int")]
    pub poll_interval: Option<i64>,
}

/// `kubernetes`.
#[derive(Debug, Clone, Default, Deserialize)]
#[cfg_attr(test, derive(serde::Serialize))]
#[serde(default)]
pub struct Kubernetes {
    pub namespace: Option<String>,
    pub labels: Map<String, Value>,
    pub scope_label: Option<String>,
    pub role_label: Option<String>,
    pub leader_label_value: Option<String>,
    pub follower_label_value: Option<String>,
    pub standby_leader_label_value: Option<String>,
    pub tmp_role_label: Option<String>,
    pub bootstrap_labels: Option<Map<String, Value>>,
    #[serde(deserialize_with = "flex::opt_bool")]
    pub use_endpoints: Option<bool>,
    pub pod_ip: Option<String>,
    pub ports: Option<Vec<Value>>,
    #[serde(deserialize_with = "flex::opt_bool")]
    pub bypass_api_service: Option<bool>,
    pub cacert: Option<String>,
    pub retriable_http_codes: Option<Value>,
    pub context: Option<String>,
}

/// `raft` (deprecated in Patroni).
#[derive(Debug, Clone, Default, Deserialize)]
#[cfg_attr(test, derive(serde::Serialize))]
#[serde(default)]
pub struct Raft {
    pub self_addr: Option<String>,
    pub bind_addr: Option<String>,
    pub partner_addrs: Option<Vec<String>>,
    pub data_dir: Option<String>,
    pub password: Option<Secret>,
    pub min_timeout: Option<f64>,
    pub max_timeout: Option<f64>,
    pub connection_timeout: Option<f64>,
    pub append_entries_period: Option<f64>,
    pub connection_retry_time: Option<f64>,
    pub leader_fallback_timeout: Option<f64>,
}
