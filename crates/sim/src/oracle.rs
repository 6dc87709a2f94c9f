//! The oracle: what must hold in every schedule, judged from the world alone (its own model of
//! the rules, never by calling `decide()`).
//!
//! - **One writer**: at no step do two servers accept writes. The model: a server accepts
//!   writes while it runs out of recovery; its fence stops it at the moment its agent last
//!   armed (inside the lease); the DCS lease expires `ttl` after the last renewal.
//! - **Promotions by the rules**: no member is promoted whose WAL end was more than
//!   `maximum_lag_on_failover` behind the `/status` position last published, nor one whose WAL
//!   left the line of history the previous promotion started (diverged: it holds WAL past the
//!   point where that line forked off its branch).
//! - **Bounded loss** (asynchronous replication): a write acknowledged on a branch of history
//!   that the final primary's lineage left at `fork` is lost only if it lies within
//!   `maximum_lag_on_failover` plus the WAL that branch's primary wrote beyond its last
//!   published `/status` (the most seen on that branch) past the fork.
//! - **Convergence**: once the faults stop, one primary, every other member streaming from it.

use crate::agents::MAXIMUM_LAG;
use crate::world::World;
use std::collections::BTreeMap;

/// What the oracle keeps between steps.
#[derive(Debug, Default)]
pub struct Oracle {
    pub violations: Vec<String>,
    /// Per branch: the most WAL its primary had beyond the published `/status`.
    unpublished: BTreeMap<usize, u64>,
    promotions_checked: usize,
}

impl Oracle {
    /// The checks of one step.
    pub fn step(&mut self, w: &World) {
        let writers: Vec<usize> = (0..w.servers.len())
            .filter(|i| w.servers[*i].writable())
            .collect();
        if writers.len() > 1 {
            self.violations.push(format!(
                "at {} ms: members {writers:?} accept writes at the same time",
                w.now_ms
            ));
        }
        for i in writers {
            let s = &w.servers[i];
            let ahead = s.flush.saturating_sub(w.status_optime);
            let seen = self.unpublished.entry(s.branch).or_default();
            *seen = (*seen).max(ahead);
        }
        for (n, p) in w
            .promotions
            .iter()
            .enumerate()
            .skip(self.promotions_checked)
        {
            // The line of history the previous promotion started: each branch with where the
            // line left it.
            let line = n
                .checked_sub(1)
                .map(|prev| branch_lineage(w, w.promotions[prev].branch, u64::MAX));
            if let Some(line) = line {
                match line.get(&p.from_branch) {
                    Some(end) if p.flush <= *end => {}
                    _ => self.violations.push(format!(
                        "at {} ms: node{} promoted with WAL off the line of the previous promotion (branch {} at {}, the line {line:?})",
                        p.at_ms,
                        p.node + 1,
                        p.from_branch,
                        p.flush
                    )),
                }
            }
            if p.status_optime > 0 && p.flush + MAXIMUM_LAG < p.status_optime {
                self.violations.push(format!(
                    "at {} ms: node{} promoted at {} while /status said {} (more than {MAXIMUM_LAG} behind)",
                    p.at_ms,
                    p.node + 1,
                    p.flush,
                    p.status_optime
                ));
            }
        }
        self.promotions_checked = w.promotions.len();
    }

    /// The end checks: no healthy standby rewound, convergence and lost writes.
    pub fn finish(&mut self, w: &World) {
        self.violations.extend(w.needless_rewinds.iter().cloned());
        let primaries: Vec<usize> = (0..w.servers.len())
            .filter(|i| w.servers[*i].writable())
            .collect();
        let [primary] = primaries[..] else {
            self.violations.push(format!(
                "did not converge: primaries {primaries:?} after the faults stopped"
            ));
            return;
        };
        for (i, s) in w.servers.iter().enumerate() {
            if i != primary && s.streaming_from != Some(primary) {
                self.violations.push(format!(
                    "did not converge: node{} is not streaming from node{} (running {}, recovery {}, from {:?})",
                    i + 1,
                    primary + 1,
                    s.running,
                    s.in_recovery,
                    s.streaming_from.map(|f| f + 1)
                ));
            }
        }
        let lineage = lineage(w, primary);
        for ack in &w.acks {
            let Some(fork) = left_at(w, &lineage, ack.branch) else {
                continue;
            };
            if ack.lsn <= fork {
                continue;
            }
            let allowed = MAXIMUM_LAG + self.unpublished.get(&ack.branch).copied().unwrap_or(0);
            if ack.lsn - fork > allowed {
                self.violations.push(format!(
                    "write acknowledged by node{} at {} ms (lsn {}) lost: {} bytes past the fork at {fork}, more than {allowed}",
                    ack.node + 1,
                    ack.at_ms,
                    ack.lsn,
                    ack.lsn - fork
                ));
                break;
            }
        }
    }
}

/// The branches of the final primary's history, each with where it ends in that history.
fn lineage(w: &World, primary: usize) -> BTreeMap<usize, u64> {
    branch_lineage(w, w.servers[primary].branch, w.servers[primary].flush)
}

/// `branch` and its ancestors, each with where the line ends in it (`branch` itself at `end`).
fn branch_lineage(w: &World, branch: usize, end: u64) -> BTreeMap<usize, u64> {
    let mut ends = BTreeMap::new();
    let mut branch = Some(branch);
    let mut end = end;
    while let Some(b) = branch {
        ends.insert(b, end);
        end = w.branches[b].fork;
        branch = w.branches[b].parent;
    }
    ends
}

/// Where the lineage stops holding `branch`'s WAL: its end in the lineage if it is part of it
/// (`None` when everything up to the final position is kept), else the fork where its ancestry
/// left the lineage.
fn left_at(w: &World, lineage: &BTreeMap<usize, u64>, branch: usize) -> Option<u64> {
    if let Some(end) = lineage.get(&branch) {
        return Some(*end);
    }
    let mut child = branch;
    while let Some(parent) = w.branches[child].parent {
        if lineage.contains_key(&parent) {
            return Some(w.branches[child].fork.min(lineage[&parent]));
        }
        child = parent;
    }
    Some(0)
}
