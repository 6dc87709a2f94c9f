//! The `bootstrap` section: how a new cluster is created, and its first dynamic configuration.

use serde::Deserialize;
use serde_json::{Map, Value};
use std::collections::BTreeMap;

/// `bootstrap`. Read only when the cluster is created; later edits have no effect.
#[derive(Debug, Clone, Default, Deserialize)]
#[cfg_attr(test, derive(serde::Serialize))]
#[serde(default)]
pub struct Bootstrap {
    /// The initial dynamic configuration written to the DCS `/config` key.
    pub dcs: Map<String, Value>,
    /// A custom bootstrap method, whose section is `bootstrap.<method>`.
    pub method: Option<String>,
    /// `initdb` options: `- data-checksums` or `- encoding: UTF8`.
    pub initdb: Option<Value>,
    /// Lines appended to `pg_hba.conf` after initdb (legacy).
    pub pg_hba: Option<Vec<String>>,
    pub post_bootstrap: Option<String>,
    pub post_init: Option<String>,
    /// Removed in Patroni 4.0; read only to say so.
    pub users: Option<Value>,
    /// Custom method sections, and anything else, which [`crate::validate`] reports.
    #[serde(flatten)]
    pub other: BTreeMap<String, Value>,
}

/// One `initdb` option: a switch (`data-checksums`) or a value (`encoding: UTF8`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum InitdbOption {
    Switch(String),
    Value(String, String),
}

impl Bootstrap {
    /// The `initdb` options, or the reason they cannot be used.
    pub fn initdb_options(&self) -> Result<Vec<InitdbOption>, String> {
        let items = match &self.initdb {
            None | Some(Value::Null) => return Ok(Vec::new()),
            Some(Value::Array(items)) => items,
            Some(other) => {
                return Err(format!(
                    "must be a list of options, not {}",
                    crate::validate::describe(other)
                ));
            }
        };
        items
            .iter()
            .map(|item| match item {
                Value::String(s) => Ok(InitdbOption::Switch(s.clone())),
                Value::Object(map) if map.len() == 1 => {
                    let (key, value) = map
                        .iter()
                        .next()
                        .map(|(k, v)| (k.clone(), v.clone()))
                        .unwrap_or_default();
                    Ok(InitdbOption::Value(
                        key,
                        crate::validate::scalar_text(&value),
                    ))
                }
                other => Err(format!(
                    "each option must be a string or a one-key mapping, not {}",
                    crate::validate::describe(other)
                )),
            })
            .collect()
    }
}
