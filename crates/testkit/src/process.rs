//! A child process in its own process group, with its output in a log file. Dropping it stops the
//! whole group by PID: the polite signal first, then SIGKILL, and waits until no member is left.

use crate::user::RunAs;
use crate::wait::wait_until;
use anyhow::{Context, Result};
use nix::sys::signal::{Signal, kill, killpg};
use nix::unistd::Pid;
use std::fs::File;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

/// A running child; stopped when dropped.
#[derive(Debug)]
pub struct Proc {
    name: String,
    child: Child,
    log: PathBuf,
    stop_signal: Signal,
}

impl Proc {
    /// Spawns `command` as `run_as` (when given) in a new process group, stdout and stderr appended
    /// to `log`. `stop_signal` is the polite stop (SIGINT is PostgreSQL's fast shutdown).
    pub fn spawn(
        name: &str,
        mut command: Command,
        run_as: Option<RunAs>,
        log: &Path,
        stop_signal: Signal,
    ) -> Result<Proc> {
        let out = File::options()
            .create(true)
            .append(true)
            .open(log)
            .with_context(|| format!("cannot open {}", log.display()))?;
        if let Some(owner) = run_as {
            // The process may reopen its own log (PostgreSQL does not, but agents will).
            let _ = nix::unistd::chown(log, Some(nix::unistd::Uid::from_raw(owner.uid)), None);
            command.uid(owner.uid).gid(owner.gid);
        }
        command
            .stdin(Stdio::null())
            .stdout(out.try_clone()?)
            .stderr(out)
            .process_group(0);
        let child = command
            .spawn()
            .with_context(|| format!("cannot start {name} ({:?})", command.get_program()))?;
        Ok(Proc {
            name: name.to_string(),
            child,
            log: log.to_path_buf(),
            stop_signal,
        })
    }

    /// The process ID (also its process group ID).
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Where its output goes.
    pub fn log_path(&self) -> &Path {
        &self.log
    }

    /// The name it was started under.
    pub fn name(&self) -> &str {
        &self.name
    }

    fn raw_pid(&self) -> Pid {
        Pid::from_raw(i32::try_from(self.child.id()).unwrap_or(i32::MAX))
    }

    /// Sends `signal` to the process itself.
    pub fn signal(&self, signal: Signal) -> Result<()> {
        kill(self.raw_pid(), signal)
            .with_context(|| format!("cannot send {signal} to {}", self.name))
    }

    /// Freezes the process (SIGSTOP): it keeps its sockets and memory but runs nothing.
    pub fn freeze(&self) -> Result<()> {
        self.signal(Signal::SIGSTOP)
    }

    /// Thaws a frozen process (SIGCONT).
    pub fn thaw(&self) -> Result<()> {
        self.signal(Signal::SIGCONT)
    }

    /// Kills the whole process group with SIGKILL (a crash) and reaps the leader.
    pub fn kill9(&mut self) -> Result<()> {
        let _ = killpg(self.raw_pid(), Signal::SIGKILL);
        self.reap(Duration::from_secs(10))
    }

    /// Whether the leader process is still running (not exited, not a zombie).
    pub fn is_running(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }

    /// Exit status, once exited.
    pub fn try_exit_code(&mut self) -> Option<i32> {
        self.child
            .try_wait()
            .ok()
            .flatten()
            .map(|s| s.code().unwrap_or(-1))
    }

    fn reap(&mut self, deadline: Duration) -> Result<()> {
        let name = format!("{} (pid {}) to exit", self.name, self.pid());
        wait_until(deadline, &name, || self.child.try_wait().ok().flatten())?;
        Ok(())
    }

    /// The process, every descendant and every member of its process group. PostgreSQL's children
    /// call `setsid()`, so the process group alone does not find them.
    pub fn family(&self) -> Vec<u32> {
        let mut family = vec![self.pid()];
        family.extend(descendants(self.pid()));
        for pid in group_members(self.pid()) {
            if !family.contains(&pid) {
                family.push(pid);
            }
        }
        family
    }

    /// Stops the process: the polite signal, up to `grace` to exit, then SIGKILL to the group and
    /// every descendant; returns once none of them is left.
    pub fn stop(&mut self, grace: Duration) -> Result<()> {
        let pgid = self.raw_pid();
        let family = self.family();
        // A frozen process cannot act on the polite signal.
        let _ = killpg(pgid, Signal::SIGCONT);
        if self.is_running() {
            let _ = killpg(pgid, self.stop_signal);
            if self.reap(grace).is_err() {
                let _ = killpg(pgid, Signal::SIGKILL);
                self.reap(Duration::from_secs(10))?;
            }
        }
        let left = |family: &[u32]| -> Vec<u32> {
            let mut left: Vec<u32> = family.iter().copied().filter(|p| pid_alive(*p)).collect();
            left.extend(group_members(self.pid()));
            left
        };
        for pid in left(&family) {
            let _ = kill(
                Pid::from_raw(i32::try_from(pid).unwrap_or(i32::MAX)),
                Signal::SIGKILL,
            );
        }
        wait_until(
            Duration::from_secs(10),
            &format!("every process of {} to exit", self.name),
            || left(&family).is_empty().then_some(()),
        )
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        if let Err(e) = self.stop(Duration::from_secs(15)) {
            eprintln!("testkit: could not stop {}: {e:#}", self.name);
        }
    }
}

/// `(pid, state, ppid, pgrp)` of every process, read from `/proc`.
fn processes() -> Vec<(u32, String, u32, u32)> {
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    entries
        .filter_map(|e| e.ok()?.file_name().to_str()?.parse::<u32>().ok())
        .filter_map(|pid| {
            let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
            // Fields after the command name, which may itself hold spaces or parentheses.
            let (_, rest) = stat.rsplit_once(')')?;
            let mut fields = rest.split_whitespace();
            let state = fields.next()?.to_string();
            let ppid = fields.next()?.parse().ok()?;
            let pgrp = fields.next()?.parse().ok()?;
            Some((pid, state, ppid, pgrp))
        })
        .collect()
}

fn is_live(state: &str) -> bool {
    state != "Z" && state != "X"
}

/// Live (non-zombie) processes whose process group is `pgid`.
pub fn group_members(pgid: u32) -> Vec<u32> {
    processes()
        .into_iter()
        .filter(|(_, state, _, pgrp)| is_live(state) && *pgrp == pgid)
        .map(|p| p.0)
        .collect()
}

/// Live descendants of `pid` (children, their children, …).
pub fn descendants(pid: u32) -> Vec<u32> {
    let all = processes();
    let mut found = Vec::new();
    let mut frontier = vec![pid];
    while let Some(parent) = frontier.pop() {
        for (child, state, ppid, _) in &all {
            if *ppid == parent && is_live(state) && !found.contains(child) {
                found.push(*child);
                frontier.push(*child);
            }
        }
    }
    found
}

/// Whether a process with this PID exists and is not a zombie.
pub fn pid_alive(pid: u32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .ok()
        .and_then(|stat| {
            stat.rsplit_once(')')
                .map(|(_, rest)| rest.split_whitespace().next().map(str::to_string))
        })
        .flatten()
        .is_some_and(|state| state != "Z" && state != "X")
}
