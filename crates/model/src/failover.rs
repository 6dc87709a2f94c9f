//! `failover`: a requested switchover (leader set) or failover (only the candidate set).

use serde::{Deserialize, Serialize};

/// The `failover` key. In the DCS the candidate is `member` (the REST body calls it `candidate`).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Failover {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub leader: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub member: Option<String>,
    /// ISO 8601 with a time zone.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub scheduled_at: Option<String>,
}

impl Failover {
    /// Decodes the JSON form, or the legacy text `leader:candidate`. Empty means no request.
    pub fn decode(value: &str) -> Result<Failover, String> {
        let trimmed = value.trim();
        if trimmed.is_empty() {
            return Ok(Failover::default());
        }
        if !trimmed.starts_with('{') {
            let (leader, member) = trimmed.split_once(':').unwrap_or((trimmed, ""));
            let some = |s: &str| (!s.is_empty()).then(|| s.to_string());
            return Ok(Failover {
                leader: some(leader),
                member: some(member),
                scheduled_at: None,
            });
        }
        serde_json::from_str(trimmed).map_err(|e| e.to_string())
    }

    /// Compact JSON; `{}` when nothing is requested (how a request is cleared).
    pub fn encode(&self) -> String {
        crate::compact(self)
    }

    /// Whether nothing is requested.
    pub fn is_empty(&self) -> bool {
        self.leader.is_none() && self.member.is_none()
    }
}

/// Milliseconds since the Unix epoch of a `scheduled_at` (ISO 8601 with a zone, as Patroni
/// writes `2026-11-23T17:20:00+00:00`), and its canonical text.
pub fn parse_scheduled_at(text: &str) -> Option<(i64, String)> {
    let text = text.trim();
    let parsed = chrono::DateTime::parse_from_rfc3339(text)
        .or_else(|_| chrono::DateTime::parse_from_str(text, "%Y-%m-%d %H:%M:%S%.f%:z"))
        .ok()?;
    Some((parsed.timestamp_millis(), parsed.to_rfc3339()))
}
