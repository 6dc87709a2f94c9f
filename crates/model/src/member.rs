//! `members/<name>`: what each agent publishes about itself every cycle, in Patroni's field order.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// A member key's value. Fields serialize in the order Patroni writes them; fields this version
/// does not know are kept in `extra` and written back after the known ones.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct Member {
    /// `postgres://<postgresql.connect_address>/postgres`.
    pub conn_url: String,
    /// `<http|https>://<restapi.connect_address>/patroni`.
    pub api_url: String,
    /// PostgreSQL state: `running`, `starting`, `stopped`, `crashed`, …
    pub state: String,
    /// `primary`, `replica`, `standby_leader`, `demoted`, `uninitialized`, `promoted`.
    pub role: String,
    pub version: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub proxy_url: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub checkpoint_after_promote: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tags: Option<Map<String, Value>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pending_restart: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pending_restart_reason: Option<Map<String, Value>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub xlog_location: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub replay_lsn: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub receive_lsn: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub replication_state: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub timeline: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub scheduled_restart: Option<Map<String, Value>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pause: Option<bool>,
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

impl Member {
    /// Decodes a member value. Besides JSON, accepts the legacy Governor form
    /// `postgres://…?application_name=<api_url>` that old Patroni versions wrote.
    pub fn decode(value: &str) -> Result<Member, String> {
        if value.starts_with("postgres") {
            let (conn, query) = value.split_once('?').unwrap_or((value, ""));
            let api_url = query
                .split('&')
                .find_map(|kv| kv.strip_prefix("application_name="))
                .ok_or("a legacy member value without application_name")?;
            return Ok(Member {
                conn_url: conn.to_string(),
                api_url: api_url.to_string(),
                ..Member::default()
            });
        }
        serde_json::from_str(value).map_err(|e| e.to_string())
    }

    /// Patroni's compact JSON (`,` and `:` separators).
    pub fn encode(&self) -> String {
        crate::compact(self)
    }

    /// Host and port of `conn_url` (`postgres://host:port/db`), the port 5432 when absent.
    pub fn host_port(&self) -> Option<(String, u16)> {
        host_port(&self.conn_url)
    }

    /// `failover_priority` as a number (Patroni's `parse_int`: a number or a numeric string).
    pub fn failover_priority(&self) -> Option<i64> {
        match self.tags.as_ref()?.get("failover_priority")? {
            Value::String(s) => s.trim().parse().ok(),
            v => v.as_i64(),
        }
    }

    /// Whether this member may never become leader, by Patroni's rule: the `nofailover` tag when
    /// it is present, else `failover_priority` of 0 or less.
    pub fn nofailover(&self) -> bool {
        match self.tags.as_ref().and_then(|t| t.get("nofailover")) {
            Some(tag) => tag.as_bool().unwrap_or(false),
            None => self.failover_priority().is_some_and(|p| p <= 0),
        }
    }

    /// Whether a tag is set to `true`.
    pub fn tag_true(&self, tag: &str) -> bool {
        self.tags
            .as_ref()
            .and_then(|t| t.get(tag))
            .and_then(Value::as_bool)
            .unwrap_or(false)
    }
}

/// Host and port of a `postgres://host:port/db` URL (the members' `conn_url`).
pub fn host_port(conn_url: &str) -> Option<(String, u16)> {
    let rest = conn_url
        .strip_prefix("postgres://")
        .or_else(|| conn_url.strip_prefix("postgresql://"))?;
    let authority = rest.split('/').next()?;
    let authority = authority.rsplit('@').next()?;
    let (host, port) = match authority.rsplit_once(':') {
        Some((h, p)) if !h.ends_with(']') || authority.starts_with('[') => (h, p.parse().ok()?),
        _ => (authority, 5432),
    };
    Some((
        host.trim_start_matches('[')
            .trim_end_matches(']')
            .to_string(),
        port,
    ))
}

#[cfg(test)]
mod tests {

    #[test]
    fn nofailover_by_patronis_rule_the_tag_wins_over_the_priority() {
        let member = |tags: serde_json::Value| Member {
            tags: serde_json::from_value(tags).ok(),
            ..Member::default()
        };
        let m = |t| member(t).nofailover();
        assert!(m(
            serde_json::json!({"nofailover": true, "failover_priority": 1})
        ));
        assert!(!m(
            serde_json::json!({"nofailover": false, "failover_priority": 0})
        ));
        assert!(m(serde_json::json!({"failover_priority": "0"})));
        assert!(!m(serde_json::json!({"failover_priority": "2"})));
        assert!(!m(serde_json::json!({})));
        assert_eq!(
            member(serde_json::json!({"failover_priority": "3"})).failover_priority(),
            Some(3)
        );
    }
    use super::*;

    #[test]
    fn conn_urls() {
        assert_eq!(
            host_port("postgres://127.0.0.1:5541/postgres"),
            Some(("127.0.0.1".into(), 5541))
        );
        assert_eq!(
            host_port("postgres://u:p@db.example/postgres"),
            Some(("db.example".into(), 5432))
        );
        assert_eq!(
            host_port("postgres://[::1]:5433/postgres"),
            Some(("::1".into(), 5433))
        );
        assert_eq!(host_port("mysql://x"), None);
    }
}
