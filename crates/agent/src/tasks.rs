//! Long actions (bootstrap, clone, start, promote) run as tasks beside the loop, which keeps
//! renewing the lock and reports their progress to the next decisions.

use ferroni_ha::{Millis, Task, TaskKind, TaskOutcome};
use std::future::Future;
use tokio::task::JoinHandle;

/// How a task named `name` ended, logged unless it was a promotion the `pre_promote` script
/// refused (the decision's next line says so).
pub fn outcome(name: &str, result: &anyhow::Result<()>) -> TaskOutcome {
    match result {
        Ok(()) => TaskOutcome::Succeeded,
        Err(e) if e.is::<crate::callbacks::Vetoed>() => TaskOutcome::Vetoed,
        Err(e) => {
            tracing::error!("{name} failed: {e:#}");
            TaskOutcome::Failed
        }
    }
}

/// The task in flight, or the one that just ended (reported once).
#[derive(Default)]
pub struct Tasks {
    current: Option<(TaskKind, Millis, JoinHandle<TaskOutcome>)>,
    ended: Option<Task>,
}

impl Tasks {
    /// Starts `work` as `kind` unless a task already runs.
    pub fn start<F>(&mut self, kind: TaskKind, now: Millis, work: F) -> bool
    where
        F: Future<Output = TaskOutcome> + Send + 'static,
    {
        if self.current.is_some() {
            return false;
        }
        self.ended = None;
        self.current = Some((kind, now, tokio::spawn(work)));
        true
    }

    /// The task's state for this cycle's decision. An ended task is reported in one cycle only.
    pub async fn status(&mut self) -> Option<Task> {
        if let Some((_, _, handle)) = &self.current
            && handle.is_finished()
            && let Some((kind, started, handle)) = self.current.take()
        {
            let outcome = handle.await.unwrap_or(TaskOutcome::Failed);
            self.ended = Some(Task {
                kind,
                outcome,
                started,
            });
        }
        if let Some((kind, started, _)) = &self.current {
            return Some(Task {
                kind: kind.clone(),
                outcome: TaskOutcome::Running,
                started: *started,
            });
        }
        self.ended.take()
    }

    /// Whether a task runs.
    pub fn busy(&self) -> bool {
        self.current
            .as_ref()
            .is_some_and(|(_, _, h)| !h.is_finished())
    }

    /// Patroni's name of the task in flight (`restart`, `reinitialize`, …).
    pub fn describe(&self) -> String {
        self.current
            .as_ref()
            .map(|(kind, _, _)| ferroni_ha::long_action::describe(kind))
            .unwrap_or_default()
    }

    /// Aborts the task in flight (demotion, shutdown).
    pub fn cancel(&mut self) {
        if let Some((_, _, handle)) = self.current.take() {
            handle.abort();
        }
    }
}

/// A long action does not outlive the agent that started it (in the real agent the process
/// ends with it; the simulator drops a crashed agent instead).
impl Drop for Tasks {
    fn drop(&mut self) {
        self.cancel();
    }
}
