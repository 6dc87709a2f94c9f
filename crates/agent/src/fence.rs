//! The frozen-agent fence. A primary's agent that stalls (SIGSTOP, a hung VM, swap storms) cannot
//! demote its PostgreSQL when its lease runs out, and without a kernel watchdog Patroni's primary
//! then keeps acknowledging writes after a replica was promoted. The first time the agent leads,
//! it starts a guard process (`ferroni-fence DATA_DIR`, a small binary installed next to
//! `ferroni`, else `ferroni --fence DATA_DIR`; its own session, so a signal to the agent does not
//! stop it). After every lock renewal the agent tells the guard the moment, on the system-wide
//! monotonic clock, by which the primary must have stopped: the renewal's start plus the shortest
//! `ttl` seen, minus a margin. If that moment passes without a newer one, the guard kills that
//! postmaster and its children — before the lease can expire, so before any replica can be
//! promoted. Only the exact postmaster seen when armed is killed (PID and start time), so a guard
//! left behind by a crashed agent never touches a server started later.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};

pub mod guard;

pub use guard::monotonic_ms;

/// What the loop tells the fence after each cycle: the moment by which PostgreSQL must have
/// stopped, or none. The simulator's fence stops its model server at that moment instead.
pub trait Fence: Send + Sync {
    /// PostgreSQL must stop by `deadline` (monotonic ms) unless armed again before.
    fn arm(&mut self, deadline: u64);

    /// No deadline (not a primary, paused, or stopping on purpose).
    fn disarm(&mut self);
}

/// The real fence, the agent's end of it: the guard process (started the first time the fence
/// is armed, so replicas run none) and whether a moment is set.
pub struct GuardFence {
    data_dir: PathBuf,
    child: Option<Child>,
    stdin: Option<ChildStdin>,
    armed: bool,
}

impl GuardFence {
    /// The fence for `data_dir`; no process yet.
    pub fn new(data_dir: &Path) -> GuardFence {
        GuardFence {
            data_dir: data_dir.to_path_buf(),
            child: None,
            stdin: None,
            armed: false,
        }
    }

    /// Starts the guard unless it runs (its own session; stderr shared with the agent's log).
    fn start(&mut self) {
        if self.stdin.is_some() {
            return;
        }
        if let Some(mut old) = self.child.take() {
            // A guard that fenced, or whose pipe broke, has exited or will on its own.
            let _ = old.try_wait();
        }
        let spawned = guard_command().and_then(|mut cmd| {
            cmd.arg(&self.data_dir)
                .stdin(Stdio::piped())
                .stdout(Stdio::null());
            // Its own session: a signal to the agent's process group does not reach it.
            unsafe_setsid(&mut cmd);
            cmd.spawn()
        });
        match spawned {
            Ok(mut child) => {
                self.stdin = child.stdin.take();
                self.child = Some(child);
            }
            Err(e) => tracing::error!("cannot start the fence guard: {e}"),
        }
    }

    fn send(&mut self, line: &str) {
        if let Some(stdin) = self.stdin.as_mut()
            && writeln!(stdin, "{line}")
                .and_then(|_| stdin.flush())
                .is_err()
        {
            tracing::error!("the fence guard is gone");
            self.stdin = None;
        }
    }
}

impl Fence for GuardFence {
    fn arm(&mut self, deadline: u64) {
        self.start();
        self.send(&format!("arm {deadline}"));
        self.armed = true;
    }

    fn disarm(&mut self) {
        if self.armed {
            self.send("disarm");
            self.armed = false;
        }
    }
}

impl Drop for GuardFence {
    fn drop(&mut self) {
        self.disarm();
        self.stdin = None;
        if let Some(mut child) = self.child.take() {
            let _ = child.wait();
        }
    }
}

/// The guard: `ferroni-fence` beside this executable (a few hundred KB resident instead of the
/// agent's binary), else this executable with `--fence`.
fn guard_command() -> std::io::Result<Command> {
    let exe = std::env::current_exe()?;
    let small = exe.with_file_name("ferroni-fence");
    if small.is_file() {
        return Ok(Command::new(small));
    }
    let mut cmd = Command::new(exe);
    cmd.arg("--fence");
    Ok(cmd)
}

/// `setsid()` in the child before exec.
fn unsafe_setsid(cmd: &mut Command) {
    use std::os::unix::process::CommandExt;
    // SAFETY: setsid is async-signal-safe and touches no memory of the parent.
    unsafe {
        cmd.pre_exec(|| {
            nix::unistd::setsid()
                .map(|_| ())
                .map_err(std::io::Error::from)
        });
    }
}
