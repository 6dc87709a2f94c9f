//! Manual operations (§e.8): a switchover or failover requested through the `failover` key, as
//! the leader sees it, and the timing of scheduled actions (switchover, restart).
//!
//! Unlike Patroni, which sleeps inside the cycle until a scheduled moment that is less than
//! `loop_wait` away, the decision asks the runtime to wake up at that moment ([`Decision::wake_in`]):
//! the loop never blocks, and the action starts on time.

use crate::{Action, Decision, DemoteMode, Input, Memo, Millis, failover_possible};
use ferroni_model::{Cluster, Failover};

/// Where a scheduled action stands.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Schedule {
    /// Later: wake up in this many milliseconds.
    NotYet { wake_in: Millis, note: String },
    /// Now.
    Due { note: String },
    /// Missed by more than 1.5 × `loop_wait`, or unreadable: forget it.
    Stale { note: String },
}

pub use ferroni_model::failover::parse_scheduled_at as parse_time;

/// Where the action named `action`, scheduled at `at`, stands at `input.wall_clock`.
pub fn schedule(input: &Input, action: &str, at: &str) -> Schedule {
    let Some((at_ms, iso)) = parse_time(at) else {
        return Schedule::Stale {
            note: format!("Incorrect value of scheduled_at: {at}"),
        };
    };
    let delta = at_ms - input.wall_clock;
    let loop_wait = i64::try_from(input.config.loop_wait).unwrap_or(i64::MAX);
    if delta > 0 {
        Schedule::NotYet {
            wake_in: u64::try_from(delta).unwrap_or(0),
            note: format!(
                "Awaiting {action} at {iso} (in {:.0} seconds)",
                delta as f64 / 1000.0
            ),
        }
    } else if delta < -(loop_wait.saturating_mul(3) / 2) {
        Schedule::Stale {
            note: format!("Found a stale {action} value, cleaning up: {iso}"),
        }
    } else {
        Schedule::Due {
            note: format!("Manual scheduled {action} at {iso}"),
        }
    }
}

/// The requested switchover or failover, if any (`{}` means none).
pub fn request(cluster: &Cluster) -> Option<&Failover> {
    cluster
        .failover
        .as_ref()
        .map(|f| &f.value)
        .filter(|f| !f.is_empty())
}

/// Patroni's name for the request: `switchover` when it names the leader, else `manual failover`.
pub fn action_name(failover: &Failover) -> &'static str {
    if failover.leader.as_deref().is_some_and(|l| !l.is_empty()) {
        "switchover"
    } else {
        "manual failover"
    }
}

/// The leader's answer to a request (Patroni's `process_manual_failover_from_leader`): demote
/// gracefully for a candidate that can take over, or clear a request that cannot be served.
/// `None` when nothing is requested; `normal` is the line of a cycle without a request.
pub fn from_leader(input: &Input, cluster: &Cluster, normal: &str) -> Option<Decision> {
    let failover = request(cluster)?;
    let memo = &input.memo;
    let me = input.me.name.as_str();
    let action = action_name(failover);
    let bare = action.trim_start_matches("manual ");
    let mut notes = Vec::new();
    if let Some(at) = failover.scheduled_at.as_deref() {
        if input.config.paused {
            return None;
        }
        match schedule(input, bare, at) {
            Schedule::NotYet { wake_in, note } => {
                return Some(Decision::log(memo, normal).note(note).wake_in(wake_in));
            }
            Schedule::Stale { note } => {
                return Some(Decision::act(memo, vec![Action::ClearFailover], normal).note(note));
            }
            Schedule::Due { note } => notes.push(note),
        }
    }
    let candidate = failover.member.as_deref().filter(|c| !c.is_empty());
    let warning = match failover.leader.as_deref().filter(|l| !l.is_empty()) {
        Some(leader) if leader != me => {
            format!("{action}: leader name does not match: {leader} != {me}")
        }
        _ if candidate == Some(me) => {
            format!("{action}: I am already the leader, no need to {bare}")
        }
        _ if candidate.is_none() && input.config.paused => {
            let mut title = action.to_string();
            title[..1].make_ascii_uppercase();
            format!("{title} is possible only to a specific candidate in a paused state")
        }
        _ if failover_possible(input, cluster, candidate) => {
            // Only a candidate that streams from this primary receives every WAL record up to
            // the shutdown checkpoint: promoting another would fork the history behind the
            // other replicas. Wait (at most `ttl`) for one to connect.
            if !streaming_candidate(input, cluster, candidate) {
                let began = memo.switchover_wait_began.unwrap_or(input.now);
                if input.now.saturating_sub(began) < input.config.ttl {
                    let waiting = Memo {
                        switchover_wait_began: Some(began),
                        ..memo.clone()
                    };
                    notes.push(format!(
                        "{action}: waiting for {} to stream from the leader",
                        candidate.unwrap_or("a candidate")
                    ));
                    let mut decision = Decision::log(memo, normal)
                        .with_memo(waiting)
                        .wake_in(input.config.loop_wait.min(500));
                    decision.notes = notes;
                    return Some(decision);
                }
                notes.push(format!(
                    "{action}: no candidate streams from the leader, {bare} is not possible"
                ));
                notes.push("Cleaning up failover key".into());
                let mut decision = Decision::act(memo, vec![Action::ClearFailover], normal)
                    .with_memo(Memo {
                        switchover_wait_began: None,
                        ..memo.clone()
                    });
                decision.notes = notes;
                return Some(decision);
            }
            let mut decision = Decision::act(
                memo,
                vec![Action::Demote(DemoteMode::Graceful)],
                format!("{action}: demoting myself"),
            )
            .with_memo(Memo {
                switchover_wait_began: None,
                ..memo.clone()
            });
            decision.notes = notes;
            return Some(decision);
        }
        _ => format!("{action}: no healthy members found, {bare} is not possible"),
    };
    notes.push(warning);
    notes.push("Cleaning up failover key".into());
    let mut decision = Decision::act(memo, vec![Action::ClearFailover], normal);
    decision.notes = notes;
    Some(decision)
}

/// Whether a member that could take over (`candidate`, when named) streams from this primary.
fn streaming_candidate(input: &Input, cluster: &Cluster, candidate: Option<&str>) -> bool {
    let Some(running) = input.pg.running() else {
        return false;
    };
    running.streaming.iter().any(|name| {
        candidate.is_none_or(|c| c == name) && failover_possible(input, cluster, Some(name))
    })
}
