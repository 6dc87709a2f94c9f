//! The `postgresql` section of `patroni.yml`: where the server lives, how to reach it, the users
//! Patroni connects as, and the settings it manages.

use crate::flex;
use crate::secret::Secret;
use serde::Deserialize;
use serde_json::{Map, Value};
use std::collections::BTreeMap;

/// `postgresql`.
#[derive(Debug, Clone, Default, Deserialize)]
#[cfg_attr(test, derive(serde::Serialize))]
#[serde(default)]
pub struct Postgresql {
    pub listen: String,
    pub connect_address: String,
    pub proxy_address: Option<String>,
    pub data_dir: String,
    pub config_dir: Option<String>,
    pub bin_dir: Option<String>,
    pub bin_name: BinNames,
    /// Path of the pgpass file Patroni writes (`~/pgpass` by default).
    pub pgpass: Option<String>,
    pub authentication: Authentication,
    pub callbacks: Callbacks,
    pub create_replica_methods: Option<Vec<String>>,
    pub basebackup: Option<Value>,
    #[serde(deserialize_with = "flex::bool_or_false")]
    pub use_unix_socket: bool,
    #[serde(deserialize_with = "flex::bool_or_false")]
    pub use_unix_socket_repl: bool,
    pub recovery_conf: Option<Map<String, Value>>,
    pub custom_conf: Option<String>,
    pub parameters: Map<String, Value>,
    pub pg_hba: Option<Vec<String>>,
    pub pg_ident: Option<Vec<String>>,
    #[serde(deserialize_with = "flex::opt_int")]
    pub pg_ctl_timeout: Option<i64>,
    #[serde(deserialize_with = "flex::opt_bool")]
    pub use_pg_rewind: Option<bool>,
    pub rewind: Option<Value>,
    #[serde(deserialize_with = "flex::bool_or_false")]
    pub remove_data_directory_on_rewind_failure: bool,
    #[serde(deserialize_with = "flex::bool_or_false")]
    pub remove_data_directory_on_diverged_timelines: bool,
    pub pre_promote: Option<String>,
    pub before_stop: Option<String>,
    pub config_base_name: Option<String>,
    /// Read so it can be reported: replication slots are switched on or off only cluster-wide.
    pub use_slots: Option<Value>,
    /// Per-method sections named by `create_replica_methods` (`pgbackrest: {command: ...}`), and
    /// anything else, which [`crate::validate`] reports.
    #[serde(flatten)]
    pub other: BTreeMap<String, Value>,
}

impl Postgresql {
    /// The replica creation methods, `[basebackup]` by default.
    pub fn replica_methods(&self) -> Vec<String> {
        self.create_replica_methods
            .clone()
            .unwrap_or_else(|| vec!["basebackup".into()])
    }
}

/// `postgresql.bin_name`: custom names of the PostgreSQL programs.
#[derive(Debug, Clone, Default, Deserialize)]
#[cfg_attr(test, derive(serde::Serialize))]
#[serde(default)]
pub struct BinNames {
    pub pg_ctl: Option<String>,
    pub initdb: Option<String>,
    pub pg_controldata: Option<String>,
    pub pg_basebackup: Option<String>,
    pub postgres: Option<String>,
    pub pg_isready: Option<String>,
    pub pg_rewind: Option<String>,
}

/// `postgresql.authentication`.
#[derive(Debug, Clone, Default, Deserialize)]
#[cfg_attr(test, derive(serde::Serialize))]
#[serde(default)]
pub struct Authentication {
    pub superuser: Option<UserAuth>,
    pub replication: Option<UserAuth>,
    pub rewind: Option<UserAuth>,
}

/// A database user with its password and libpq TLS/GSS settings.
#[derive(Debug, Clone, Default, Deserialize)]
#[cfg_attr(test, derive(serde::Serialize))]
#[serde(default)]
pub struct UserAuth {
    pub username: String,
    pub password: Option<Secret>,
    pub sslmode: Option<String>,
    pub sslkey: Option<String>,
    pub sslpassword: Option<Secret>,
    pub sslcert: Option<String>,
    pub sslrootcert: Option<String>,
    pub sslcrl: Option<String>,
    pub sslcrldir: Option<String>,
    pub sslnegotiation: Option<String>,
    pub gssencmode: Option<String>,
    pub channel_binding: Option<String>,
    pub target_session_attrs: Option<String>,
}

/// `postgresql.callbacks`: scripts run on state changes.
#[derive(Debug, Clone, Default, Deserialize)]
#[cfg_attr(test, derive(serde::Serialize))]
#[serde(default)]
pub struct Callbacks {
    pub on_start: Option<String>,
    pub on_stop: Option<String>,
    pub on_restart: Option<String>,
    pub on_reload: Option<String>,
    pub on_role_change: Option<String>,
}
