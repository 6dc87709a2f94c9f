//! ferronictl: patronictl's commands, flags, prompts and output for a Ferroni (or Patroni)
//! cluster. It reads the cluster from the DCS and acts through the members' REST API, as
//! patronictl does.
//!
//! - [`table`]: PrettyTable's layout with the cluster title in the top border.
//! - [`pyyaml`]: YAML as PyYAML prints it.
//! - [`members`]: `list` and `topology`.
//! - [`views`]: `history`, `show-config`, `dsn`.

pub mod members;
pub mod pyyaml;
pub mod table;
pub mod views;
