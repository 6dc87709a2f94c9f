//! What a leader that keeps leading keeps current for the others: `/failsafe` and the slots.

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
    ]
}
