//! The agent's command line, as Patroni's: `ferroni [FILE]`, `--validate-config FILE`,
//! `--generate-sample-config [FILE]`, `--version`.

use crate::logging;
use crate::runtime::Signal;
use anyhow::{Context, Result};
use clap::Parser;
use ferroni_config::{Loaded, load};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

/// Ferroni: high availability for PostgreSQL, compatible with Patroni.
#[derive(Debug, Parser)]
#[command(name = "ferroni", version, disable_version_flag = true)]
struct Args {
    /// Configuration file, or a directory of YAML files merged in sorted order. Without it the
    /// configuration comes from PATRONI_CONFIGURATION or the PATRONI_* variables.
    file: Option<PathBuf>,
    /// Check the configuration and exit: 0 if it can be used (warnings printed), 1 if not.
    #[arg(long)]
    validate_config: bool,
    /// Accepted for Patroni compatibility: ports are never probed during validation.
    #[arg(long, requires = "validate_config")]
    ignore_listen_port: bool,
    /// Print a sample configuration (to FILE when given) and exit.
    #[arg(long)]
    generate_sample_config: bool,
    /// Print the version and exit.
    #[arg(long)]
    version: bool,
    /// Load and check the configuration, say what would be started, and exit (Ferroni only).
    #[arg(long)]
    dry_run: bool,
    /// Internal: run the frozen-agent fence for this data directory (started by the agent).
    #[arg(long, hide = true, value_name = "DATA_DIR")]
    fence: Option<PathBuf>,
}

/// Parses the command line and runs it.
pub fn run() -> ExitCode {
    let args = Args::parse();
    match dispatch(&args) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("{e:#}");
            ExitCode::FAILURE
        }
    }
}

fn dispatch(args: &Args) -> Result<ExitCode> {
    if let Some(data_dir) = &args.fence {
        return Ok(ExitCode::from(
            u8::try_from(crate::fence::guard::guard(data_dir)).unwrap_or(1),
        ));
    }
    if args.version {
        println!("ferroni {}", env!("CARGO_PKG_VERSION"));
        return Ok(ExitCode::SUCCESS);
    }
    if args.generate_sample_config {
        return generate_sample(args.file.as_deref());
    }
    if args.validate_config {
        return validate(args.file.as_deref());
    }
    start(args.file.as_deref(), args.dry_run)
}

fn generate_sample(file: Option<&Path>) -> Result<ExitCode> {
    match file {
        Some(path) => std::fs::write(path, ferroni_config::sample::SAMPLE)
            .with_context(|| format!("cannot write {}", path.display()))?,
        None => print!("{}", ferroni_config::sample::SAMPLE),
    }
    Ok(ExitCode::SUCCESS)
}

fn load_from(file: Option<&Path>) -> Result<Loaded, ferroni_config::ConfigError> {
    load(file, std::env::vars())
}

fn validate(file: Option<&Path>) -> Result<ExitCode> {
    logging::init_default()?;
    match load_from(file) {
        Ok(loaded) => {
            for warning in &loaded.warnings {
                tracing::warn!("{warning}");
            }
            Ok(ExitCode::SUCCESS)
        }
        Err(e) => {
            tracing::error!("{e}");
            Ok(ExitCode::FAILURE)
        }
    }
}

fn start(file: Option<&Path>, dry_run: bool) -> Result<ExitCode> {
    let loaded = match load_from(file) {
        Ok(loaded) => loaded,
        Err(e) => {
            // The logger is configured by the file that failed to load: report on stderr.
            logging::init_default()?;
            tracing::error!("{e}");
            return Ok(ExitCode::FAILURE);
        }
    };
    logging::init(&loaded.config.log)?;
    for warning in &loaded.warnings {
        tracing::warn!("{warning}");
    }
    let c = &loaded.config;
    let d = &loaded.bootstrap_dynamic;
    let dcs = c.dcs_sections().first().map_or("none", |k| k.key());
    let endpoints = match dcs {
        "etcd" => c.etcd.as_ref().map(|e| e.endpoints().join(",")),
        "etcd3" => c.etcd3.as_ref().map(|e| e.endpoints().join(",")),
        _ => None,
    }
    .unwrap_or_default();
    tracing::info!(
        "would start member {} of cluster {} (namespace {}): PostgreSQL {} at {} in {}, REST API on {}, DCS {} {}, ttl={} loop_wait={} retry_timeout={}",
        c.name,
        c.scope,
        c.namespace,
        c.postgresql
            .bin_dir
            .as_deref()
            .unwrap_or("(newest installed)"),
        c.postgresql.connect_address,
        c.postgresql.data_dir,
        c.restapi.listen,
        dcs,
        endpoints,
        d.ttl,
        d.loop_wait,
        d.retry_timeout,
    );
    if dry_run {
        return Ok(ExitCode::SUCCESS);
    }
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    let code = runtime.block_on(async move {
        let agent = crate::runtime::Runtime::new(loaded, file.map(Path::to_path_buf)).await?;
        agent.run(forward_signals()?).await
    });
    match code {
        Ok(0) => Ok(ExitCode::SUCCESS),
        Ok(code) => Ok(ExitCode::from(u8::try_from(code).unwrap_or(1))),
        Err(e) => {
            tracing::error!("{e:#}");
            Ok(ExitCode::FAILURE)
        }
    }
}

/// SIGTERM and SIGINT ask the agent to shut down, SIGHUP to read its configuration again.
fn forward_signals() -> Result<tokio::sync::mpsc::Receiver<Signal>> {
    use tokio::signal::unix::{SignalKind, signal};
    let mut term = signal(SignalKind::terminate()).context("cannot watch SIGTERM")?;
    let mut int = signal(SignalKind::interrupt()).context("cannot watch SIGINT")?;
    let mut hup = signal(SignalKind::hangup()).context("cannot watch SIGHUP")?;
    let (tx, rx) = tokio::sync::mpsc::channel(4);
    tokio::spawn(async move {
        loop {
            let signal = tokio::select! {
                _ = term.recv() => Signal::Shutdown,
                _ = int.recv() => Signal::Shutdown,
                _ = hup.recv() => Signal::Reload,
            };
            if tx.send(signal).await.is_err() {
                break;
            }
        }
    });
    Ok(rx)
}
