//! ferronictl against a real three-node cluster (etcd, three `ferroni` agents, PostgreSQL 15),
//! driven as an operator drives patronictl: with `--force`, through the prompts (answers on
//! stdin), and into errors.

use ferroni_testkit::cluster::{Cluster, Timings};
use ferroni_testkit::{Kit, wait_until_async};
use serde_json::Value;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// The agent binary, built beside this one by `cargo test --workspace` (scripts/test).
fn agent_binary() -> PathBuf {
    let ctl = Path::new(env!("CARGO_BIN_EXE_ferronictl"));
    let agent = ctl.with_file_name("ferroni");
    assert!(
        agent.exists(),
        "{} is missing: build the workspace first (cargo build --workspace)",
        agent.display()
    );
    agent
}

/// Runs ferronictl with node1's configuration; `stdin` is the operator's answers.
fn ctl(cluster: &Cluster, args: &[&str], stdin: &str) -> (i32, String, String) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_ferronictl"))
        .arg("-c")
        .arg(&cluster.nodes[0].config)
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    if let Some(mut input) = child.stdin.take() {
        let _ = input.write_all(stdin.as_bytes());
    }
    let out = child.wait_with_output().unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// `list -f json` once a leader and two streaming replicas show: (leader, replicas).
async fn settled(cluster: &Cluster) -> (String, Vec<String>) {
    wait_until_async(
        Duration::from_secs(90),
        "a leader and two streaming replicas",
        || async {
            let (code, out, _) = ctl(cluster, &["list", "-f", "json"], "");
            let rows: Vec<Value> = serde_json::from_str(&out).ok().filter(|_| code == 0)?;
            let leader = rows.iter().find(|r| r["Role"] == "Leader")?["Member"]
                .as_str()?
                .to_string();
            let replicas: Vec<String> = rows
                .iter()
                .filter(|r| r["State"] == "streaming")
                .filter_map(|r| r["Member"].as_str().map(str::to_string))
                .collect();
            (replicas.len() == 2).then_some((leader, replicas))
        },
    )
    .await
    .unwrap()
}

fn start(kit: &Kit) -> Cluster {
    let mut cluster = Cluster::new(kit, &agent_binary(), 3, Timings::FAST).unwrap();
    cluster.start_all(kit).unwrap();
    cluster
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn switchover_failover_and_errors() {
    let kit = Kit::new("ctl-switchover").unwrap();
    let cluster = start(&kit);
    let (leader, replicas) = settled(&cluster).await;

    // With --force, and patronictl 3's --master for --leader (a warning on stderr).
    let (code, out, err) = ctl(
        &cluster,
        &[
            "switchover",
            "--master",
            &leader,
            "--candidate",
            &replicas[0],
            "--force",
        ],
        "",
    );
    assert_eq!(code, 0, "{out}{err}");
    assert_eq!(err, format!("{}\n", ferronictl::deprecated::MASTER_OPTION));
    assert!(
        out.starts_with("Current cluster topology\n+ Cluster: test ("),
        "{out}"
    );
    assert!(
        out.contains(&format!(
            "Successfully switched over to \"{}\"",
            replicas[0]
        )),
        "{out}"
    );
    let (now_leader, _) = settled(&cluster).await;
    assert_eq!(now_leader, replicas[0]);

    // Through the prompts: primary (default), candidate, when (default now), confirmation.
    let answers = format!("\n{leader}\n\ny\n");
    let (code, out, err) = ctl(&cluster, &["switchover"], &answers);
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains(&format!("Primary [{now_leader}]: ")), "{out}");
    assert!(out.contains("Candidate ['"), "{out}");
    assert!(
        out.contains("When should the switchover take place (e.g. "),
        "{out}"
    );
    assert!(
        out.contains(&format!(
            "Are you sure you want to switchover cluster test, demoting current leader {now_leader}? [y/N]: "
        )),
        "{out}"
    );
    assert!(
        out.contains(&format!("Successfully switched over to \"{leader}\"")),
        "{out}"
    );
    let (back, replicas) = settled(&cluster).await;
    assert_eq!(back, leader);

    // A declined confirmation changes nothing.
    let (code, _, err) = ctl(
        &cluster,
        &["switchover", "--candidate", &replicas[0]],
        "\n\nn\n",
    );
    assert_eq!((code, err.as_str()), (1, "Error: Aborting switchover\n"));

    // Failover to a named candidate.
    let (code, out, err) = ctl(
        &cluster,
        &["failover", "--candidate", &replicas[1], "--force"],
        "",
    );
    assert_eq!(code, 0, "{out}{err}");
    assert!(
        out.contains(&format!("Successfully failed over to \"{}\"", replicas[1])),
        "{out}"
    );
    let (leader, _) = settled(&cluster).await;

    // patronictl's messages and exit codes.
    let cases: [(&[&str], &str); 4] = [
        (
            &["switchover", "--candidate", "nosuch", "--force"],
            "Error: Member nosuch does not exist in cluster test or is tagged as nofailover\n",
        ),
        (
            &["switchover", "--leader", "nosuch", "--force"],
            "Error: Member nosuch is not the leader of cluster test\n",
        ),
        (
            &["failover", "--force"],
            "Error: Failover could be performed only to a specific candidate\n",
        ),
        (&["failover", "--candidate", leader.as_str(), "--force"], ""),
    ];
    for (args, want) in cases {
        let (code, out, err) = ctl(&cluster, args, "");
        assert_eq!(code, 1, "{args:?}: {out}{err}");
        if !want.is_empty() {
            assert_eq!(err, want, "{args:?}");
        } else {
            assert_eq!(
                err,
                format!("Error: Member {leader} is already the leader of cluster test\n")
            );
        }
    }
    let (code, _, err) = ctl(&cluster, &["list", "-f", "xml"], "");
    assert_eq!(code, 2, "{err}");

    // The DCS does not answer: one line, exit 1, within retry_timeout (3 s).
    cluster.etcd.member.proc.freeze().unwrap();
    let asked = Instant::now();
    let (code, out, err) = ctl(&cluster, &["list"], "");
    let took = asked.elapsed();
    cluster.etcd.member.proc.thaw().unwrap();
    eprintln!("ferronictl list with etcd frozen: exit {code} after {took:?}: {err}");
    assert_eq!(code, 1, "{out}{err}");
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(err.starts_with("Error: "), "{err}");
    assert!(took < Duration::from_secs(3), "took {took:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn configuration_maintenance_and_removal() {
    let kit = Kit::new("ctl-maintenance").unwrap();
    let cluster = start(&kit);
    let (leader, replicas) = settled(&cluster).await;

    // edit-config reaches every member's REST view of the configuration.
    let (code, out, err) = ctl(&cluster, &["edit-config", "-s", "ttl=25", "--force"], "");
    assert_eq!(code, 0, "{out}{err}");
    assert!(
        out.contains("-ttl: 20\n+ttl: 25\n") && out.ends_with("Configuration changed\n"),
        "{out}"
    );
    for node in &cluster.nodes {
        let url = format!("http://127.0.0.1:{}/config", node.api_port);
        wait_until_async(
            Duration::from_secs(20),
            "ttl 25 on every member",
            || async {
                let body = reqwest::get(&url).await.ok()?.text().await.ok()?;
                let config: Value = serde_json::from_str(&body).ok()?;
                (config["ttl"] == 25).then_some(())
            },
        )
        .await
        .unwrap();
    }
    let (code, out, _) = ctl(&cluster, &["edit-config", "-s", "ttl=25", "--force"], "");
    assert_eq!((code, out.as_str()), (0, "Not changed\n"));
    let (code, _, err) = ctl(&cluster, &["edit-config", "-s", "ttl=abc", "--force"], "");
    assert_eq!(code, 1);
    assert!(
        err.starts_with("Error: Invalid configuration, not changed"),
        "{err}"
    );
    // A timing the agents would adjust is announced, with what they will apply, before the
    // question (declined here).
    let (code, out, err) = ctl(&cluster, &["edit-config", "-s", "loop_wait=100"], "n\n");
    assert_eq!(code, 0, "{out}{err}");
    assert!(
        err.contains(
            "Warning: Violated the rule \"loop_wait + 2*retry_timeout <= ttl\", where ttl=25"
        ) && err.contains("Adjusting loop_wait from 100 to")
            && err.contains("Warning: the agents will apply ttl=25, loop_wait="),
        "{err}"
    );
    let (code, out, _) = ctl(&cluster, &["show-config"], "");
    assert_eq!(code, 0);
    assert!(
        out.contains("ttl: 25\n") && !out.contains("loop_wait: 100"),
        "{out}"
    );

    // A parameter that needs a restart, then restart --pending.
    let (code, out, err) = ctl(
        &cluster,
        &["edit-config", "-p", "max_connections=60", "--force"],
        "",
    );
    assert_eq!(code, 0, "{out}{err}");
    wait_until_async(
        Duration::from_secs(30),
        "pending restart on every member",
        || async {
            let (_, out, _) = ctl(&cluster, &["list", "-f", "json"], "");
            let rows: Vec<Value> = serde_json::from_str(&out).ok()?;
            rows.iter()
                .all(|r| r["Pending restart"] == "*")
                .then_some(())
        },
    )
    .await
    .unwrap();
    let (code, out, err) = ctl(&cluster, &["restart", "test", "--pending", "--force"], "");
    assert_eq!(code, 0, "{out}{err}");
    for name in [&leader, &replicas[0], &replicas[1]] {
        assert!(
            out.contains(&format!("Success: restart on member {name}\n")),
            "{out}"
        );
    }

    // Reload, through the confirmation.
    let (code, out, err) = ctl(&cluster, &["reload", "test", &replicas[0]], "y\n");
    assert_eq!(code, 0, "{out}{err}");
    assert!(
        out.contains(&format!(
            "Are you sure you want to reload members {}? [y/N]: ",
            replicas[0]
        )),
        "{out}"
    );
    assert!(
        out.contains(&format!(
            "Reload request received for member {} and will be processed within 1 seconds",
            replicas[0]
        )),
        "{out}"
    );

    // patronictl 3's role `master` is the primary, with a warning on stderr.
    let (leader_now, _) = settled(&cluster).await;
    let (code, out, err) = ctl(&cluster, &["reload", "test", "-r", "master", "--force"], "");
    assert_eq!(code, 0, "{out}{err}");
    assert_eq!(err, format!("{}\n", ferronictl::deprecated::MASTER_ROLE));
    assert_eq!(
        out.matches("Reload request received for member").count(),
        1,
        "{out}"
    );
    assert!(
        out.contains(&format!("Reload request received for member {leader_now} ")),
        "{out}"
    );

    // Pause and resume, waiting for every member.
    let (code, out, err) = ctl(&cluster, &["pause", "--wait"], "");
    assert_eq!(
        (code, out.as_str()),
        (
            0,
            "'pause' request sent, waiting until it is recognized by all nodes\nSuccess: cluster management is paused\n"
        ),
        "{err}"
    );
    let (code, _, err) = ctl(&cluster, &["pause"], "");
    assert_eq!(
        (code, err.as_str()),
        (1, "Error: Cluster is already paused\n")
    );
    let (code, out, _) = ctl(&cluster, &["list"], "");
    assert!(
        code == 0 && out.ends_with(" Maintenance mode: on\n"),
        "{out}"
    );
    let (code, out, _) = ctl(&cluster, &["resume", "--wait"], "");
    assert_eq!(
        (code, out.as_str()),
        (
            0,
            "'resume' request sent, waiting until it is recognized by all nodes\nSuccess: cluster management is resumed\n"
        )
    );

    // Reinitialize a replica and wait for it.
    let (code, out, err) = ctl(
        &cluster,
        &["reinit", "test", &replicas[1], "--force", "--wait"],
        "",
    );
    assert_eq!(code, 0, "{out}{err}");
    assert!(
        out.contains(&format!(
            "Success: reinitialize for member {}\n",
            replicas[1]
        )),
        "{out}"
    );
    assert!(
        out.contains(&format!("Reinitialize is completed on: {}\n", replicas[1])),
        "{out}"
    );
    let (code, _, err) = ctl(&cluster, &["reinit", "test", &leader, "--force"], "");
    assert_eq!(
        (code, err.as_str()),
        (1, "Error: No 'replica' among provided members\n")
    );
    settled(&cluster).await;

    // query on the leader.
    let (code, out, err) = ctl(
        &cluster,
        &[
            "query",
            "-U",
            "postgres",
            "-d",
            "postgres",
            "-c",
            "SELECT 1 AS one, pg_is_in_recovery() AS r",
        ],
        "",
    );
    let _ = err;
    assert_eq!(code, 0);
    assert!(
        out.starts_with("2") && out.contains("ERROR"),
        "without a password the server refuses: {out}"
    );
    let mut with_password = Command::new(env!("CARGO_BIN_EXE_ferronictl"));
    let out = with_password
        .arg("-c")
        .arg(&cluster.nodes[0].config)
        .args([
            "query",
            "-U",
            "postgres",
            "-d",
            "postgres",
            "-c",
            "SELECT 1 AS one, pg_is_in_recovery() AS r",
        ])
        .env("PGPASSWORD", "super-pass")
        .output()
        .unwrap();
    assert_eq!(String::from_utf8_lossy(&out.stdout), "one\tr\n1\tf\n");

    // remove: every confirmation, then the keys are gone.
    let (code, out, err) = ctl(&cluster, &["remove", "test"], "wrong\n");
    assert_eq!(
        (code, err.as_str()),
        (1, "Error: Cluster names specified do not match\n"),
        "{out}"
    );
    let answers = format!("test\nYes I am aware\n{leader}\n");
    for node in &cluster.nodes {
        // Stop the agents first, as an operator would, so nothing writes the keys back.
        if let Some(agent) = &node.agent {
            agent.signal(nix::sys::signal::Signal::SIGTERM).unwrap();
        }
    }
    wait_until_async(Duration::from_secs(60), "the agents to stop", || async {
        cluster
            .nodes
            .iter()
            .all(|n| n.postmaster_pid().is_none())
            .then_some(())
    })
    .await
    .unwrap();
    let (code, out, err) = ctl(&cluster, &["remove", "test"], &answers);
    assert_eq!(code, 0, "{out}{err}");
    let (code, out, _) = ctl(&cluster, &["list"], "");
    assert_eq!(code, 0);
    assert!(out.starts_with("+ Cluster: test (uninitialized) "), "{out}");
}
