//! `ferroni`: the agent that runs beside one PostgreSQL server and keeps the cluster available.
//! A library as well as the binary, so the simulator (`crates/sim`) runs the same loop.
//!
//! - [`cli`]: the command line (Patroni's: `ferroni FILE`, `--validate-config`, …).
//! - [`logging`]: log lines in Patroni's shape, to stderr or a rotated file.
//! - [`runtime`]: the HA loop — gather, decide (`ferroni_ha::decide`), act, publish, wait —
//!   built from its parts: the DCS, the PostgreSQL server, the [`clock`]s, the [`peer_link`] to
//!   the other members and the [`fence`].
//! - [`tasks`]: long actions run beside the loop.
//! - [`settings`]: what PostgreSQL and the decision need from the configuration.
//! - [`member`]: the member key.
//! - [`fence`]: the guard that stops a primary whose agent stalls.
//! - [`callbacks`]: the user's scripts.
//! - [`watchdog`]: the Linux watchdog device, when `watchdog.mode` asks for it.

pub mod callbacks;
pub mod cli;
pub mod clock;
pub mod fence;
mod logging;
mod member;
pub mod peer_link;
pub mod runtime;
mod settings;
mod tasks;
mod watchdog;
