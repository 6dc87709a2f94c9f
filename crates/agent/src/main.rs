//! `ferroni`: the agent that runs beside one PostgreSQL server and keeps the cluster available.
//!
//! - [`cli`]: the command line (Patroni's: `ferroni FILE`, `--validate-config`, …).
//! - [`logging`]: log lines in Patroni's shape, to stderr or a rotated file.
//! - [`runtime`]: the HA loop — gather, decide (`ferroni_ha::decide`), act, publish, wait.
//! - [`tasks`]: long actions run beside the loop.
//! - [`settings`]: what PostgreSQL and the decision need from the configuration.
//! - [`member`]: the member key.
//! - [`fence`]: the guard that stops a primary whose agent stalls.
//! - [`watchdog`]: the Linux watchdog device, when `watchdog.mode` asks for it.

mod callbacks;
mod cli;
mod fence;
mod logging;
mod member;
mod runtime;
mod settings;
mod tasks;
mod watchdog;

fn main() -> std::process::ExitCode {
    cli::run()
}
