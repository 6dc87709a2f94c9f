//! ferronictl: patronictl's commands, flags, prompts and output for a Ferroni (or Patroni)
//! cluster. It reads the cluster from the DCS and acts through the members' REST API, as
//! patronictl does.
//!
//! - [`table`]: PrettyTable's layout with the cluster title in the top border.
//! - [`pyyaml`]: YAML as PyYAML prints it.
//! - [`members`]: `list` and `topology`.
//! - [`output`]: the json/yaml/tsv formats every listing shares.
//! - [`views`]: `history`, `show-config`.
//! - [`context`]: the configuration, the DCS, the REST client.
//! - [`read`]: `list`, `topology`, `history`, `show-config`, `dsn`, `version`.
//! - [`actions`]: `switchover`, `failover`, `restart`, `reload`, `reinit`, `flush`, `pause`,
//!   `resume`.
//! - [`edit`]: `edit-config`. [`admin`]: `remove`, `query`.
//! - [`progress`]: state changes shown while an action runs (terminal only).
//! - [`prompt`]: click's prompts. [`cli`]: the command line.
//! - [`deprecated`]: patronictl 3's `master` spellings, accepted with a warning.

pub mod actions;
pub mod admin;
pub mod cli;
pub mod context;
pub mod deprecated;
pub mod edit;
pub mod members;
pub mod output;
pub mod progress;
pub mod prompt;
pub mod pyyaml;
pub mod read;
pub mod table;
pub mod views;
