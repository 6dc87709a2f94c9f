//! What a leader that keeps leading keeps current for the others (`/failsafe` and the slots),
//! and what every member keeps current for itself (its server's parameters).

use crate::builders::*;
use std::collections::BTreeMap;

fn topology(names: &[&str]) -> BTreeMap<String, String> {
    names
        .iter()
        .map(|n| (n.to_string(), format!("http://127.0.0.1:8008/{n}")))
        .collect()
}

fn published(c: &mut Cluster, names: &[&str]) {
    c.failsafe = Some(
        topology(names)
            .into_iter()
            .map(|(k, v)| (k, json!(v)))
            .collect(),
    );
}

pub(crate) fn rows() -> Vec<Row> {
    let normal = "no action. I am (node1), the leader with the lock";
    vec![
        row(
            "upkeep: failsafe mode, no /failsafe yet: the leader writes every member's api_url",
            leader().config(|c| c.failsafe_mode = true),
            vec![WriteFailsafe {
                topology: topology(&["node1", "node2", "node3"]),
            }],
            normal,
        ),
        row(
            "upkeep: /failsafe already current: nothing written",
            leader()
                .config(|c| c.failsafe_mode = true)
                .cluster(|c| published(c, &["node1", "node2", "node3"])),
            vec![],
            normal,
        ),
        row(
            "upkeep: a member gone from the cluster leaves /failsafe",
            leader()
                .config(|c| c.failsafe_mode = true)
                .cluster(|c| published(c, &["node1", "node2", "node3"]))
                .cluster(|c| c.members.retain(|m| m.name != "node3")),
            vec![
                WriteFailsafe {
                    topology: topology(&["node1", "node2"]),
                },
                SyncSlots {
                    wanted: vec!["node2".into()],
                },
            ],
            normal,
        ),
        row(
            "upkeep: without failsafe mode no /failsafe is written",
            leader(),
            vec![],
            normal,
        ),
        row(
            "upkeep: a member without a slot gets one",
            leader().cluster(|c| c.members.push(member("node4", "replica", "running"))),
            vec![SyncSlots {
                wanted: vec!["node2".into(), "node3".into(), "node4".into()],
            }],
            normal,
        ),
        row(
            "upkeep: use_slots off keeps the slots as they are",
            leader()
                .config(|c| c.use_slots = false)
                .cluster(|c| c.members.push(member("node4", "replica", "running"))),
            vec![],
            normal,
        ),
        row(
            "upkeep: a leader that steps down writes neither",
            leader()
                .config(|c| {
                    c.failsafe_mode = true;
                    c.paused = false;
                })
                .watchdog_failed(),
            vec![Demote(DemoteMode::Immediate)],
            "Demoting self because watchdog could not be activated",
        ),
        row(
            "upkeep: a replica writes neither",
            replica()
                .config(|c| c.failsafe_mode = true)
                .cluster(|c| c.members.push(member("node4", "replica", "running"))),
            vec![Follow {
                leader: "node2".into(),
            }],
            "no action. I am (node1), a secondary, and following a leader (node2)",
        ),
        row(
            "parameters: a leader reloads a changed /config first",
            leader().parameters_changed(),
            vec![ReloadParameters],
            normal,
        ),
        row(
            "parameters: so does a replica, before it follows",
            replica().parameters_changed(),
            vec![
                ReloadParameters,
                Follow {
                    leader: "node2".into(),
                },
            ],
            "no action. I am (node1), a secondary, and following a leader (node2)",
        ),
        row(
            "parameters: paused, the change is still reloaded",
            leader().parameters_changed().paused(),
            vec![ReloadParameters],
            "PAUSE: no action. I am (node1), the leader with the lock",
        ),
        row(
            "parameters: while a long task runs the change waits",
            leader()
                .parameters_changed()
                .task(TaskKind::StartPrimary, TaskOutcome::Running),
            vec![],
            "updated leader lock during starting primary after failure",
        ),
        row(
            "parameters: the cycle after the task applies it",
            leader()
                .parameters_changed()
                .task(TaskKind::Restart, TaskOutcome::Succeeded),
            vec![ReloadParameters],
            normal,
        ),
        row(
            "parameters: a stopped server gets them when it starts",
            replica().parameters_changed().stopped(false),
            start_following_node2(false),
            "starting as a secondary",
        ),
    ]
}
