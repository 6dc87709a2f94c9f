//! Another node holds the lock (§e.5): a primary here demotes at once; a replica follows it.

use crate::{Action, Decision, DemoteMode, Input};
use ferroni_model::Cluster;

/// Decides for a node that does not hold the lock, PostgreSQL running.
pub fn decide(input: &Input, _cluster: &Cluster, leader: &str) -> Decision {
    let memo = &input.memo;
    if input.pg.is_primary() {
        if input.config.paused {
            return Decision::log(
                memo,
                format!(
                    "continue to run as primary without the lock, because paused (leader is {leader})"
                ),
            );
        }
        return Decision::act(
            memo,
            vec![Action::Demote(DemoteMode::ImmediateNoLock)],
            "demoting self because I do not have the lock and I was a leader",
        );
    }
    Decision::act(
        memo,
        vec![Action::Follow {
            leader: leader.to_string(),
        }],
        format!(
            "no action. I am ({}), a secondary, and following a leader ({leader})",
            input.me.name
        ),
    )
}
