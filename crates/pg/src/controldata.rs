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

/// The end of a stopped server's WAL ([`ControlData::wal_end`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WalEnd {
    pub timeline: u64,
    pub lsn: u64,
    /// A standby's replayed end, not a primary's shutdown checkpoint.
    pub in_recovery: bool,
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

    /// Where the WAL of a stopped server ends, as Patroni's `rewind.py` reads it: a standby's
    /// minimum recovery end (a standby that never wrote one was a primary when it crashed), else
    /// a cleanly shut down primary's last checkpoint. `None` for a primary that crashed: only
    /// crash recovery finds its end.
    pub fn wal_end(&self) -> Option<WalEnd> {
        let lsn = |key: &str| self.all.get(key).and_then(|v| ferroni_model::parse_lsn(v));
        let timeline = |key: &str| self.all.get(key).and_then(|v| v.parse::<u64>().ok());
        let standby = matches!(
            self.state.as_str(),
            "shut down in recovery" | "in archive recovery"
        );
        if standby {
            let end = lsn("Minimum recovery ending location").filter(|l| *l > 0);
            let tl = timeline("Min recovery ending loc's timeline").filter(|t| *t > 0);
            if let (Some(lsn), Some(timeline)) = (end, tl) {
                return Some(WalEnd {
                    timeline,
                    lsn,
                    in_recovery: true,
                });
            }
        }
        if standby || self.state == "shut down" {
            return Some(WalEnd {
                timeline: timeline("Latest checkpoint's TimeLineID")?,
                lsn: lsn("Latest checkpoint location")?,
                in_recovery: false,
            });
        }
        None
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
        assert_eq!(c.wal_end(), None, "a primary that crashed");
    }

    #[test]
    fn a_stopped_standby_ends_at_its_minimum_recovery_point_and_a_primary_at_its_checkpoint() {
        let standby = ControlData::parse(
            "Database system identifier: 1\nDatabase cluster state: shut down in recovery\n\
             Latest checkpoint location: 0/4000060\nLatest checkpoint's TimeLineID: 1\n\
             Minimum recovery ending location: 0/5000608\nMin recovery ending loc's timeline: 2\n",
        )
        .unwrap();
        assert_eq!(
            standby.wal_end(),
            Some(WalEnd {
                timeline: 2,
                lsn: 0x500_0608,
                in_recovery: true
            })
        );
        // A standby without a minimum recovery point was a primary that crashed (Patroni's rule).
        let promoted = ControlData::parse(
            "Database system identifier: 1\nDatabase cluster state: in archive recovery\n\
             Latest checkpoint location: 0/4000060\nLatest checkpoint's TimeLineID: 3\n\
             Minimum recovery ending location: 0/0\nMin recovery ending loc's timeline: 0\n",
        )
        .unwrap();
        assert_eq!(
            promoted.wal_end(),
            Some(WalEnd {
                timeline: 3,
                lsn: 0x400_0060,
                in_recovery: false
            })
        );
        let primary = ControlData::parse(
            "Database system identifier: 1\nDatabase cluster state: shut down\n\
             Latest checkpoint location: 0/3000028\nLatest checkpoint's TimeLineID: 1\n",
        )
        .unwrap();
        assert_eq!(
            primary.wal_end().map(|w| (w.lsn, w.in_recovery)),
            Some((0x300_0028, false))
        );
    }
}
