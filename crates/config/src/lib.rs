//! ferroni-config owns Ferroni's configuration: Patroni's `patroni.yml` schema and `PATRONI_*`
//! environment variables, read unchanged, typed, validated, with Patroni's defaults.
//!
//! - [`yaml`]: YAML as PyYAML reads it (YAML 1.1 booleans, duplicate keys reported).
//! - [`merge`]: Patroni's deep merge of configuration trees.
//! - [`env`]: the `PATRONI_*` overlay.
//! - [`load`]: file, directory, `PATRONI_CONFIGURATION` or environment → [`Loaded`].
//! - [`schema`], [`postgresql`], [`bootstrap`], [`dcs_sections`]: the typed local configuration.
//! - [`change`]: a proposed dynamic configuration judged before it is written.
//! - [`dynamic`]: the cluster-wide settings (`ttl`, `loop_wait`, …) and Patroni's timing rules.
//! - [`validate`]: the rules, and warnings for unknown or misplaced keys.
//! - [`secret`]: passwords that never print.
//! - [`unimplemented`]: every key classified; warnings for those read but not acted on yet.
//! - [`sample`]: the sample configuration of `ferroni --generate-sample-config`.
//! - [`flex`]: lenient scalar readers (numbers and booleans written as strings, host lists).

pub mod bootstrap;
pub mod change;
pub mod dcs_sections;
pub mod diagnostics;
pub mod dynamic;
pub mod env;
pub mod flex;
pub mod load;
pub mod merge;
pub mod postgresql;
pub mod sample;
pub mod schema;
pub mod secret;
pub mod unimplemented;
pub mod validate;
pub mod yaml;

pub use diagnostics::{ConfigError, Issue};
pub use dynamic::{DynamicConfig, SyncMode};
pub use load::{Loaded, from_tree, load, load_for_client};
pub use schema::{Config, DcsKind};
pub use secret::Secret;
