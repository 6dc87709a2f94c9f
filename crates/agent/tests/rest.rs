//! The REST API's mutating endpoints on a real three-node cluster (etcd, three agents, three
//! PostgreSQL 15), with `restapi.authentication` set as users set it: switchover and failover
//! (also scheduled) under a write load, configuration changes reaching every member, restart of a
//! pending-restart replica, reload, reinitialize, scheduled restart — with Patroni's codes and
//! messages.

use ferroni_testkit::cluster::{Cluster, Timings};
use ferroni_testkit::probes::{Watcher, Writer, create_probe_table, missing_writes};
use ferroni_testkit::{Kit, wait_until_async};
use serde_json::Value;
use std::path::Path;
use std::time::{Duration, Instant};

const AUTH: (&str, &str) = ("admin", "secret");

/// A cluster whose members require Basic authentication for mutating requests.
fn cluster(kit: &Kit) -> Cluster {
    let cluster = Cluster::new(
        kit,
        Path::new(env!("CARGO_BIN_EXE_ferroni")),
        3,
        Timings::FAST,
    )
    .unwrap();
    for node in &cluster.nodes {
        let yaml = std::fs::read_to_string(&node.config).unwrap();
        let yaml = yaml.replacen(
            "restapi:\n",
            "restapi:\n  authentication:\n    username: admin\n    password: secret\n",
            1,
        );
        std::fs::write(&node.config, yaml).unwrap();
    }
    cluster
}

fn url(cluster: &Cluster, i: usize, path: &str) -> String {
    format!("http://127.0.0.1:{}/{path}", cluster.nodes[i].api_port)
}

/// Sends a request; returns the status code and the body.
async fn call(
    method: &str,
    url: &str,
    body: Option<&str>,
    auth: Option<(&str, &str)>,
) -> (u16, String) {
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(60))
        .build()
        .unwrap();
    let mut request = client.request(method.parse().unwrap(), url);
    if let Some((user, password)) = auth {
        request = request.basic_auth(user, Some(password));
    }
    if let Some(body) = body {
        request = request
            .header("Content-Type", "application/json")
            .body(body.to_string());
    }
    match request.send().await {
        Ok(r) => (r.status().as_u16(), r.text().await.unwrap_or_default()),
        Err(e) => (0, e.to_string()),
    }
}

async fn get_json(url: &str) -> Option<Value> {
    let (code, body) = call("GET", url, None, None).await;
    (code == 200).then(|| serde_json::from_str(&body).ok())?
}

/// `/cluster` as node `i` sees it, once it has a leader and every other member streams.
async fn settled(cluster: &Cluster, i: usize, deadline: Duration) -> (String, Vec<String>) {
    wait_until_async(deadline, "a leader and two streaming replicas", || async {
        let view = get_json(&url(cluster, i, "cluster")).await?;
        let members = view["members"].as_array()?;
        let leader = members.iter().find(|m| m["role"] == "leader")?["name"]
            .as_str()?
            .to_string();
        let replicas: Vec<String> = members
            .iter()
            .filter(|m| m["role"] == "replica" && m["state"] == "streaming")
            .filter_map(|m| m["name"].as_str().map(str::to_string))
            .collect();
        (replicas.len() == 2).then_some((leader, replicas))
    })
    .await
    .unwrap()
}

fn index(cluster: &Cluster, name: &str) -> usize {
    cluster.nodes.iter().position(|n| n.name == name).unwrap()
}

async fn show(cluster: &Cluster, i: usize, setting: &str) -> Option<String> {
    ferroni_testkit::probes::show(&cluster.nodes[i].connstr(), setting).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn switchover_and_failover_through_the_rest_api() {
    let kit = Kit::new("rest-switchover").unwrap();
    let mut cluster = cluster(&kit);
    cluster.start_all(&kit).unwrap();
    let (leader, replicas) = settled(&cluster, 0, Duration::from_secs(90)).await;
    let writes = cluster.write_connstr();
    create_probe_table(&writes).await.unwrap();

    // Access: no credentials, wrong credentials; GET needs none.
    let body = format!(
        r#"{{"leader": "{leader}", "candidate": "{}"}}"#,
        replicas[0]
    );
    let (code, text) = call("POST", &url(&cluster, 0, "switchover"), Some(&body), None).await;
    assert_eq!((code, text.as_str()), (401, "no auth header received"));
    let wrong = Some(("admin", "wrong"));
    let (code, text) = call("POST", &url(&cluster, 0, "switchover"), Some(&body), wrong).await;
    assert_eq!((code, text.as_str()), (401, "not authenticated"));
    // Refusals with Patroni's codes and messages.
    let refusals = [
        (
            "switchover",
            r#"{"candidate": "node2"}"#.to_string(),
            400,
            "Switchover could be performed only from a specific leader",
        ),
        (
            "failover",
            format!(r#"{{"leader": "{leader}"}}"#),
            400,
            "Failover could be performed only to a specific candidate",
        ),
        (
            "switchover",
            format!(r#"{{"leader": "{leader}", "candidate": "{leader}"}}"#),
            400,
            "Switchover target and source are the same",
        ),
        (
            "switchover",
            format!(r#"{{"leader": "{leader}", "candidate": "nosuch"}}"#),
            412,
            "candidate does not exists",
        ),
        (
            "switchover",
            format!(
                r#"{{"leader": "{}", "candidate": "{}"}}"#,
                replicas[0], replicas[1]
            ),
            412,
            "leader name does not match",
        ),
        (
            "switchover",
            format!(r#"{{"leader": "{leader}", "scheduled_at": "not-a-time"}}"#),
            422,
            "Unable to parse scheduled timestamp. It should be in an unambiguous format, e.g. ISO 8601",
        ),
        ("switchover", "{\"leader\": ".to_string(), 400, ""),
    ];
    for (path, body, want_code, want_text) in &refusals {
        let (code, text) = call("POST", &url(&cluster, 1, path), Some(body), Some(AUTH)).await;
        assert_eq!(code, *want_code, "{path} {body}: {text}");
        assert!(text.starts_with(want_text), "{path} {body}: {text}");
    }
    let (code, text) = call("DELETE", &url(&cluster, 0, "switchover"), None, Some(AUTH)).await;
    assert_eq!((code, text.as_str()), (404, "no switchover is scheduled"));

    // A switchover under a write load, asked of a replica (the leader does not have to be asked).
    let watcher = Watcher::start(cluster.nodes.iter().map(|n| n.connstr()).collect());
    let writer = Writer::start(writes.clone());
    writer.flowing(20, Duration::from_secs(30)).await.unwrap();
    let target = replicas[0].clone();
    let asked = Instant::now();
    let via = index(&cluster, &replicas[1]);
    let (code, text) = call(
        "POST",
        &url(&cluster, via, "switchover"),
        Some(&body),
        Some(AUTH),
    )
    .await;
    let answered = asked.elapsed();
    assert_eq!(
        (code, text.as_str()),
        (
            200,
            format!("Successfully switched over to \"{target}\"").as_str()
        )
    );
    writer.flowing(20, Duration::from_secs(30)).await.unwrap();
    let (new_leader, _) = settled(&cluster, via, Duration::from_secs(60)).await;
    assert_eq!(new_leader, target);
    eprintln!("switchover: answered after {answered:?}; the old leader streams again");

    // A failover back to the former leader, asked of the new leader.
    let body = format!(r#"{{"candidate": "{leader}"}}"#);
    let at = index(&cluster, &target);
    let (code, text) = call(
        "POST",
        &url(&cluster, at, "failover"),
        Some(&body),
        Some(AUTH),
    )
    .await;
    assert_eq!(
        (code, text.as_str()),
        (
            200,
            format!("Successfully failed over to \"{leader}\"").as_str()
        )
    );
    let (back, _) = settled(&cluster, 0, Duration::from_secs(60)).await;
    assert_eq!(back, leader);
    writer.flowing(20, Duration::from_secs(30)).await.unwrap();
    let log = writer.stop().await;
    let gap = log.longest_gap_after(asked);
    eprintln!("switchover + failover: longest write gap {gap:?}");
    let missing = missing_writes(&writes, &log).await.unwrap();
    assert!(missing.is_empty(), "acknowledged writes lost: {missing:?}");
    let violations = watcher.stop().await;
    assert!(violations.is_empty(), "{violations:?}");

    // A scheduled switchover waits for its time, shows in /cluster, and happens then.
    // Whole seconds: the request carries no fraction, and the comparison below must use the
    // moment actually scheduled.
    let when =
        chrono::SubsecRound::trunc_subsecs(chrono::Utc::now() + chrono::Duration::seconds(4), 0);
    let when_text = when.to_rfc3339_opts(chrono::SecondsFormat::Secs, false);
    let (_, replicas) = settled(&cluster, 0, Duration::from_secs(60)).await;
    let body = format!(
        r#"{{"leader": "{leader}", "candidate": "{}", "scheduled_at": "{when_text}"}}"#,
        replicas[0]
    );
    let (code, text) = call(
        "POST",
        &url(&cluster, 0, "switchover"),
        Some(&body),
        Some(AUTH),
    )
    .await;
    assert_eq!((code, text.as_str()), (202, "Switchover scheduled"));
    let shown = wait_until_async(
        Duration::from_secs(3),
        "the scheduled switchover in /cluster",
        || async {
            let view = get_json(&url(&cluster, 0, "cluster")).await?;
            view.get("scheduled_switchover").cloned()
        },
    )
    .await
    .unwrap();
    assert_eq!(shown["to"], replicas[0].as_str(), "{shown}");
    assert_eq!(shown["from"], leader.as_str(), "{shown}");
    let switched = wait_until_async(
        Duration::from_secs(30),
        "the scheduled switchover",
        || async {
            let view = get_json(&url(&cluster, 0, "cluster")).await?;
            let members = view["members"].as_array()?;
            members
                .iter()
                .any(|m| m["role"] == "leader" && m["name"] == replicas[0].as_str())
                .then(chrono::Utc::now)
        },
    )
    .await
    .unwrap();
    let late = switched - when;
    eprintln!(
        "scheduled switchover: new leader seen {} ms after the scheduled time",
        late.num_milliseconds()
    );
    assert!(
        late.num_milliseconds() >= 0,
        "switched over before the scheduled time"
    );
    assert!(late.num_seconds() < 5, "switched over {late:?} late");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn configuration_restart_reload_and_reinitialize_through_the_rest_api() {
    let kit = Kit::new("rest-maintenance").unwrap();
    let mut cluster = cluster(&kit);
    cluster.start_all(&kit).unwrap();
    let (leader, replicas) = settled(&cluster, 0, Duration::from_secs(90)).await;
    let l = index(&cluster, &leader);
    let r = index(&cluster, &replicas[0]);

    // PATCH /config: merged, compare-and-set, returned in full, applied by every member.
    let patch = r#"{"postgresql": {"parameters": {"work_mem": "8MB"}}}"#;
    let (code, text) = call("PATCH", &url(&cluster, r, "config"), Some(patch), None).await;
    assert_eq!(code, 401, "{text}");
    let (code, text) = call(
        "PATCH",
        &url(&cluster, r, "config"),
        Some(patch),
        Some(AUTH),
    )
    .await;
    assert_eq!(code, 200, "{text}");
    let config: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(config["postgresql"]["parameters"]["work_mem"], "8MB");
    assert_eq!(config["ttl"], 20);
    for i in 0..3 {
        wait_until_async(
            Duration::from_secs(20),
            "work_mem = 8MB everywhere",
            || async { (show(&cluster, i, "work_mem").await? == "8MB").then_some(()) },
        )
        .await
        .unwrap();
    }
    let (code, _) = call(
        "PATCH",
        &url(&cluster, r, "config"),
        Some("{\"ttl\": "),
        Some(AUTH),
    )
    .await;
    assert_eq!(code, 400);
    // A value the agents cannot read is refused by name, merged or replacing, and not written.
    for method in ["PATCH", "PUT"] {
        let (code, text) = call(
            method,
            &url(&cluster, r, "config"),
            Some(r#"{"ttl": "abc"}"#),
            Some(AUTH),
        )
        .await;
        assert_eq!(code, 400, "{method}: {text}");
        assert!(
            text.contains("ttl: 'abc' is not an integer"),
            "{method}: {text}"
        );
    }
    let (_, text) = call("GET", &url(&cluster, r, "config"), None, None).await;
    let config: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(config["ttl"], 20, "{text}");

    // A parameter that needs a restart: pending everywhere, restart_pending restarts a replica.
    let patch = r#"{"postgresql": {"parameters": {"max_connections": 60, "work_mem": null}}}"#;
    let (code, text) = call(
        "PATCH",
        &url(&cluster, l, "config"),
        Some(patch),
        Some(AUTH),
    )
    .await;
    assert_eq!(code, 200, "{text}");
    assert!(!text.contains("work_mem"), "{text}");
    let status = wait_until_async(
        Duration::from_secs(20),
        "pending restart on the replica",
        || async {
            let s = get_json(&url(&cluster, r, "patroni")).await?;
            (s["pending_restart"] == true).then_some(s)
        },
    )
    .await
    .unwrap();
    assert_eq!(
        status["pending_restart_reason"]["max_connections"],
        serde_json::json!({"old_value": "50", "new_value": "60"})
    );
    let (code, text) = call(
        "POST",
        &url(&cluster, r, "restart"),
        Some(r#"{"role": "primary"}"#),
        Some(AUTH),
    )
    .await;
    assert_eq!(
        (code, text.as_str()),
        (503, "restart conditions are not satisfied")
    );
    let (code, text) = call(
        "POST",
        &url(&cluster, r, "restart"),
        Some(r#"{"role": "leader"}"#),
        Some(AUTH),
    )
    .await;
    assert_eq!(code, 400, "{text}");
    let (code, text) = call(
        "POST",
        &url(&cluster, r, "restart"),
        Some(r#"{"restart_pending": true}"#),
        Some(AUTH),
    )
    .await;
    assert_eq!((code, text.as_str()), (200, "restarted successfully"));
    assert_eq!(
        show(&cluster, r, "max_connections").await.as_deref(),
        Some("60")
    );
    wait_until_async(
        Duration::from_secs(20),
        "the pending flag cleared",
        || async {
            let s = get_json(&url(&cluster, r, "patroni")).await?;
            (s.get("pending_restart").is_none() && s["state"] == "running").then_some(())
        },
    )
    .await
    .unwrap();

    // A scheduled restart of the leader: listed, refused twice, then run at its time.
    let before =
        get_json(&url(&cluster, l, "patroni")).await.unwrap()["postmaster_start_time"].clone();
    let when = (chrono::Utc::now() + chrono::Duration::seconds(3))
        .to_rfc3339_opts(chrono::SecondsFormat::Secs, false);
    let body = format!(r#"{{"schedule": "{when}"}}"#);
    let (code, text) = call(
        "POST",
        &url(&cluster, l, "restart"),
        Some(&body),
        Some(AUTH),
    )
    .await;
    assert_eq!((code, text.as_str()), (202, "Restart scheduled"));
    let (code, text) = call(
        "POST",
        &url(&cluster, l, "restart"),
        Some(&body),
        Some(AUTH),
    )
    .await;
    assert_eq!(
        (code, text.as_str()),
        (409, "Another restart is already scheduled")
    );
    let status = get_json(&url(&cluster, l, "patroni")).await.unwrap();
    assert_eq!(
        status["scheduled_restart"]["schedule"],
        when.as_str(),
        "{status}"
    );
    wait_until_async(Duration::from_secs(30), "the scheduled restart", || async {
        let s = get_json(&url(&cluster, l, "patroni")).await?;
        (s["postmaster_start_time"] != before
            && s["state"] == "running"
            && s.get("scheduled_restart").is_none())
        .then_some(())
    })
    .await
    .unwrap();
    assert_eq!(
        show(&cluster, l, "max_connections").await.as_deref(),
        Some("60")
    );
    let (code, text) = call("DELETE", &url(&cluster, l, "restart"), None, Some(AUTH)).await;
    assert_eq!((code, text.as_str()), (404, "no restarts are scheduled"));

    // Reload answers at once.
    let (code, text) = call("POST", &url(&cluster, r, "reload"), None, Some(AUTH)).await;
    assert_eq!((code, text.as_str()), (202, "reload scheduled"));

    // Reinitialize: refused on the leader, re-clones a replica.
    let (code, text) = call(
        "POST",
        &url(&cluster, l, "reinitialize"),
        Some("{}"),
        Some(AUTH),
    )
    .await;
    assert_eq!(
        (code, text.as_str()),
        (503, "I am the leader, can not reinitialize")
    );
    let marker = cluster.nodes[r].data_dir.join("ferroni-reinit-marker");
    std::fs::write(&marker, "gone after a re-clone").unwrap();
    let (code, text) = call("POST", &url(&cluster, r, "reinitialize"), None, Some(AUTH)).await;
    assert_eq!((code, text.as_str()), (200, "reinitialize started"));
    wait_until_async(
        Duration::from_secs(60),
        "the data directory cloned again",
        || async { (!marker.exists()).then_some(()) },
    )
    .await
    .unwrap();
    let (_, replicas) = settled(&cluster, l, Duration::from_secs(90)).await;
    assert!(replicas.contains(&cluster.nodes[r].name));
}
