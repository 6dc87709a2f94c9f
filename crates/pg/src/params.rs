//! The server parameters Ferroni gives PostgreSQL, with Patroni's rules: the protected ones are
//! passed on the command line and taken only from the dynamic configuration (validated, an invalid
//! value falls back to the default with a warning); the rest merge dynamic and local settings;
//! parameters PostgreSQL does not know are removed with a warning rather than passed on.

use serde_json::{Map, Value};
use std::collections::{BTreeMap, BTreeSet};

/// How a protected parameter's value is checked.
#[derive(Debug, Clone, Copy)]
enum Rule {
    /// Set from the local configuration only (`listen_addresses`, `port`, `cluster_name`).
    Fixed,
    Enum(&'static [&'static str]),
    /// Must be on.
    On,
    Bool,
    /// An integer at least this.
    Min(i64),
    /// A size in MB at least this (`wal_keep_size`).
    MinMb(i64),
}

/// Patroni's protected parameters, in its command-line order, with defaults and rules.
const CMDLINE: [(&str, Option<&str>, Rule); 15] = [
    ("listen_addresses", None, Rule::Fixed),
    ("port", None, Rule::Fixed),
    ("cluster_name", None, Rule::Fixed),
    (
        "wal_level",
        Some("hot_standby"),
        Rule::Enum(&["hot_standby", "replica", "logical"]),
    ),
    ("hot_standby", Some("on"), Rule::On),
    ("max_connections", Some("100"), Rule::Min(25)),
    ("max_wal_senders", Some("10"), Rule::Min(3)),
    ("wal_keep_segments", Some("8"), Rule::Min(1)),
    ("wal_keep_size", Some("128MB"), Rule::MinMb(16)),
    ("max_prepared_transactions", Some("0"), Rule::Min(0)),
    ("max_locks_per_transaction", Some("64"), Rule::Min(32)),
    ("track_commit_timestamp", Some("off"), Rule::Bool),
    ("max_replication_slots", Some("10"), Rule::Min(4)),
    ("max_worker_processes", Some("8"), Rule::Min(2)),
    ("wal_log_hints", Some("on"), Rule::Bool),
];

fn protected(name: &str) -> Option<&'static (&'static str, Option<&'static str>, Rule)> {
    CMDLINE
        .iter()
        .find(|(n, _, _)| n.eq_ignore_ascii_case(name))
}

fn parse_bool(text: &str) -> Option<bool> {
    match text.trim().to_ascii_lowercase().as_str() {
        "on" | "true" | "yes" | "1" | "t" | "y" => Some(true),
        "off" | "false" | "no" | "0" | "f" | "n" => Some(false),
        _ => None,
    }
}

/// A size with an optional unit, in MB.
fn megabytes(text: &str) -> Option<i64> {
    let t = text.trim();
    let split = t.find(|c: char| !c.is_ascii_digit()).unwrap_or(t.len());
    let (number, unit) = t.split_at(split);
    let n: i64 = number.parse().ok()?;
    Some(match unit.trim().to_ascii_uppercase().as_str() {
        "" | "MB" => n,
        "KB" => n / 1024,
        "GB" => n * 1024,
        "TB" => n * 1024 * 1024,
        _ => return None,
    })
}

impl Rule {
    fn accepts(self, value: &str) -> bool {
        match self {
            Rule::Fixed => false,
            Rule::Enum(allowed) => allowed.contains(&value.to_ascii_lowercase().as_str()),
            Rule::On => parse_bool(value) == Some(true),
            Rule::Bool => parse_bool(value).is_some(),
            Rule::Min(min) => value.trim().parse::<i64>().is_ok_and(|v| v >= min),
            Rule::MinMb(min) => megabytes(value).is_some_and(|v| v >= min),
        }
    }
}

/// A parameter value as PostgreSQL reads it: booleans `on`/`off`, numbers as written.
pub fn value_text(value: &Value) -> Option<String> {
    match value {
        Value::Null => None,
        Value::Bool(true) => Some("on".into()),
        Value::Bool(false) => Some("off".into()),
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Array(_) | Value::Object(_) => Some(value.to_string()),
    }
}

/// The parameter names a PostgreSQL binary knows (`postgres --describe-config`).
#[derive(Debug, Clone, Default)]
pub struct KnownGucs(BTreeSet<String>);

impl KnownGucs {
    /// From `postgres --describe-config` output: one tab-separated line per parameter.
    pub fn from_describe_config(output: &str) -> KnownGucs {
        KnownGucs(
            output
                .lines()
                .filter_map(|l| l.split('\t').next())
                .filter(|n| !n.is_empty())
                .map(str::to_ascii_lowercase)
                .collect(),
        )
    }

    /// Whether `name` is a parameter of this server; `a.b` names belong to extensions and count.
    pub fn knows(&self, name: &str) -> bool {
        name.contains('.') || self.0.contains(&name.to_ascii_lowercase())
    }
}

/// What to start PostgreSQL with.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct ServerParameters {
    /// Every parameter, for the managed `postgresql.conf`.
    pub conf: BTreeMap<String, String>,
    /// The protected ones, `--name=value`, in Patroni's order.
    pub cmdline: Vec<String>,
    pub warnings: Vec<String>,
}

/// Where the server listens and what the cluster is called.
#[derive(Debug, Clone)]
pub struct Identity<'a> {
    pub scope: &'a str,
    /// `postgresql.listen`: `host[,host…]:port`.
    pub listen: &'a str,
    /// `server_version_num` of the binaries (150000 for 15).
    pub major_version: u32,
}

/// Computes the server parameters from the dynamic (`postgresql.parameters` of `/config`) and
/// local (`postgresql.parameters` of `patroni.yml`) settings.
pub fn server_parameters(
    dynamic: &Map<String, Value>,
    local: &Map<String, Value>,
    identity: &Identity<'_>,
    known: Option<&KnownGucs>,
) -> ServerParameters {
    let mut warnings = Vec::new();
    let mut params: BTreeMap<String, String> = CMDLINE
        .iter()
        .filter(|(name, _, _)| !name.starts_with("wal_keep"))
        .filter_map(|(name, default, _)| default.map(|d| (name.to_string(), d.to_string())))
        .collect();
    for (name, value) in dynamic {
        let Some(text) = value_text(value) else {
            continue;
        };
        match protected(name) {
            Some((canonical, default, rule)) if !matches!(rule, Rule::Fixed) => {
                if rule.accepts(&text) {
                    params.insert(canonical.to_string(), text);
                } else if let Some(default) = default {
                    warnings.push(format!("postgresql parameter {name}={text} failed validation, defaulting to {default}"));
                    params.insert(canonical.to_string(), default.to_string());
                }
            }
            Some(_) => {}
            None => {
                params.insert(name.clone(), text);
            }
        }
    }
    // Local settings may not touch the protected parameters: those are cluster-wide.
    for (name, value) in local {
        if protected(name).is_none()
            && let Some(text) = value_text(value)
        {
            params.insert(name.clone(), text);
        }
    }
    let (addresses, port) = identity
        .listen
        .rsplit_once(':')
        .unwrap_or((identity.listen, "5432"));
    let addresses: Vec<&str> = addresses.split(',').map(str::trim).collect();
    params.insert("listen_addresses".into(), addresses.join(","));
    params.insert("port".into(), port.trim().to_string());
    params.insert("cluster_name".into(), identity.scope.to_string());
    if identity.major_version >= 90600
        && params.get("wal_level").is_some_and(|v| v == "hot_standby")
    {
        params.insert("wal_level".into(), "replica".into());
    }
    if identity.major_version >= 130000 {
        let segments = params
            .remove("wal_keep_segments")
            .and_then(|s| s.parse::<i64>().ok())
            .unwrap_or(8);
        params
            .entry("wal_keep_size".into())
            .or_insert_with(|| format!("{}MB", segments * 16));
    } else {
        let size = params
            .remove("wal_keep_size")
            .and_then(|s| megabytes(&s))
            .unwrap_or(128);
        params
            .entry("wal_keep_segments".into())
            .or_insert_with(|| ((size + 8) / 16).to_string());
    }
    if let Some(known) = known {
        params.retain(|name, value| {
            let keep = known.knows(name);
            if !keep {
                warnings.push(format!(
                    "Removing unexpected parameter={name} value={value} from the config"
                ));
            }
            keep
        });
    }
    let cmdline = CMDLINE
        .iter()
        .filter(|(name, _, _)| !name.starts_with("wal_keep"))
        .filter_map(|(name, _, _)| params.get(*name).map(|v| format!("--{name}={v}")))
        .collect();
    ServerParameters {
        conf: params,
        cmdline,
        warnings,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn map(v: Value) -> Map<String, Value> {
        v.as_object().cloned().unwrap_or_default()
    }

    const PG15: Identity<'static> = Identity {
        scope: "demo",
        listen: "127.0.0.1:5541",
        major_version: 150000,
    };

    #[test]
    fn protected_values_are_validated_and_local_ones_cannot_override_them() {
        let p = server_parameters(
            &map(
                json!({"max_connections": 10, "wal_level": "hot_standby", "hot_standby": "off", "work_mem": "8MB"}),
            ),
            &map(json!({"max_connections": 500, "work_mem": "16MB", "logging_collector": true})),
            &PG15,
            None,
        );
        assert_eq!(p.conf["max_connections"], "100");
        assert_eq!(p.conf["wal_level"], "replica");
        assert_eq!(p.conf["hot_standby"], "on");
        assert_eq!(p.conf["work_mem"], "16MB");
        assert_eq!(p.conf["logging_collector"], "on");
        assert_eq!(p.conf["wal_keep_size"], "128MB");
        assert_eq!(
            p.warnings,
            [
                "postgresql parameter max_connections=10 failed validation, defaulting to 100",
                "postgresql parameter hot_standby=off failed validation, defaulting to on",
            ]
        );
    }

    #[test]
    fn unknown_parameters_are_removed_with_patronis_warning() {
        let known = KnownGucs::from_describe_config("max_wal_senders\tpostmaster\tx\tINTEGER\n");
        let mut known_all = known.clone();
        for name in [
            "listen_addresses",
            "port",
            "cluster_name",
            "wal_level",
            "hot_standby",
            "max_connections",
            "wal_keep_size",
            "max_prepared_transactions",
            "max_locks_per_transaction",
            "track_commit_timestamp",
            "max_replication_slots",
            "max_worker_processes",
            "wal_log_hints",
            "checkpoint_timeout",
        ] {
            known_all.0.insert(name.into());
        }
        let p = server_parameters(
            &map(
                json!({"wal_keep_segment": 8, "checkpoint_timeout": 30, "pg_stat_statements.max": 100}),
            ),
            &Map::new(),
            &PG15,
            Some(&known_all),
        );
        assert!(!p.conf.contains_key("wal_keep_segment"));
        assert_eq!(p.conf["checkpoint_timeout"], "30");
        assert_eq!(p.conf["pg_stat_statements.max"], "100");
        assert_eq!(
            p.warnings,
            ["Removing unexpected parameter=wal_keep_segment value=8 from the config"]
        );
    }

    #[test]
    fn listen_with_several_hosts() {
        let id = Identity {
            scope: "c",
            listen: "127.0.0.1, 192.168.1.11:5432",
            major_version: 150000,
        };
        let p = server_parameters(&Map::new(), &Map::new(), &id, None);
        assert_eq!(
            (p.conf["listen_addresses"].as_str(), p.conf["port"].as_str()),
            ("127.0.0.1,192.168.1.11", "5432")
        );
    }
}
