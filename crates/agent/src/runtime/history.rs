//! `/history`: the leader writes the timelines of its cluster, from the history file of its
//! timeline, keeping the entries already there (their timestamps and new leaders).

use super::Runtime;
use anyhow::Result;
use ferroni_ha::Input;
use ferroni_model::{Cluster, History, HistoryEntry};

impl Runtime {
    /// Writes `history` from the timeline history file of the current timeline.
    pub(super) async fn update_history(
        &self,
        cluster: Option<&Cluster>,
        input: &Input,
    ) -> Result<()> {
        let Some(timeline) = input.pg.running().map(|r| r.timeline).filter(|t| *t > 1) else {
            return Ok(());
        };
        let text = self.pg.timeline_history(timeline).await?;
        let known = cluster
            .and_then(|c| c.history.as_ref())
            .map(|h| h.value.0.clone())
            .unwrap_or_default();
        let now = chrono::DateTime::from_timestamp_millis(self.clock.unix_ms())
            .unwrap_or_default()
            .with_timezone(&chrono::Local)
            .to_rfc3339_opts(chrono::SecondsFormat::Micros, false);
        let lines = ferroni_model::parse_timeline_history(&text);
        let last = lines.len();
        let entries = lines
            .into_iter()
            .enumerate()
            .map(|(i, (timeline, lsn, reason))| {
                // A known entry keeps its timestamp and new leader only where it names the same
                // switch: a timeline number made again elsewhere (a partition) is a new one; and
                // the last line is this leader's own promotion, though another member may have
                // promoted from the same point before (onto a timeline number this one skipped).
                let last_line = i + 1 == last;
                match known.iter().find(|e| {
                    e.timeline == timeline
                        && e.lsn == lsn
                        && (!last_line || e.new_leader.as_deref() == Some(self.me.name.as_str()))
                }) {
                    Some(e) => e.clone(),
                    None => HistoryEntry {
                        timeline,
                        lsn,
                        reason,
                        timestamp: Some(now.clone()),
                        new_leader: last_line.then(|| self.me.name.clone()),
                    },
                }
            })
            .collect();
        self.dcs.set_history(&History(entries)).await?;
        Ok(())
    }
}
