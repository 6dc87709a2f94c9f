//! The nemesis: the faults of one seed, each with its member(s), start and end (milliseconds
//! after the cluster bootstrapped).

use crate::agents::Agents;
use crate::rng::Rng;
use crate::world::{Shared, lock};
use std::fmt;

/// How long the faults go on, at most.
const WINDOW_MS: u64 = 50_000;

/// What can go wrong.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FaultKind {
    /// PostgreSQL dies (kill -9 of the postmaster); the agent lives.
    PgCrash,
    /// The agent dies (kill -9) and a supervisor starts it again at the end.
    AgentCrash,
    /// The agent stops running (SIGSTOP) until the end.
    AgentFreeze,
    /// The member cannot reach the DCS.
    DcsCut,
    /// Two members cannot reach each other (REST and replication).
    Partition,
    /// The member's DCS requests and answers are late (`delay_ms` each way in all), some past
    /// the client's timeout: the request may have been applied though the client saw an error.
    DcsSlow,
}

impl FaultKind {
    pub const ALL: [FaultKind; 6] = [
        FaultKind::PgCrash,
        FaultKind::AgentCrash,
        FaultKind::AgentFreeze,
        FaultKind::DcsCut,
        FaultKind::Partition,
        FaultKind::DcsSlow,
    ];

    pub fn name(self) -> &'static str {
        match self {
            FaultKind::PgCrash => "postgres crash",
            FaultKind::AgentCrash => "agent crash",
            FaultKind::AgentFreeze => "agent freeze",
            FaultKind::DcsCut => "DCS cut",
            FaultKind::Partition => "partition",
            FaultKind::DcsSlow => "slow DCS",
        }
    }
}

/// One fault.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Fault {
    pub kind: FaultKind,
    pub node: usize,
    /// The other member of a partition.
    pub peer: usize,
    /// How late a slow DCS answers.
    pub delay_ms: u64,
    pub at_ms: u64,
    pub until_ms: u64,
}

impl fmt::Display for Fault {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} of node{}", self.kind.name(), self.node + 1)?;
        if self.kind == FaultKind::Partition {
            write!(f, " from node{}", self.peer + 1)?;
        }
        if self.kind == FaultKind::DcsSlow {
            write!(f, " ({} ms late)", self.delay_ms)?;
        }
        write!(f, " for {} ms", self.until_ms - self.at_ms)
    }
}

/// The faults of `seed`, in the order they start. `only`: every fault of that kind.
pub fn faults_of(seed: u64, members: usize, only: Option<FaultKind>) -> Vec<Fault> {
    let mut rng = Rng::new(seed);
    let count = rng.between(1, 6);
    let mut faults: Vec<Fault> = (0..count)
        .map(|_| {
            let kind =
                only.unwrap_or(FaultKind::ALL[rng.below(FaultKind::ALL.len() as u64) as usize]);
            let node = rng.below(members as u64) as usize;
            let peer = (node + 1 + rng.below(members as u64 - 1) as usize) % members;
            let at_ms = rng.below(WINDOW_MS);
            let until_ms = at_ms + rng.between(500, 12_000);
            let delay_ms = rng.between(50, 1_500);
            Fault {
                kind,
                node,
                peer,
                delay_ms,
                at_ms,
                until_ms,
            }
        })
        .collect();
    faults.sort_by_key(|f| f.at_ms);
    faults
}

/// The faults of `seed`, of every kind.
pub fn faults(seed: u64, members: usize) -> Vec<Fault> {
    faults_of(seed, members, None)
}

impl Fault {
    pub fn begin(&self, agents: &mut Agents, world: &Shared) {
        match self.kind {
            FaultKind::PgCrash => lock(world).stop(self.node, false),
            FaultKind::AgentCrash => agents.crash(self.node),
            FaultKind::AgentFreeze => agents.freeze(self.node),
            FaultKind::DcsCut => lock(world).dcs_cut[self.node] = true,
            FaultKind::Partition => lock(world).cut[self.node][self.peer] = true,
            FaultKind::DcsSlow => lock(world).dcs_delay_ms[self.node] = self.delay_ms,
        }
    }

    pub fn end(&self, agents: &mut Agents, world: &Shared) {
        match self.kind {
            FaultKind::PgCrash => {}
            FaultKind::AgentCrash => {
                if !agents.running(self.node) {
                    agents.start(self.node);
                }
            }
            FaultKind::AgentFreeze => agents.thaw(self.node),
            FaultKind::DcsCut => lock(world).dcs_cut[self.node] = false,
            FaultKind::Partition => lock(world).cut[self.node][self.peer] = false,
            FaultKind::DcsSlow => lock(world).dcs_delay_ms[self.node] = 0,
        }
    }
}
