//! The mutating endpoints (reference §b.4): each body is parsed and checked here, with Patroni's
//! codes and one-line reasons, and only a valid request reaches the agent as a [`Command`]. The
//! verdicts that depend on the cluster or this node are [`ferroni_ha::requests`]'.

use crate::control::{Command, Control, FailsafeCall, FailsafeCalls, Reply, RestartRequest};
use crate::state::NodeState;
use ferroni_config::flex::seconds;
use ferroni_ha::requests::{FailsafeRefusal, Refusal, failsafe_acceptance, reinit_plan, truthy};
use ferroni_model::{Cluster, Failover};
use serde_json::{Map, Value};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::watch;

/// A request body as Patroni reads it: `None` when there was no `Content-Length`.
pub struct Body<'a> {
    pub length_given: bool,
    pub bytes: &'a [u8],
}

/// A JSON object from the body. `optional`: a missing or empty body is `{}`.
fn json_object(body: &Body, optional: bool) -> Result<Map<String, Value>, Reply> {
    if !body.length_given || body.bytes.is_empty() {
        if optional {
            return Ok(Map::new());
        }
        if !body.length_given {
            return Err(Reply::text(411, "Length Required"));
        }
    }
    match serde_json::from_slice::<Value>(body.bytes) {
        Ok(Value::Object(map)) if !map.is_empty() || optional => Ok(map),
        Ok(Value::Object(_)) => Err(Reply::text(400, "Bad Request: an empty JSON object")),
        Ok(_) => Err(Reply::text(
            400,
            "Bad Request: the body must be a JSON object",
        )),
        Err(e) => Err(Reply::text(400, format!("Bad Request: invalid JSON: {e}"))),
    }
}

/// A string field; other types are refused.
fn string_field(map: &Map<String, Value>, key: &str) -> Result<Option<String>, Reply> {
    match map.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) if s.is_empty() => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.clone())),
        Some(other) => Err(Reply::text(
            400,
            format!("Bad Request: {key} must be a string, not {other}"),
        )),
    }
}

/// A schedule checked as Patroni's `parse_schedule`: with a time zone, in the future. Returns the
/// canonical ISO 8601 text.
pub fn parse_schedule(text: &str, action: &str, now_ms: i64) -> Result<String, Reply> {
    let text = text.trim();
    if let Some((ms, iso)) = ferroni_model::failover::parse_scheduled_at(text) {
        if ms < now_ms {
            return Err(Reply::text(
                422,
                format!("Cannot schedule {action} in the past"),
            ));
        }
        return Ok(iso);
    }
    let naive = [
        "%Y-%m-%dT%H:%M:%S%.f",
        "%Y-%m-%d %H:%M:%S%.f",
        "%Y-%m-%dT%H:%M",
        "%Y-%m-%d %H:%M",
    ]
    .iter()
    .any(|f| chrono::NaiveDateTime::parse_from_str(text, f).is_ok());
    if naive {
        return Err(Reply::text(
            400,
            format!("Timezone information is mandatory for the scheduled {action}"),
        ));
    }
    Err(Reply::text(
        422,
        "Unable to parse scheduled timestamp. It should be in an unambiguous format, e.g. ISO 8601",
    ))
}

fn now_ms() -> i64 {
    chrono::Utc::now().timestamp_millis()
}

fn title(action: &str) -> String {
    let mut t = action.to_string();
    if let Some(first) = t.get_mut(..1) {
        first.make_ascii_uppercase();
    }
    t
}

/// `POST /switchover` and `POST /failover`.
pub async fn failover(
    control: &Control,
    state: &watch::Receiver<Arc<NodeState>>,
    mut action: &'static str,
    body: Body<'_>,
) -> Reply {
    let request = match json_object(&body, false) {
        Ok(r) => r,
        Err(reply) => return reply,
    };
    let fields = string_field(&request, "leader").and_then(|l| {
        let c = match string_field(&request, "candidate")? {
            Some(c) => Some(c),
            None => string_field(&request, "member")?,
        };
        Ok((l, c, string_field(&request, "scheduled_at")?))
    });
    let (leader, candidate, scheduled_at) = match fields {
        Ok(f) => f,
        Err(reply) => return reply,
    };
    let node = state.borrow().clone();
    let paused = node.paused;
    let refuse = |text: &str| Reply::text(400, text);
    if action == "failover" && candidate.is_none() {
        return refuse("Failover could be performed only to a specific candidate");
    }
    if action == "switchover" && leader.is_none() {
        return refuse("Switchover could be performed only from a specific leader");
    }
    let mut schedule = None;
    if let Some(at) = &scheduled_at {
        if action == "failover" {
            return refuse("Failover can't be scheduled");
        }
        if paused {
            return refuse("Can't schedule switchover in the paused state");
        }
        match parse_schedule(at, action, now_ms()) {
            Ok(iso) => schedule = Some(iso),
            Err(reply) => return reply,
        }
    }
    if paused && candidate.is_none() {
        return refuse("Switchover is possible only to a specific candidate in a paused state");
    }
    if action == "failover" && leader.is_some() {
        action = "switchover";
    }
    if leader == candidate {
        return refuse("Switchover target and source are the same");
    }
    let written = control
        .ask(Command::RequestFailover {
            failover: Failover {
                leader,
                member: candidate.clone(),
                scheduled_at: schedule.clone(),
            },
            action: action.to_string(),
        })
        .await;
    if written.code != 200 {
        return written;
    }
    let old_leader = serde_json::from_str::<Value>(&written.body)
        .ok()
        .and_then(|v| v["leader"].as_str().map(str::to_string));
    if schedule.is_some() {
        return Reply::text(202, format!("{} scheduled", title(action)));
    }
    poll_result(control, node.loop_wait, old_leader, candidate, action).await
}

/// Waits for a new leader (Patroni polls for `max(10, loop_wait) * 2` seconds).
async fn poll_result(
    control: &Control,
    loop_wait: u64,
    old_leader: Option<String>,
    candidate: Option<String>,
    action: &str,
) -> Reply {
    let seconds = loop_wait.max(10) * 2;
    let past = &action[..action.len() - 4]; // switch / fail
    let deadline = tokio::time::Instant::now() + Duration::from_secs(seconds);
    let mut interval = tokio::time::interval(Duration::from_millis(100));
    while tokio::time::Instant::now() < deadline {
        interval.tick().await;
        let reply = control.ask(Command::ReadFailover).await;
        let Ok(view) = serde_json::from_str::<Value>(&reply.body) else {
            continue;
        };
        let leader = view.get("leader").and_then(Value::as_str);
        if let Some(new) = leader.filter(|l| Some(*l) != old_leader.as_deref()) {
            return match candidate.as_deref() {
                Some(c) if c != new => Reply::text(
                    200,
                    format!("{}ed over to \"{new}\" instead of \"{c}\"", title(past)),
                ),
                _ => Reply::text(200, format!("Successfully {past}ed over to \"{new}\"")),
            };
        }
        if view.get("failover") == Some(&Value::Bool(false)) {
            return Reply::text(503, format!("{} failed", title(action)));
        }
    }
    Reply::text(
        503,
        format!(
            "{} status unknown after {seconds} seconds; operation may still be in progress",
            title(action)
        ),
    )
}

/// Kept here for the clients that check a version before they send it (`ferronictl`).
pub use ferroni_ha::requests::version_number;

impl From<Refusal> for Reply {
    fn from(refusal: Refusal) -> Reply {
        Reply::text(refusal.status, refusal.text)
    }
}

/// `POST /restart`.
pub async fn restart(control: &Control, node: &NodeState, body: Body<'_>) -> Reply {
    let request = match json_object(&body, true) {
        Ok(r) => r,
        Err(reply) => return reply,
    };
    if node.paused && request.contains_key("schedule") {
        return Reply::text(500, "Can't schedule restart in the paused state");
    }
    let mut parsed = RestartRequest::default();
    for (key, value) in &request {
        match key.as_str() {
            "schedule" => {
                let text = value.as_str().unwrap_or_default();
                match parse_schedule(text, "restart", now_ms()) {
                    Ok(iso) => parsed.schedule = Some(iso),
                    Err(reply) => return reply,
                }
            }
            "role" => match value.as_str() {
                Some(r @ ("primary" | "standby_leader" | "replica")) => {
                    parsed.role = Some(r.into())
                }
                _ => {
                    return Reply::text(
                        400,
                        "PostgreSQL role should be either primary, standby_leader, or replica",
                    );
                }
            },
            "postgres_version" => {
                let text = value
                    .as_str()
                    .map_or_else(|| value.to_string(), str::to_string);
                if version_number(&text).is_none() {
                    return Reply::text(
                        400,
                        format!(
                            "Invalid PostgreSQL version format: X.Y or X.Y.Z is accepted: {text}"
                        ),
                    );
                }
                parsed.postgres_version = Some(text);
            }
            "timeout" => match seconds(value).filter(|s| *s > 0) {
                Some(s) => parsed.timeout = u64::try_from(s).ok(),
                None => return Reply::text(400, "Timeout should be a positive number of seconds"),
            },
            "restart_pending" => parsed.restart_pending = true,
            other => {
                return Reply::text(
                    400,
                    format!("Unknown filter for the scheduled restart: {other}"),
                );
            }
        }
    }
    if parsed.schedule.is_some() {
        control.ask(Command::ScheduleRestart(parsed)).await
    } else {
        control.ask(Command::Restart(parsed)).await
    }
}

/// `POST /reinitialize`.
pub async fn reinitialize(control: &Control, node: &NodeState, body: Body<'_>) -> Reply {
    let request = match json_object(&body, true) {
        Ok(r) => r,
        Err(reply) => return reply,
    };
    // Refused at once on the last view of the cluster; the agent judges its task on a fresh read.
    let leader = node.cluster.as_ref().and_then(Cluster::leader_name);
    if let Err(refusal) = reinit_plan(leader, &node.name, None, false) {
        return refusal.into();
    }
    control
        .ask(Command::Reinitialize {
            force: truthy(request.get("force")),
            from_leader: truthy(request.get("from_leader")),
        })
        .await
}

/// `POST /failsafe`: `{"name", "conn_url", "api_url", "slots"}` from a primary cut off from the
/// DCS. Accepted (with this member's WAL position in the `lsn` header) unless this member runs
/// as a primary itself; answered here, without waiting for the agent's loop.
pub fn failsafe(calls: &FailsafeCalls, node: &NodeState, body: Body<'_>) -> Reply {
    let running_as_primary = node.pg.role == "primary" && node.pg.state == "running";
    let acceptance = failsafe_acceptance(node.failsafe_mode, running_as_primary);
    // Patroni does not read the body outside failsafe mode, and judges the role only of a valid
    // call: the order of the replies is part of the protocol.
    if let Err(refused @ FailsafeRefusal::ModeOff) = acceptance {
        return refused.refusal().into();
    }
    let request = match json_object(&body, false) {
        Ok(r) => r,
        Err(reply) => return reply,
    };
    let field = |key: &str| match string_field(&request, key) {
        Ok(Some(v)) => Ok(v),
        Ok(None) => Err(Reply::text(400, format!("Bad Request: {key} is required"))),
        Err(reply) => Err(reply),
    };
    let (name, conn_url, api_url) = match (field("name"), field("conn_url"), field("api_url")) {
        (Ok(n), Ok(c), Ok(a)) => (n, c, a),
        (Err(r), _, _) | (_, Err(r), _) | (_, _, Err(r)) => return r,
    };
    if let Err(refused) = acceptance {
        return refused.refusal().into();
    }
    calls.record(FailsafeCall {
        name,
        conn_url,
        api_url,
        at: tokio::time::Instant::now(),
    });
    let mut reply = Reply::text(200, "Accepted");
    reply.lsn = node.pg.received_location.max(node.pg.replayed_location);
    reply
}

/// `PATCH /config` (merge) and `PUT /config` (replace).
pub async fn config(control: &Control, replace: bool, body: Body<'_>) -> Reply {
    match json_object(&body, false) {
        Ok(body) => control.ask(Command::Config { body, replace }).await,
        Err(reply) => reply,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn schedules_need_a_zone_and_the_future() {
        let now = ferroni_model::failover::parse_scheduled_at("2026-11-23T17:00:00+00:00")
            .unwrap()
            .0;
        assert_eq!(
            parse_schedule("2026-11-23T18:00:00+00:00", "switchover", now),
            Ok("2026-11-23T18:00:00+00:00".into())
        );
        assert_eq!(
            parse_schedule("2026-11-23 18:00:00+01:00", "restart", now).map(|_| ()),
            Ok(())
        );
        assert_eq!(
            parse_schedule("2026-11-23T18:00", "restart", now)
                .unwrap_err()
                .code,
            400
        );
        assert_eq!(
            parse_schedule("2026-11-23T16:00:00+00:00", "restart", now)
                .unwrap_err()
                .body,
            "Cannot schedule restart in the past"
        );
        assert_eq!(
            parse_schedule("garbage", "restart", now).unwrap_err().code,
            422
        );
    }

    #[test]
    fn bodies_as_patroni_reads_them() {
        let missing = Body {
            length_given: false,
            bytes: b"",
        };
        assert_eq!(json_object(&missing, false).unwrap_err().code, 411);
        assert_eq!(json_object(&missing, true), Ok(Map::new()));
        let empty = Body {
            length_given: true,
            bytes: b"{}",
        };
        assert_eq!(json_object(&empty, false).unwrap_err().code, 400);
        let broken = Body {
            length_given: true,
            bytes: b"{\"leader\": \"node1\", candidate",
        };
        assert_eq!(json_object(&broken, false).unwrap_err().code, 400);
        let list = Body {
            length_given: true,
            bytes: b"[1]",
        };
        assert_eq!(json_object(&list, true).unwrap_err().code, 400);
        assert_eq!(seconds(&Value::String("2min".into())), Some(120));
    }
}
