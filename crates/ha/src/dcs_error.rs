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
        return Decision::act(
            &input.memo,
            vec![Action::Demote(DemoteMode::Offline)],
            "demoted self because DCS is not accessible and I was a leader",
        );
    }
    Decision::log(&input.memo, "DCS is not accessible")
}
