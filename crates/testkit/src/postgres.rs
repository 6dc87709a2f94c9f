//! PostgreSQL for tests: finding its binaries and running a plain server (initdb + postgres) as
//! the `postgres` user on a free loopback port.

use crate::kit::Kit;
use crate::ports::free_port;
use crate::process::Proc;
use crate::wait::wait_until;
use anyhow::{Result, bail};
use nix::sys::signal::Signal;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

/// The PostgreSQL binaries: `bin_dir` when given, else the newest `/usr/lib/postgresql/<v>/bin`.
pub fn find_bin_dir(bin_dir: Option<&Path>) -> Result<PathBuf> {
    ferroni_pg::bin::find_bin_dir(bin_dir)
        .map_err(|e| anyhow::anyhow!("{e} (scripts/setup installs postgresql-15)"))
}

/// A running PostgreSQL server with trust authentication on 127.0.0.1.
#[derive(Debug)]
pub struct PgServer {
    pub port: u16,
    pub data_dir: PathBuf,
    pub proc: Proc,
}

impl PgServer {
    /// Runs initdb in `<work dir>/<name>` and starts the server; returns once it accepts connections.
    pub fn start(kit: &Kit, name: &str) -> Result<PgServer> {
        let bin = find_bin_dir(None)?;
        let data_dir = kit.postgres_dir(name)?;
        let as_user = kit.postgres_user();
        let mut initdb = Command::new(bin.join("initdb"));
        initdb.arg("-D").arg(&data_dir).args([
            "-U",
            "postgres",
            "--auth=trust",
            "-E",
            "UTF8",
            "--no-sync",
        ]);
        let init_log = kit.log_path(&format!("{name}-initdb"));
        let mut init = Proc::spawn(
            &format!("{name}-initdb"),
            initdb,
            as_user,
            &init_log,
            Signal::SIGTERM,
        )?;
        let code = wait_until(Duration::from_secs(120), "initdb to finish", || {
            init.try_exit_code()
        })?;
        if code != 0 {
            bail!("initdb exited with {code}; see {}", init_log.display());
        }
        let port = free_port()?;
        let mut postgres = Command::new(bin.join("postgres"));
        postgres
            .arg("-D")
            .arg(&data_dir)
            .args([
                "-c",
                &format!("port={port}"),
                "-c",
                "listen_addresses=127.0.0.1",
            ])
            .args([
                "-c",
                &format!("unix_socket_directories={}", data_dir.display()),
            ])
            .args(["-c", "fsync=off", "-c", "shared_buffers=16MB"]);
        // SIGINT is PostgreSQL's fast shutdown: it does not wait for clients to leave.
        let proc = Proc::spawn(name, postgres, as_user, &kit.log_path(name), Signal::SIGINT)?;
        let server = PgServer {
            port,
            data_dir,
            proc,
        };
        let ready = bin.join("pg_isready");
        wait_until(
            Duration::from_secs(60),
            "PostgreSQL to accept connections",
            || {
                Command::new(&ready)
                    .args(["-q", "-h", "127.0.0.1", "-p", &port.to_string()])
                    .status()
                    .ok()
                    .filter(|s| s.success())
            },
        )?;
        Ok(server)
    }

    /// A libpq connection string for the `postgres` superuser.
    pub fn connstr(&self) -> String {
        format!(
            "host=127.0.0.1 port={} user=postgres dbname=postgres",
            self.port
        )
    }
}
