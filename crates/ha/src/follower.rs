//! Another node holds the lock (§e.5): a primary here demotes at once; a replica follows it.

use crate::{Action, Decision, DemoteMode, Input};
use ferroni_model::{Cluster, format_lsn};

/// Decides for a node that does not hold the lock, PostgreSQL running.
pub fn decide(input: &Input, cluster: &Cluster, leader: &str) -> Decision {
    let mut memo = input.memo.clone();
    if input.pg.is_primary() {
        if input.config.paused {
            return Decision::log(
                &memo,
                format!(
                    "continue to run as primary without the lock, because paused (leader is {leader})"
                ),
            );
        }
        return Decision::act(
            &memo,
            vec![Action::Demote(DemoteMode::ImmediateNoLock)],
            "demoting self because I do not have the lock and I was a leader",
        );
    }
    // A replica behind the leader's timeline may have WAL of the old one that the leader never
    // had (it received it from a primary that kept writing after the promotion was decided):
    // check it as a former primary is checked (Patroni triggers the same check when its last
    // timeline is older than the leader's).
    // One ahead of it (a timeline of a primary whose promotion the cluster abandoned) cannot
    // stream from it at all.
    let leader_timeline = cluster.member(leader).and_then(|m| m.data.timeline);
    if let (Some(r), Some(t)) = (input.pg.running(), leader_timeline)
        && !r.received
        && r.timeline != t
    {
        memo.diverge_check = true;
    }
    let input = &Input {
        memo: memo.clone(),
        ..input.clone()
    };
    let divergence = match (
        divergence(input, cluster),
        input.pg.running(),
        leader_timeline,
    ) {
        (Divergence::Unknown, Some(r), Some(t)) if input.memo.diverge_check && r.timeline > t => {
            Divergence::Ahead {
                timeline: r.timeline,
                leader: t,
            }
        }
        (d, _, _) => d,
    };
    match divergence {
        Divergence::Unknown => {}
        Divergence::None => memo.diverge_check = false,
        Divergence::Past { .. } | Divergence::Ahead { .. } => {
            let what = match divergence {
                Divergence::Past { timeline, fork } => format!(
                    "my WAL on timeline {timeline} ends at {}, past {} where the leader's timeline forked off",
                    format_lsn(input.pg.running().map_or(0, |r| r.wal_position)),
                    format_lsn(fork)
                ),
                Divergence::Ahead { timeline, leader } => format!(
                    "my timeline {timeline} is not in the history of the leader's timeline {leader}"
                ),
                _ => String::new(),
            };
            if input.config.use_pg_rewind && !input.config.paused {
                return Decision::act(
                    &memo,
                    vec![Action::Rewind {
                        leader: leader.to_string(),
                    }],
                    format!("rewinding onto the leader ({leader}): {what}"),
                );
            }
            return Decision::log(
                &memo,
                format!("cannot follow the leader ({leader}) without pg_rewind: {what}"),
            );
        }
    }
    Decision::act(
        &memo,
        vec![Action::Follow {
            leader: leader.to_string(),
        }],
        format!(
            "no action. I am ({}), a secondary, and following a leader ({leader})",
            input.me.name
        ),
    )
}

/// Whether a former primary's WAL went past the leader's fork point.
enum Divergence {
    /// Not a former primary, or the fork point is not in `history` yet.
    Unknown,
    /// Its WAL ends at or before the fork point: it can stream.
    None,
    /// PostgreSQL cannot stream from the leader ("new timeline forked off current database
    /// system timeline before current recovery point") until it is rewound.
    Past { timeline: u64, fork: u64 },
    /// On a timeline after the leader's: one the leader's history never had.
    Ahead { timeline: u64, leader: u64 },
}

/// `history` says where each timeline ended; a former primary still on such a timeline with WAL
/// beyond that point holds records the leader never had.
fn divergence(input: &Input, cluster: &Cluster) -> Divergence {
    let Some(running) = input.pg.running().filter(|_| input.memo.diverge_check) else {
        return Divergence::Unknown;
    };
    // Its timeline may read as the old one until a restartpoint, and its position is the
    // leader's WAL it received: streaming at all proves it follows the leader's history.
    if running.received {
        return Divergence::None;
    }
    let fork = cluster.history.as_ref().and_then(|h| {
        h.value
            .0
            .iter()
            .find(|e| e.timeline == running.timeline)
            .map(|e| e.lsn)
    });
    match fork {
        None => Divergence::Unknown,
        Some(fork) if running.wal_position > fork => Divergence::Past {
            timeline: running.timeline,
            fork,
        },
        Some(_) => Divergence::None,
    }
}
