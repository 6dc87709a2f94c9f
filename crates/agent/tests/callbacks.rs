//! Callbacks as Patroni 4.1.5 runs them, on a real three-node cluster: every member runs a
//! script that appends a timestamp and its arguments to the member's own file, for a bootstrap,
//! a switchover, a restart of each member, a reload of each and a kill -9 failover; the lines
//! each member wrote in each stage are exactly those Patroni wrote for the same sequence with the
//! same script (tests/fixtures/callbacks/patroni-4.1.5.txt, captured with bench/callbacks).
//! And a `pre_promote` that exits 1 keeps its candidate from promoting while another member
//! takes over.

use ferroni_testkit::cluster::{Cluster, Timings};
use ferroni_testkit::probes::query_one;
use ferroni_testkit::{Kit, wait_until_async};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

const FIXTURE: &str = include_str!("../../../tests/fixtures/callbacks/patroni-4.1.5.txt");

/// The callback script of bench/callbacks.py: the file to append to, then Patroni's arguments.
const SCRIPT: &str = "#!/bin/sh\nout=$1\nshift\necho \"$(date +%s.%N) $*\" >> \"$out\"\n";

fn agent_binary() -> &'static Path {
    Path::new(env!("CARGO_BIN_EXE_ferroni"))
}

/// The fixture's stages: each one's name and the lines (`member action role scope`) written in it.
fn stages() -> Vec<(String, Vec<String>)> {
    let mut stages: Vec<(String, Vec<String>)> = Vec::new();
    for line in FIXTURE.lines().filter(|l| !l.starts_with('#')) {
        match line.strip_prefix('[').and_then(|l| l.strip_suffix(']')) {
            Some(name) => stages.push((name.to_string(), Vec::new())),
            None => {
                if let Some((_, lines)) = stages.last_mut() {
                    lines.push(line.to_string());
                }
            }
        }
    }
    stages
}

/// Each member's lines, in the order it wrote them: from the fixture's first `upto` stages, or
/// from the members' files.
type Written = BTreeMap<String, Vec<String>>;

fn expected(stages: &[(String, Vec<String>)], upto: usize) -> Written {
    let mut written = Written::new();
    for line in stages[..upto].iter().flat_map(|(_, lines)| lines) {
        if let Some((member, rest)) = line.split_once(' ') {
            written
                .entry(member.to_string())
                .or_default()
                .push(rest.to_string());
        }
    }
    written
}

fn callback_log(cluster: &Cluster, i: usize) -> PathBuf {
    cluster.nodes[i].config.with_file_name("callbacks.log")
}

fn written(cluster: &Cluster) -> Written {
    (0..cluster.nodes.len())
        .filter_map(|i| {
            let text = std::fs::read_to_string(callback_log(cluster, i)).ok()?;
            let lines = text
                .lines()
                .filter_map(|l| l.split_once(' ').map(|(_, args)| args.to_string()))
                .collect();
            Some((cluster.nodes[i].name.clone(), lines))
        })
        .collect()
}

/// Adds `lines` to the `postgresql` section of node `i`'s configuration, and `tail` at its end.
fn configure(cluster: &Cluster, i: usize, lines: &str, tail: &str) {
    let path = &cluster.nodes[i].config;
    let yaml = std::fs::read_to_string(path).unwrap();
    let yaml = yaml.replacen("\npostgresql:\n", &format!("\npostgresql:\n{lines}"), 1);
    std::fs::write(path, format!("{yaml}{tail}")).unwrap();
}

/// An executable script named `name` in a directory the agents can read.
fn script(kit: &Kit, name: &str, text: &str) -> PathBuf {
    let dir = kit.postgres_dir("scripts").unwrap();
    let path = dir.join(name);
    std::fs::write(&path, text).unwrap();
    std::fs::set_permissions(&path, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    path
}

/// Node `i` runs as a primary and the nodes `replicas` run as replicas streaming from it (a
/// clone's pg_basebackup streams under the member's name too: the replica itself must answer).
async fn primary_with(cluster: &Cluster, i: usize, replicas: &[usize], deadline: Duration) {
    let connstr = cluster.nodes[i].connstr();
    wait_until_async(deadline, "the primary and its streaming replicas", || async {
        let in_recovery: bool = query_one(&connstr, "SELECT pg_is_in_recovery()").await?;
        if in_recovery {
            return None;
        }
        for &r in replicas {
            let node = &cluster.nodes[r];
            let replica: bool = query_one(&node.connstr(), "SELECT pg_is_in_recovery()").await?;
            let sql = format!(
                "SELECT count(*) FROM pg_stat_replication WHERE state = 'streaming' AND application_name = '{}'",
                node.name
            );
            let streaming: i64 = query_one(&connstr, &sql).await?;
            if !replica || streaming == 0 {
                return None;
            }
        }
        Some(())
    })
    .await
    .unwrap();
}

/// Waits until node `i`'s `/cluster` shows `member` running or streaming.
async fn member_running(cluster: &Cluster, i: usize, member: &str) {
    let url = format!("{}/cluster", cluster.nodes[i].api_url());
    wait_until_async(
        Duration::from_secs(60),
        "the candidate's member key running",
        || async {
            let text = reqwest::get(&url).await.ok()?.text().await.ok()?;
            let body: serde_json::Value = serde_json::from_str(&text).ok()?;
            let state = body["members"]
                .as_array()?
                .iter()
                .find(|m| m["name"] == member)?["state"]
                .as_str()?
                .to_string();
            matches!(state.as_str(), "running" | "streaming").then_some(())
        },
    )
    .await
    .unwrap();
}

async fn post(cluster: &Cluster, i: usize, path: &str, body: &str) -> u16 {
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(120))
        .build()
        .unwrap();
    let url = format!("{}/{path}", cluster.nodes[i].api_url());
    match client
        .post(url)
        .header("Content-Type", "application/json")
        .body(body.to_string())
        .send()
        .await
    {
        Ok(r) => r.status().as_u16(),
        Err(_) => 0,
    }
}

/// Waits until the members' files hold exactly the fixture's lines up to `stage` (inclusive).
async fn stage_done(kit: &Kit, cluster: &Cluster, stages: &[(String, Vec<String>)], stage: usize) {
    let want = expected(stages, stage + 1);
    let name = &stages[stage].0;
    let reached = wait_until_async(Duration::from_secs(30), name, || async {
        (written(cluster) == want).then_some(())
    })
    .await;
    if reached.is_err() {
        kit.print_logs();
        panic!(
            "after {name}: the members' callbacks differ from Patroni 4.1.5's\n got:      {:#?}\n expected: {want:#?}",
            written(cluster)
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn callbacks_run_as_patroni_runs_them() {
    let stages = stages();
    let names: Vec<&str> = stages.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(
        names,
        [
            "bootstrap",
            "switchover",
            "restart",
            "reload",
            "kill -9 failover"
        ]
    );
    let kit = Kit::new("callbacks").unwrap();
    let mut cluster = Cluster::new(&kit, agent_binary(), 3, Timings::FAST).unwrap();
    let cb = script(&kit, "callback.sh", SCRIPT);
    for i in 0..3 {
        let command = format!("{} {}", cb.display(), callback_log(&cluster, i).display());
        let lines: String = [
            "on_start",
            "on_stop",
            "on_restart",
            "on_reload",
            "on_role_change",
        ]
        .iter()
        .map(|c| format!("    {c}: {command}\n"))
        .collect();
        // node3 never fails over: the crash has one possible winner, as in the fixture.
        let tail = if i == 2 {
            "tags:\n  nofailover: true\n"
        } else {
            ""
        };
        configure(&cluster, i, &format!("  callbacks:\n{lines}"), tail);
    }

    cluster.start(&kit, 0).unwrap();
    primary_with(&cluster, 0, &[], Duration::from_secs(120)).await;
    cluster.start(&kit, 1).unwrap();
    cluster.start(&kit, 2).unwrap();
    primary_with(&cluster, 0, &[1, 2], Duration::from_secs(180)).await;
    stage_done(&kit, &cluster, &stages, 0).await;

    // The candidate must be running in its member key too (it publishes at its next cycle),
    // or the switchover is refused as Patroni refuses it.
    member_running(&cluster, 0, "node2").await;
    let switchover = r#"{"leader": "node1", "candidate": "node2"}"#;
    assert_eq!(post(&cluster, 0, "switchover", switchover).await, 200);
    primary_with(&cluster, 1, &[0, 2], Duration::from_secs(120)).await;
    stage_done(&kit, &cluster, &stages, 1).await;

    for i in [1, 0, 2] {
        assert_eq!(
            post(&cluster, i, "restart", "{}").await,
            200,
            "node{}",
            i + 1
        );
        primary_with(&cluster, 1, &[0, 2], Duration::from_secs(120)).await;
    }
    stage_done(&kit, &cluster, &stages, 2).await;

    for i in 0..3 {
        assert_eq!(post(&cluster, i, "reload", "").await, 202, "node{}", i + 1);
    }
    stage_done(&kit, &cluster, &stages, 3).await;

    cluster.nodes[1].agent.as_mut().unwrap().kill9().unwrap();
    cluster.nodes[1].agent = None;
    primary_with(&cluster, 0, &[2], Duration::from_secs(120)).await;
    stage_done(&kit, &cluster, &stages, 4).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_refusing_pre_promote_keeps_its_candidate_from_promoting() {
    let kit = Kit::new("pre-promote").unwrap();
    let mut cluster = Cluster::new(&kit, agent_binary(), 3, Timings::FASTEST).unwrap();
    let calls = kit
        .postgres_dir("scripts")
        .unwrap()
        .join("pre_promote.calls");
    let refuse = script(
        &kit,
        "refuse.sh",
        &format!("#!/bin/sh\necho refused >> {}\nexit 1\n", calls.display()),
    );
    configure(
        &cluster,
        1,
        &format!("  pre_promote: {}\n", refuse.display()),
        "",
    );
    // node3 may not lead until node2 has refused: node2 is the only candidate at first.
    configure(&cluster, 2, "", "tags:\n  nofailover: true\n");
    cluster.start(&kit, 0).unwrap();
    primary_with(&cluster, 0, &[], Duration::from_secs(120)).await;
    cluster.start(&kit, 1).unwrap();
    cluster.start(&kit, 2).unwrap();
    primary_with(&cluster, 0, &[1, 2], Duration::from_secs(180)).await;

    cluster.nodes[0].agent.as_mut().unwrap().kill9().unwrap();
    cluster.nodes[0].agent = None;
    wait_until_async(Duration::from_secs(60), "node2's pre_promote", || async {
        std::fs::read_to_string(&calls)
            .ok()
            .filter(|c| !c.is_empty())
    })
    .await
    .unwrap();
    let node2_log = kit.log_path("node2");
    wait_until_async(
        Duration::from_secs(30),
        "node2 giving the lock up",
        || async {
            let log = std::fs::read_to_string(&node2_log).ok()?;
            log.contains("Promotion cancelled because the pre-promote script failed")
                .then_some(())
        },
    )
    .await
    .unwrap();
    let in_recovery: Option<bool> =
        query_one(&cluster.nodes[1].connstr(), "SELECT pg_is_in_recovery()").await;
    assert_eq!(
        in_recovery,
        Some(true),
        "node2 promoted despite pre_promote"
    );

    // node3 may lead now: it takes over while node2 stays out of the race.
    let config = &cluster.nodes[2].config;
    let yaml = std::fs::read_to_string(config).unwrap();
    std::fs::write(
        config,
        yaml.replace("nofailover: true", "nofailover: false"),
    )
    .unwrap();
    assert_eq!(post(&cluster, 2, "reload", "").await, 202);
    primary_with(&cluster, 2, &[1], Duration::from_secs(120)).await;
    let in_recovery: Option<bool> =
        query_one(&cluster.nodes[1].connstr(), "SELECT pg_is_in_recovery()").await;
    assert_eq!(in_recovery, Some(true), "node2 is node3's replica");
    let log = std::fs::read_to_string(&node2_log).unwrap_or_default();
    assert!(
        log.contains("pre_promote script `") && log.contains("exited with 1"),
        "node2 logged its script's exit"
    );
}
