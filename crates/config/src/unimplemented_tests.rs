use super::*;
use crate::dynamic::DynamicConfig;
use crate::schema::Config;
use serde_json::json;

fn set(tree: &mut Value, path: &str, value: Value) {
    let mut at = tree;
    for key in path.split('.') {
        if !at.is_object() {
            *at = Value::Object(Map::new());
        }
        at = at
            .as_object_mut()
            .expect("made an object above")
            .entry(key.to_string())
            .or_insert(Value::Null);
    }
    *at = value;
}

fn typed(tree: Value) -> Result<(Config, Vec<String>), String> {
    let mut ignored = Vec::new();
    let mut note = |p: serde_ignored::Path<'_>| ignored.push(p.to_string());
    let config = serde::Deserialize::deserialize(serde_ignored::Deserializer::new(tree, &mut note))
        .map_err(|e: serde_json::Error| e.to_string())?;
    Ok((config, ignored))
}

/// A value of the key's type: the first candidate the schema takes for this key alone.
fn value_for(path: &str) -> Value {
    let candidates = [
        json!("x"),
        json!(1),
        json!(true),
        json!(["x"]),
        json!({"k": "x"}),
    ];
    for candidate in candidates {
        let mut tree = json!({});
        set(&mut tree, path, candidate.clone());
        if typed(tree).is_ok() {
            return candidate;
        }
    }
    panic!("no value of any kind is accepted for {path}");
}

/// A configuration that sets every key of [`LOCAL`], typed.
fn every_local_key() -> Config {
    let mut tree = json!({});
    for row in LOCAL {
        for path in expand(row.path) {
            set(&mut tree, &path, value_for(&path));
        }
    }
    let (config, ignored) = typed(tree).expect("every key together");
    // A row that names no field would land in a catch-all section, or be ignored.
    assert!(ignored.is_empty(), "rows naming no key: {ignored:?}");
    assert!(
        config.postgresql.other.is_empty(),
        "{:?}",
        config.postgresql.other
    );
    assert!(
        config.bootstrap.other.is_empty(),
        "{:?}",
        config.bootstrap.other
    );
    assert!(config.tags.custom.is_empty(), "{:?}", config.tags.custom);
    config
}

/// Paths of `tree` that no row of `table` covers. An empty mapping or a null is a key of its own
/// (a new section or map field), not something to descend into.
fn unclassified(table: &[Key], tree: &Value, prefix: &str, out: &mut Vec<String>) {
    if !prefix.is_empty() && classify(table, prefix).is_some() {
        return;
    }
    match tree {
        Value::Object(map) if !map.is_empty() => {
            for (k, v) in map {
                let path = if prefix.is_empty() {
                    k.clone()
                } else {
                    format!("{prefix}.{k}")
                };
                unclassified(table, v, &path, out);
            }
        }
        _ => out.push(prefix.to_string()),
    }
}

#[test]
fn every_key_of_the_schema_is_classified() {
    let typed = serde_json::to_value(every_local_key()).expect("serializable");
    let mut missing = Vec::new();
    unclassified(LOCAL, &typed, "", &mut missing);
    assert!(
        missing.is_empty(),
        "keys of the schema neither honoured nor warned about (add them to unimplemented::LOCAL): {missing:?}"
    );
}

#[test]
fn every_key_the_dynamic_reader_reads_is_classified_by_its_own_row() {
    let typed = DynamicConfig::typed_keys();
    assert!(typed.contains(&"ttl".to_string()) && typed.contains(&"postgresql.use_slots".into()));
    for path in &typed {
        let row = classify(DYNAMIC, path).map(|k| k.path);
        assert_eq!(
            row,
            Some(path.as_str()),
            "{path} is read by DynamicConfig: give it a row in unimplemented::DYNAMIC"
        );
    }
}

#[test]
fn honoured_dynamic_keys_are_really_read() {
    let typed = DynamicConfig::typed_keys();
    for row in DYNAMIC.iter().filter(|k| matches!(k.status, Honoured)) {
        assert!(
            typed.iter().any(|t| t == row.path),
            "{} is marked honoured but DynamicConfig never reads it",
            row.path
        );
    }
}

fn warnings(tree: Value) -> Vec<String> {
    local_warnings(&tree)
}

#[test]
fn a_key_warns_only_when_set_and_once() {
    assert!(warnings(json!({"postgresql": {"data_dir": "/d"}})).is_empty());
    assert_eq!(
        warnings(json!({"postgresql": {"custom_conf": "/c", "pg_ctl_timeout": null}})),
        vec![
            "postgresql.custom_conf: is not used yet: postgresql.conf is written from the parameters"
        ]
    );
    let w =
        warnings(json!({"tags": {"replicatefrom": "a"}, "etcd3": {"hosts": "h:1", "srv": "x"}}));
    assert_eq!(w.len(), 2, "{w:?}");
    assert!(w[0].starts_with("etcd3.srv: "), "{w:?}");
    assert!(
        w[1].starts_with("tags.replicatefrom: cascading replication"),
        "{w:?}"
    );
}

#[test]
fn values_ferroni_acts_on_anyway_do_not_warn() {
    let quiet = json!({
        "bootstrap": {"method": "initdb", "dcs": {"synchronous_mode": false, "synchronous_node_count": 1}},
        "log": {"format": "%(asctime)s %(levelname)s: %(message)s", "deduplicate_heartbeat_logs": "false"},
        "postgresql": {
            "data_dir": "/data/", "config_dir": "/data",
            "create_replica_methods": ["basebackup"],
            "bin_name": {"pg_ctl": "pg_ctl"},
            "remove_data_directory_on_rewind_failure": false,
        },
        "watchdog": {"driver": "default"},
        "tags": {"nostream": false},
    });
    assert!(warnings(quiet).is_empty());
    let loud = json!({
        "bootstrap": {"method": "wal_e", "dcs": {"synchronous_mode": "on"}},
        "postgresql": {"data_dir": "/data", "config_dir": "/etc/pg", "create_replica_methods": ["pgbackrest", "basebackup"], "bin_name": {"pg_ctl": "pg_ctl.sh"}},
    });
    let keys: Vec<String> = warnings(loud)
        .iter()
        .map(|w| w.split(':').next().unwrap_or_default().to_string())
        .collect();
    assert_eq!(
        keys,
        [
            "bootstrap.method",
            "postgresql.config_dir",
            "postgresql.bin_name.pg_ctl",
            "postgresql.create_replica_methods",
            "bootstrap.dcs.synchronous_mode",
        ]
    );
}

#[test]
fn dynamic_keys_warn_with_where_they_come_from() {
    let config = json!({
        "ttl": 30,
        "standby_cluster": {"host": "h"},
        "postgresql": {"parameters": {"a": 1}, "use_slots": true, "pg_hba": ["local all all trust"], "listen": "x:1"},
    });
    let w = dynamic_warnings(config.as_object().expect("a mapping"), "config");
    assert_eq!(
        w,
        vec![
            "config.standby_cluster: standby clusters are not implemented yet: this cluster runs its own primary",
            "config.postgresql.listen: is local configuration, ignored here (as by Patroni): it belongs in the local postgresql section",
            "config.postgresql.pg_hba: is not read from the dynamic configuration yet: set it in the local postgresql section",
        ]
    );
}

#[test]
fn a_dynamic_change_names_only_what_it_newly_sets() {
    let map = |v: Value| v.as_object().cloned().expect("a mapping");
    let before = map(json!({"slots": {"a": {"type": "physical"}}, "ttl": 30}));
    let after =
        map(json!({"slots": {"b": {"type": "physical"}}, "ttl": 30, "synchronous_mode": true}));
    let w = new_dynamic_warnings(&before, &after, "config");
    assert_eq!(w.len(), 1, "{w:?}");
    assert!(
        w[0].starts_with("config.synchronous_mode: synchronous replication"),
        "{w:?}"
    );
    assert!(new_dynamic_warnings(&after, &after, "config").is_empty());
}

#[test]
fn docs_list_the_keys_that_are_not_honoured() {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../docs/configuration.md");
    let doc = std::fs::read_to_string(path).expect("docs/configuration.md");
    let (begin, end) = (
        "<!-- unimplemented:begin -->\n",
        "<!-- unimplemented:end -->",
    );
    let (head, table, tail) = doc
        .split_once(begin)
        .and_then(|(head, rest)| rest.split_once(end).map(|(t, tail)| (head, t, tail)))
        .expect("docs/configuration.md has the unimplemented markers");
    let wanted = markdown();
    if table != wanted {
        if std::env::var_os("FERRONI_UPDATE_DOCS").is_some() {
            let updated = format!("{head}{begin}{wanted}{end}{tail}");
            std::fs::write(path, updated).expect("write the docs");
        } else {
            panic!(
                "docs/configuration.md is out of date: run FERRONI_UPDATE_DOCS=1 cargo test -p ferroni-config docs_list; wanted:\n{wanted}"
            );
        }
    }
}
