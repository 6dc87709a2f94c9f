//! `ferronictl`: patronictl's commands, flags and output for a Ferroni (or Patroni) cluster.
//!
//! This build carries the command-line frame and `version`; the cluster commands (`list`,
//! `switchover`, `edit-config`, …) arrive with the DCS and REST API.

use clap::{Parser, Subcommand};
use std::path::PathBuf;
use std::process::ExitCode;

/// Manage a Ferroni or Patroni cluster (patronictl-compatible).
#[derive(Debug, Parser)]
#[command(name = "ferronictl", version)]
struct Args {
    /// Configuration file (default: $PATRONICTL_CONFIG_FILE, else ~/.config/patroni/patronictl.yaml).
    #[arg(
        short = 'c',
        long = "config-file",
        env = "PATRONICTL_CONFIG_FILE",
        global = true
    )]
    config_file: Option<PathBuf>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Output the version of ferronictl.
    Version,
}

fn main() -> ExitCode {
    let args = Args::parse();
    match args.command {
        Command::Version => {
            println!("ferronictl version {}", env!("CARGO_PKG_VERSION"));
            ExitCode::SUCCESS
        }
    }
}
