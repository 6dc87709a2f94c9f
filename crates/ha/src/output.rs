//! What `decide()` returns: the actions for the runtime, and the line that explains them.

use crate::input::{Memo, Millis};
use std::collections::BTreeMap;

/// How a primary steps down (Patroni's demotion modes).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DemoteMode {
    /// DCS unreachable: fast stop, keep no key, restart read-only.
    Offline,
    /// Switchover: fast stop with checkpoint, release the key once a replica has the checkpoint.
    Graceful,
    /// Unfit primary: immediate stop, release the key.
    Immediate,
    /// Lost the lock: immediate stop, the key is not ours to release.
    ImmediateNoLock,
}

/// One step for the runtime. Steps run in order; when one fails, the rest are skipped and the
/// decision's `on_failure` line is logged instead of `log`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    /// Take the leader lock (create-if-absent); fails when another member holds it.
    AcquireLock,
    /// Release the leader lock if ours.
    ReleaseLock,
    /// Write `initialize`: `create_new` races for it.
    Initialize { create_new: bool, sysid: String },
    /// Remove `initialize` after a failed bootstrap.
    CancelInitialize,
    /// Write this node's dynamic configuration to `config` (when missing).
    WriteConfig,
    /// Run initdb and start the new primary (a long task).
    Bootstrap,
    /// Create this replica with pg_basebackup from `from` (a long task).
    Clone { from: String },
    /// Start PostgreSQL as a primary (a long task) and wait up to `wait` ms for it to accept
    /// connections. The wait is `primary_start_timeout`, never more: while the task runs no
    /// failover is considered, so a longer wait would stretch the timeout the user set; a
    /// primary still starting when it ends is judged by the next cycle (§e.6).
    StartPrimary { wait: Millis },
    /// Start PostgreSQL as a replica of `leader` (none: without a primary to stream from);
    /// `rewind`: a former primary is first rewound onto the leader's timeline with pg_rewind.
    StartReplica {
        leader: Option<String>,
        rewind: bool,
    },
    /// Stop the running replica, rewind it with pg_rewind onto `leader`'s timeline and start it
    /// again as `leader`'s replica (a long task): its WAL went past the leader's fork point.
    Rewind { leader: String },
    /// Promote the local replica (a long task).
    Promote,
    /// Make sure a running replica streams from `leader` (rewrites recovery settings and reloads or
    /// restarts when they changed).
    Follow { leader: String },
    /// Step down from primary.
    Demote(DemoteMode),
    /// Stop PostgreSQL immediately (a primary that did not start in time).
    StopImmediate,
    /// Write `history` after a promotion.
    UpdateHistory,
    /// Clear the `failover` key (write `{}`, as Patroni does), compare-and-set on its version.
    ClearFailover,
    /// Restart PostgreSQL in its current role (a scheduled restart whose moment has come; the
    /// runtime checks its conditions first).
    Restart,
    /// Forget the scheduled restart (done, or stale).
    ForgetScheduledRestart,
    /// Write `/failsafe`: the members (name → `api_url`) a primary cut off from the DCS must all
    /// reach to keep running. Upkeep: a failure is logged, and the cycle goes on.
    WriteFailsafe { topology: BTreeMap<String, String> },
    /// Make the primary's physical slots exactly `wanted` (creating and dropping). Upkeep: a
    /// failure is logged, and the cycle goes on.
    SyncSlots { wanted: Vec<String> },
    /// Write the dynamic configuration's parameters into the running server's configuration
    /// files and reload it (`pg_ctl reload`).
    ReloadParameters,
    /// Give up: log `message` as CRITICAL and exit with `code`.
    Exit { code: i32, message: String },
}

/// The outcome of one cycle.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Decision {
    pub actions: Vec<Action>,
    /// Patroni's line for this cycle.
    pub log: String,
    /// The line to log instead when an action fails.
    pub on_failure: Option<String>,
    /// Lines logged before `log` (a scheduled action's progress, a request that was refused).
    pub notes: Vec<String>,
    /// Run the next cycle after at most this long (a scheduled action is due then).
    pub wake_in: Option<Millis>,
    pub memo: Memo,
}

impl Decision {
    /// No action, with this explanation.
    pub fn log(memo: &Memo, log: impl Into<String>) -> Decision {
        Decision {
            actions: Vec::new(),
            log: log.into(),
            on_failure: None,
            notes: Vec::new(),
            wake_in: None,
            memo: memo.clone(),
        }
    }

    /// `actions`, explained by `log`.
    pub fn act(memo: &Memo, actions: Vec<Action>, log: impl Into<String>) -> Decision {
        Decision {
            actions,
            log: log.into(),
            on_failure: None,
            notes: Vec::new(),
            wake_in: None,
            memo: memo.clone(),
        }
    }

    /// The line for when an action fails.
    pub fn or_else(mut self, on_failure: impl Into<String>) -> Decision {
        self.on_failure = Some(on_failure.into());
        self
    }

    /// With a line logged before the main one.
    pub fn note(mut self, note: impl Into<String>) -> Decision {
        self.notes.push(note.into());
        self
    }

    /// Asks for the next cycle after at most `ms`.
    pub fn wake_in(mut self, ms: Millis) -> Decision {
        self.wake_in = Some(self.wake_in.map_or(ms, |w| w.min(ms)));
        self
    }

    /// With a different memo.
    pub fn with_memo(mut self, memo: Memo) -> Decision {
        self.memo = memo;
        self
    }
}
