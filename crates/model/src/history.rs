//! `history`: one entry per timeline switch, as JSON arrays
//! `[parent_timeline, switch_lsn, reason, timestamp, new_leader]`.

use serde::de::{self, Deserializer};
use serde::ser::{SerializeSeq, Serializer};
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// One timeline switch. Old Patroni versions wrote only the first three or four fields.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HistoryEntry {
    pub timeline: u64,
    pub lsn: u64,
    pub reason: String,
    pub timestamp: Option<String>,
    pub new_leader: Option<String>,
}

impl Serialize for HistoryEntry {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let len =
            3 + usize::from(self.timestamp.is_some()) + usize::from(self.new_leader.is_some());
        let mut seq = s.serialize_seq(Some(len))?;
        seq.serialize_element(&self.timeline)?;
        seq.serialize_element(&self.lsn)?;
        seq.serialize_element(&self.reason)?;
        if let Some(t) = &self.timestamp {
            seq.serialize_element(t)?;
        }
        if let Some(l) = &self.new_leader {
            seq.serialize_element(l)?;
        }
        seq.end()
    }
}

impl<'de> Deserialize<'de> for HistoryEntry {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let items = Vec::<Value>::deserialize(d)?;
        let int = |i: usize| items.get(i).and_then(Value::as_u64);
        let text = |i: usize| items.get(i).and_then(Value::as_str).map(str::to_string);
        let (Some(timeline), Some(lsn)) = (int(0), int(1)) else {
            return Err(de::Error::custom(
                "a history entry starts with a timeline and an LSN",
            ));
        };
        Ok(HistoryEntry {
            timeline,
            lsn,
            reason: text(2).unwrap_or_default(),
            timestamp: text(3),
            new_leader: text(4),
        })
    }
}

/// The whole `history` value.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(transparent)]
pub struct History(pub Vec<HistoryEntry>);

impl History {
    pub fn decode(value: &str) -> Result<History, String> {
        serde_json::from_str(value).map_err(|e| e.to_string())
    }

    pub fn encode(&self) -> String {
        crate::compact(self)
    }

    /// The cluster's timeline: the last switch's parent + 1, or 1 with no switch.
    pub fn timeline(&self) -> u64 {
        self.0.last().map_or(1, |e| e.timeline + 1)
    }
}
