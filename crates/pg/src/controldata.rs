//! `pg_controldata` output: the system identifier, the cluster state and the timeline.

use std::collections::BTreeMap;

/// The facts the HA decision needs from `pg_controldata`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ControlData {
    pub system_identifier: String,
    /// `in production`, `shut down`, `in archive recovery`, `shut down in recovery`, …
    pub state: String,
    pub timeline: u64,
    /// Every `key: value` line, for what is not interpreted here.
    pub all: BTreeMap<String, String>,
}

impl ControlData {
    /// Parses the output (run with `LANG=C`).
    pub fn parse(output: &str) -> Option<ControlData> {
        let all: BTreeMap<String, String> = output
            .lines()
            .filter_map(|l| l.split_once(':'))
            .map(|(k, v)| (k.trim().to_string(), v.trim().to_string()))
            .collect();
        let system_identifier = all.get("Database system identifier")?.clone();
        let state = all
            .get("Database cluster state")
            .cloned()
            .unwrap_or_default();
        let timeline = all
            .get("Latest checkpoint's TimeLineID")
            .and_then(|t| t.parse().ok())
            .unwrap_or(0);
        Some(ControlData {
            system_identifier,
            state,
            timeline,
            all,
        })
    }

    /// Whether the server was a primary when it stopped (or crashed), not a standby.
    pub fn was_primary(&self) -> bool {
        matches!(
            self.state.as_str(),
            "in production" | "in crash recovery" | "shutting down" | "shut down"
        )
    }

    /// Whether it stopped cleanly.
    pub fn clean_shutdown(&self) -> bool {
        matches!(self.state.as_str(), "shut down" | "shut down in recovery")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SAMPLE: &str = "pg_control version number:            1300\n\
Catalog version number:               202209061\n\
Database system identifier:           7711416411379105180\n\
Database cluster state:               in production\n\
Latest checkpoint's TimeLineID:       4\n";

    #[test]
    fn reads_identifier_state_and_timeline() {
        let c = ControlData::parse(SAMPLE).unwrap();
        assert_eq!(c.system_identifier, "7711416411379105180");
        assert!(c.was_primary() && !c.clean_shutdown());
        assert_eq!(c.timeline, 4);
        assert!(ControlData::parse("garbage").is_none());
    }
}
