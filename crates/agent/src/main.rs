//! `ferroni`: the agent that runs beside one PostgreSQL server and keeps the cluster available.
//!
//! - [`cli`]: the command line (Patroni's: `ferroni FILE`, `--validate-config`, …).
//! - [`logging`]: log lines in Patroni's shape, to stderr or a rotated file.

mod cli;
mod logging;

fn main() -> std::process::ExitCode {
    cli::run()
}
