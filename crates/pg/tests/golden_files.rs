//! The files we render for PostgreSQL are the bytes Patroni 4.1.5 wrote for the same
//! configuration (`tests/fixtures/patroni-4.1.5/files/`).

use ferroni_pg::conf::{ConfFile, recovery_parameters, render_lines, render_postgresql_conf};
use ferroni_pg::conninfo::format_dsn;
use ferroni_pg::params::{Identity, KnownGucs, ServerParameters, server_parameters};
use ferroni_pg::pgpass;
use ferroni_pg::slots::slot_name_from_member_name;
use serde_json::{Map, Value};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

fn files(label: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../tests/fixtures/patroni-4.1.5/files")
        .join(label)
}

fn read(label: &str, name: &str) -> String {
    std::fs::read_to_string(files(label).join(name)).unwrap()
}

/// The member's parameters, with the dynamic ones from `bootstrap.dcs`, or from the `config` key
/// captured from the DCS in `dcs_state` when the cluster's configuration had been edited since.
fn member_parameters_at(
    label: &str,
    dcs_state: Option<&str>,
) -> (ferroni_config::Config, ServerParameters) {
    let loaded = ferroni_config::load(Some(&files(label).join("patroni.yml")), Vec::new()).unwrap();
    let config = loaded.config;
    let dynamic_config: Map<String, Value> = match dcs_state {
        None => config.bootstrap.dcs.clone(),
        Some(state) => {
            let path = Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("../../tests/fixtures/patroni-4.1.5/dcs/etcd3")
                .join(state)
                .join("config");
            serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
        }
    };
    let dynamic = dynamic_config
        .get("postgresql")
        .and_then(|p| p.get("parameters"))
        .and_then(Value::as_object)
        .cloned()
        .unwrap_or_default();
    let identity = Identity {
        scope: &config.scope,
        listen: &config.postgresql.listen,
        major_version: 150000,
    };
    let params = server_parameters(&dynamic, &config.postgresql.parameters, &identity, None);
    (config.clone(), params)
}

fn member_parameters(label: &str) -> (ferroni_config::Config, ServerParameters) {
    member_parameters_at(label, None)
}

fn conf_for(
    config: &ferroni_config::Config,
    params: &ServerParameters,
    recovery: Option<&BTreeMap<String, String>>,
) -> String {
    let data = &config.postgresql.data_dir;
    render_postgresql_conf(&ConfFile {
        include: "postgresql.base.conf",
        parameters: &params.conf,
        hba_file: &format!("{data}/pg_hba.conf"),
        ident_file: &format!("{data}/pg_ident.conf"),
        recovery,
    })
}

#[test]
fn the_leaders_postgresql_conf_and_command_line() {
    let (config, params) = member_parameters("leader-node1");
    assert!(params.warnings.is_empty(), "{:?}", params.warnings);
    assert_eq!(
        conf_for(&config, &params, None),
        read("leader-node1", "postgresql.conf")
    );
    let cmdline = read("leader-node1", "postmaster.cmdline.txt");
    let expected: Vec<&str> = cmdline.lines().skip(4).collect();
    assert_eq!(params.cmdline, expected);
}

#[test]
fn a_replicas_postgresql_conf_with_its_recovery_section() {
    // node3 was captured after `edit-config -p max_connections=60`: its dynamic parameters are the
    // `config` key of that moment.
    for (label, name, upstream_port, dcs_state) in [
        ("replica-node2", "node2", "5541", None),
        (
            "tagged-cascading-replica-node3",
            "node3",
            "5542",
            Some("tags"),
        ),
    ] {
        let (config, params) = member_parameters_at(label, dcs_state);
        let replication = config
            .postgresql
            .authentication
            .replication
            .clone()
            .unwrap();
        let conninfo = format_dsn(&[
            ("dbname", "postgres".into()),
            ("user", replication.username.clone()),
            ("passfile", config.postgresql.pgpass.clone().unwrap()),
            ("host", "127.0.0.1".into()),
            ("port", upstream_port.into()),
            ("sslmode", "prefer".into()),
            ("application_name", name.into()),
            ("gssencmode", "prefer".into()),
            ("channel_binding", "prefer".into()),
        ]);
        let slot = slot_name_from_member_name(name);
        let recovery = recovery_parameters(Some(&conninfo), Some(&slot), &BTreeMap::new());
        assert_eq!(
            conf_for(&config, &params, Some(&recovery)),
            read(label, "postgresql.conf"),
            "{label}"
        );
    }
}

#[test]
fn pg_hba_and_pgpass() {
    let (config, _) = member_parameters("leader-node1");
    assert_eq!(
        render_lines(config.postgresql.pg_hba.as_ref().unwrap()),
        read("leader-node1", "pg_hba.conf")
    );
    let pgpass = format!(
        "{}\n",
        pgpass::line("127.0.0.1", 5541, "replicator", "rep-pass")
    );
    assert_eq!(pgpass, read("replica-node2", "pgpass"));
}

#[test]
fn the_real_postgres_binary_rejects_the_capdata_typo() {
    let bin = ferroni_testkit::find_bin_dir(None).unwrap();
    let out = std::process::Command::new(bin.join("postgres"))
        .arg("--describe-config")
        .output()
        .unwrap();
    assert!(out.status.success());
    let known = KnownGucs::from_describe_config(&String::from_utf8_lossy(&out.stdout));
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../tests/fixtures/configs/capdata-etcd2.yml");
    let config = ferroni_config::load(Some(&path), Vec::new())
        .unwrap()
        .config;
    let dynamic: Map<String, Value> = config.bootstrap.dcs["postgresql"]["parameters"]
        .as_object()
        .cloned()
        .unwrap_or_default();
    let identity = Identity {
        scope: &config.scope,
        listen: &config.postgresql.listen,
        major_version: 150000,
    };
    let params = server_parameters(
        &dynamic,
        &config.postgresql.parameters,
        &identity,
        Some(&known),
    );
    assert!(!params.conf.contains_key("wal_keep_segment"));
    assert_eq!(params.conf["max_wal_senders"], "5");
    assert_eq!(params.conf["checkpoint_timeout"], "30");
    assert_eq!(
        params.warnings,
        ["Removing unexpected parameter=wal_keep_segment value=8 from the config"]
    );
}
