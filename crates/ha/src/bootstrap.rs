//! An empty data directory (§e.3): race for `initialize` and run initdb, or clone from a member.

use crate::{Action, Decision, Input, holds_lock};
use ferroni_model::Cluster;

/// Decides for a node whose data directory is empty.
pub fn decide(input: &Input, cluster: &Cluster) -> Decision {
    let memo = &input.memo;
    if holds_lock(input, cluster) {
        return Decision::act(
            memo,
            vec![Action::ReleaseLock],
            "released leader key voluntarily as data dir empty and currently leader",
        );
    }
    match (cluster.initialize.as_deref(), cluster.leader_name()) {
        (None, None) if input.me.watchdog_failed => Decision::log(
            memo,
            "not bootstrapping a new cluster because Watchdog device is not usable",
        ),
        (None, None) if !input.me.nofailover && input.config.can_bootstrap => Decision::act(
            memo,
            vec![
                Action::Initialize {
                    create_new: true,
                    sysid: String::new(),
                },
                Action::Bootstrap,
            ],
            "trying to bootstrap a new cluster",
        )
        .or_else("failed to acquire initialize lock"),
        (_, Some(leader)) => {
            // A running member tagged `clonefrom` spares the leader the base backup.
            let donor = cluster.members.iter().find(|m| {
                m.name != input.me.name
                    && m.name != leader
                    && m.data.tag_true("clonefrom")
                    && m.data.state == "running"
            });
            match donor {
                Some(replica) => Decision::act(
                    memo,
                    vec![Action::Clone {
                        from: replica.name.clone(),
                    }],
                    format!("trying to bootstrap from replica '{}'", replica.name),
                ),
                None => Decision::act(
                    memo,
                    vec![Action::Clone {
                        from: leader.to_string(),
                    }],
                    format!("trying to bootstrap from leader '{leader}'"),
                ),
            }
        }
        _ => Decision::log(memo, "waiting for leader to bootstrap"),
    }
}
