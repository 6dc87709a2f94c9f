//! Which user callback (`postgresql.callbacks`) a change of the local PostgreSQL runs, and with
//! which role argument, as Patroni 4 decides it: from what was just done to PostgreSQL, the role
//! it had and the role it has now. Pure; the runtime runs the command (`<cmd> <action> <role>
//! <scope>`) through its callback executor.
//!
//! Patroni's rules, as its `postgresql/__init__.py` and `ha.py` apply them:
//! - nothing runs while a new cluster is being bootstrapped; its end runs `on_start` (primary);
//! - a start as a replica of a server that was a primary (or was just demoted) runs
//!   `on_role_change` instead of `on_start` — once some callback of the start/stop/restart/
//!   role-change group has run since the agent started (before that, nothing to change from);
//! - a restart runs `on_restart` and neither `on_stop` nor `on_start`;
//! - a stop of a running server runs `on_stop`: with `demoted` when a switchover handed the lock
//!   over at the shutdown checkpoint, else with the role it had;
//! - a promotion runs `on_role_change` with `primary` as soon as `pg_ctl promote` returns;
//! - a reload (`pg_ctl reload`) runs `on_reload`, which has an executor of its own;
//! - an agent that finds PostgreSQL already running runs `on_start` once.

use crate::DemoteMode;

/// One of Patroni's callbacks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Callback {
    OnStart,
    OnStop,
    OnRestart,
    OnReload,
    OnRoleChange,
}

impl Callback {
    /// The action argument, which is also the configuration key.
    pub fn name(self) -> &'static str {
        match self {
            Callback::OnStart => "on_start",
            Callback::OnStop => "on_stop",
            Callback::OnRestart => "on_restart",
            Callback::OnReload => "on_reload",
            Callback::OnRoleChange => "on_role_change",
        }
    }

    /// Whether it runs in the executor shared with start/stop/restart/role change, where a new
    /// callback kills the one still running (`on_reload` has its own).
    pub fn shares_executor(self) -> bool {
        self != Callback::OnReload
    }
}

/// The role argument, as Patroni 4 names it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Role {
    #[default]
    Uninitialized,
    Primary,
    Replica,
    /// A primary that stepped down and is not running as a replica yet.
    Demoted,
    StandbyLeader,
}

impl Role {
    pub fn name(self) -> &'static str {
        match self {
            Role::Uninitialized => "uninitialized",
            Role::Primary => "primary",
            Role::Replica => "replica",
            Role::Demoted => "demoted",
            Role::StandbyLeader => "standby_leader",
        }
    }
}

/// What the runtime just did to the local PostgreSQL.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Change {
    /// A new cluster's initdb and start began: callbacks are held until it ends.
    BootstrapBegan,
    /// The bootstrap ended: the new primary runs.
    Bootstrapped,
    /// A bootstrap that failed was given up.
    BootstrapFailed,
    /// PostgreSQL started (after a clone, a crash, a demotion or a rewind) in `role`.
    Started { role: Role },
    /// PostgreSQL restarted in its role (`POST /restart`, a scheduled restart).
    Restarted,
    /// A running PostgreSQL was stopped, not to be restarted at once; `demote` when a primary
    /// steps down.
    Stopped { demote: Option<DemoteMode> },
    /// `pg_ctl reload`.
    Reloaded,
    /// `pg_ctl promote` returned.
    Promoted,
    /// The agent's first sight of a running PostgreSQL it did not start, in `role`.
    FoundRunning { role: Role },
    /// Starting the crashed primary failed: it gives its lock up (Patroni's `post_recover`).
    StartFailed,
}

/// What callbacks remember between changes: Patroni's `role` and `cb_called`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Memory {
    pub role: Role,
    /// A callback of the shared executor's group was due since the agent started (configured
    /// or not).
    pub called: bool,
    /// A bootstrap is under way.
    pub bootstrapping: bool,
}

/// A callback to run: `<cmd> <callback> <role> <scope>`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Call {
    pub callback: Callback,
    pub role: Role,
}

/// The callback `change` runs, if any, and what is remembered after it.
pub fn after(memory: Memory, change: Change) -> (Option<Call>, Memory) {
    let call = |callback, role| Some(Call { callback, role });
    let (call, role) = match change {
        Change::BootstrapBegan => {
            return (
                None,
                Memory {
                    bootstrapping: true,
                    ..memory
                },
            );
        }
        Change::BootstrapFailed => {
            return (
                None,
                Memory {
                    bootstrapping: false,
                    ..memory
                },
            );
        }
        Change::Bootstrapped => (call(Callback::OnStart, Role::Primary), Role::Primary),
        _ if memory.bootstrapping => return (None, memory),
        Change::Started { role } => {
            let callback = if changes_role(memory, role) {
                Callback::OnRoleChange
            } else {
                Callback::OnStart
            };
            (call(callback, role), role)
        }
        Change::Restarted => (call(Callback::OnRestart, memory.role), memory.role),
        Change::Stopped { demote: None } => (call(Callback::OnStop, memory.role), memory.role),
        // The switchover's candidate has the shutdown checkpoint: the key is handed over before
        // PostgreSQL is down, and the role is `demoted` from then on.
        Change::Stopped {
            demote: Some(DemoteMode::Graceful),
        } => (call(Callback::OnStop, Role::Demoted), Role::Demoted),
        Change::Stopped { demote: Some(_) } => (call(Callback::OnStop, memory.role), Role::Demoted),
        Change::Reloaded => (call(Callback::OnReload, memory.role), memory.role),
        Change::Promoted => (call(Callback::OnRoleChange, Role::Primary), Role::Primary),
        Change::FoundRunning { role } if !memory.called => (call(Callback::OnStart, role), role),
        Change::FoundRunning { .. } => (None, memory.role),
        Change::StartFailed if matches!(memory.role, Role::Primary | Role::StandbyLeader) => {
            (call(Callback::OnRoleChange, Role::Demoted), Role::Demoted)
        }
        Change::StartFailed => (None, memory.role),
    };
    let called = memory.called || call.is_some_and(|c| c.callback.shares_executor());
    (
        call,
        Memory {
            role,
            called,
            bootstrapping: false,
        },
    )
}

/// Whether a start in `role` is a change of role rather than a start: a server that was a
/// primary (or was demoted) comes back as a replica, or a replica becomes a standby leader (and
/// back) — once callbacks have run since the agent started.
fn changes_role(memory: Memory, role: Role) -> bool {
    if !memory.called || role == Role::Primary {
        return false;
    }
    matches!(memory.role, Role::Primary | Role::Demoted)
        || (memory.role != role
            && matches!(memory.role, Role::Replica | Role::StandbyLeader)
            && matches!(role, Role::Replica | Role::StandbyLeader))
}
