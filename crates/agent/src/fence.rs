//! The frozen-agent fence. A primary's agent that stalls (SIGSTOP, a hung VM, swap storms) cannot
//! demote its PostgreSQL when its lease runs out, and without a kernel watchdog Patroni's primary
//! then keeps acknowledging writes after a replica was promoted. Ferroni starts a small guard
//! process beside the agent (`ferroni-fence DATA_DIR`, a small binary installed next to
//! `ferroni`, else `ferroni --fence DATA_DIR`; its own session, so a signal to the agent does not
//! stop it). After every lock renewal the agent tells the guard the moment, on the
//! system-wide monotonic clock, by which the primary must have stopped: the renewal's start plus
//! the shortest `ttl` seen, minus a margin. If that moment passes without a newer one, the guard
//! kills that postmaster and its children — before the lease can expire, so before any replica
//! can be promoted. Only the exact postmaster seen when armed is killed (PID and start time), so
//! a guard left behind by a crashed agent never touches a server started later.

use std::io::Write;
use std::path::Path;
use std::process::{Child, ChildStdin, Command, Stdio};

pub mod guard;

pub use guard::monotonic_ms;

/// The agent's end: the guard process and the last moment sent.
pub struct Fence {
    child: Option<Child>,
    stdin: Option<ChildStdin>,
    armed: bool,
}

impl Fence {
    /// Starts the guard for `data_dir` (its own session; stderr shared with the agent's log).
    pub fn start(data_dir: &Path) -> Fence {
        let spawned = guard_command().and_then(|mut cmd| {
            cmd.arg(data_dir)
                .stdin(Stdio::piped())
                .stdout(Stdio::null());
            // Its own session: a signal to the agent's process group does not reach it.
            unsafe_setsid(&mut cmd);
            cmd.spawn()
        });
        match spawned {
            Ok(mut child) => {
                let stdin = child.stdin.take();
                Fence {
                    child: Some(child),
                    stdin,
                    armed: false,
                }
            }
            Err(e) => {
                tracing::error!("cannot start the fence guard: {e}");
                Fence {
                    child: None,
                    stdin: None,
                    armed: false,
                }
            }
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

    /// PostgreSQL must stop by `deadline` (monotonic ms) unless armed again before.
    pub fn arm(&mut self, deadline: u64) {
        self.send(&format!("arm {deadline}"));
        self.armed = true;
    }

    /// No deadline (not a primary, paused, or stopping on purpose).
    pub fn disarm(&mut self) {
        if self.armed {
            self.send("disarm");
            self.armed = false;
        }
    }
}

impl Drop for Fence {
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
