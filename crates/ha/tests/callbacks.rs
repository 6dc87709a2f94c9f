//! `ferroni_ha::callbacks::after`, row by row: what was remembered, what was done to PostgreSQL,
//! and the callback Patroni 4 runs for it (with its role argument) and what it remembers next.

use ferroni_ha::DemoteMode;
use ferroni_ha::callbacks::{Call, Callback, Change, Memory, Role, after};

fn memory(role: Role, called: bool) -> Memory {
    Memory {
        role,
        called,
        bootstrapping: false,
    }
}

fn bootstrapping() -> Memory {
    Memory {
        bootstrapping: true,
        ..Memory::default()
    }
}

struct Row {
    name: &'static str,
    before: Memory,
    change: Change,
    call: Option<(Callback, Role)>,
    /// The role remembered afterwards.
    role: Role,
}

fn row(
    name: &'static str,
    before: Memory,
    change: Change,
    call: Option<(Callback, Role)>,
    role: Role,
) -> Row {
    Row {
        name,
        before,
        change,
        call,
        role,
    }
}

use Callback::*;
use Role::*;

fn rows() -> Vec<Row> {
    let started = |role| Change::Started { role };
    let stopped = |demote| Change::Stopped { demote };
    vec![
        row(
            "bootstrap: nothing while initdb and the first start run",
            Memory::default(),
            Change::BootstrapBegan,
            None,
            Uninitialized,
        ),
        row(
            "bootstrap: a start inside it runs nothing",
            bootstrapping(),
            started(Primary),
            None,
            Uninitialized,
        ),
        row(
            "bootstrap: a stop inside it runs nothing",
            bootstrapping(),
            stopped(None),
            None,
            Uninitialized,
        ),
        row(
            "bootstrap: its end runs on_start as primary",
            bootstrapping(),
            Change::Bootstrapped,
            Some((OnStart, Primary)),
            Primary,
        ),
        row(
            "bootstrap failed: nothing",
            bootstrapping(),
            Change::BootstrapFailed,
            None,
            Uninitialized,
        ),
        row(
            "crashed primary failed to start: on_role_change demoted (Patroni's post_recover)",
            memory(Primary, true),
            Change::StartFailed,
            Some((OnRoleChange, Demoted)),
            Demoted,
        ),
        row(
            "a replica that failed to start: nothing",
            memory(Replica, true),
            Change::StartFailed,
            None,
            Replica,
        ),
        row(
            "clone: the first start as a replica is a start",
            Memory::default(),
            started(Replica),
            Some((OnStart, Replica)),
            Replica,
        ),
        row(
            "replica crashed and started again: on_start",
            memory(Replica, true),
            started(Replica),
            Some((OnStart, Replica)),
            Replica,
        ),
        row(
            "primary crashed, started as primary (lock held): on_start",
            memory(Primary, true),
            started(Primary),
            Some((OnStart, Primary)),
            Primary,
        ),
        row(
            "demoted primary starts as a replica: on_role_change instead of on_start",
            memory(Demoted, true),
            started(Replica),
            Some((OnRoleChange, Replica)),
            Replica,
        ),
        row(
            "stopped primary starts as a replica: on_role_change",
            memory(Primary, true),
            started(Replica),
            Some((OnRoleChange, Replica)),
            Replica,
        ),
        row(
            "agent started beside a stopped former primary: no callback yet, so on_start",
            memory(Primary, false),
            started(Replica),
            Some((OnStart, Replica)),
            Replica,
        ),
        row(
            "replica becomes a standby leader: on_role_change",
            memory(Replica, true),
            started(StandbyLeader),
            Some((OnRoleChange, StandbyLeader)),
            StandbyLeader,
        ),
        row(
            "restart of a primary: on_restart, no stop or start",
            memory(Primary, true),
            Change::Restarted,
            Some((OnRestart, Primary)),
            Primary,
        ),
        row(
            "restart of a replica: on_restart",
            memory(Replica, true),
            Change::Restarted,
            Some((OnRestart, Replica)),
            Replica,
        ),
        row(
            "switchover: the shutdown hands the key over, on_stop as demoted",
            memory(Primary, true),
            stopped(Some(DemoteMode::Graceful)),
            Some((OnStop, Demoted)),
            Demoted,
        ),
        row(
            "lost lock: immediate stop, on_stop as primary, then demoted",
            memory(Primary, true),
            stopped(Some(DemoteMode::ImmediateNoLock)),
            Some((OnStop, Primary)),
            Demoted,
        ),
        row(
            "DCS lost: offline demotion, on_stop as primary",
            memory(Primary, true),
            stopped(Some(DemoteMode::Offline)),
            Some((OnStop, Primary)),
            Demoted,
        ),
        row(
            "stop of a replica (shutdown, rewind, reinitialize): on_stop, role kept",
            memory(Replica, true),
            stopped(None),
            Some((OnStop, Replica)),
            Replica,
        ),
        row(
            "reload: on_reload with the role",
            memory(Replica, true),
            Change::Reloaded,
            Some((OnReload, Replica)),
            Replica,
        ),
        row(
            "promotion: on_role_change as primary",
            memory(Replica, true),
            Change::Promoted,
            Some((OnRoleChange, Primary)),
            Primary,
        ),
        row(
            "agent found PostgreSQL running: on_start once",
            Memory::default(),
            Change::FoundRunning { role: Replica },
            Some((OnStart, Replica)),
            Replica,
        ),
        row(
            "found running after a callback ran: nothing",
            memory(Primary, true),
            Change::FoundRunning { role: Primary },
            None,
            Primary,
        ),
    ]
}

#[test]
fn every_row_runs_patronis_callback() {
    let mut failures = Vec::new();
    for r in rows() {
        let (call, next) = after(r.before, r.change);
        let want = r.call.map(|(callback, role)| Call { callback, role });
        if call != want || next.role != r.role {
            failures.push(format!(
                "{}: expected {want:?} then {:?}, got {call:?} then {:?}",
                r.name, r.role, next.role
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn only_the_shared_group_counts_as_called() {
    let (_, after_reload) = after(Memory::default(), Change::Reloaded);
    assert!(!after_reload.called, "on_reload is not of the group");
    // So a former primary's first start after it is still a start.
    let (call, _) = after(
        Memory {
            role: Primary,
            ..after_reload
        },
        Change::Started { role: Replica },
    );
    assert_eq!(call.map(|c| c.callback), Some(OnStart));
    let (_, after_start) = after(Memory::default(), Change::Started { role: Replica });
    assert!(after_start.called);
}

/// The sequence of the integration test (crates/agent/tests/callbacks.rs), as node1 lives it:
/// bootstrap, switchover away, restart, reload, promotion after the leader crashed — the lines
/// of tests/fixtures/callbacks/patroni-4.1.5.txt for node1.
#[test]
fn node1_of_the_fixture_sequence() {
    let changes = [
        Change::BootstrapBegan,
        Change::Bootstrapped,
        Change::Stopped {
            demote: Some(DemoteMode::Graceful),
        },
        Change::Started { role: Replica },
        Change::Restarted,
        Change::Reloaded,
        Change::Promoted,
    ];
    let mut memory = Memory::default();
    let mut lines = Vec::new();
    for change in changes {
        let (call, next) = after(memory, change);
        memory = next;
        lines.extend(call.map(|c| format!("{} {}", c.callback.name(), c.role.name())));
    }
    assert_eq!(
        lines,
        [
            "on_start primary",
            "on_stop demoted",
            "on_role_change replica",
            "on_restart replica",
            "on_reload replica",
            "on_role_change primary"
        ]
    );
}
