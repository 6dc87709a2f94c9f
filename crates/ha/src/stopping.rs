//! How a node stops: each demotion mode's steps, and the shutdown on SIGTERM. `decide()` picks the
//! mode; these say what the mode means, so the runtime carries steps out without choosing any.

use crate::DemoteMode;

/// How PostgreSQL is stopped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stop {
    /// `fast`: a shutdown checkpoint, which the streaming replicas receive before the server
    /// exits.
    Fast,
    /// `immediate`: no checkpoint; crash recovery at the next start.
    Immediate,
}

/// The steps of one demotion.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DemotePlan {
    pub stop: Stop,
    /// Delete the leader key (with the last WAL position in `/status`) once stopped, so a
    /// replica may take over without waiting out the TTL.
    pub release_lock: bool,
    /// Start again at once as a replica (of the new leader if it already took the lock), also
    /// when paused; otherwise the next cycle starts it in whatever role it then finds.
    pub restart_as_replica: bool,
}

impl DemoteMode {
    /// What the mode does (Patroni's demotion table, §e.5).
    pub fn plan(self) -> DemotePlan {
        match self {
            // The DCS is gone: the key cannot be released, and a checkpoint costs nothing the
            // cluster is waiting for.
            DemoteMode::Offline => DemotePlan {
                stop: Stop::Fast,
                release_lock: false,
                restart_as_replica: false,
            },
            // The candidate waits for the shutdown checkpoint; coming back at once as its
            // replica means this node needs no rewind.
            DemoteMode::Graceful => DemotePlan {
                stop: Stop::Fast,
                release_lock: true,
                restart_as_replica: true,
            },
            // An unfit primary: stop taking writes at once, then let another member lead.
            DemoteMode::Immediate => DemotePlan {
                stop: Stop::Immediate,
                release_lock: true,
                restart_as_replica: false,
            },
            // The lock is someone else's (or lost): stop at once, release nothing.
            DemoteMode::ImmediateNoLock => DemotePlan {
                stop: Stop::Immediate,
                release_lock: false,
                restart_as_replica: false,
            },
        }
    }
}

/// What a shutdown (SIGTERM) does.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ShutdownPlan {
    /// How to stop PostgreSQL; `None`: leave it running.
    pub stop: Option<Stop>,
    /// After a stop that succeeded, publish it in the member key and then release the leader
    /// key (if ours) with the shutdown checkpoint in `/status`. A stop that failed keeps the key:
    /// the server may still take writes.
    pub release_lock: bool,
    /// Logged when nothing is stopped.
    pub note: Option<&'static str>,
}

/// The shutdown: paused, PostgreSQL and the lock are the operator's; otherwise a fast stop
/// (the replicas receive everything up to its checkpoint, so a successor needs no rewind) and
/// the lock released for an immediate successor.
pub fn shutdown(paused: bool) -> ShutdownPlan {
    if paused {
        ShutdownPlan {
            stop: None,
            release_lock: false,
            note: Some("Leader key is not deleted and Postgresql is not stopped due paused state"),
        }
    } else {
        ShutdownPlan {
            stop: Some(Stop::Fast),
            release_lock: true,
            note: None,
        }
    }
}
