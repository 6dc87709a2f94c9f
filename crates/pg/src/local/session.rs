//! The agent's connection to its server: what it observes, and what it asks (promote, reload, slots).

use super::*;

impl LocalPostgres {
    /// A connection to the local server as the superuser.
    pub async fn connect(&self) -> Result<Arc<tokio_postgres::Client>, PgError> {
        let mut session = self.session.lock().await;
        if let Some(client) = session.as_ref().filter(|c| !c.is_closed()) {
            return Ok(client.clone());
        }
        let client = Arc::new(self.connect_fresh().await?);
        *session = Some(client.clone());
        Ok(client)
    }

    /// A new connection to the local server.
    pub(super) async fn connect_fresh(&self) -> Result<tokio_postgres::Client, PgError> {
        let endpoint = self.local_endpoint();
        let app = format!("Patroni {}", self.settings.name);
        self.superuser_target(&endpoint, &app)
            .connect(Duration::from_secs(2))
            .await
    }

    /// Forgets the kept connection (after an error on it: the server may have restarted).
    pub async fn reset_session(&self) {
        *self.session.lock().await = None;
    }

    /// Where the local server is in its WAL, on the kept connection (`None`: no answer).
    pub async fn wal_positions(&self) -> Option<WalPositions> {
        let client = self.connect().await.ok()?;
        let row = client.query_one(sql::POSITIONS, &[]).await.ok()?;
        let mut p = positions(&row)?;
        p.timeline = self.standby_timeline(p.in_recovery, p.timeline);
        Some(p)
    }

    /// A standby's timeline: SQL's estimate, or a newer one its WAL segments show it accepted.
    pub(super) fn standby_timeline(&self, in_recovery: bool, timeline: u64) -> u64 {
        if !in_recovery {
            return timeline;
        }
        crate::walfiles::newest_segment_timeline(&self.data().join("pg_wal"))
            .map_or(timeline, |t| t.max(timeline))
    }

    /// Role, timeline, WAL positions and, on a primary, its replication connections; `None` when
    /// the server does not answer — on the kept connection, else (it may predate a restart) on a
    /// new one.
    pub async fn observe(&self) -> Option<Observation> {
        if let Some(o) = self.observe_once().await {
            return Some(o);
        }
        self.reset_session().await;
        self.observe_once().await
    }

    pub(super) async fn observe_once(&self) -> Option<Observation> {
        let client = self.connect().await.ok()?;
        let row = client.query_one(sql::OBSERVE, &[]).await.ok()?;
        let mut o = observation(&row)?;
        o.timeline = self.standby_timeline(o.in_recovery, o.timeline);
        if !o.in_recovery
            && let Ok(rows) = client.query(sql::REPLICATION, &[]).await
        {
            o.replication = rows
                .iter()
                .map(|r| ReplicationRow {
                    usename: r
                        .try_get::<_, Option<String>>(0)
                        .ok()
                        .flatten()
                        .unwrap_or_default(),
                    application_name: r
                        .try_get::<_, Option<String>>(1)
                        .ok()
                        .flatten()
                        .unwrap_or_default(),
                    client_addr: r.try_get::<_, Option<String>>(2).ok().flatten(),
                    state: r
                        .try_get::<_, Option<String>>(3)
                        .ok()
                        .flatten()
                        .unwrap_or_default(),
                    sync_state: r
                        .try_get::<_, Option<String>>(4)
                        .ok()
                        .flatten()
                        .unwrap_or_default(),
                    sync_priority: r.try_get::<_, Option<i64>>(5).ok().flatten().unwrap_or(0),
                })
                .collect();
        }
        Some(o)
    }

    /// Promotes the local standby and waits until it is a primary.
    pub async fn promote(&self) -> Result<(), PgError> {
        // PostgreSQL removes standby.signal itself; removing it first makes the promotion fail.
        let mut client = self.connect().await?;
        if client.is_closed() || client.simple_query("").await.is_err() {
            // The kept connection may predate a restart of the server.
            self.reset_session().await;
            client = self.connect().await?;
        }
        client
            .query_one(sql::PROMOTE, &[])
            .await
            .map_err(|e| PgError::Sql(e.to_string()))?;
        // pg_rewind reads the new timeline from pg_control, which only a checkpoint updates:
        // without it a former primary would be told "no rewind required" and fail to follow.
        client
            .batch_execute(sql::CHECKPOINT)
            .await
            .map_err(|e| PgError::Sql(e.to_string()))?;
        Ok(())
    }

    /// Makes the server re-read its configuration (after the recovery settings changed).
    pub async fn reload(&self) -> Result<(), PgError> {
        let client = self.connect().await?;
        if client.batch_execute(sql::RELOAD).await.is_ok() {
            return Ok(());
        }
        // The kept connection may predate a restart of the server.
        self.reset_session().await;
        self.connect()
            .await?
            .batch_execute(sql::RELOAD)
            .await
            .map_err(|e| PgError::Sql(e.to_string()))
    }

    /// Makes the physical slots on this primary exactly `wanted` (other inactive physical slots
    /// are dropped).
    pub async fn sync_slots(&self, wanted: &[String], existing: &[String]) -> Result<(), PgError> {
        let client = self.connect().await?;
        for slot in wanted.iter().filter(|s| !existing.contains(s)) {
            client
                .execute(sql::CREATE_PHYSICAL_SLOT, &[slot])
                .await
                .map_err(|e| PgError::Sql(e.to_string()))?;
        }
        for slot in existing.iter().filter(|s| !wanted.contains(s)) {
            client
                .execute(sql::DROP_PHYSICAL_SLOT, &[slot])
                .await
                .map_err(|e| PgError::Sql(e.to_string()))?;
        }
        Ok(())
    }
}

/// Reads the row of [`sql::OBSERVE`].
/// The role and WAL columns shared by [`sql::OBSERVE`] and [`sql::POSITIONS`].
pub(super) fn positions(row: &tokio_postgres::Row) -> Option<WalPositions> {
    let int = |name: &str| {
        row.try_get::<_, Option<i64>>(name)
            .ok()
            .flatten()
            .map(|v| v.max(0) as u64)
    };
    let in_recovery: bool = row.try_get("in_recovery").ok()?;
    let (receive_lsn, replay_lsn) = (int("receive_lsn"), int("replay_lsn"));
    let timeline = if in_recovery {
        [
            "receiver_timeline",
            "checkpoint_timeline",
            "recovery_end_timeline",
        ]
        .into_iter()
        .filter_map(int)
        .max()
    } else {
        int("primary_timeline")
    }
    .unwrap_or(0);
    let wal_position = if in_recovery {
        receive_lsn.unwrap_or(0).max(replay_lsn.unwrap_or(0))
    } else {
        int("flush_lsn").unwrap_or(0)
    };
    Some(WalPositions {
        in_recovery,
        timeline,
        wal_position,
        receive_lsn,
        replay_lsn,
    })
}

pub(super) fn observation(row: &tokio_postgres::Row) -> Option<Observation> {
    let WalPositions {
        in_recovery,
        timeline,
        wal_position,
        receive_lsn: receive,
        replay_lsn: replay,
    } = positions(row)?;
    let list = |name: &str| {
        row.try_get::<_, Option<String>>(name)
            .ok()
            .flatten()
            .map(|s| s.split(',').map(str::to_string).collect())
            .unwrap_or_default()
    };
    let slots = list("slots");
    Some(Observation {
        pending_restart: row
            .try_get::<_, Option<String>>("pending_restart")
            .ok()
            .flatten()
            .and_then(|text| serde_json::from_str(&text).ok())
            .unwrap_or_default(),
        in_recovery,
        timeline,
        wal_position,
        receive_lsn: receive,
        replay_lsn: replay,
        receiver_streaming: row
            .try_get::<_, Option<bool>>("receiver_streaming")
            .ok()
            .flatten()
            .unwrap_or(false),
        slots,
        slot_lsns: row
            .try_get::<_, Option<String>>("slot_lsns")
            .ok()
            .flatten()
            .and_then(|text| serde_json::from_str::<serde_json::Map<_, _>>(&text).ok())
            .map(|m| {
                m.into_iter()
                    .filter_map(|(name, lsn)| Some((name, lsn.as_u64()?)))
                    .collect()
            })
            .unwrap_or_default(),
        postmaster_start_time: row
            .try_get::<_, Option<String>>("postmaster_start_time")
            .ok()
            .flatten(),
        server_version: row
            .try_get::<_, Option<i32>>("server_version")
            .ok()
            .flatten()
            .and_then(|v| u32::try_from(v).ok()),
        replication: Vec::new(),
    })
}
