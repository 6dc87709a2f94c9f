//! The status code of every health check, from the published state alone (Patroni's rules,
//! `reference/patroni.md` §b.1). Pure: the server and the golden tests share it.

use crate::state::NodeState;
use serde_json::Value;

/// The request as the rules need it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Method {
    Get,
    Head,
    Options,
}

/// A parsed query string.
#[derive(Debug, Default)]
pub struct Query<'a> {
    pairs: Vec<(&'a str, &'a str)>,
}

impl<'a> Query<'a> {
    pub fn parse(query: &'a str) -> Query<'a> {
        Query {
            pairs: query
                .split('&')
                .filter(|p| !p.is_empty())
                .map(|p| p.split_once('=').unwrap_or((p, "")))
                .collect(),
        }
    }

    fn get(&self, key: &str) -> Option<&'a str> {
        self.pairs.iter().find(|(k, _)| *k == key).map(|(_, v)| *v)
    }

    fn tags(&self) -> impl Iterator<Item = (&'a str, &'a str)> + '_ {
        self.pairs
            .iter()
            .filter_map(|(k, v)| k.strip_prefix("tag_").map(|t| (t, *v)))
    }
}

/// Bytes from `10`, `16kB`, `1MB`, `2GB`; `None` when unreadable.
pub fn parse_size(text: &str) -> Option<u64> {
    let t = text.trim();
    let split = t.find(|c: char| !c.is_ascii_digit()).unwrap_or(t.len());
    let (number, unit) = t.split_at(split);
    let n: u64 = number.parse().ok()?;
    let factor = match unit.trim() {
        "" | "B" => 1,
        "kB" | "KB" => 1 << 10,
        "MB" => 1 << 20,
        "GB" => 1 << 30,
        "TB" => 1 << 40,
        _ => return None,
    };
    n.checked_mul(factor)
}

/// A tag as Patroni compares it: strings as they are, other values as lower-case text.
fn tag_text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => other.to_string().to_lowercase(),
    }
}

fn replica_code(s: &NodeState, q: &Query<'_>) -> u16 {
    let pg = &s.pg;
    let lagging = q.get("lag").and_then(parse_size).is_some_and(|max| {
        s.cluster_optime > pg.replayed_location.unwrap_or(0).saturating_add(max)
    });
    let state_ok = q
        .get("replication_state")
        .is_none_or(|want| pg.replication_state.as_deref() == Some(want));
    let tags_ok = q
        .tags()
        .all(|(k, v)| s.tags.get(k).is_some_and(|t| tag_text(t) == v));
    let noloadbalance = s
        .tags
        .get("noloadbalance")
        .is_some_and(|v| v.as_bool() == Some(true));
    if !noloadbalance
        && !lagging
        && pg.role == "replica"
        && pg.state == "running"
        && state_ok
        && tags_ok
    {
        200
    } else {
        503
    }
}

/// The status code for `path` (first segment, without the leading `/`) and `query`.
pub fn status_code(method: Method, path: &str, query: &str, s: &NodeState) -> u16 {
    let q = Query::parse(query);
    let primary = if s.holds_lock && s.pg.role == "primary" {
        200
    } else {
        503
    };
    let leader = if s.holds_lock { 200 } else { 503 };

    match path {
        "" | "primary" | "master" | "read-write" => primary,
        "leader" => leader,
        "standby-leader" | "standby_leader" => 503,
        "replica" => replica_code(s, &q),
        "read-only" => {
            if primary == 200 {
                200
            } else {
                replica_code(s, &q)
            }
        }
        "health" if s.pg.state == "running" => 200,
        "sync" | "synchronous" if s.sync_standby => replica_code(s, &q),
        "quorum" if s.quorum_standby => replica_code(s, &q),
        "read-only-sync" | "read-only-synchronous" if primary == 200 || s.sync_standby => {
            if primary == 200 {
                200
            } else {
                replica_code(s, &q)
            }
        }
        "read-only-quorum" if primary == 200 || s.quorum_standby => {
            if primary == 200 {
                200
            } else {
                replica_code(s, &q)
            }
        }
        "async" | "asynchronous" if !s.sync_standby && !s.quorum_standby => replica_code(s, &q),
        // GET-only endpoints: Patroni answers HEAD and OPTIONS on them with the generic health
        // handler, which does not know them (503).
        "liveness" if method == Method::Get => 200,
        "readiness" if method == Method::Get => readiness(s, &q),
        "patroni" if method == Method::Get => 200,
        "cluster" | "history" if method == Method::Get && s.cluster.is_some() => 200,
        "metrics" if method == Method::Get => 200,
        "failsafe" if method == Method::Get => {
            if s.failsafe_mode && s.cluster.as_ref().is_some_and(|c| c.failsafe.is_some()) {
                200
            } else {
                502
            }
        }
        "config" if method == Method::Get => {
            if s.cluster.as_ref().is_some_and(|c| c.config.is_some()) {
                200
            } else {
                502
            }
        }
        _ => 503,
    }
}

/// `/readiness`: the leader, or a streaming replica within the lag bound.
fn readiness(s: &NodeState, q: &Query<'_>) -> u16 {
    if s.holds_lock {
        return 200;
    }
    let pg = &s.pg;
    let max = q
        .get("lag")
        .and_then(parse_size)
        .unwrap_or(s.maximum_lag_on_failover);
    let position = if q.get("mode") == Some("write") {
        pg.received_location
    } else {
        pg.replayed_location
    };
    let within = s.cluster_optime <= position.unwrap_or(0).saturating_add(max);
    if pg.state == "running" && pg.replication_state.as_deref() == Some("streaming") && within {
        200
    } else {
        503
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes() {
        assert_eq!(parse_size("1"), Some(1));
        assert_eq!(parse_size("16kB"), Some(16384));
        assert_eq!(parse_size("1MB"), Some(1 << 20));
        assert_eq!(parse_size("x"), None);
    }
}
