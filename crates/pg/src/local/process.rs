//! The postmaster: the data directory's state, starting, waiting, stopping, crash recovery, and the programs run beside it.

use super::*;

impl LocalPostgres {
    /// Empty (or missing), initialized (with its control data), or neither.
    pub async fn data_dir_state(&self) -> DataDirState {
        let empty = match std::fs::read_dir(self.data()) {
            Err(_) => true,
            Ok(mut entries) => entries.next().is_none(),
        };
        if empty {
            return DataDirState::Empty;
        }
        if !self.data().join("global/pg_control").exists() {
            return DataDirState::Invalid;
        }
        match self.controldata().await {
            Some(c) => DataDirState::Initialized(c),
            None => DataDirState::Invalid,
        }
    }

    /// `pg_controldata` of the data directory.
    pub async fn controldata(&self) -> Option<ControlData> {
        let mut cmd = Command::new(self.settings.bin_dir.join("pg_controldata"));
        cmd.arg(self.data()).env("LANG", "C").env("LC_ALL", "C");
        let out = run(&mut cmd, "pg_controldata").await.ok()?;
        ControlData::parse(&out)
    }

    /// The postmaster's PID, when `postmaster.pid` names a live process.
    pub fn postmaster_pid(&self) -> Option<i32> {
        let text = std::fs::read_to_string(self.data().join("postmaster.pid")).ok()?;
        let pid: i32 = text.lines().next()?.trim().parse().ok()?;
        kill(Pid::from_raw(pid), None).is_ok().then_some(pid)
    }

    /// Starts the postmaster with the protected parameters on its command line. Returns once it
    /// accepts connections, or fails after `timeout`.
    pub async fn start(&self, params: &ServerParameters, timeout: Duration) -> Result<(), PgError> {
        // A promotion that did not finish (the agent or the server died) may have left claims.
        crate::walfiles::release_claims(&self.data().join("pg_wal"));
        let mut cmd = Command::new(self.settings.bin_dir.join("postgres"));
        cmd.arg("-D")
            .arg(self.data())
            .arg(format!(
                "--config-file={}",
                self.data().join("postgresql.conf").display()
            ))
            .args(&params.cmdline)
            .stdin(std::process::Stdio::null());
        let mut child = cmd.spawn().map_err(io("cannot start postgres"))?;
        // Reap the postmaster whenever it exits, so it never lingers as a zombie; its exit also
        // ends the wait at once (a configuration error must not wait out `timeout`).
        let (exited_tx, exited) = tokio::sync::oneshot::channel();
        tokio::spawn(async move {
            let status = child.wait().await;
            let _ = exited_tx.send(status);
        });
        tokio::select! {
            ready = self.wait_ready(timeout) => ready,
            Ok(status) = exited => Err(PgError::Program {
                program: "postgres".into(),
                reason: match status {
                    Ok(s) => format!("exited while starting ({s})"),
                    Err(e) => format!("exited while starting ({e})"),
                },
            }),
        }
    }

    /// Waits until the server accepts connections.
    pub async fn wait_ready(&self, timeout: Duration) -> Result<(), PgError> {
        let deadline = Instant::now() + timeout;
        loop {
            if self.connect_fresh().await.is_ok() {
                return Ok(());
            }
            if Instant::now() >= deadline {
                return Err(PgError::Timeout(format!(
                    "PostgreSQL did not accept connections within {timeout:?}"
                )));
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Stops the postmaster and waits until it is gone.
    pub async fn stop(&self, mode: StopMode, timeout: Duration) -> Result<(), PgError> {
        let Some(pid) = self.postmaster_pid() else {
            return Ok(());
        };
        let signal = match mode {
            StopMode::Smart => Signal::SIGTERM,
            StopMode::Fast => Signal::SIGINT,
            StopMode::Immediate => Signal::SIGQUIT,
        };
        let _ = kill(Pid::from_raw(pid), signal);
        let deadline = Instant::now() + timeout;
        while kill(Pid::from_raw(pid), None).is_ok() {
            if Instant::now() >= deadline {
                return Err(PgError::Timeout(format!(
                    "PostgreSQL (pid {pid}) did not stop within {timeout:?}"
                )));
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        Ok(())
    }

    /// Brings a data directory that stopped uncleanly (a crashed primary) to a clean shutdown, by
    /// crash recovery in single-user mode: pg_rewind refuses an unclean target.
    pub async fn ensure_clean_shutdown(&self) -> Result<(), PgError> {
        if self.controldata().await.is_some_and(|c| c.clean_shutdown()) {
            return Ok(());
        }
        let mut cmd = Command::new(self.settings.bin_dir.join("postgres"));
        cmd.arg("--single")
            .arg("-D")
            .arg(self.data())
            .arg(format!(
                "--config-file={}",
                self.data().join("postgresql.conf").display()
            ))
            .args(["-c", "archive_mode=off", "postgres"]);
        run_inherit(&mut cmd, "postgres --single (crash recovery)").await
    }
}

/// Runs a program and returns its stdout.
pub(super) async fn run(cmd: &mut Command, what: &str) -> Result<String, PgError> {
    let out = cmd
        .output()
        .await
        .map_err(io(format!("cannot run {what}")))?;
    if !out.status.success() {
        return Err(PgError::Program {
            program: what.into(),
            reason: String::from_utf8_lossy(&out.stderr).trim().to_string(),
        });
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

/// Runs a program whose output goes to the agent's own (as Patroni's logs show initdb's).
pub(super) async fn run_inherit(cmd: &mut Command, what: &str) -> Result<(), PgError> {
    let status = cmd
        .stdin(std::process::Stdio::null())
        .status()
        .await
        .map_err(io(format!("cannot run {what}")))?;
    if status.success() {
        Ok(())
    } else {
        Err(PgError::Program {
            program: what.into(),
            reason: status.to_string(),
        })
    }
}
