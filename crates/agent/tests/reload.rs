//! A reload applies what changed in the member's own configuration file, as Patroni's does: a
//! local `postgresql.parameters` change (a reloadable one applied, one that needs a restart shown
//! as pending restart), a `pg_hba` line, a tag, `restapi.authentication` — on a real member
//! (etcd, one agent, PostgreSQL 15), through `POST /reload` and SIGHUP.

use ferroni_testkit::cluster::{Cluster, Timings};
use ferroni_testkit::{Kit, wait_until_async};
use serde_json::{Value, json};
use std::path::Path;
use std::time::Duration;

const DEADLINE: Duration = Duration::from_secs(60);

fn url(cluster: &Cluster, path: &str) -> String {
    format!("http://127.0.0.1:{}/{path}", cluster.nodes[0].api_port)
}

async fn post_reload(cluster: &Cluster, auth: Option<(&str, &str)>) -> (u16, String) {
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(30))
        .build()
        .unwrap();
    let mut request = client.post(url(cluster, "reload"));
    if let Some((user, password)) = auth {
        request = request.basic_auth(user, Some(password));
    }
    match request.send().await {
        Ok(r) => (r.status().as_u16(), r.text().await.unwrap_or_default()),
        Err(e) => (0, e.to_string()),
    }
}

async fn get_json(cluster: &Cluster, path: &str) -> Option<Value> {
    let r = reqwest::get(url(cluster, path)).await.ok()?;
    if r.status() != 200 {
        return None;
    }
    serde_json::from_str(&r.text().await.ok()?).ok()
}

async fn show(cluster: &Cluster, setting: &str) -> Option<String> {
    ferroni_testkit::probes::show(&cluster.nodes[0].connstr(), setting).await
}

/// Edits the member's configuration file: `(after, inserted)` pairs, each inserted once.
fn edit(cluster: &Cluster, inserts: &[(&str, &str)]) {
    let path = &cluster.nodes[0].config;
    let mut yaml = std::fs::read_to_string(path).unwrap();
    for (after, inserted) in inserts {
        assert!(yaml.contains(after), "{after:?} not in {yaml}");
        yaml = yaml.replacen(after, &format!("{after}{inserted}"), 1);
    }
    std::fs::write(path, yaml).unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_reload_applies_local_changes() {
    let kit = Kit::new("reload-local").unwrap();
    let mut cluster = Cluster::new(
        &kit,
        Path::new(env!("CARGO_BIN_EXE_ferroni")),
        1,
        Timings::FAST,
    )
    .unwrap();
    cluster.start_all(&kit).unwrap();
    wait_until_async(DEADLINE, "a running primary", || async {
        let status = get_json(&cluster, "patroni").await?;
        (status["state"] == "running" && status["role"] == "primary").then_some(())
    })
    .await
    .unwrap();
    assert_eq!(show(&cluster, "work_mem").await.as_deref(), Some("4MB"));

    // Local parameters (one reloadable, one that needs a restart), a pg_hba line, a tag, and
    // credentials for the REST API.
    edit(
        &cluster,
        &[
            (
                "    fsync: \"off\"\n",
                "    work_mem: 7MB\n    shared_buffers: 32MB\n",
            ),
            ("  pg_hba:\n", "    - host all all 127.0.0.2/32 md5\n"),
            (
                "restapi:\n",
                "  authentication:\n    username: admin\n    password: secret\n",
            ),
        ],
    );
    let mut yaml = std::fs::read_to_string(&cluster.nodes[0].config).unwrap();
    yaml.push_str("tags:\n  dc: west\n");
    std::fs::write(&cluster.nodes[0].config, yaml).unwrap();

    // The old rules still hold for this request: no credentials were needed.
    let (code, text) = post_reload(&cluster, None).await;
    assert_eq!((code, text.as_str()), (202, "reload scheduled"));

    wait_until_async(DEADLINE, "work_mem applied", || async {
        (show(&cluster, "work_mem").await.as_deref() == Some("7MB")).then_some(())
    })
    .await
    .unwrap();
    let hba = std::fs::read_to_string(cluster.nodes[0].data_dir.join("pg_hba.conf")).unwrap();
    assert!(hba.contains("host all all 127.0.0.2/32 md5\n"), "{hba}");
    assert!(
        hba.contains("host all all 127.0.0.1/32 scram-sha-256\n"),
        "{hba}"
    );
    // The new line is the server's too (its parsed rules).
    wait_until_async(DEADLINE, "the new pg_hba rule loaded", || async {
        let rules = ferroni_testkit::probes::query_one::<i64>(
            &cluster.nodes[0].connstr(),
            "SELECT count(*) FROM pg_hba_file_rules WHERE address = '127.0.0.2'",
        )
        .await?;
        (rules == 1).then_some(())
    })
    .await
    .unwrap();

    // shared_buffers waits for a restart, and says so; the running server keeps its value.
    let status = wait_until_async(DEADLINE, "the tag and the pending restart", || async {
        let status = get_json(&cluster, "patroni").await?;
        (status["tags"] == json!({"dc": "west"}) && status["pending_restart"] == true)
            .then_some(status)
    })
    .await
    .unwrap();
    assert_eq!(
        status["pending_restart_reason"]["shared_buffers"]["new_value"], "32MB",
        "{status}"
    );
    assert_eq!(
        show(&cluster, "shared_buffers").await.as_deref(),
        Some("16MB")
    );
    // The member key in the DCS carries the tag.
    wait_until_async(DEADLINE, "the tag in the DCS", || async {
        let view = get_json(&cluster, "cluster").await?;
        (view["members"][0]["tags"] == json!({"dc": "west"})).then_some(())
    })
    .await
    .unwrap();

    // The new credentials are asked for at once.
    let (code, _) = post_reload(&cluster, None).await;
    assert_eq!(code, 401);
    let (code, _) = post_reload(&cluster, Some(("admin", "wrong"))).await;
    assert_eq!(code, 401);

    // SIGHUP: the tag changes again, and a parameter goes back to its default.
    let path = &cluster.nodes[0].config;
    let yaml = std::fs::read_to_string(path)
        .unwrap()
        .replace("  dc: west\n", "  dc: east\n")
        .replace("    work_mem: 7MB\n", "");
    std::fs::write(path, yaml).unwrap();
    let pid = cluster.nodes[0].agent.as_ref().unwrap().pid();
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(i32::try_from(pid).unwrap()),
        nix::sys::signal::Signal::SIGHUP,
    )
    .unwrap();
    wait_until_async(DEADLINE, "the SIGHUP applied", || async {
        let status = get_json(&cluster, "patroni").await?;
        (status["tags"] == json!({"dc": "east"})
            && show(&cluster, "work_mem").await.as_deref() == Some("4MB"))
        .then_some(())
    })
    .await
    .unwrap();

    // A new listen address: the API moves there (and the member key says so).
    let old_port = cluster.nodes[0].api_port;
    let new_port = ferroni_testkit::ports::free_port().unwrap();
    let yaml = std::fs::read_to_string(path)
        .unwrap()
        .replace(&format!(":{old_port}\n"), &format!(":{new_port}\n"));
    std::fs::write(path, yaml).unwrap();
    let (code, text) = post_reload(&cluster, Some(("admin", "secret"))).await;
    assert_eq!((code, text.as_str()), (202, "reload scheduled"));
    cluster.nodes[0].api_port = new_port;
    wait_until_async(DEADLINE, "the API on its new port", || async {
        let view = get_json(&cluster, "cluster").await?;
        (view["members"][0]["api_url"] == format!("http://127.0.0.1:{new_port}/patroni"))
            .then_some(())
    })
    .await
    .unwrap();
    assert!(
        reqwest::get(format!("http://127.0.0.1:{old_port}/patroni"))
            .await
            .is_err()
    );
    let (code, _) = post_reload(&cluster, Some(("admin", "secret"))).await;
    assert_eq!(code, 202);
}
