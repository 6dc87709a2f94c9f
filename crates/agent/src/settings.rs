//! The agent's view of the configuration: what PostgreSQL, the HA decision and the member key
//! need, derived from the loaded `patroni.yml` and the cluster's dynamic configuration.

use ferroni_config::bootstrap::InitdbOption;
use ferroni_config::postgresql::UserAuth;
use ferroni_config::validate::scalar_text;
use ferroni_config::{Config, DynamicConfig};
use ferroni_ha::{HaConfig, Me};
use ferroni_pg::local::{Credentials, LibpqOptions, PgSettings};
use serde_json::{Map, Value};
use std::path::PathBuf;

fn credentials(user: Option<&UserAuth>) -> Credentials {
    user.map(|u| Credentials {
        username: u.username.clone(),
        password: u.password.clone(),
        libpq: LibpqOptions {
            sslmode: u.sslmode.clone(),
            sslcert: u.sslcert.clone(),
            sslkey: u.sslkey.clone(),
            sslpassword: u.sslpassword.clone(),
            sslrootcert: u.sslrootcert.clone(),
            sslcrl: u.sslcrl.clone(),
            sslcrldir: u.sslcrldir.clone(),
            sslnegotiation: u.sslnegotiation.clone(),
            gssencmode: u.gssencmode.clone(),
            channel_binding: u.channel_binding.clone(),
            target_session_attrs: u.target_session_attrs.clone(),
        },
    })
    .unwrap_or_default()
}

/// Options of a list like `bootstrap.initdb` or `postgresql.basebackup`: `- verbose` → `--verbose`,
/// `- checkpoint: fast` → `--checkpoint=fast`.
fn long_options(items: Option<&Value>) -> Vec<String> {
    let Some(Value::Array(items)) = items else {
        return Vec::new();
    };
    items
        .iter()
        .filter_map(|item| match item {
            Value::String(s) => Some(format!("--{s}")),
            Value::Object(map) => map
                .iter()
                .next()
                .map(|(k, v)| format!("--{k}={}", scalar_text(v))),
            _ => None,
        })
        .collect()
}

/// The local PostgreSQL's settings.
pub fn pg_settings(config: &Config, bin_dir: PathBuf) -> PgSettings {
    let pg = &config.postgresql;
    let initdb_options = config
        .bootstrap
        .initdb_options()
        .unwrap_or_default()
        .into_iter()
        .map(|o| match o {
            InitdbOption::Switch(s) => format!("--{s}"),
            InitdbOption::Value(k, v) => format!("--{k}={v}"),
        })
        .collect();
    let home = std::env::var("HOME").unwrap_or_else(|_| "/tmp".into());
    PgSettings {
        name: config.name.clone(),
        scope: config.scope.clone(),
        data_dir: PathBuf::from(&pg.data_dir),
        bin_dir,
        listen: pg.listen.clone(),
        pgpass: PathBuf::from(
            pg.pgpass
                .clone()
                .unwrap_or_else(|| format!("{home}/pgpass")),
        ),
        superuser: credentials(pg.authentication.superuser.as_ref()),
        replication: credentials(pg.authentication.replication.as_ref()),
        rewind: pg
            .authentication
            .rewind
            .as_ref()
            .map(|r| credentials(Some(r))),
        use_unix_socket: pg.use_unix_socket,
        pg_hba: pg.pg_hba.clone(),
        bootstrap_pg_hba: config.bootstrap.pg_hba.clone().unwrap_or_default(),
        pg_ident: pg.pg_ident.clone(),
        local_parameters: pg.parameters.clone(),
        initdb_options,
        basebackup_options: long_options(pg.basebackup.as_ref()),
        post_bootstrap: config
            .bootstrap
            .post_bootstrap
            .clone()
            .or_else(|| config.bootstrap.post_init.clone()),
        recovery_conf: pg
            .recovery_conf
            .as_ref()
            .map(|m| m.iter().map(|(k, v)| (k.clone(), scalar_text(v))).collect())
            .unwrap_or_default(),
    }
}

/// The HA settings of the dynamic configuration, in milliseconds, and whether the local
/// configuration lets this member initialize a cluster (`Loaded::can_bootstrap`).
pub fn ha_config(dynamic: &DynamicConfig, can_bootstrap: bool) -> HaConfig {
    let ms = |s: u32| u64::from(s) * 1000;
    HaConfig {
        ttl: ms(dynamic.ttl),
        loop_wait: ms(dynamic.loop_wait),
        retry_timeout: ms(dynamic.retry_timeout),
        maximum_lag_on_failover: u64::try_from(dynamic.maximum_lag_on_failover).unwrap_or(0),
        primary_start_timeout: u64::try_from(dynamic.primary_start_timeout).unwrap_or(0) * 1000,
        check_timeline: dynamic.check_timeline,
        use_pg_rewind: dynamic.use_pg_rewind,
        paused: dynamic.pause,
        can_bootstrap,
        failsafe_mode: dynamic.failsafe_mode,
        use_slots: dynamic.use_slots,
    }
}

/// This member as the decision sees it.
pub fn me(config: &Config) -> Me {
    Me {
        name: config.name.clone(),
        nofailover: config.tags.nofailover(),
        failover_priority: config.tags.failover_priority().unwrap_or(1),
        // Set each cycle from the watchdog's state (runtime).
        watchdog_failed: false,
        api_url: crate::member::urls(config).1,
    }
}

/// The tags published in the member key: Patroni's boolean tags only when true (`nofailover`
/// and `nosync` also when their priority is set), then the priorities and custom tags.
pub fn published_tags(config: &Config) -> Map<String, Value> {
    let t = &config.tags;
    let mut tags = Map::new();
    let mut flag = |name: &str, value: Option<bool>, keep_false: bool| {
        if let Some(v) = value
            && (v || keep_false)
        {
            tags.insert(name.into(), Value::Bool(v));
        }
    };
    flag("nofailover", t.nofailover, t.failover_priority.is_some());
    flag("noloadbalance", t.noloadbalance, false);
    flag("clonefrom", t.clonefrom, false);
    flag("nosync", t.nosync, t.sync_priority.is_some());
    flag("nostream", t.nostream, false);
    if let Some(p) = &t.failover_priority {
        tags.insert("failover_priority".into(), p.written.clone());
    }
    if let Some(p) = &t.sync_priority {
        tags.insert("sync_priority".into(), p.written.clone());
    }
    if let Some(r) = &t.replicatefrom {
        tags.insert("replicatefrom".into(), Value::String(r.clone()));
    }
    for (k, v) in &t.custom {
        tags.insert(k.clone(), v.clone());
    }
    // In the order the configuration wrote them, as Patroni's member key has them.
    let mut ordered = Map::new();
    for name in &t.written_order {
        if let Some(v) = tags.remove(name) {
            ordered.insert(name.clone(), v);
        }
    }
    ordered.extend(tags);
    ordered
}

#[cfg(test)]
mod tests {
    #[test]
    fn priorities_are_published_as_written_and_read_as_numbers() {
        let tree = serde_json::json!({
            "scope": "demo", "name": "node1",
            "restapi": {"listen": "127.0.0.1:8008", "connect_address": "127.0.0.1:8008"},
            "etcd3": {"hosts": "127.0.0.1:2379"},
            "postgresql": {"listen": "127.0.0.1:5432", "connect_address": "127.0.0.1:5432",
                           "data_dir": "/tmp/x",
                           "authentication": {"superuser": {"username": "postgres"},
                                              "replication": {"username": "replicator"}}},
            "tags": {"nofailover": true, "failover_priority": "1", "sync_priority": 2}
        });
        let loaded = ferroni_config::load::from_tree(tree).expect("loads");
        let tags = super::published_tags(&loaded.config);
        assert_eq!(tags["failover_priority"], serde_json::json!("1"));
        assert_eq!(tags["sync_priority"], serde_json::json!(2));
        assert_eq!(tags["nofailover"], serde_json::json!(true));
        let order: Vec<&str> = tags.keys().map(String::as_str).collect();
        assert_eq!(order, ["nofailover", "failover_priority", "sync_priority"]);
        let tree = serde_json::json!({
            "scope": "demo", "name": "node1",
            "restapi": {"listen": "127.0.0.1:8008", "connect_address": "127.0.0.1:8008"},
            "etcd3": {"hosts": "127.0.0.1:2379"},
            "postgresql": {"listen": "127.0.0.1:5432", "connect_address": "127.0.0.1:5432",
                           "data_dir": "/tmp/x",
                           "authentication": {"superuser": {"username": "postgres"},
                                              "replication": {"username": "replicator"}}},
            "tags": {"dc": "west", "failover_priority": "1", "nofailover": true}
        });
        let loaded = ferroni_config::load::from_tree(tree).expect("loads");
        let tags = super::published_tags(&loaded.config);
        let order: Vec<&str> = tags.keys().map(String::as_str).collect();
        assert_eq!(
            order,
            ["dc", "failover_priority", "nofailover"],
            "as written"
        );
        let me = super::me(&loaded.config);
        assert!(me.nofailover, "the nofailover tag wins");
        assert_eq!(me.failover_priority, 1);
    }
}
