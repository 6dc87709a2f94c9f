//! Another node holds the lock (§e.5): a primary here demotes at once; a replica follows it.

use crate::divergence::{self, Verdict};
use crate::{Action, Decision, DemoteMode, Input};
use ferroni_model::Cluster;

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
    let ahead = matches!(
        (input.pg.running(), leader_timeline),
        (Some(r), Some(t)) if !r.received && r.timeline > t
    );
    memo.ahead_of_leader_since = ahead.then(|| memo.ahead_of_leader_since.unwrap_or(input.now));
    let ahead_for = input
        .now
        .saturating_sub(memo.ahead_of_leader_since.unwrap_or(input.now));
    let verdict = match divergence::against_leader(input.pg.wal.as_ref(), cluster, leader) {
        _ if !memo.diverge_check => Verdict::Joins,
        // PostgreSQL streams only WAL that continues its own: streaming proves it joins, though
        // its timeline may read as the old one until a restartpoint.
        _ if input.pg.running().is_some_and(|r| r.received) => Verdict::Joins,
        Verdict::NotInHistory { .. } if ahead && ahead_for < input.config.ttl => Verdict::Unknown,
        v => v,
    };
    match verdict {
        Verdict::Unknown => {}
        Verdict::Joins => memo.diverge_check = false,
        v => {
            let what = v.describe(input.pg.wal.as_ref().map_or(0, |w| w.lsn));
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
