//! ferronictl renders the captured cluster states exactly as patronictl 4.1.5 printed them
//! (`tests/fixtures/patroni-4.1.5/ctl/<state>/<command>.stdout`).

use ferroni_model::{Cluster, KeyLayout, RawKv, Version};
use ferronictl::members::{Format, render};
use ferronictl::views::{history, show_config};

fn captured(state: &str) -> Cluster {
    let dir = ferroni_testkit::fixtures::path("patroni-4.1.5/dcs/etcd3").join(state);
    let kvs = ferroni_testkit::fixtures::captured_dcs(&dir)
        .into_iter()
        .map(|(key, value)| RawKv {
            key,
            value,
            version: Version(1),
            lease: None,
        });
    Cluster::from_kvs(&KeyLayout::new("service", "demo", None), kvs).0
}

fn expected(state: &str, command: &str) -> String {
    let path = ferroni_testkit::fixtures::path("patroni-4.1.5/ctl")
        .join(state)
        .join(format!("{command}.stdout"));
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// `text` with the digits of every LSN (`0/4000060`) masked, lengths kept.
fn positions_masked(text: &str) -> String {
    let lsn = regex::Regex::new(r"\b[0-9A-F]{1,8}/[0-9A-F]{1,8}\b").unwrap();
    lsn.replace_all(text, |c: &regex::Captures| "#".repeat(c[0].len()))
        .into_owned()
}

/// Every `list`/`topology` capture of `state`, rendered from the DCS capture of the same state.
fn compare_lists(state: &str, dcs_state: &str) -> usize {
    let cluster = captured(dcs_state);
    let cases = [
        ("list", false, Format::Pretty),
        ("list-e", true, Format::Pretty),
        ("list-f-tsv", false, Format::Tsv),
        ("list-e-f-tsv", true, Format::Tsv),
        ("list-f-json", false, Format::Json),
        ("list-e-f-json", true, Format::Json),
        ("list-f-yaml", false, Format::Yaml),
        ("list-e-f-yaml", true, Format::Yaml),
        ("topology", false, Format::Topology),
    ];
    let dir = ferroni_testkit::fixtures::path("patroni-4.1.5/ctl").join(state);
    let mut compared = 0;
    for (command, extended, fmt) in cases {
        if !dir.join(format!("{command}.stdout")).exists() {
            continue;
        }
        // The DCS and the command were captured moments apart: WAL positions moved in between.
        assert_eq!(
            positions_masked(&render(&cluster, "demo", extended, fmt)),
            positions_masked(&expected(state, command)),
            "{state}/{command}"
        );
        compared += 1;
    }
    compared
}

#[test]
fn list_and_topology_of_every_captured_state() {
    let mut compared = 0;
    for state in [
        "healthy",
        "paused",
        "pending-restart",
        "tags",
        "sync",
        "quorum",
        "failsafe",
    ] {
        compared += compare_lists(state, state);
    }
    compared += compare_lists("scheduled-switchover", "scheduled-switchover");
    assert!(compared >= 40, "only {compared} captures compared");
}

#[test]
fn an_unknown_cluster_is_listed_empty() {
    assert_eq!(
        render(&Cluster::default(), "nosuch", false, Format::Pretty),
        expected("healthy", "list-unknown-cluster")
    );
}

#[test]
fn history_and_show_config() {
    assert_eq!(
        history(&captured("healthy"), Format::Pretty),
        expected("healthy", "history")
    );
    assert_eq!(
        history(&captured("after-switchover"), Format::Pretty),
        expected("after-switchover", "history")
    );
    assert_eq!(
        history(&captured("after-switchover"), Format::Json),
        expected("after-switchover", "history-f-json")
    );
    assert_eq!(
        show_config(&captured("healthy")),
        expected("healthy", "show-config")
    );
    assert_eq!(
        show_config(&captured("paused")),
        expected("paused", "show-config")
    );
}
