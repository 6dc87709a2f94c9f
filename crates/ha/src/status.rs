//! The `/status` key the leader keeps (Patroni's `update_leader` → `write_status`): its WAL
//! position (`optime`, which `maximum_lag_on_failover` and the lag health checks compare with),
//! its slots' positions (`slots`) and the member slots it records (`retain_slots`).
//!
//! `retain_slots` follows Patroni 4.1: the member slot names seen on the leader, each kept for
//! `member_slots_ttl` after it was last seen, so that a member briefly gone keeps its slot.

use crate::input::Millis;
use ferroni_model::slot_name::slot_name_from_member_name;
use ferroni_model::{Cluster, Status};
use serde_json::{Map, Value};
use std::collections::BTreeMap;

/// What the leader reads from its primary this cycle.
#[derive(Debug, Clone, PartialEq)]
pub struct LeaderView<'a> {
    pub me: &'a str,
    /// The primary's flush position.
    pub wal_position: u64,
    /// The primary's physical slots and their `restart_lsn`, in `pg_replication_slots` order.
    pub slots: &'a [(String, u64)],
    /// `member_slots_ttl` (Patroni's default: 30 minutes); 0 keeps no member slot.
    pub member_slots_ttl: Millis,
    pub now: Millis,
}

/// The member slot names this leader has seen, and when it last saw each (Patroni's
/// `_last_retain_slots`). Start from the default when this node starts leading.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Retention {
    seen: BTreeMap<String, Millis>,
    leading: bool,
}

/// This cycle's `/status`, and what it changed.
#[derive(Debug, Clone, PartialEq)]
pub struct StatusUpdate {
    pub status: Status,
    /// Whether it differs from the key in the cluster view (only then is it written).
    pub write: bool,
    pub retention: Retention,
    /// Patroni's lines for slots whose retention ended.
    pub notes: Vec<String>,
}

/// The leader's `/status` for this cycle; `None` without a WAL position (Patroni writes none).
pub fn leader_status(
    cluster: &Cluster,
    view: &LeaderView<'_>,
    retention: &Retention,
) -> Option<StatusUpdate> {
    if view.wal_position == 0 {
        return None;
    }
    let mut retention = retention.clone();
    // A new leader carries on the previous leader's record: its names count as seen now.
    if !retention.leading {
        retention.leading = true;
        let inherited = cluster
            .status
            .as_ref()
            .and_then(|s| s.retain_slots.as_deref())
            .unwrap_or_default();
        for name in inherited {
            retention.seen.insert(name.clone(), view.now);
        }
    }
    let members: Vec<String> = cluster
        .members
        .iter()
        .filter(|m| !m.data.tag_true("nostream"))
        .map(|m| slot_name_from_member_name(&m.name))
        .chain([slot_name_from_member_name(view.me)])
        .collect();
    // Patroni publishes the slots it manages (the members', not a backup tool's) only while it
    // keeps them (member_slots_ttl > 0), and adds its own name at its current position, for the
    // next leader to keep.
    let mut slots = Map::new();
    if view.member_slots_ttl > 0 {
        for (name, lsn) in view.slots.iter().filter(|(n, _)| members.contains(n)) {
            slots.insert(name.clone(), Value::from(*lsn));
        }
        slots.insert(
            slot_name_from_member_name(view.me),
            Value::from(view.wal_position),
        );
    }
    for name in slots.keys().filter(|n| members.contains(n)) {
        retention.seen.insert(name.clone(), view.now);
    }
    let mut notes = Vec::new();
    retention.seen.retain(|name, seen| {
        let kept = seen.saturating_add(view.member_slots_ttl) > view.now;
        if !kept {
            notes.push(format!(
                "Replication slot '{name}' for absent cluster member is expired after {} sec.",
                view.member_slots_ttl / 1000
            ));
        }
        kept
    });
    let retain_slots: Vec<String> = retention.seen.keys().cloned().collect();
    let status = Status {
        optime: view.wal_position,
        slots: (!slots.is_empty()).then_some(slots),
        retain_slots: (!retain_slots.is_empty()).then_some(retain_slots),
    };
    Some(StatusUpdate {
        write: cluster.status.as_ref() != Some(&status),
        status,
        retention,
        notes,
    })
}

/// The `/status` a leader leaves when it releases the lock after a clean shutdown: the shutdown
/// checkpoint as `optime` (no replica that has it lags), the last known slots kept.
pub fn released_status(last: Option<&Status>, checkpoint: u64) -> Status {
    Status {
        optime: checkpoint,
        ..last.cloned().unwrap_or_default()
    }
}
