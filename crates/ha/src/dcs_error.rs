//! The DCS did not answer this cycle (§e.9). A primary cannot know whether it still holds the lock,
//! so it steps down before its lease could expire and someone else could be promoted.

use crate::{Action, Decision, DemoteMode, Input};

/// Decides a cycle without a cluster view.
pub fn decide(input: &Input) -> Decision {
    if input.pg.is_primary() {
        if input.config.paused {
            return Decision::log(
                &input.memo,
                "continue to run as primary because paused and DCS is not accessible",
            );
        }
        // Every other member confirmed it is not a primary and that it follows this one: none
        // of them will race while the confirmations are fresh (they last `ttl`).
        if input.config.failsafe_mode && input.failsafe.members_accept {
            return Decision::log(
                &input.memo,
                "continue to run as a leader because failsafe mode is enabled and all members are accessible",
            );
        }
        return Decision::act(
            &input.memo,
            vec![Action::Demote(DemoteMode::Offline)],
            "demoted self because DCS is not accessible and I was a leader",
        );
    }
    // A stopped server (a primary just demoted offline) comes back read-only, without a primary to
    // stream from, until the DCS answers again.
    if matches!(input.pg.state, crate::PgState::Stopped { .. })
        && matches!(input.pg.data, crate::DataDir::Initialized { .. })
        && !input.config.paused
    {
        return Decision::act(
            &input.memo,
            vec![Action::StartReplica {
                leader: None,
                rewind: false,
            }],
            "DCS is not accessible: starting as a secondary without a leader",
        );
    }
    Decision::log(&input.memo, "DCS is not accessible")
}
