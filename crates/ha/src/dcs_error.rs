//! The DCS did not answer this cycle (§e.9). A primary cannot know whether it still holds the lock,
//! so it steps down before its lease could expire and someone else could be promoted.

use crate::{Action, Decision, DemoteMode, Input, dcs_answered};

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

/// Whether this cycle runs a failsafe round, asking every member of the last `/failsafe`
/// topology to accept this primary: only a primary cut off from the DCS in failsafe mode, not
/// paused (paused, it keeps running without asking anyone).
pub fn failsafe_round_due(input: &Input) -> bool {
    !dcs_answered(input)
        && input.config.failsafe_mode
        && !input.config.paused
        && input.pg.is_primary()
}

/// What the REST API's health checks say after a cycle without the DCS.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Health {
    /// Whether `GET /primary` may answer 200: the lock cannot be proven, so only a primary that
    /// every member accepted this round (failsafe mode) still counts as holding it.
    pub holds_lock: bool,
    /// Failsafe mode keeps this primary up, or keeps this member following a primary that
    /// called it.
    pub failsafe_active: bool,
}

/// The health checks' view of a cycle without the DCS.
pub fn health(input: &Input) -> Health {
    let accepted = input.failsafe.members_accept && input.config.failsafe_mode;
    Health {
        holds_lock: accepted && input.pg.is_primary(),
        failsafe_active: accepted || input.failsafe.leader.is_some(),
    }
}
