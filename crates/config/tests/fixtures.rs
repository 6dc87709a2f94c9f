//! Real users' configurations load as Patroni loads them, and bad ones fail with a precise reason.

use ferroni_config::{ConfigError, load};
use std::path::{Path, PathBuf};

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../tests/fixtures/configs")
        .join(name)
}

fn no_env() -> Vec<(String, String)> {
    Vec::new()
}

fn env(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

fn issues(err: ConfigError) -> Vec<String> {
    match err {
        ConfigError::Invalid { issues } => issues.iter().map(ToString::to_string).collect(),
        other => panic!("expected validation issues, got: {other}"),
    }
}

const COMPLETE: [&str; 5] = [
    "capdata-etcd2.yml",
    "dalibo-poc-etcd2.yml",
    "dalibo-poc-misindented.yml",
    "loxodata-etcd3-pgbackrest.yml",
    "otus-namespace-etcd2.yml",
];

#[test]
fn every_complete_field_config_loads() {
    for name in COMPLETE {
        let loaded = load(Some(&fixture(name)), no_env()).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert!(
            !loaded.config.name.is_empty() && !loaded.config.scope.is_empty(),
            "{name}"
        );
        assert_eq!(loaded.bootstrap_dynamic.ttl, 30, "{name}");
        assert_eq!(loaded.config.dcs_sections().len(), 1, "{name}");
    }
}

#[test]
fn field_configs_are_typed_as_patroni_reads_them() {
    let otus = load(Some(&fixture("otus-namespace-etcd2.yml")), no_env())
        .unwrap()
        .config;
    assert_eq!(otus.namespace, "/db/");
    assert_eq!(
        otus.etcd.unwrap().endpoints(),
        ["hostname1:2379", "hostname2:2379", "hostname3:2379"]
    );
    assert_eq!(otus.postgresql.listen, "127.0.0.1, 192.168.1.11:5432");
    assert_eq!(
        otus.postgresql.callbacks.on_role_change.as_deref(),
        Some("/opt/pgsql/pg_role_change.sh")
    );
    assert_eq!(otus.tags.nofailover, Some(false));

    let loxo = load(Some(&fixture("loxodata-etcd3-pgbackrest.yml")), no_env()).unwrap();
    let c = &loxo.config;
    assert_eq!(c.etcd3.as_ref().unwrap().endpoints().len(), 3);
    assert_eq!(c.log.file_size.0, 50_000_000);
    assert_eq!(c.log.file_num.0, 10);
    // `logging_collector: on` is a YAML 1.1 boolean, as PyYAML reads it.
    assert_eq!(
        c.postgresql.parameters["logging_collector"],
        serde_json::Value::Bool(true)
    );
    assert_eq!(c.postgresql.replica_methods(), ["pgbackrest"]);
    assert!(c.postgresql.other.contains_key("pgbackrest"));
    assert!(!loxo.bootstrap_dynamic.use_slots);
    assert!(
        loxo.warnings.iter().all(|w| !w.contains("pgbackrest")),
        "{:?}",
        loxo.warnings
    );

    let capdata = load(Some(&fixture("capdata-etcd2.yml")), no_env()).unwrap();
    let options = capdata.config.bootstrap.initdb_options().unwrap();
    assert_eq!(options.len(), 2);
    assert!(
        capdata
            .warnings
            .iter()
            .any(|w| w.starts_with("bootstrap.users: removed in Patroni 4.0.0"))
    );
}

#[test]
fn misindented_sections_are_warned_about_by_name() {
    let loaded = load(Some(&fixture("dalibo-poc-misindented.yml")), no_env()).unwrap();
    for key in ["initdb", "pg_hba", "users"] {
        assert!(
            loaded
                .warnings
                .iter()
                .any(|w| w.starts_with(&format!("{key} is ignored"))),
            "no warning for {key}: {:?}",
            loaded.warnings
        );
    }
    assert!(
        loaded
            .warnings
            .iter()
            .any(|w| w.contains("initdb is ignored: it belongs under `bootstrap`"))
    );
    assert!(loaded.warnings.iter().any(|w| {
        w.starts_with("bootstrap.postgresql is ignored: it belongs under `bootstrap.dcs`")
    }));
}

#[test]
fn the_dcs_fragment_alone_names_what_is_missing() {
    let found = issues(load(Some(&fixture("dalibo-workshop-dcs.yml")), no_env()).unwrap_err());
    for expected in [
        "name: is not defined",
        "scope: is not defined",
        "restapi.listen: is not defined",
        "restapi.connect_address: is not defined",
        "postgresql.listen: is not defined",
        "postgresql.data_dir: is not defined",
        "postgresql.authentication.replication: is not defined",
    ] {
        assert!(
            found.iter().any(|f| f == expected),
            "missing {expected:?} in {found:?}"
        );
    }
}

fn write(dir: &Path, name: &str, text: &str) {
    std::fs::write(dir.join(name), text).unwrap();
}

const MEMBER: &str = "scope: demo\nname: node1\nrestapi:\n  listen: 127.0.0.1:8008\n  connect_address: 127.0.0.2:8008\npostgresql:\n  listen: 127.0.0.1:5432\n  connect_address: 127.0.0.2:5432\n  data_dir: /tmp/x\n  authentication:\n    replication: {username: repl, password: rep-secret}\n    superuser: {username: postgres, password: su-secret}\n";

#[test]
fn the_dcs_fragment_loads_as_one_file_of_a_directory() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::copy(
        fixture("dalibo-workshop-dcs.yml"),
        dir.path().join("dcs.yml"),
    )
    .unwrap();
    write(dir.path(), "15-main.yml", MEMBER);
    write(dir.path(), "notes.txt", "not: yaml: at all: [");
    let loaded = load(Some(dir.path()), no_env()).unwrap();
    assert_eq!(
        loaded.config.etcd.unwrap().endpoints(),
        ["e1:2379", "e2:2379", "e3:2379"]
    );
    assert_eq!(loaded.files.len(), 2);
    assert!(loaded.files[0].ends_with("15-main.yml") && loaded.files[1].ends_with("dcs.yml"));
}

#[test]
fn later_files_of_a_directory_override_earlier_ones() {
    let dir = tempfile::tempdir().unwrap();
    write(
        dir.path(),
        "a.yml",
        &format!("{MEMBER}etcd3:\n  host: 127.0.0.1:2379\n"),
    );
    write(
        dir.path(),
        "b.yaml",
        "name: node2\nrestapi:\n  listen: 127.0.0.1:8009\n",
    );
    let c = load(Some(dir.path()), no_env()).unwrap().config;
    assert_eq!(c.name, "node2");
    assert_eq!(c.restapi.listen, "127.0.0.1:8009");
    assert_eq!(c.restapi.connect_address, "127.0.0.2:8008");
}

#[test]
fn broken_yaml_is_one_error_with_file_and_line() {
    let dir = tempfile::tempdir().unwrap();
    write(
        dir.path(),
        "p.yml",
        "scope: demo\nname: [node1\nrestapi:\n  listen: x\n",
    );
    let err = load(Some(&dir.path().join("p.yml")), no_env()).unwrap_err();
    match &err {
        ConfigError::Parse { path, line, .. } => {
            assert!(path.ends_with("p.yml"));
            assert!(line.is_some());
        }
        other => panic!("expected a parse error, got {other}"),
    }
    let text = err.to_string();
    assert!(text.contains("p.yml") && text.contains("(line "), "{text}");
}

#[test]
fn a_missing_file_is_a_read_error() {
    let err = load(Some(Path::new("/nonexistent/patroni.yml")), no_env()).unwrap_err();
    assert!(matches!(err, ConfigError::Read { .. }), "{err}");
    assert!(err.to_string().contains("/nonexistent/patroni.yml"));
}

#[test]
fn a_wrong_type_names_the_key_path_and_the_value() {
    let dir = tempfile::tempdir().unwrap();
    write(
        dir.path(),
        "p.yml",
        &format!("{MEMBER}etcd3:\n  host: 127.0.0.1:2379\ntags:\n  nofailover: maybe\n"),
    );
    let found = issues(load(Some(&dir.path().join("p.yml")), no_env()).unwrap_err());
    assert_eq!(found.len(), 1);
    assert!(found[0].starts_with("tags.nofailover: "), "{found:?}");
    assert!(found[0].contains("\"maybe\""), "{found:?}");

    write(
        dir.path(),
        "p.yml",
        &format!("{MEMBER}etcd3:\n  host: 127.0.0.1:2379\nbootstrap:\n  dcs:\n    ttl: thirty\n"),
    );
    let found = issues(load(Some(&dir.path().join("p.yml")), no_env()).unwrap_err());
    assert_eq!(found, ["bootstrap.dcs.ttl: 'thirty' is not an integer"]);
}

#[test]
fn a_timing_rule_violation_is_adjusted_with_patronis_warning() {
    let dir = tempfile::tempdir().unwrap();
    write(
        dir.path(),
        "p.yml",
        &format!(
            "{MEMBER}etcd3:\n  host: 127.0.0.1:2379\nbootstrap:\n  dcs:\n    ttl: 20\n    loop_wait: 10\n    retry_timeout: 10\n"
        ),
    );
    let loaded = load(Some(&dir.path().join("p.yml")), no_env()).unwrap();
    let d = &loaded.bootstrap_dynamic;
    assert_eq!((d.ttl, d.loop_wait, d.retry_timeout), (20, 1, 9));
    assert!(
        loaded.warnings.iter().any(|w| w
            == "bootstrap.dcs: Violated the rule \"loop_wait + 2*retry_timeout <= ttl\", where ttl=20. Adjusting loop_wait from 10 to 1 and retry_timeout from 10 to 9"),
        "{:?}",
        loaded.warnings
    );
}

#[test]
fn environment_overrides_the_file_and_stands_in_for_it() {
    let dir = tempfile::tempdir().unwrap();
    write(
        dir.path(),
        "p.yml",
        &format!("{MEMBER}etcd3:\n  host: 127.0.0.1:2379\n"),
    );
    let vars = env(&[
        ("PATRONI_NAME", "from-env"),
        ("PATRONI_RESTAPI_CONNECT_ADDRESS", "10.1.1.1:8008"),
        ("PATRONI_ETCD3_HOSTS", "a:2379,b:2379"),
        ("PATRONI_REPLICATION_PASSWORD", "env-secret"),
    ]);
    let c = load(Some(&dir.path().join("p.yml")), vars).unwrap().config;
    assert_eq!(c.name, "from-env");
    assert_eq!(c.scope, "demo");
    assert_eq!(c.restapi.connect_address, "10.1.1.1:8008");
    assert_eq!(c.restapi.listen, "127.0.0.1:8008");
    let etcd3 = c.etcd3.unwrap();
    assert_eq!(etcd3.endpoints(), ["a:2379", "b:2379"]);
    let repl = c.postgresql.authentication.replication.unwrap();
    assert_eq!(
        (repl.username.as_str(), repl.password.unwrap().expose()),
        ("repl", "env-secret")
    );

    // Without a file, PATRONI_CONFIGURATION is the whole configuration…
    let whole = format!("{MEMBER}etcd3:\n  host: 127.0.0.1:2379\n");
    let c = load(
        None,
        env(&[
            ("PATRONI_CONFIGURATION", &whole),
            ("PATRONI_NAME", "ignored"),
        ]),
    )
    .unwrap()
    .config;
    assert_eq!(c.name, "node1");
    // …and without either, the variables alone are.
    let only_env = env(&[
        ("PATRONI_NAME", "n1"),
        ("PATRONI_SCOPE", "s"),
        ("PATRONI_RESTAPI_LISTEN", "127.0.0.1:8008"),
        ("PATRONI_RESTAPI_CONNECT_ADDRESS", "10.0.0.1:8008"),
        ("PATRONI_POSTGRESQL_LISTEN", "127.0.0.1:5432"),
        ("PATRONI_POSTGRESQL_CONNECT_ADDRESS", "10.0.0.1:5432"),
        ("PATRONI_POSTGRESQL_DATA_DIR", "/data"),
        ("PATRONI_REPLICATION_USERNAME", "repl"),
        ("PATRONI_SUPERUSER_USERNAME", "postgres"),
        ("PATRONI_ETCD3_HOST", "127.0.0.1:2379"),
    ]);
    let c = load(None, only_env).unwrap().config;
    assert_eq!(
        (c.name.as_str(), c.postgresql.data_dir.as_str()),
        ("n1", "/data")
    );
}

#[test]
fn passwords_never_show_in_debug_output_or_errors() {
    let loaded = load(Some(&fixture("capdata-etcd2.yml")), no_env()).unwrap();
    let debug = format!("{loaded:?}");
    assert!(
        !debug.contains("password: \"capdata\"") && !debug.contains("\"capdata\""),
        "a password leaked into Debug output"
    );
    assert!(debug.contains("********"));

    let dir = tempfile::tempdir().unwrap();
    let bad = MEMBER.replace(
        "password: rep-secret}",
        "password: rep-secret, username: [x]}",
    );
    write(
        dir.path(),
        "p.yml",
        &format!("{bad}etcd3:\n  host: 127.0.0.1:2379\n"),
    );
    let err = load(Some(&dir.path().join("p.yml")), no_env())
        .unwrap_err()
        .to_string();
    assert!(
        !err.contains("rep-secret") && !err.contains("su-secret"),
        "{err}"
    );
}

#[test]
fn duplicate_keys_warn_and_the_last_wins() {
    let dir = tempfile::tempdir().unwrap();
    write(
        dir.path(),
        "p.yml",
        &format!("{MEMBER}etcd3:\n  host: 127.0.0.1:2379\nscope: other\n"),
    );
    let loaded = load(Some(&dir.path().join("p.yml")), no_env()).unwrap();
    assert_eq!(loaded.config.scope, "other");
    assert!(
        loaded
            .warnings
            .iter()
            .any(|w| w.ends_with("key scope is given more than once; the last value is used"))
    );
}

#[test]
fn only_a_configuration_with_a_bootstrap_section_may_initialize_a_cluster() {
    let dir = tempfile::tempdir().unwrap();
    write(
        dir.path(),
        "without.yml",
        &format!("{MEMBER}etcd3:\n  host: 127.0.0.1:2379\n"),
    );
    write(
        dir.path(),
        "with.yml",
        &format!("{MEMBER}etcd3:\n  host: 127.0.0.1:2379\nbootstrap:\n  dcs: {{ttl: 30}}\n"),
    );
    let without = load(Some(&dir.path().join("without.yml")), no_env()).unwrap();
    assert!(!without.can_bootstrap);
    let with = load(Some(&dir.path().join("with.yml")), no_env()).unwrap();
    assert!(with.can_bootstrap);
}
