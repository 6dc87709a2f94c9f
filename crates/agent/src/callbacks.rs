//! The user's scripts, run as Patroni runs them.
//!
//! - `postgresql.callbacks` (`on_start`, `on_stop`, `on_restart`, `on_role_change`, `on_reload`):
//!   `<command words> <action> <role> <scope>`, the command split as Python's `shlex.split`
//!   ([`split`]). Which one a change runs is `ferroni_ha::callbacks`' decision. They never block
//!   the agent: start, stop, restart and role change share one executor in which a new callback
//!   kills the one still running (its whole process group: a script's children go with it),
//!   and `on_reload` has an executor of its own that works the same way. Each callback runs in
//!   its own process group, so one still running when the agent exits (an `on_stop` at
//!   shutdown) finishes.
//! - `postgresql.pre_promote`: run before a promotion, which waits for it; any exit but 0 (or a
//!   script that cannot run) refuses the promotion ([`Vetoed`]).
//! - `postgresql.before_stop`: run before a running PostgreSQL is stopped, which waits for it;
//!   its exit code is only logged.

mod split;

use ferroni_config::Config;
use ferroni_ha::callbacks::{Call, Callback, Change, Memory, after};
use ferroni_pg::local::{PgError, StopMode};
use ferroni_pg::server::Postgres;
use nix::sys::signal::{Signal, killpg};
use nix::unistd::Pid;
use std::os::unix::process::ExitStatusExt;
use std::process::{ExitStatus, Stdio};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;
use tokio::process::{Child, Command};
use tokio::sync::watch;

/// A promotion refused by the `pre_promote` script.
#[derive(Debug, thiserror::Error)]
#[error("the pre_promote script refused the promotion")]
pub struct Vetoed;

/// The configured scripts.
#[derive(Debug, Clone, Default)]
struct Scripts {
    callbacks: ferroni_config::postgresql::Callbacks,
    pre_promote: Option<String>,
    before_stop: Option<String>,
    scope: String,
}

impl Scripts {
    fn from_config(config: &Config) -> Scripts {
        Scripts {
            callbacks: config.postgresql.callbacks.clone(),
            pre_promote: config.postgresql.pre_promote.clone(),
            before_stop: config.postgresql.before_stop.clone(),
            scope: config.scope.clone(),
        }
    }

    fn callback(&self, callback: Callback) -> Option<&str> {
        let c = &self.callbacks;
        match callback {
            Callback::OnStart => c.on_start.as_deref(),
            Callback::OnStop => c.on_stop.as_deref(),
            Callback::OnRestart => c.on_restart.as_deref(),
            Callback::OnReload => c.on_reload.as_deref(),
            Callback::OnRoleChange => c.on_role_change.as_deref(),
        }
    }
}

/// The agent's scripts and what the callback decision remembers.
pub struct Callbacks {
    scripts: Mutex<Scripts>,
    memory: Mutex<Memory>,
    shared: Executor,
    reload: Executor,
}

/// A poisoned lock only means a panic elsewhere; the value is still what was last written.
fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl Callbacks {
    /// The scripts of `config`; the executors run on the current tokio runtime.
    pub fn new(config: &Config) -> Callbacks {
        Callbacks {
            scripts: Mutex::new(Scripts::from_config(config)),
            memory: Mutex::new(Memory::default()),
            shared: Executor::start(),
            reload: Executor::start(),
        }
    }

    /// A reload: the scripts of the configuration read again.
    pub fn reconfigure(&self, config: &Config) {
        *lock(&self.scripts) = Scripts::from_config(config);
    }

    /// Tells that a bootstrap began; the returned guard tells that it failed unless
    /// [`BootstrapEnd::succeeded`] is called, also when its task is aborted (callbacks stay
    /// muted while bootstrapping, so a lost end would mute them for good).
    pub fn bootstrap_began(self: &Arc<Self>) -> BootstrapEnd {
        self.changed(Change::BootstrapBegan);
        BootstrapEnd(Some(self.clone()))
    }

    /// Tells what was just done to PostgreSQL; runs the callback it calls for, if configured.
    pub fn changed(&self, change: Change) {
        let call = {
            let mut memory = lock(&self.memory);
            let (call, next) = after(*memory, change);
            *memory = next;
            call
        };
        if let Some(call) = call {
            self.run(call);
        }
    }

    fn run(&self, call: Call) {
        let scripts = lock(&self.scripts);
        let Some(command) = scripts.callback(call.callback) else {
            return;
        };
        let (action, role) = (call.callback.name(), call.role.name());
        match split::split(command) {
            Ok(mut argv) => {
                argv.extend([action.into(), role.into(), scripts.scope.clone()]);
                tracing::debug!("CallbackExecutor.call({})", split::python_list(&argv));
                if call.callback.shares_executor() {
                    self.shared.call(argv);
                } else {
                    self.reload.call(argv);
                }
            }
            Err(e) => tracing::error!(
                "callback {command} {action} {role} {} failed: {e}",
                scripts.scope
            ),
        }
    }

    /// Waits (at most 2 s) until the callbacks asked for have been started: the agent is about
    /// to exit, and an `on_stop` must still run.
    pub async fn flush(&self) {
        let within = Duration::from_secs(2);
        tokio::join!(self.shared.flush(within), self.reload.flush(within));
    }

    /// Runs `pre_promote`, when configured; whether the promotion may go on.
    pub async fn pre_promote(&self) -> bool {
        let Some(command) = lock(&self.scripts).pre_promote.clone() else {
            return true;
        };
        let code = run_to_end(&command).await;
        if let Some(code) = code {
            tracing::info!("pre_promote script `{command}` exited with {code}");
        }
        code == Some(0)
    }

    /// Stops PostgreSQL as Patroni does: `before_stop` first (when it runs), then the stop, then
    /// `change` (the callback decision's view of the stop; none during a restart).
    pub async fn stop(
        &self,
        pg: &dyn Postgres,
        mode: StopMode,
        timeout: Duration,
        change: Option<Change>,
    ) -> Result<(), PgError> {
        if pg.postmaster_pid().is_none() {
            return Ok(());
        }
        let before_stop = lock(&self.scripts).before_stop.clone();
        if let Some(command) = before_stop
            && let Some(code) = run_to_end(&command).await
        {
            tracing::info!("before_stop script `{command}` exited with {code}");
        }
        pg.stop(mode, timeout).await?;
        if let Some(change) = change {
            self.changed(change);
        }
        Ok(())
    }
}

/// `argv` started in a process group of its own, its output beside the agent's.
fn spawn(argv: &[String]) -> std::io::Result<Child> {
    let (program, args) = argv
        .split_first()
        .ok_or_else(|| std::io::Error::other("empty command"))?;
    Command::new(program)
        .args(args)
        .stdin(Stdio::null())
        .process_group(0)
        .spawn()
}

/// Kills `child`'s process group and reaps it.
async fn kill_group(child: &mut Child) {
    if let Some(pid) = child.id().and_then(|p| i32::try_from(p).ok()) {
        let _ = killpg(Pid::from_raw(pid), Signal::SIGKILL);
    }
    let _ = child.wait().await;
}

/// An exit status as Python's `Popen.wait` returns it: the code, or minus the signal.
fn exit_code(status: ExitStatus) -> Option<i32> {
    status.code().or_else(|| status.signal().map(|s| -s))
}

/// Kills a blocking script's process group when its wait is abandoned (the task running it
/// was cancelled: a lost lock during `pre_promote`, a demotion during `before_stop`).
struct GroupGuard(Option<Child>);

impl Drop for GroupGuard {
    fn drop(&mut self) {
        if let Some(child) = self.0.as_mut()
            && let Some(pid) = child.id().and_then(|p| i32::try_from(p).ok())
        {
            let _ = killpg(Pid::from_raw(pid), Signal::SIGKILL);
            let _ = child.start_kill();
        }
    }
}

/// Runs a blocking script to its end: its exit code, `None` when it could not run.
async fn run_to_end(command: &str) -> Option<i32> {
    let argv = match split::split(command) {
        Ok(argv) => argv,
        Err(e) => {
            tracing::error!("Exception when calling `{command}`: {e}");
            return None;
        }
    };
    let mut guard = match spawn(&argv) {
        Ok(child) => GroupGuard(Some(child)),
        Err(e) => {
            tracing::error!("Failed to execute {}: {e}", split::python_list(&argv));
            return None;
        }
    };
    let status = guard.0.as_mut()?.wait().await;
    guard.0 = None;
    status.ok().and_then(exit_code)
}

/// One callback at a time: a new one kills the one still running, and of several asked for
/// meanwhile only the last runs.
struct Executor {
    /// The command to run next, numbered.
    next: watch::Sender<Option<(u64, Vec<String>)>>,
    /// The number of the last command started (or that failed to start).
    started: watch::Receiver<u64>,
}

impl Executor {
    fn start() -> Executor {
        let (next, rx) = watch::channel(None);
        let (tell, started) = watch::channel(0);
        tokio::spawn(Executor::work(rx, tell));
        Executor { next, started }
    }

    fn call(&self, argv: Vec<String>) {
        self.next.send_modify(|next| {
            let number = next.as_ref().map_or(0, |(n, _)| *n) + 1;
            *next = Some((number, argv));
        });
    }

    /// Waits (at most `within`) until the last command asked for has been started.
    async fn flush(&self, within: Duration) {
        let wanted = self.next.borrow().as_ref().map_or(0, |(n, _)| *n);
        let mut started = self.started.clone();
        let _ = tokio::time::timeout(within, started.wait_for(|n| *n >= wanted)).await;
    }

    async fn work(
        mut rx: watch::Receiver<Option<(u64, Vec<String>)>>,
        started: watch::Sender<u64>,
    ) {
        while rx.changed().await.is_ok() {
            let mut next = rx.borrow_and_update().clone();
            while let Some((number, argv)) = next.take() {
                let spawned = spawn(&argv);
                started.send_replace(number);
                let mut child = match spawned {
                    Ok(child) => child,
                    Err(e) => {
                        tracing::error!("Failed to execute {}: {e}", split::python_list(&argv));
                        break;
                    }
                };
                tokio::select! {
                    biased;
                    _ = child.wait() => {}
                    changed = rx.changed() => {
                        // The agent is going away: the last callback (its on_stop) outlives it,
                        // as Patroni's does.
                        if changed.is_err() {
                            return;
                        }
                        // One that has just ended keeps the children it left running.
                        if matches!(child.try_wait(), Ok(None)) {
                            kill_group(&mut child).await;
                            tracing::warn!(
                                "Killed {} because it was still running",
                                split::python_list(&argv)
                            );
                        }
                        next = rx.borrow_and_update().clone();
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests;

/// The end of a bootstrap, told exactly once (see [`Callbacks::bootstrap_began`]).
pub struct BootstrapEnd(Option<Arc<Callbacks>>);

impl BootstrapEnd {
    pub fn succeeded(mut self) {
        if let Some(cb) = self.0.take() {
            cb.changed(Change::Bootstrapped);
        }
    }
}

impl Drop for BootstrapEnd {
    fn drop(&mut self) {
        if let Some(cb) = self.0.take() {
            cb.changed(Change::BootstrapFailed);
        }
    }
}
