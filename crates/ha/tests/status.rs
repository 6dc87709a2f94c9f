//! The leader's `/status` key: byte for byte what Patroni 4.1.5 wrote in the captured healthy
//! cluster, written only when it changed, and `retain_slots` with Patroni's retention rules.

use ferroni_ha::status::{LeaderView, Retention, leader_status, released_status};
use ferroni_model::{Cluster, KeyLayout, RawKv, Status, Version};

macro_rules! healthy {
    ($file:literal) => {
        include_str!(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../tests/fixtures/patroni-4.1.5/dcs/etcd3/healthy/",
            $file
        ))
    };
}

const MINUTES_30: u64 = 30 * 60 * 1000;

/// The captured healthy cluster (node1 leads), with `status` left out or as given.
fn cluster(members: &[&str], status: Option<&str>) -> Cluster {
    let member_keys = [
        ("node1", healthy!("members/node1")),
        ("node2", healthy!("members/node2")),
        ("node3", healthy!("members/node3")),
    ];
    let mut kvs = vec![("leader".to_string(), healthy!("leader").to_string())];
    for (name, value) in member_keys.iter().filter(|(n, _)| members.contains(n)) {
        kvs.push((format!("members/{name}"), value.to_string()));
    }
    if let Some(status) = status {
        kvs.push(("status".into(), status.into()));
    }
    let layout = KeyLayout::new("service", "demo", None);
    let raw = kvs.into_iter().enumerate().map(|(i, (key, value))| RawKv {
        key: format!("/service/demo/{key}"),
        value,
        version: Version(i as i64 + 1),
        lease: None,
    });
    let (cluster, warnings) = Cluster::from_kvs(&layout, raw);
    assert!(warnings.is_empty(), "{warnings:?}");
    cluster
}

fn view<'a>(slots: &'a [(String, u64)], wal: u64, now: u64) -> LeaderView<'a> {
    LeaderView {
        me: "node1",
        wal_position: wal,
        slots,
        member_slots_ttl: MINUTES_30,
        now,
    }
}

fn slots(entries: &[(&str, u64)]) -> Vec<(String, u64)> {
    entries.iter().map(|(n, l)| (n.to_string(), *l)).collect()
}

const ALL: [&str; 3] = ["node1", "node2", "node3"];

#[test]
fn the_leader_writes_what_patroni_wrote() {
    let slots = slots(&[("node3", 67108864), ("node2", 67108864)]);
    let update = leader_status(
        &cluster(&ALL, None),
        &view(&slots, 67108864, 1),
        &Retention::default(),
    )
    .unwrap();
    assert_eq!(update.status.encode(), healthy!("status"));
    assert!(update.write);
    assert!(update.notes.is_empty());
}

#[test]
fn an_unchanged_status_is_not_written_again() {
    let slots = slots(&[("node3", 67108864), ("node2", 67108864)]);
    let c = cluster(&ALL, Some(healthy!("status")));
    let first = leader_status(&c, &view(&slots, 67108864, 1), &Retention::default()).unwrap();
    assert!(!first.write, "the cluster view already holds it");
    let moved = leader_status(&c, &view(&slots, 67108900, 2), &first.retention).unwrap();
    assert!(moved.write, "a new WAL position is written");
    assert_eq!(moved.status.optime, 67108900);
}

#[test]
fn without_a_wal_position_nothing_is_written() {
    assert!(
        leader_status(
            &cluster(&ALL, None),
            &view(&[], 0, 1),
            &Retention::default()
        )
        .is_none()
    );
}

#[test]
fn a_gone_member_stays_in_retain_slots_until_member_slots_ttl() {
    let both = slots(&[("node3", 100), ("node2", 100)]);
    let r = leader_status(
        &cluster(&ALL, None),
        &view(&both, 200, 0),
        &Retention::default(),
    )
    .unwrap()
    .retention;
    // node3's key and slot are gone; it is still recorded.
    let only_node2 = slots(&[("node2", 150)]);
    let gone = cluster(&["node1", "node2"], None);
    let later = leader_status(&gone, &view(&only_node2, 300, MINUTES_30 - 1), &r).unwrap();
    assert_eq!(
        later.status.retain_slots.as_deref(),
        Some(&["node1".to_string(), "node2".into(), "node3".into()][..])
    );
    assert_eq!(
        later.status.encode(),
        r#"{"optime":300,"slots":{"node2":150,"node1":300},"retain_slots":["node1","node2","node3"]}"#
    );
    let expired =
        leader_status(&gone, &view(&only_node2, 300, MINUTES_30), &later.retention).unwrap();
    assert_eq!(
        expired.status.retain_slots.as_deref(),
        Some(&["node1".to_string(), "node2".into()][..])
    );
    assert_eq!(
        expired.notes,
        ["Replication slot 'node3' for absent cluster member is expired after 1800 sec."]
    );
}

#[test]
fn a_new_leader_carries_on_the_previous_record() {
    // node2 is gone and its slot is not on this new leader, but the old leader recorded it.
    let previous = r#"{"optime":50,"slots":{"node2":50},"retain_slots":["node2","node3"]}"#;
    let c = cluster(&["node1", "node3"], Some(previous));
    let update = leader_status(
        &c,
        &view(&slots(&[("node3", 60)]), 70, 5),
        &Retention::default(),
    )
    .unwrap();
    assert_eq!(
        update.status.retain_slots.as_deref(),
        Some(&["node1".to_string(), "node2".into(), "node3".into()][..])
    );
    // Only when it starts leading: a record that is its own is not read back.
    let next = leader_status(&c, &view(&[], 80, 5 + MINUTES_30), &update.retention).unwrap();
    assert_eq!(next.status.retain_slots, Some(vec!["node1".to_string()]));
}

#[test]
fn members_that_do_not_stream_and_unknown_slots_are_neither_published_nor_retained() {
    let mut c = cluster(&ALL, None);
    let tags = c.members[2].data.tags.get_or_insert_default();
    tags.insert("nostream".into(), true.into());
    let on_primary = slots(&[("node3", 10), ("node2", 10), ("backup_tool", 5)]);
    let update = leader_status(&c, &view(&on_primary, 20, 1), &Retention::default()).unwrap();
    assert_eq!(
        update.status.encode(),
        r#"{"optime":20,"slots":{"node2":10,"node1":20},"retain_slots":["node1","node2"]}"#
    );
}

#[test]
fn member_slots_ttl_zero_publishes_only_the_position() {
    let on_primary = slots(&[("node3", 10), ("node2", 10)]);
    let v = LeaderView {
        member_slots_ttl: 0,
        ..view(&on_primary, 20, 1)
    };
    let update = leader_status(&cluster(&ALL, None), &v, &Retention::default()).unwrap();
    assert_eq!(update.status.encode(), r#"{"optime":20}"#);
}

#[test]
fn a_released_lock_leaves_the_shutdown_checkpoint() {
    let last = Status::decode(healthy!("status")).unwrap();
    let released = released_status(Some(&last), 67109000);
    assert_eq!(
        released.encode(),
        healthy!("status").replacen("67108864", "67109000", 1)
    );
    assert_eq!(released_status(None, 7).encode(), r#"{"optime":7}"#);
}
