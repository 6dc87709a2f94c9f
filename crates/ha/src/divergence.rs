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
    let covered = numbers_reach(leader_history, leader_timeline);
    judge_with(local, leader_timeline, leader_history, covered)
}

/// Whether `history` names the timeline before `timeline` (or a later one).
fn numbers_reach(history: &[(u64, u64)], timeline: u64) -> bool {
    history
        .iter()
        .map(|(t, _)| *t)
        .max()
        .is_some_and(|t| t + 1 >= timeline)
}

/// Whether `/history` already records the promotion that made `leader`'s `timeline`: its newest
/// entry is that leader's (a promotion may skip the numbers it claimed,
/// [`timelines_to_claim`]), or it names the timeline before.
pub fn history_reaches(cluster: &Cluster, leader: &str, timeline: u64) -> bool {
    let written_by_leader = cluster
        .history
        .as_ref()
        .and_then(|h| h.value.0.last())
        .is_some_and(|e| e.new_leader.as_deref() == Some(leader) && e.timeline < timeline);
    written_by_leader || numbers_reach(&cluster_history(cluster), timeline)
}

/// [`judge`], told whether `leader_history` reaches the leader's timeline (`covered`: it is the
/// history the leader wrote after its promotion, which may skip timeline numbers).
fn judge_with(
    local: &LocalWal,
    leader_timeline: u64,
    leader_history: &[(u64, u64)],
    covered: bool,
) -> Verdict {
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
    let covered = history_reaches(cluster, leader, timeline);
    judge_with(local, timeline, &cluster_history(cluster), covered)
}

/// The timeline numbers a replica on `local_timeline` claims in `pg_wal` before it promotes:
/// PostgreSQL names the new timeline after the newest history file it finds, so a member that
/// missed the last promotion (cut off while it happened) would make the same number again, from
/// the same point, and the two lines of WAL could not be told apart by any history (nor by
/// pg_rewind). Every number the cluster is known to have had (`/history`, the members'
/// timelines) is claimed.
pub fn timelines_to_claim(local_timeline: u64, cluster: &Cluster) -> Vec<u64> {
    let from_history = cluster
        .history
        .as_ref()
        .and_then(|h| h.value.0.iter().map(|e| e.timeline + 1).max());
    let from_members = cluster.members.iter().filter_map(|m| m.data.timeline).max();
    let newest = from_history.max(from_members).unwrap_or(0);
    (local_timeline + 1..=newest).collect()
}

/// Whether the local WAL left the cluster's line of history: the cluster moved on from the local
/// timeline at a point the local WAL went past, or its history ended a timeline elsewhere than
/// the local one did. Such a node holds writes no leader has, and lacks the ones the cluster
/// made since: it does not lead. A timeline newer than `/history` knows is not held against it
/// (`/history` lags a promotion, and its leader may have died before writing it); an older one
/// that is not on the line is (a timeline number the cluster's line skipped).
pub fn off_cluster_history(local: Option<&LocalWal>, cluster: &Cluster) -> Option<Verdict> {
    let local = local?;
    let history = cluster_history(cluster);
    let newest = cluster.history.as_ref().and_then(|h| h.value.0.last())?;
    // The member that wrote the newest entry promoted onto the timeline its member key shows (a
    // promotion may skip numbers it claimed); else onto the next number.
    let timeline = newest
        .new_leader
        .as_deref()
        .and_then(|l| cluster.member(l))
        .and_then(|m| m.data.timeline)
        .filter(|t| *t > newest.timeline)
        .unwrap_or(newest.timeline + 1);
    Some(judge_with(local, timeline, &history, true)).filter(|v| match v {
        Verdict::Past { .. } | Verdict::Forked { .. } => true,
        Verdict::NotInHistory { timeline: t, .. } => *t < timeline,
        Verdict::Unknown | Verdict::Joins => false,
    })
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

    fn cluster_with(entries: &[(u64, u64, Option<&str>)]) -> Cluster {
        use ferroni_model::{History, HistoryEntry, Version, Versioned};
        Cluster {
            history: Some(Versioned {
                value: History(
                    entries
                        .iter()
                        .map(|(timeline, lsn, leader)| HistoryEntry {
                            timeline: *timeline,
                            lsn: *lsn,
                            reason: "no recovery target specified".into(),
                            timestamp: None,
                            new_leader: leader.map(str::to_string),
                        })
                        .collect(),
                ),
                version: Version(1),
            }),
            ..Cluster::default()
        }
    }

    /// A member key saying `name` runs on `timeline`.
    fn member_on(members: &mut Vec<ferroni_model::MemberKey>, name: &str, timeline: u64) {
        members.push(ferroni_model::MemberKey {
            name: name.into(),
            data: ferroni_model::Member {
                timeline: Some(timeline),
                ..ferroni_model::Member::default()
            },
            version: ferroni_model::Version(1),
            lease: None,
        });
    }

    #[test]
    fn a_member_that_missed_promotions_claims_every_timeline_the_cluster_had() {
        let mut cluster = cluster_with(&[(1, 0x500_0000, None), (2, 0x600_0000, Some("node3"))]);
        assert_eq!(timelines_to_claim(1, &cluster), vec![2, 3]);
        assert_eq!(timelines_to_claim(3, &cluster), Vec::<u64>::new());
        member_on(&mut cluster.members, "node3", 5);
        assert_eq!(timelines_to_claim(3, &cluster), vec![4, 5]);
        assert_eq!(
            timelines_to_claim(1, &Cluster::default()),
            Vec::<u64>::new()
        );
    }

    #[test]
    fn history_written_by_the_leader_covers_a_timeline_number_it_skipped() {
        let mut cluster = cluster_with(&[(1, 100, Some("node2"))]);
        member_on(&mut cluster.members, "node2", 3);
        // node2 promoted from timeline 1 at 100 onto timeline 3 (2 was claimed).
        assert_eq!(
            against_leader(Some(&replica(1, 100, &[])), &cluster, "node2"),
            Verdict::Joins
        );
        assert!(against_leader(Some(&replica(1, 150, &[])), &cluster, "node2").diverged());
        // Written by another member: it may lag the leader's promotion.
        let mut lagging = cluster.clone();
        if let Some(h) = &mut lagging.history {
            h.value.0[0].new_leader = Some("node1".into());
        }
        assert_eq!(
            against_leader(Some(&replica(1, 150, &[])), &lagging, "node2"),
            Verdict::Unknown
        );
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
        // node1 promoted from timeline 1 onto 3 (it claimed 2, made elsewhere): a replica on
        // that other timeline 2 is off the line.
        let mut skipped = cluster_with(&[(1, 100, Some("node1"))]);
        member_on(&mut skipped.members, "node1", 3);
        let other_two = replica(2, 120, &[(1, 100)]);
        assert!(matches!(
            off_cluster_history(Some(&other_two), &skipped),
            Some(Verdict::NotInHistory { timeline: 2, .. })
        ));
        assert_eq!(
            off_cluster_history(Some(&replica(3, 120, &[(1, 100)])), &skipped),
            None
        );
    }
}
