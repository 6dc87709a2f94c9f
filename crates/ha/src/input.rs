//! What `decide()` sees: one snapshot gathered by the runtime at the start of a cycle.

use ferroni_model::Cluster;

/// Milliseconds on the runtime's clock. `decide()` never reads a clock: `now` is an input.
pub type Millis = u64;

/// Everything one cycle's decision depends on.
#[derive(Debug, Clone, PartialEq)]
pub struct Input {
    pub now: Millis,
    /// Milliseconds since the Unix epoch, for actions scheduled at a wall-clock time.
    pub wall_clock: i64,
    /// A restart of this node scheduled with `POST /restart`.
    pub scheduled_restart: Option<ScheduledRestart>,
    pub config: HaConfig,
    pub me: Me,
    pub dcs: DcsView,
    /// The result of renewing the leader lock this cycle, done by the runtime before deciding
    /// whenever the cluster view says we hold it.
    pub lock: LockRenewal,
    pub pg: PgView,
    /// The long action in flight or just finished, if any.
    pub task: Option<Task>,
    /// The other members' `/patroni` answers, gathered only when there is no leader.
    pub peers: Vec<PeerReport>,
    /// What failsafe mode knows beyond the DCS.
    pub failsafe: FailsafeView,
    /// The dynamic configuration changed since the running server's configuration files were
    /// last written from it.
    pub parameters_changed: bool,
    pub memo: Memo,
}

/// A scheduled restart, as `decide()` needs it.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ScheduledRestart {
    /// When (ISO 8601).
    pub at: String,
    /// The postmaster's start time when the restart was scheduled: a server restarted since
    /// then had its restart, and the schedule is dropped.
    pub postmaster_start_time: Option<String>,
}

/// The settings the decision needs, from the effective configuration.
#[derive(Debug, Clone, PartialEq)]
pub struct HaConfig {
    pub ttl: Millis,
    pub loop_wait: Millis,
    pub retry_timeout: Millis,
    pub maximum_lag_on_failover: u64,
    pub primary_start_timeout: Millis,
    pub check_timeline: bool,
    /// `postgresql.use_pg_rewind` of the dynamic configuration.
    pub use_pg_rewind: bool,
    pub paused: bool,
    /// Whether the local configuration has a `bootstrap` section (a node without one never
    /// initializes a cluster).
    pub can_bootstrap: bool,
    /// `failsafe_mode`: a primary cut off from the DCS keeps running while every member of the
    /// last `/failsafe` topology accepts it (§e.9).
    pub failsafe_mode: bool,
    /// `postgresql.use_slots`: a primary keeps a physical slot for every other member.
    pub use_slots: bool,
}

impl Default for HaConfig {
    fn default() -> Self {
        HaConfig {
            ttl: 30_000,
            loop_wait: 10_000,
            retry_timeout: 10_000,
            maximum_lag_on_failover: 1_048_576,
            primary_start_timeout: 300_000,
            check_timeline: false,
            use_pg_rewind: false,
            paused: false,
            can_bootstrap: true,
            failsafe_mode: false,
            use_slots: true,
        }
    }
}

/// This member.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Me {
    pub name: String,
    /// `nofailover`, or `failover_priority: 0`.
    pub nofailover: bool,
    pub failover_priority: i64,
    /// `watchdog.mode: required`, and the watchdog cannot be used (its device is missing or not
    /// writable, or activating it failed): this node must not be a primary.
    pub watchdog_failed: bool,
    /// This member's REST API (`restapi.connect_address`), as its member key publishes it.
    pub api_url: String,
}

/// The cluster as read from the DCS this cycle.
// One value per cycle: boxing the cluster would only add indirection.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone, PartialEq)]
pub enum DcsView {
    Reachable(Cluster),
    /// No read succeeded within `retry_timeout`.
    Unreachable,
}

/// How this cycle's lock renewal went.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LockRenewal {
    /// The cluster view does not name us leader; nothing was renewed.
    NotHeld,
    Renewed,
    /// The DCS refused the renewal (another member holds the lock, or the lease is gone), or
    /// it came back too late to prove the lease.
    Failed,
    /// The DCS did not answer the renewal (a timeout, a lost connection): the lock may still be
    /// ours, so the cycle is one without the DCS ([`crate::dcs_error`]), where failsafe mode may
    /// keep the primary, rather than a lost lock.
    Unanswered,
}

/// The local data directory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DataDir {
    Empty,
    /// Initialized, with its system identifier (from `pg_controldata`).
    Initialized {
        sysid: String,
    },
    /// Not empty, but no valid system identifier could be read.
    Invalid,
}

/// The local PostgreSQL server.
#[derive(Debug, Clone, PartialEq)]
pub enum PgState {
    Running(Running),
    /// The postmaster runs but does not accept connections yet.
    Starting {
        since: Millis,
    },
    Stopped {
        /// `pg_controldata` says it was a primary (`in production`, `shut down`, …) rather than
        /// `in archive recovery` / `shut down in recovery`.
        was_primary: bool,
    },
}

/// A running server's observed state.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Running {
    pub primary: bool,
    pub timeline: u64,
    /// Primary: the flush LSN; replica: max(receive, replay).
    pub wal_position: u64,
    /// Primary: the members streaming from it now (`pg_stat_replication`, by application name).
    pub streaming: Vec<String>,
    /// Replica: its WAL receiver streams now (`pg_stat_wal_receiver.status`): its upstream
    /// accepted its timeline and position.
    pub received: bool,
    /// `pg_postmaster_start_time()`, as PostgreSQL prints it.
    pub postmaster_start_time: Option<String>,
    /// The physical replication slots it has.
    pub slots: Vec<String>,
}

/// The local PostgreSQL as the decision sees it.
#[derive(Debug, Clone, PartialEq)]
pub struct PgView {
    pub data: DataDir,
    pub state: PgState,
    /// Where the local WAL ends, for the divergence check: a replica's (running or stopped) or
    /// a cleanly stopped former primary's; `None` for a running primary, or when unknown (a
    /// primary that crashed).
    pub wal: Option<crate::divergence::LocalWal>,
}

impl PgView {
    /// The running server, if any.
    pub fn running(&self) -> Option<&Running> {
        match &self.state {
            PgState::Running(r) => Some(r),
            _ => None,
        }
    }

    /// Whether a primary is running here.
    pub fn is_primary(&self) -> bool {
        self.running().is_some_and(|r| r.primary)
    }
}

/// A long action run by the runtime as a cancellable task.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TaskKind {
    Bootstrap,
    Clone {
        from: String,
    },
    Promote,
    StartPrimary,
    StartReplica,
    Demote,
    /// Restart PostgreSQL in its role (`POST /restart`, or a scheduled restart).
    Restart,
    /// Remove the data directory and clone it again from a member (`POST /reinitialize`).
    Reinitialize,
}

/// How a task stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TaskOutcome {
    Running,
    Succeeded,
    Failed,
    /// A user's script refused it: `pre_promote` exited non-zero, nothing was promoted.
    Vetoed,
}

/// A long action and how it stands.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Task {
    pub kind: TaskKind,
    pub outcome: TaskOutcome,
    pub started: Millis,
}

/// Another member's `/patroni` answer during a leader race.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct PeerReport {
    pub name: String,
    /// Whether it answered within the short timeout.
    pub reachable: bool,
    pub primary: bool,
    pub wal_position: u64,
    pub timeline: u64,
    pub nofailover: bool,
    pub failover_priority: i64,
}

/// Failsafe mode's evidence, gathered by the runtime.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct FailsafeView {
    /// A primary that proved it is alive with `POST /failsafe` less than `ttl` ago.
    pub leader: Option<String>,
    /// This primary, cut off from the DCS, asked every other member of the last `/failsafe`
    /// topology this cycle, and all accepted it.
    pub members_accept: bool,
}

/// What one cycle leaves to the next.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Memo {
    /// When this node, holding the lock, started PostgreSQL as a primary after a crash.
    pub primary_start_began: Option<Millis>,
    /// Since when a requested switchover waits for its candidate to stream from this leader.
    pub switchover_wait_began: Option<Millis>,
    /// This node stopped being a primary without being rewound: its WAL may run past the point
    /// where the next leader's timeline forked off, and it cannot stream until it is rewound.
    pub diverge_check: bool,
    /// When this node gave the lock up because its `pre_promote` script refused the promotion:
    /// it stays out of the leader race for `ttl` from then.
    pub pre_promote_refused_at: Option<Millis>,
    /// Since when this replica's timeline reads newer than its leader's member key says the
    /// leader's is. A leader frozen right after promoting publishes its new timeline late (up to
    /// a TTL, when it loses the lock), so only a timeline newer for longer than that is held
    /// against the replica.
    pub ahead_of_leader_since: Option<Millis>,
}
