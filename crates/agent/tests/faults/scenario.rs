//! One fault scenario: a running three-node cluster with the writer and the watcher attached,
//! and the checks every scenario ends with.

use ferroni_testkit::cluster::{Cluster, Timings};
use ferroni_testkit::probes::{
    self, Watched, Watcher, Writer, await_probe_table, missing_writes, settled, writable,
};
use ferroni_testkit::{Kit, Proc, wait_until_async};
use std::path::Path;
use std::time::{Duration, Instant};

pub struct Scenario {
    // Dropped in this order: the cluster's processes before the kit's directory.
    pub cluster: Cluster,
    pub kit: Kit,
    pub timings: Timings,
    /// The node that led when the scenario started.
    pub leader: usize,
    writes: String,
    writer: Option<Writer>,
    watcher: Option<Watcher>,
}

/// What a scenario ended with.
#[derive(Debug)]
pub struct Outcome {
    pub leader: usize,
    pub longest_gap: Duration,
    pub acked: usize,
    pub missing: Vec<i64>,
    /// The WAL position the old primary reported for each missing write.
    pub missing_lsn: Vec<i64>,
    pub overlaps: Vec<String>,
    /// When the set of writable nodes changed, as the watcher saw it.
    pub watched: Watched,
}

impl Outcome {
    /// That `old` stopped accepting writes, after `fault`, no later than any other node started
    /// to: from the watcher's rounds, so the two moments are measured on one timeline.
    pub fn assert_stopped_before_another_wrote(&self, old: usize, fault: Instant) {
        let stopped = self
            .watched
            .stopped_writing(old, fault)
            .expect("the old primary never stopped accepting writes");
        let another = self
            .watched
            .another_writing(old, fault)
            .expect("no other node accepted writes");
        assert!(
            stopped <= another,
            "another node accepted writes {:?} after the fault, the old primary still until {:?}",
            another - fault,
            stopped - fault
        );
    }

    /// No two writable nodes, no acknowledged write lost.
    pub fn assert_safe(&self) {
        assert!(
            self.overlaps.is_empty(),
            "two writable nodes: {:?}",
            self.overlaps
        );
        assert!(
            self.missing.is_empty(),
            "acknowledged writes lost: {:?}",
            self.missing
        );
    }
}

impl Scenario {
    /// Starts a cluster (in network namespaces when `partitionable`), waits until it settled and
    /// writes flow.
    pub async fn start(name: &str, timings: Timings, partitionable: bool) -> Scenario {
        let kit = Kit::new(name).unwrap();
        let binary = Path::new(env!("CARGO_BIN_EXE_ferroni"));
        let mut cluster = if partitionable {
            Cluster::partitionable(&kit, binary, 3, timings)
        } else {
            Cluster::new(&kit, binary, 3, timings)
        }
        .unwrap();
        cluster.start_all(&kit).unwrap();
        let writes = cluster.write_connstr();
        await_probe_table(&writes, Duration::from_secs(60))
            .await
            .unwrap();
        let leader = settled(&cluster, Duration::from_secs(90)).await.unwrap();
        let watcher = Watcher::start(cluster.nodes.iter().map(|n| n.connstr()).collect());
        let writer = Writer::start(writes.clone());
        writer.flowing(20, Duration::from_secs(30)).await.unwrap();
        Scenario {
            cluster,
            kit,
            timings,
            leader,
            writes,
            writer: Some(writer),
            watcher: Some(watcher),
        }
    }

    pub fn agent(&self, i: usize) -> &Proc {
        self.cluster.nodes[i].agent.as_ref().unwrap()
    }

    pub fn ttl(&self) -> Duration {
        Duration::from_secs(u64::from(self.timings.ttl))
    }

    /// Writes about `bytes` of WAL on the leader in one statement; returns its flush position
    /// after.
    pub async fn ballast(&self, bytes: i64) -> i64 {
        let (client, conn) = tokio_postgres::connect(&self.writes, tokio_postgres::NoTls)
            .await
            .unwrap();
        tokio::spawn(conn);
        // A row of 200 characters takes about 250 bytes of WAL.
        let rows = bytes / 250;
        client
            .batch_execute(&format!(
                "CREATE TABLE ballast AS SELECT g, repeat('x', 200) AS pad FROM generate_series(1, {rows}) g"
            ))
            .await
            .unwrap();
        client
            .query_one(
                "SELECT pg_catalog.pg_wal_lsn_diff(pg_catalog.pg_current_wal_flush_lsn(), '0/0')::bigint",
                &[],
            )
            .await
            .unwrap()
            .get(0)
    }

    /// Waits until the leader's `/status` key holds a position at or past `lsn`.
    pub async fn status_reaches(&self, lsn: i64, deadline: Duration) {
        let key = format!("/service/{}/status", self.cluster.scope());
        let endpoint = self.cluster.etcd.endpoint();
        wait_until_async(deadline, "the leader's /status at the position", || async {
            let mut client = etcd_client::Client::connect([endpoint.clone()], None)
                .await
                .ok()?;
            let response = client.get(key.as_str(), None).await.ok()?;
            let value = response.kvs().first()?.value_str().ok()?;
            let status: serde_json::Value = serde_json::from_str(value).ok()?;
            (status["optime"].as_i64()? >= lsn).then_some(())
        })
        .await
        .unwrap();
    }

    /// How long after `since` node `i` stopped accepting writes.
    pub async fn stops_writes(&self, i: usize, since: Instant, deadline: Duration) -> Duration {
        let connstr = self.cluster.nodes[i].connstr();
        wait_until_async(
            deadline,
            "the old primary to stop accepting writes",
            || async { (!writable(&connstr).await).then(|| since.elapsed()) },
        )
        .await
        .unwrap()
    }

    /// How long after `since` a node other than `old` accepted writes.
    pub async fn another_primary(
        &self,
        old: usize,
        since: Instant,
        deadline: Duration,
    ) -> Duration {
        probes::another_primary(&self.cluster, old, deadline)
            .await
            .unwrap();
        since.elapsed()
    }

    /// Waits for the cluster to heal and writes to flow again, stops the probes and gathers the
    /// outcome (gaps measured from `fault`).
    pub async fn finish(&mut self, name: &str, fault: Instant) -> Outcome {
        let leader = settled(&self.cluster, Duration::from_secs(120))
            .await
            .unwrap();
        let writer = self.writer.take().unwrap();
        writer.flowing(20, Duration::from_secs(60)).await.unwrap();
        let log = writer.stop().await;
        let watched = self.watcher.take().unwrap().stop_watching().await;
        let overlaps = watched.overlaps.clone();
        let missing = missing_writes(&self.writes, &log).await.unwrap();
        let missing_lsn = missing
            .iter()
            .filter_map(|n| log.lsn.get(n).copied())
            .collect();
        let outcome = Outcome {
            leader,
            longest_gap: log.longest_gap_after(fault),
            acked: log.acked.len(),
            missing,
            missing_lsn,
            overlaps,
            watched,
        };
        eprintln!(
            "{name}: healed, leader node{}; longest write gap {:?}; {} writes acknowledged, {} missing; {} moments with two writable nodes",
            leader + 1,
            outcome.longest_gap,
            outcome.acked,
            outcome.missing.len(),
            outcome.overlaps.len()
        );
        outcome
    }
}
