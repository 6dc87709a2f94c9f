//! `/history`: the leader writes the timelines of its cluster, from the history file of its
//! timeline, keeping the entries already there (their timestamps and new leaders).

use super::Runtime;
use anyhow::Result;
use ferroni_ha::Input;
use ferroni_model::{Cluster, History, HistoryEntry, parse_lsn};

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
        let mut entries = Vec::new();
        let lines: Vec<&str> = text
            .lines()
            .filter(|l| !l.trim().is_empty() && !l.starts_with('#'))
            .collect();
        for (i, line) in lines.iter().enumerate() {
            let mut fields = line.splitn(3, '\t');
            let (Some(tl), Some(lsn)) = (
                fields.next().and_then(|t| t.trim().parse().ok()),
                fields.next().and_then(parse_lsn),
            ) else {
                continue;
            };
            let reason = fields.next().unwrap_or("").trim().to_string();
            let entry = match known.iter().find(|e| e.timeline == tl) {
                Some(e) => e.clone(),
                None => HistoryEntry {
                    timeline: tl,
                    lsn,
                    reason,
                    timestamp: Some(now.clone()),
                    new_leader: (i + 1 == lines.len()).then(|| self.me.name.clone()),
                },
            };
            entries.push(entry);
        }
        self.dcs.set_history(&History(entries)).await?;
        Ok(())
    }
}
