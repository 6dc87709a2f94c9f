//! Probes a test runs beside a cluster: a writer that inserts numbered rows and records which
//! inserts were acknowledged, and a watcher that asks every node whether it accepts writes.

use crate::cluster::Cluster;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};
use tokio::task::JoinHandle;

/// What the writer saw.
#[derive(Debug, Clone, Default)]
pub struct WriteLog {
    /// `(row number, when it was acknowledged)`.
    pub acked: Vec<(i64, Instant)>,
    /// Row number → the primary's WAL position (bytes) right after its insert, as it answered.
    pub lsn: std::collections::HashMap<i64, i64>,
    pub attempts: i64,
}

impl WriteLog {
    /// The longest time between two acknowledged writes.
    pub fn longest_gap(&self) -> Duration {
        self.acked
            .windows(2)
            .map(|w| w[1].1.duration_since(w[0].1))
            .max()
            .unwrap_or_default()
    }

    /// The longest gap among acknowledgements after `since`.
    pub fn longest_gap_after(&self, since: Instant) -> Duration {
        let mut times: Vec<Instant> = self
            .acked
            .iter()
            .map(|a| a.1)
            .filter(|t| *t >= since)
            .collect();
        if let Some(before) = self.acked.iter().map(|a| a.1).filter(|t| *t < since).max() {
            times.insert(0, before);
        }
        times
            .windows(2)
            .map(|w| w[1].duration_since(w[0]))
            .max()
            .unwrap_or_default()
    }
}

/// Inserts a numbered row every 50 ms through `connstr` (a multi-host string with
/// `target_session_attrs=read-write`), reconnecting after any error.
pub struct Writer {
    stop: Arc<AtomicBool>,
    acked: Arc<std::sync::atomic::AtomicUsize>,
    task: JoinHandle<WriteLog>,
}

/// Creates the probe table (through `connstr`).
pub async fn create_probe_table(connstr: &str) -> Result<(), tokio_postgres::Error> {
    let (client, conn) = tokio_postgres::connect(connstr, tokio_postgres::NoTls).await?;
    tokio::spawn(conn);
    client
        .batch_execute(
            "CREATE TABLE IF NOT EXISTS probe (n bigint PRIMARY KEY, at timestamptz DEFAULT now())",
        )
        .await
}

/// Creates the probe table as soon as a primary accepts writes through `connstr`, within
/// `deadline`.
pub async fn await_probe_table(connstr: &str, deadline: Duration) -> anyhow::Result<()> {
    crate::wait::wait_until_async(deadline, "a writable leader", || async {
        create_probe_table(connstr).await.ok()
    })
    .await
}

impl Writer {
    /// Starts writing.
    pub fn start(connstr: String) -> Writer {
        let stop = Arc::new(AtomicBool::new(false));
        let flag = stop.clone();
        let acked = Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let counter = acked.clone();
        let task = tokio::spawn(async move {
            let mut log = WriteLog::default();
            let mut client: Option<tokio_postgres::Client> = None;
            let mut n: i64 = 0;
            let mut tick = tokio::time::interval(Duration::from_millis(50));
            while !flag.load(Ordering::Relaxed) {
                tick.tick().await;
                if client.as_ref().is_none_or(|c| c.is_closed()) {
                    client = match tokio::time::timeout(
                        Duration::from_secs(2),
                        tokio_postgres::connect(&connstr, tokio_postgres::NoTls),
                    )
                    .await
                    {
                        Ok(Ok((c, conn))) => {
                            tokio::spawn(conn);
                            Some(c)
                        }
                        _ => None,
                    };
                }
                let Some(c) = &client else { continue };
                n += 1;
                log.attempts += 1;
                let value = n;
                let params: [&(dyn tokio_postgres::types::ToSql + Sync); 1] = [&value];
                let insert = c.query_one(
                    "INSERT INTO probe (n) VALUES ($1) RETURNING \
                     pg_catalog.pg_wal_lsn_diff(pg_catalog.pg_current_wal_lsn(), '0/0')::bigint",
                    &params,
                );
                match tokio::time::timeout(Duration::from_secs(2), insert).await {
                    Ok(Ok(row)) => {
                        log.acked.push((n, Instant::now()));
                        if let Ok(lsn) = row.try_get::<_, i64>(0) {
                            log.lsn.insert(n, lsn);
                        }
                        counter.fetch_add(1, Ordering::Relaxed);
                    }
                    _ => client = None,
                }
            }
            log
        });
        Writer { stop, acked, task }
    }

    /// How many writes were acknowledged so far.
    pub fn acked(&self) -> usize {
        self.acked.load(Ordering::Relaxed)
    }

    /// Waits until `more` further writes are acknowledged (writes are flowing).
    pub async fn flowing(&self, more: usize, deadline: std::time::Duration) -> anyhow::Result<()> {
        let target = self.acked() + more;
        crate::wait::wait_until_async(deadline, "writes to be acknowledged", || async {
            (self.acked() >= target).then_some(())
        })
        .await
    }

    /// Stops writing and returns what was acknowledged.
    pub async fn stop(self) -> WriteLog {
        self.stop.store(true, Ordering::Relaxed);
        self.task.await.unwrap_or_default()
    }
}

/// The acknowledged rows missing from the table read through `connstr`.
pub async fn missing_writes(
    connstr: &str,
    log: &WriteLog,
) -> Result<Vec<i64>, tokio_postgres::Error> {
    let (client, conn) = tokio_postgres::connect(connstr, tokio_postgres::NoTls).await?;
    tokio::spawn(conn);
    let rows = client.query("SELECT n FROM probe", &[]).await?;
    let present: std::collections::HashSet<i64> = rows.iter().map(|r| r.get(0)).collect();
    Ok(log
        .acked
        .iter()
        .map(|(n, _)| *n)
        .filter(|n| !present.contains(n))
        .collect())
}

/// Asks every node `pg_is_in_recovery()` every 50 ms and records any moment when more than one
/// accepted writes, and each moment the set of writable nodes changed.
pub struct Watcher {
    stop: Arc<AtomicBool>,
    task: JoinHandle<Watched>,
}

/// What a [`Watcher`] saw.
#[derive(Debug, Default)]
pub struct Watched {
    /// Every round in which more than one node accepted writes.
    pub overlaps: Vec<String>,
    /// When the set of nodes accepting writes changed, and the new set (a node that does not
    /// answer counts as not accepting writes).
    pub changes: Vec<(Instant, Vec<usize>)>,
}

impl Watched {
    /// The first round at or after `since` in which `node` was not among the writable nodes.
    pub fn stopped_writing(&self, node: usize, since: Instant) -> Option<Instant> {
        let before = self
            .changes
            .iter()
            .rev()
            .find(|(at, _)| *at <= since)
            .is_none_or(|(_, w)| !w.contains(&node));
        if before {
            return Some(since);
        }
        self.changes
            .iter()
            .find(|(at, w)| *at > since && !w.contains(&node))
            .map(|(at, _)| *at)
    }

    /// The first round at or after `since` in which a node other than `old` accepted writes.
    pub fn another_writing(&self, old: usize, since: Instant) -> Option<Instant> {
        self.changes
            .iter()
            .filter(|(_, w)| w.iter().any(|n| *n != old))
            .map(|(at, _)| *at)
            .find(|at| *at >= since)
    }
}

impl Watcher {
    /// Starts watching the nodes behind `connstrs`.
    pub fn start(connstrs: Vec<String>) -> Watcher {
        let stop = Arc::new(AtomicBool::new(false));
        let flag = stop.clone();
        let task = tokio::spawn(async move {
            let mut watched = Watched::default();
            let mut clients: Vec<Option<tokio_postgres::Client>> =
                connstrs.iter().map(|_| None).collect();
            let mut tick = tokio::time::interval(Duration::from_millis(50));
            while !flag.load(Ordering::Relaxed) {
                tick.tick().await;
                let round = Instant::now();
                let mut writable = Vec::new();
                for (i, connstr) in connstrs.iter().enumerate() {
                    if clients[i].as_ref().is_none_or(|c| c.is_closed()) {
                        clients[i] = match tokio::time::timeout(
                            Duration::from_millis(300),
                            tokio_postgres::connect(connstr, tokio_postgres::NoTls),
                        )
                        .await
                        {
                            Ok(Ok((c, conn))) => {
                                tokio::spawn(conn);
                                Some(c)
                            }
                            _ => None,
                        };
                    }
                    let Some(c) = &clients[i] else { continue };
                    match tokio::time::timeout(
                        Duration::from_millis(300),
                        c.query_one("SELECT pg_catalog.pg_is_in_recovery()", &[]),
                    )
                    .await
                    {
                        Ok(Ok(row)) => {
                            if !row.get::<_, bool>(0) {
                                writable.push(i);
                            }
                        }
                        _ => clients[i] = None,
                    }
                }
                if writable.len() > 1 {
                    watched.overlaps.push(format!(
                        "nodes {writable:?} accepted writes at the same time"
                    ));
                }
                if watched.changes.last().is_none_or(|(_, w)| *w != writable) {
                    watched.changes.push((round, writable));
                }
            }
            watched
        });
        Watcher { stop, task }
    }

    /// Stops and returns the moments when more than one node accepted writes.
    pub async fn stop(self) -> Vec<String> {
        self.stop_watching().await.overlaps
    }

    /// Stops and returns everything seen.
    pub async fn stop_watching(self) -> Watched {
        self.stop.store(true, Ordering::Relaxed);
        self.task.await.unwrap_or_default()
    }
}

/// Whether the PostgreSQL behind `connstr` answers and is not in recovery.
pub async fn writable(connstr: &str) -> bool {
    let connect = tokio_postgres::connect(connstr, tokio_postgres::NoTls);
    let Ok(Ok((client, conn))) = tokio::time::timeout(Duration::from_secs(3), connect).await else {
        return false;
    };
    tokio::spawn(conn);
    let query = client.query_one("SELECT pg_catalog.pg_is_in_recovery()", &[]);
    matches!(
        tokio::time::timeout(Duration::from_secs(3), query).await,
        Ok(Ok(row)) if row.try_get::<_, bool>(0).ok() == Some(false)
    )
}

/// `SHOW setting` on the PostgreSQL behind `connstr` (`None` when it does not answer).
pub async fn show(connstr: &str, setting: &str) -> Option<String> {
    query_one(connstr, &format!("SHOW {setting}")).await
}

/// The first column of the one row `sql` returns on the PostgreSQL behind `connstr` (`None`
/// when it does not answer).
pub async fn query_one<T: for<'a> tokio_postgres::types::FromSql<'a>>(
    connstr: &str,
    sql: &str,
) -> Option<T> {
    let (client, conn) = tokio_postgres::connect(connstr, tokio_postgres::NoTls)
        .await
        .ok()?;
    tokio::spawn(conn);
    client.query_one(sql, &[]).await.ok()?.try_get(0).ok()
}

/// The index of a node other than `old` whose PostgreSQL accepts writes, once one does.
pub async fn another_primary(
    cluster: &Cluster,
    old: usize,
    deadline: Duration,
) -> anyhow::Result<usize> {
    crate::wait::wait_until_async(deadline, "another node to accept writes", || async {
        for (i, n) in cluster.nodes.iter().enumerate() {
            if i != old && writable(&n.connstr()).await {
                return Some(i);
            }
        }
        None
    })
    .await
}

/// The index of the node whose PostgreSQL accepts writes, once exactly one does and every other
/// node runs as a replica streaming from it (a `pg_basebackup` still cloning one streams too).
pub async fn settled(cluster: &Cluster, deadline: Duration) -> anyhow::Result<usize> {
    crate::wait::wait_until_async(
        deadline,
        "one primary and every other node streaming from it",
        || async {
            let mut primaries = Vec::new();
            for (i, n) in cluster.nodes.iter().enumerate() {
                if writable(&n.connstr()).await {
                    primaries.push(i);
                }
            }
            let [leader] = primaries[..] else {
                return None;
            };
            let connstr = cluster.nodes[leader].connstr();
            let (client, conn) = tokio_postgres::connect(&connstr, tokio_postgres::NoTls)
                .await
                .ok()?;
            tokio::spawn(conn);
            let replicas: Vec<String> = cluster
                .nodes
                .iter()
                .enumerate()
                .filter(|(i, _)| *i != leader)
                .map(|(_, n)| n.name.clone())
                .collect();
            let streaming: i64 = client
                .query_one(
                    "SELECT count(DISTINCT application_name) FROM pg_stat_replication \
                     WHERE state = 'streaming' AND application_name = ANY($1)",
                    &[&replicas],
                )
                .await
                .ok()?
                .try_get(0)
                .ok()?;
            if usize::try_from(streaming).ok()? != replicas.len() {
                return None;
            }
            for (i, n) in cluster.nodes.iter().enumerate() {
                if i != leader {
                    query_one::<bool>(&n.connstr(), "SELECT pg_is_in_recovery()")
                        .await
                        .filter(|r| *r)?;
                }
            }
            Some(leader)
        },
    )
    .await
}
