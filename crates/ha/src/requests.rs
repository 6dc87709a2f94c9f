//! The verdicts on the REST API's mutating requests: whether a switchover, a restart, a
//! re-clone or a failsafe call may go ahead, with Patroni's status codes and texts. The API and
//! the agent gather the facts (the cluster as read, the task in flight); the rules live here so
//! that they can be tested row by row without a server.

use crate::promotable;
use ferroni_model::{Cluster, MemberKey};
use serde_json::Value;

/// A request answered without acting: the HTTP status and the body Patroni sends.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal {
    pub status: u16,
    pub text: String,
    /// Why, when the reply does not say: Patroni answers a restart whose conditions do not match
    /// without naming the condition, and only its log does.
    pub reason: Option<&'static str>,
}

impl Refusal {
    fn new(status: u16, text: impl Into<String>) -> Refusal {
        Refusal {
            status,
            text: text.into(),
            reason: None,
        }
    }
}

/// A boolean as Patroni's `parse_bool` reads it; anything it does not recognise is false.
pub fn truthy(value: Option<&Value>) -> bool {
    match value {
        Some(Value::Bool(b)) => *b,
        Some(Value::Number(n)) => n.as_i64() == Some(1),
        Some(Value::String(s)) => matches!(
            s.to_ascii_lowercase().as_str(),
            "1" | "yes" | "on" | "true" | "y" | "t"
        ),
        _ => false,
    }
}

/// A PostgreSQL version as Patroni's `postgres_version_to_int`: `X.Y` (10 and later) or `X.Y.Z`
/// (before 10), in `server_version_num`'s scale.
pub fn version_number(text: &str) -> Option<u32> {
    let parts: Vec<u32> = text
        .split('.')
        .map(|p| p.parse().ok())
        .collect::<Option<_>>()?;
    match parts.as_slice() {
        [major, minor] if *major >= 10 => Some(major * 10_000 + minor),
        [major, minor, patch] if *major < 10 => Some(major * 10_000 + minor * 100 + patch),
        _ => None,
    }
}

/// The dynamic configuration's synchronous mode: `None`, `Some(false)` (synchronous), or
/// `Some(true)` (quorum).
fn sync_mode(cluster: &Cluster) -> Option<bool> {
    let mode = cluster.config.as_ref()?.value.get("synchronous_mode")?;
    match mode {
        Value::String(s) if s == "quorum" => Some(true),
        v if truthy(Some(v)) => Some(false),
        _ => None,
    }
}

/// Whether a switchover or failover can find a member to promote (Patroni's
/// `is_failover_possible`), checked before the `failover` key is written; the 412 refusal when
/// not. `action` is `switchover` or `failover`, as the reply names it.
pub fn failover_refusal(
    cluster: &Cluster,
    leader: Option<&str>,
    candidate: Option<&str>,
    action: &str,
) -> Option<Refusal> {
    failover_reason(cluster, leader, candidate, action).map(|text| Refusal::new(412, text))
}

fn failover_reason(
    cluster: &Cluster,
    leader: Option<&str>,
    candidate: Option<&str>,
    action: &str,
) -> Option<String> {
    if let Some(l) = leader
        && cluster.leader_name() != Some(l)
    {
        return Some("leader name does not match".into());
    }
    let members = match candidates(cluster, candidate, action) {
        Ok(members) => members,
        Err(reason) => return Some(reason),
    };
    let possible = members.into_iter().any(promotable);
    (!possible).then(|| format!("{action} is not possible: no good candidates have been found"))
}

/// The members a switchover or failover could go to, before judging their health: the named
/// candidate, else the synchronous standbys in synchronous mode, else every other member with a
/// REST API.
fn candidates<'a>(
    cluster: &'a Cluster,
    candidate: Option<&str>,
    action: &str,
) -> Result<Vec<&'a MemberKey>, String> {
    let sync = cluster.sync.as_ref().map(|s| &s.value);
    let strict_sync = sync_mode(cluster) == Some(false);
    let found: Vec<&MemberKey> = match candidate {
        Some(c) => {
            // A failover (the leader is gone) may go to an asynchronous standby; a switchover
            // must not lose committed transactions.
            if action == "switchover" && strict_sync && !sync.is_some_and(|s| s.matches(c)) {
                return Err("candidate name does not match with sync_standby".into());
            }
            cluster.members.iter().filter(|m| m.name == c).collect()
        }
        None if strict_sync => cluster
            .members
            .iter()
            .filter(|m| sync.is_some_and(|s| s.matches(&m.name)))
            .collect(),
        None => cluster
            .members
            .iter()
            .filter(|m| {
                cluster.leader_name() != Some(m.name.as_str()) && !m.data.api_url.is_empty()
            })
            .collect(),
    };
    if !found.is_empty() {
        return Ok(found);
    }
    Err(match candidate {
        Some(_) => "candidate does not exists".into(),
        None if strict_sync => format!("{action} is not possible: can not find sync_standby"),
        None => format!("{action} is not possible: cluster does not have members except leader"),
    })
}

/// The conditions of a `POST /restart` (each optional; all must hold).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RestartWanted<'a> {
    /// Only if this node runs in this role (`primary`, `standby_leader`, `replica`).
    pub role: Option<&'a str>,
    /// Only if the running server is older than this version (`15.2`).
    pub postgres_version: Option<&'a str>,
    /// Only if a parameter change waits for a restart.
    pub restart_pending: bool,
}

/// What this node is when a restart is asked for.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RestartNode<'a> {
    /// The role its member key shows.
    pub role: &'a str,
    /// The running server's `server_version_num`, when known.
    pub server_version: Option<u32>,
    /// Whether a parameter change waits for a restart.
    pub restart_pending: bool,
    /// The task in flight, as Patroni names it (`reinitialize`), if any.
    pub task: Option<&'a str>,
}

/// Why a restart does not go ahead (Patroni's `restart_matches`, then the task in flight): 503
/// either way, the unmet condition only in [`Refusal::reason`].
pub fn restart_refusal(wanted: &RestartWanted, node: &RestartNode) -> Option<Refusal> {
    if let Some(reason) = restart_mismatch(wanted, node) {
        return Some(Refusal {
            reason: Some(reason),
            ..Refusal::new(503, "restart conditions are not satisfied")
        });
    }
    node.task
        .map(|task| Refusal::new(503, format!("{task} already in progress")))
}

fn restart_mismatch(wanted: &RestartWanted, node: &RestartNode) -> Option<&'static str> {
    if wanted.role.is_some_and(|role| role != node.role) {
        return Some("host role mismatch");
    }
    if wanted
        .postgres_version
        .is_some_and(|v| !newer_version_requested(v, node.server_version))
    {
        return Some("postgres version mismatch");
    }
    if wanted.restart_pending && !node.restart_pending {
        return Some("pending restart flag is not set");
    }
    None
}

/// A requested `15.2` against the running server's `150018`: only an upgrade is a reason to
/// restart; an unreadable version or an unknown server is not.
fn newer_version_requested(requested: &str, running: Option<u32>) -> bool {
    match (version_number(requested), running) {
        (Some(wanted), Some(running)) => wanted > running,
        _ => false,
    }
}

/// A re-clone that may go ahead.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReinitPlan<'a> {
    /// The member to clone from: the leader.
    pub leader: &'a str,
    /// A task runs and `force` was given: it is aborted first.
    pub cancel_task: bool,
}

/// Whether `POST /reinitialize` may re-clone this replica (`me`): there must be a leader other
/// than itself, and a task in flight (`task`, named as Patroni names it) refuses unless `force`.
/// Takes the leader's name, not the cluster, because the API judges its last view and the agent
/// a fresh read.
pub fn reinit_plan<'a>(
    leader: Option<&'a str>,
    me: &str,
    task: Option<&str>,
    force: bool,
) -> Result<ReinitPlan<'a>, Refusal> {
    let Some(leader) = leader else {
        return Err(Refusal::new(
            503,
            "Cluster has no leader, can not reinitialize",
        ));
    };
    if leader == me {
        return Err(Refusal::new(503, "I am the leader, can not reinitialize"));
    }
    match task {
        Some(task) if !force => Err(Refusal::new(503, format!("{task} already in progress"))),
        _ => Ok(ReinitPlan {
            leader,
            cancel_task: task.is_some(),
        }),
    }
}

/// Why a `POST /failsafe` from a primary cut off from the DCS is refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FailsafeRefusal {
    /// Failsafe mode is off: Patroni refuses before reading the body.
    ModeOff,
    /// This member runs as a primary itself: refused once the body proved valid.
    RunningAsPrimary,
}

impl FailsafeRefusal {
    /// The reply Patroni sends.
    pub fn refusal(self) -> Refusal {
        match self {
            FailsafeRefusal::ModeOff => Refusal::new(502, "failsafe mode is not enabled"),
            FailsafeRefusal::RunningAsPrimary => Refusal::new(500, "Running as a leader"),
        }
    }
}

/// Whether this member accepts a failsafe call: only in failsafe mode, and only when it is not a
/// running primary (two primaries must never both believe they are confirmed).
pub fn failsafe_acceptance(
    failsafe_mode: bool,
    running_as_primary: bool,
) -> Result<(), FailsafeRefusal> {
    if !failsafe_mode {
        return Err(FailsafeRefusal::ModeOff);
    }
    if running_as_primary {
        return Err(FailsafeRefusal::RunningAsPrimary);
    }
    Ok(())
}
