//! The `PATRONI_*` environment overlay: the variables Patroni reads, mapped to the same keys and
//! parsed to the same types, so a container set up for Patroni configures Ferroni unchanged.

use crate::flex::parse_bool;
use serde_json::{Map, Value};
use std::collections::BTreeMap;

const PREFIX: &str = "PATRONI_";
const RESTAPI: [&str; 14] = [
    "listen",
    "connect_address",
    "certfile",
    "keyfile",
    "keyfile_password",
    "cafile",
    "ciphers",
    "verify_client",
    "http_extra_headers",
    "https_extra_headers",
    "allowlist",
    "allowlist_include_members",
    "request_queue_size",
    "server_tokens",
];
const CTL: [&str; 5] = [
    "insecure",
    "cacert",
    "certfile",
    "keyfile",
    "keyfile_password",
];
const POSTGRESQL: [&str; 7] = [
    "listen",
    "connect_address",
    "proxy_address",
    "config_dir",
    "data_dir",
    "pgpass",
    "bin_dir",
];
const LOG: [&str; 13] = [
    "type",
    "level",
    "traceback_level",
    "format",
    "dateformat",
    "static_fields",
    "max_queue_size",
    "dir",
    "mode",
    "file_size",
    "file_num",
    "loggers",
    "deduplicate_heartbeat_logs",
];
const RAFT: [&str; 11] = [
    "data_dir",
    "self_addr",
    "partner_addrs",
    "password",
    "bind_addr",
    "min_timeout",
    "max_timeout",
    "connection_timeout",
    "append_entries_period",
    "connection_retry_time",
    "leader_fallback_timeout",
];
const BINARIES: [&str; 7] = [
    "pg_ctl",
    "initdb",
    "pg_controldata",
    "pg_basebackup",
    "postgres",
    "pg_isready",
    "pg_rewind",
];
const AUTH_PARAMS: [&str; 12] = [
    "username",
    "password",
    "sslmode",
    "sslcert",
    "sslkey",
    "sslpassword",
    "sslrootcert",
    "sslcrl",
    "sslcrldir",
    "gssencmode",
    "channel_binding",
    "sslnegotiation",
];
/// Suffixes of `PATRONI_<DCS>_<SUFFIX>` that Patroni maps for any DCS section name.
const DCS_SUFFIXES: [&str; 41] = [
    "HOST",
    "HOSTS",
    "PORT",
    "USE_PROXIES",
    "PROTOCOL",
    "SRV",
    "SRV_SUFFIX",
    "URL",
    "PROXY",
    "CACERT",
    "CERT",
    "KEY",
    "VERIFY",
    "TOKEN",
    "CHECKS",
    "DC",
    "CONSISTENCY",
    "REGISTER_SERVICE",
    "SERVICE_CHECK_INTERVAL",
    "SERVICE_CHECK_TLS_SERVER_NAME",
    "SERVICE_TAGS",
    "NAMESPACE",
    "CONTEXT",
    "USE_ENDPOINTS",
    "SCOPE_LABEL",
    "ROLE_LABEL",
    "POD_IP",
    "PORTS",
    "LABELS",
    "BYPASS_API_SERVICE",
    "RETRIABLE_HTTP_CODES",
    "KEY_PASSWORD",
    "USE_SSL",
    "SET_ACLS",
    "GROUP",
    "DATABASE",
    "LEADER_LABEL_VALUE",
    "FOLLOWER_LABEL_VALUE",
    "STANDBY_LEADER_LABEL_VALUE",
    "TMP_ROLE_LABEL",
    "AUTH_DATA",
];

/// A YAML flow list from `a,b` or `[a, b]` or `- a`; `None` when it does not parse.
fn parse_list(text: &str) -> Option<Value> {
    let t = text.trim();
    let yaml = if t.starts_with('-') || t.contains('[') {
        t.to_string()
    } else {
        format!("[{t}]")
    };
    crate::yaml::parse(&yaml)
        .ok()
        .map(|(v, _)| v)
        .filter(Value::is_array)
}

/// A YAML mapping from `{k: v}` or `k: v`; `None` when it does not parse.
fn parse_dict(text: &str) -> Option<Value> {
    let t = text.trim();
    let yaml = if t.starts_with('{') {
        t.to_string()
    } else {
        format!("{{{t}}}")
    };
    crate::yaml::parse(&yaml)
        .ok()
        .map(|(v, _)| v)
        .filter(Value::is_object)
}

fn parse_int(text: &str) -> Option<Value> {
    text.trim().parse::<i64>().ok().map(Value::from)
}

fn parse_real(text: &str) -> Option<Value> {
    text.trim()
        .parse::<f64>()
        .ok()
        .and_then(serde_json::Number::from_f64)
        .map(Value::Number)
}

/// Builds the overlay from environment variables. Empty values are ignored, as Patroni does.
pub fn overlay<I: IntoIterator<Item = (String, String)>>(vars: I) -> Value {
    let env: BTreeMap<String, String> = vars
        .into_iter()
        .filter(|(k, v)| k.starts_with(PREFIX) && !v.is_empty())
        .collect();
    let get = |name: &str| {
        env.get(&format!("{PREFIX}{}", name.to_uppercase()))
            .cloned()
    };
    let mut root = Map::new();
    let mut put = |section: Option<&str>, key: &str, value: Value| match section {
        None => {
            root.insert(key.to_string(), value);
        }
        Some(s) => {
            let entry = root
                .entry(s.to_string())
                .or_insert_with(|| Value::Object(Map::new()));
            if let Value::Object(m) = entry {
                m.insert(key.to_string(), value);
            }
        }
    };

    for key in ["name", "namespace", "scope"] {
        if let Some(v) = get(key) {
            put(None, key, Value::String(v));
        }
    }
    for key in ["thread_pool_size", "thread_stack_size"] {
        if let Some(v) = get(key) {
            put(None, key, parse_int(&v).unwrap_or(Value::String(v)));
        }
    }
    // The old spellings of three log variables still count when the new one is absent.
    let legacy_log = [
        ("level", "loglevel"),
        ("format", "logformat"),
        ("dateformat", "log_datefmt"),
    ];
    let log_var = |key: &str| {
        get(&format!("log_{key}")).or_else(|| {
            legacy_log
                .iter()
                .find(|(new, _)| *new == key)
                .and_then(|(_, old)| get(old))
        })
    };
    for key in LOG {
        let Some(v) = log_var(key) else { continue };
        let value = match key {
            "deduplicate_heartbeat_logs" => parse_bool(&v).map(Value::Bool),
            "max_queue_size" | "file_size" | "file_num" | "mode" => parse_int(&v),
            "static_fields" | "loggers" => parse_dict(&v),
            "format" if !v.contains("%(") => parse_list(&v),
            _ => Some(Value::String(v)),
        };
        if let Some(value) = value {
            put(Some("log"), key, value);
        }
    }
    for key in RESTAPI {
        let Some(v) = get(&format!("restapi_{key}")) else {
            continue;
        };
        let value = match key {
            "allowlist_include_members" => parse_bool(&v).map(Value::Bool),
            "request_queue_size" => parse_int(&v),
            "allowlist" => parse_list(&v),
            "http_extra_headers" | "https_extra_headers" => parse_dict(&v),
            _ => Some(Value::String(v)),
        };
        if let Some(value) = value {
            put(Some("restapi"), key, value);
        }
    }
    for key in CTL {
        let Some(v) = get(&format!("ctl_{key}")) else {
            continue;
        };
        let value = if key == "insecure" {
            parse_bool(&v).map(Value::Bool)
        } else {
            Some(Value::String(v))
        };
        if let Some(value) = value {
            put(Some("ctl"), key, value);
        }
    }
    for key in POSTGRESQL {
        if let Some(v) = get(&format!("postgresql_{key}")) {
            put(Some("postgresql"), key, Value::String(v));
        }
    }
    for key in RAFT {
        let Some(v) = get(&format!("raft_{key}")) else {
            continue;
        };
        let value = match key {
            "partner_addrs" => parse_list(&v),
            k if k.ends_with("timeout") || k.ends_with("period") || k.ends_with("time") => {
                parse_real(&v)
            }
            _ => Some(Value::String(v)),
        };
        if let Some(value) = value {
            put(Some("raft"), key, value);
        }
    }
    let bin_names: Map<String, Value> = BINARIES
        .iter()
        .filter_map(|b| {
            get(&format!("postgresql_bin_{b}")).map(|v| (b.to_string(), Value::String(v)))
        })
        .collect();
    if !bin_names.is_empty() {
        put(Some("postgresql"), "bin_name", Value::Object(bin_names));
    }
    let auth = |section: &str, params: &[&str]| -> Map<String, Value> {
        params
            .iter()
            .filter_map(|p| {
                get(&format!("{section}_{p}")).map(|v| (p.to_string(), Value::String(v)))
            })
            .collect()
    };
    for section in ["ctl", "restapi"] {
        let a = auth(section, &AUTH_PARAMS[..2]);
        if !a.is_empty() {
            put(Some(section), "authentication", Value::Object(a));
        }
    }
    let users: Map<String, Value> = ["replication", "superuser", "rewind"]
        .iter()
        .map(|u| (u.to_string(), auth(u, &AUTH_PARAMS)))
        .filter(|(_, a)| !a.is_empty())
        .map(|(u, a)| (u, Value::Object(a)))
        .collect();
    if !users.is_empty() {
        put(Some("postgresql"), "authentication", Value::Object(users));
    }

    for (var, v) in &env {
        let rest = &var[PREFIX.len()..];
        let Some((name, suffix)) = rest.split_once('_') else {
            continue;
        };
        if name.is_empty() || !DCS_SUFFIXES.contains(&suffix) {
            continue;
        }
        // PATRONI_POSTGRESQL_CONNECT_ADDRESS etc. are handled above; only DCS-like sections remain.
        if matches!(
            name,
            "RESTAPI"
                | "CTL"
                | "POSTGRESQL"
                | "LOG"
                | "RAFT"
                | "REPLICATION"
                | "SUPERUSER"
                | "REWIND"
        ) {
            continue;
        }
        let value = if name == "CITUS" {
            match suffix {
                "GROUP" => parse_int(v),
                "DATABASE" => Some(Value::String(v.clone())),
                _ => None,
            }
        } else {
            match suffix {
                "PORT" => parse_int(v),
                "HOSTS" | "PORTS" | "CHECKS" | "SERVICE_TAGS" | "RETRIABLE_HTTP_CODES" => {
                    parse_list(v)
                }
                "LABELS" | "SET_ACLS" | "AUTH_DATA" | "BOOTSTRAP_LABELS" => parse_dict(v),
                "USE_PROXIES" | "REGISTER_SERVICE" | "USE_ENDPOINTS" | "BYPASS_API_SERVICE"
                | "VERIFY" => parse_bool(v).map(Value::Bool),
                _ => Some(Value::String(v.clone())),
            }
        };
        if let Some(value) = value {
            put(Some(&name.to_lowercase()), &suffix.to_lowercase(), value);
        }
    }
    for dcs in ["etcd", "etcd3"] {
        if root.contains_key(dcs) {
            let a = auth(dcs, &AUTH_PARAMS[..2]);
            if let Some(Value::Object(section)) = root.get_mut(dcs) {
                section.extend(a);
            }
        }
    }
    Value::Object(root)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn env(pairs: &[(&str, &str)]) -> Value {
        overlay(pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())))
    }

    #[test]
    fn maps_sections_users_and_dcs_like_patroni() {
        let v = env(&[
            ("PATRONI_NAME", "node9"),
            ("PATRONI_RESTAPI_LISTEN", "0.0.0.0:8009"),
            ("PATRONI_RESTAPI_USERNAME", "admin"),
            ("PATRONI_RESTAPI_PASSWORD", "pw"),
            ("PATRONI_RESTAPI_ALLOWLIST", "10.0.0.0/8,127.0.0.1"),
            ("PATRONI_POSTGRESQL_DATA_DIR", "/data"),
            ("PATRONI_POSTGRESQL_BIN_PG_CTL", "pg_ctl15"),
            ("PATRONI_REPLICATION_USERNAME", "repl"),
            ("PATRONI_REPLICATION_SSLMODE", "require"),
            ("PATRONI_ETCD3_HOSTS", "'e1:2379','e2:2379'"),
            ("PATRONI_ETCD3_USERNAME", "root"),
            ("PATRONI_CITUS_GROUP", "1"),
            ("PATRONI_LOGLEVEL", "DEBUG"),
            ("PATRONI_LOG_FILE_NUM", "7"),
            ("PATRONI_CTL_INSECURE", "yes"),
            ("PATRONI_EMPTY_HOST", ""),
            ("HOME", "/root"),
        ]);
        assert_eq!(
            v,
            json!({
                "name": "node9",
                "log": {"level": "DEBUG", "file_num": 7},
                "restapi": {"listen": "0.0.0.0:8009", "allowlist": ["10.0.0.0/8", "127.0.0.1"],
                            "authentication": {"username": "admin", "password": "pw"}},
                "ctl": {"insecure": true},
                "postgresql": {"data_dir": "/data", "bin_name": {"pg_ctl": "pg_ctl15"},
                               "authentication": {"replication": {"username": "repl", "sslmode": "require"}}},
                "citus": {"group": 1},
                "etcd3": {"hosts": ["e1:2379", "e2:2379"], "username": "root"},
            })
        );
    }

    #[test]
    fn new_log_names_win_over_legacy_ones() {
        let v = env(&[
            ("PATRONI_LOGLEVEL", "DEBUG"),
            ("PATRONI_LOG_LEVEL", "ERROR"),
        ]);
        assert_eq!(v, json!({"log": {"level": "ERROR"}}));
    }
}
