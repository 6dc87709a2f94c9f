//! Whether this node's WAL can continue the leader's timeline, judged as Patroni's
//! `rewind.py` does from the leader's timeline history and the local end of WAL (the replayed
//! position of a replica, the shutdown checkpoint of a former primary), plus one check Patroni
//! lacks: the local history file of a timeline must agree with the leader's history, so a
//! timeline number made twice (two members promoted on either side of a partition) is caught.

use ferroni_model::{Cluster, format_lsn};

/// Where the local WAL ends, and the history that led there.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct LocalWal {
    pub timeline: u64,
    /// A replica (running, or stopped in recovery): the replayed position (stopped: the
    /// minimum recovery end). A former primary stopped cleanly: its shutdown checkpoint.
    pub lsn: u64,
    pub in_recovery: bool,
    /// The local history file of `timeline`: each earlier timeline and where it ended.
    pub history: Vec<(u64, u64)>,
}

/// What the comparison found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// The leader's history is not known far enough yet (`/history` lags a promotion).
    Unknown,
    /// The local WAL is a prefix of the leader's: PostgreSQL can stream from it.
    Joins,
    /// The local WAL on `timeline` runs past `fork`, where the leader's timeline left it.
    Past { timeline: u64, fork: u64 },
    /// The local timeline is not on the leader's line of history (after the leader's, or one
    /// it went around).
    NotInHistory { timeline: u64, leader: u64 },
    /// The local history of `timeline` has it end elsewhere than the leader's history does.
    Forked {
        timeline: u64,
        local: u64,
        leader: u64,
    },
}

impl Verdict {
    /// Whether the node must be rewound before it can stream.
    pub fn diverged(&self) -> bool {
        !matches!(self, Verdict::Unknown | Verdict::Joins)
    }

    /// Patroni-style words for a log line, `lsn` being the local end of WAL.
    pub fn describe(&self, lsn: u64) -> String {
        match self {
            Verdict::Past { timeline, fork } => format!(
                "my WAL on timeline {timeline} ends at {}, past {} where the leader's timeline forked off",
                format_lsn(lsn),
                format_lsn(*fork)
            ),
            Verdict::NotInHistory { timeline, leader } => {
                format!(
                    "my timeline {timeline} is not in the history of the leader's timeline {leader}"
                )
            }
            Verdict::Forked {
                timeline,
                local,
                leader,
            } => format!(
                "my history has timeline {timeline} end at {}, the leader's at {}",
                format_lsn(*local),
                format_lsn(*leader)
            ),
            Verdict::Unknown | Verdict::Joins => String::new(),
        }
    }
}

/// Judges `local` against a leader on `leader_timeline` whose timelines ended as `leader_history`
/// says (`/history`: `(timeline, lsn)` per earlier timeline).
pub fn judge(local: &LocalWal, leader_timeline: u64, leader_history: &[(u64, u64)]) -> Verdict {
    if local.timeline > leader_timeline {
        return Verdict::NotInHistory {
            timeline: local.timeline,
            leader: leader_timeline,
        };
    }
    let end_of = |t: u64| {
        leader_history
            .iter()
            .find(|(tl, _)| *tl == t)
            .map(|(_, lsn)| *lsn)
    };
    // `/history` may be truncated at its start (`max_timelines_history`): only a timeline it
    // names can be compared.
    for &(timeline, local_end) in &local.history {
        if let Some(leader_end) = end_of(timeline)
            && leader_end != local_end
        {
            return Verdict::Forked {
                timeline,
                local: local_end,
                leader: leader_end,
            };
        }
    }
    if local.timeline == leader_timeline {
        return Verdict::Joins;
    }
    // The leader's history must reach its own timeline before the local one can be placed in it.
    let covered = leader_history
        .iter()
        .map(|(t, _)| *t)
        .max()
        .is_some_and(|t| t + 1 >= leader_timeline);
    if !covered {
        return Verdict::Unknown;
    }
    match end_of(local.timeline) {
        // A replica that replayed up to the fork switches there; a former primary's shutdown
        // checkpoint record starts before the fork only when the fork is that record's end.
        Some(fork) if local.in_recovery && local.lsn <= fork => Verdict::Joins,
        Some(fork) if !local.in_recovery && local.lsn < fork => Verdict::Joins,
        Some(fork) => Verdict::Past {
            timeline: local.timeline,
            fork,
        },
        // Older than the history kept, or a timeline the leader's line never went through.
        None if leader_history.iter().any(|(t, _)| *t < local.timeline) => Verdict::NotInHistory {
            timeline: local.timeline,
            leader: leader_timeline,
        },
        None => Verdict::Unknown,
    }
}

/// [`judge`] against `leader`'s member key and the cluster's `/history`; `Unknown` when either
/// is missing.
pub fn against_leader(local: Option<&LocalWal>, cluster: &Cluster, leader: &str) -> Verdict {
    let (Some(local), Some(timeline)) =
        (local, cluster.member(leader).and_then(|m| m.data.timeline))
    else {
        return Verdict::Unknown;
    };
    judge(local, timeline, &cluster_history(cluster))
}

/// Whether the local WAL left the cluster's line of history: the cluster moved on from the local
/// timeline at a point the local WAL went past, or its history ended a timeline elsewhere than
/// the local one did. Such a node holds writes no leader has, and lacks the ones the cluster
/// made since: it does not lead. A timeline newer than `/history` knows is not held against it
/// (`/history` lags a promotion, and its leader may have died before writing it).
pub fn off_cluster_history(local: Option<&LocalWal>, cluster: &Cluster) -> Option<Verdict> {
    let local = local?;
    let history = cluster_history(cluster);
    let timeline = history.iter().map(|(t, _)| *t).max()? + 1;
    Some(judge(local, timeline, &history))
        .filter(|v| matches!(v, Verdict::Past { .. } | Verdict::Forked { .. }))
}

fn cluster_history(cluster: &Cluster) -> Vec<(u64, u64)> {
    cluster
        .history
        .as_ref()
        .map(|h| h.value.0.iter().map(|e| (e.timeline, e.lsn)).collect())
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn replica(timeline: u64, lsn: u64, history: &[(u64, u64)]) -> LocalWal {
        LocalWal {
            timeline,
            lsn,
            in_recovery: true,
            history: history.to_vec(),
        }
    }

    fn former_primary(timeline: u64, checkpoint: u64) -> LocalWal {
        LocalWal {
            timeline,
            lsn: checkpoint,
            in_recovery: false,
            history: Vec::new(),
        }
    }

    #[test]
    fn a_replica_that_replayed_up_to_the_fork_joins_and_one_past_it_does_not() {
        let leader = [(1, 0x500_0000)];
        assert_eq!(
            judge(&replica(1, 0x500_0000, &[]), 2, &leader),
            Verdict::Joins
        );
        assert_eq!(
            judge(&replica(1, 0x500_0608, &[]), 2, &leader),
            Verdict::Past {
                timeline: 1,
                fork: 0x500_0000
            }
        );
    }

    #[test]
    fn a_former_primarys_shutdown_checkpoint_must_start_before_the_fork() {
        let leader = [(1, 0x500_0098)];
        assert_eq!(
            judge(&former_primary(1, 0x500_0028), 2, &leader),
            Verdict::Joins
        );
        assert!(judge(&former_primary(1, 0x500_0098), 2, &leader).diverged());
    }

    #[test]
    fn the_leaders_timeline_joins_unless_its_history_differs() {
        assert_eq!(
            judge(
                &replica(2, 0x600_0000, &[(1, 0x500_0000)]),
                2,
                &[(1, 0x500_0000)]
            ),
            Verdict::Joins
        );
        assert_eq!(
            judge(
                &replica(2, 0x600_0000, &[(1, 0x4FF_0000)]),
                2,
                &[(1, 0x500_0000)]
            ),
            Verdict::Forked {
                timeline: 1,
                local: 0x4FF_0000,
                leader: 0x500_0000
            }
        );
    }

    #[test]
    fn a_history_that_does_not_reach_the_leaders_timeline_decides_nothing() {
        // The leader is on timeline 3; `/history` still ends with timeline 1.
        assert_eq!(
            judge(&replica(2, 1, &[]), 3, &[(1, 0x500_0000)]),
            Verdict::Unknown
        );
        assert_eq!(judge(&replica(1, 1, &[]), 2, &[]), Verdict::Unknown);
    }

    #[test]
    fn a_timeline_after_the_leaders_or_off_its_line_is_diverged() {
        assert_eq!(
            judge(&replica(3, 1, &[]), 2, &[(1, 5)]),
            Verdict::NotInHistory {
                timeline: 3,
                leader: 2
            }
        );
        // Timeline 2 is not in a history that went from 1 to 3.
        assert!(judge(&replica(2, 1, &[]), 4, &[(1, 5), (3, 9)]).diverged());
    }

    #[test]
    fn off_the_clusters_history_means_past_a_fork_or_a_different_one() {
        use ferroni_model::{History, HistoryEntry, Version, Versioned};
        let entry = |timeline, lsn| HistoryEntry {
            timeline,
            lsn,
            reason: String::new(),
            timestamp: None,
            new_leader: None,
        };
        let cluster = Cluster {
            history: Some(Versioned {
                value: History(vec![entry(1, 100)]),
                version: Version(1),
            }),
            ..Cluster::default()
        };
        let past = replica(1, 150, &[]);
        assert!(off_cluster_history(Some(&past), &cluster).is_some());
        assert_eq!(
            off_cluster_history(Some(&replica(1, 100, &[])), &cluster),
            None
        );
        // Newer than `/history` knows: its leader may have died before writing it.
        assert_eq!(
            off_cluster_history(Some(&replica(3, 1, &[])), &cluster),
            None
        );
        assert!(off_cluster_history(Some(&replica(2, 1, &[(1, 90)])), &cluster).is_some());
        assert_eq!(off_cluster_history(Some(&past), &Cluster::default()), None);
    }
}
