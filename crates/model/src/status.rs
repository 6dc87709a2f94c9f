//! `status`: the leader's last WAL position and its slots' positions.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// The `status` key, in Patroni's field order.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct Status {
    pub optime: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub slots: Option<Map<String, Value>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub retain_slots: Option<Vec<String>>,
}

impl Status {
    /// Decodes the JSON form, the legacy bare integer, and `slots`/`retain_slots` given as
    /// JSON inside a string (as Kubernetes annotations carry them).
    pub fn decode(value: &str) -> Result<Status, String> {
        let trimmed = value.trim();
        if let Ok(optime) = trimmed.parse::<u64>() {
            return Ok(Status {
                optime,
                ..Status::default()
            });
        }
        let mut raw: Map<String, Value> =
            serde_json::from_str(trimmed).map_err(|e| e.to_string())?;
        for field in ["slots", "retain_slots"] {
            if let Some(Value::String(inner)) = raw.get(field) {
                let parsed = serde_json::from_str(inner).map_err(|e| format!("{field}: {e}"))?;
                raw.insert(field.to_string(), parsed);
            }
        }
        serde_json::from_value(Value::Object(raw)).map_err(|e| e.to_string())
    }

    pub fn encode(&self) -> String {
        crate::compact(self)
    }
}
