//! The rules a loaded configuration must satisfy, and the warnings for keys that are unknown or in
//! the wrong place. Errors name the key path, the value and the rule; passwords are never shown.

use crate::diagnostics::Issue;
use crate::schema::Config;
use serde_json::Value;

/// Patroni reserves this name for its strict synchronous mode.
const RESERVED_NAME: &str = "__patroni_strict_sync_replica_placeholder__";

/// What validation found.
#[derive(Debug, Default)]
pub struct Findings {
    pub errors: Vec<Issue>,
    pub warnings: Vec<String>,
}

/// A short, Python-like rendering of a value for messages: `'abc'`, `7`, `true`, `a list`.
pub fn describe(v: &Value) -> String {
    match v {
        Value::String(s) => format!("'{s}'"),
        Value::Number(n) => n.to_string(),
        Value::Bool(b) => b.to_string(),
        Value::Null => "an empty value".into(),
        Value::Array(_) => "a list".into(),
        Value::Object(_) => "a mapping".into(),
    }
}

/// The text of a scalar as PostgreSQL or a command line wants it (`on` for true).
pub fn scalar_text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Bool(true) => "on".into(),
        Value::Bool(false) => "off".into(),
        Value::Null => String::new(),
        other => other.to_string(),
    }
}

/// Where a key found in the wrong place belongs, when that is obvious.
fn home_of(path: &str) -> Option<&'static str> {
    let (parent, key) = path.rsplit_once('.').unwrap_or(("", path));
    const BOOTSTRAP: [&str; 6] = [
        "initdb",
        "dcs",
        "method",
        "post_bootstrap",
        "post_init",
        "users",
    ];
    const DYNAMIC: [&str; 14] = [
        "ttl",
        "loop_wait",
        "retry_timeout",
        "maximum_lag_on_failover",
        "maximum_lag_on_syncnode",
        "primary_start_timeout",
        "primary_stop_timeout",
        "synchronous_mode",
        "synchronous_mode_strict",
        "synchronous_node_count",
        "failsafe_mode",
        "check_timeline",
        "standby_cluster",
        "slots",
    ];
    const POSTGRESQL: [&str; 9] = [
        "parameters",
        "data_dir",
        "bin_dir",
        "config_dir",
        "authentication",
        "pgpass",
        "callbacks",
        "create_replica_methods",
        "recovery_conf",
    ];
    match parent {
        "" if key == "pg_hba" => {
            Some("`bootstrap` (appended after initdb) or `postgresql` (the whole file)")
        }
        "" if BOOTSTRAP.contains(&key) => Some("`bootstrap`"),
        "" | "bootstrap" if DYNAMIC.contains(&key) => Some("`bootstrap.dcs`"),
        "" if POSTGRESQL.contains(&key) => Some("`postgresql`"),
        "bootstrap" if key == "postgresql" => {
            Some("`bootstrap.dcs` (as `bootstrap.dcs.postgresql`)")
        }
        "bootstrap" if key == "parameters" => Some("`bootstrap.dcs.postgresql`"),
        "postgresql" if BOOTSTRAP.contains(&key) => Some("`bootstrap`"),
        "postgresql" if DYNAMIC.contains(&key) => Some("`bootstrap.dcs`"),
        _ => None,
    }
}

/// Turns a key the schema did not take into a warning, with a hint where it belongs.
pub fn unknown_key_warning(path: &str) -> String {
    if path == "users" {
        return "users is ignored: it is not a top-level key (bootstrap.users, where it was meant to be, was removed in Patroni 4.0.0; create users in a post_bootstrap script)".into();
    }
    match home_of(path) {
        Some(home) => format!("{path} is ignored: it belongs under {home}"),
        None => format!("{path} is an unknown key and is ignored"),
    }
}

/// Splits `host:port`; the port must be a number. `[::1]:5432` keeps its brackets off.
fn split_host_port(address: &str) -> Option<(&str, u16)> {
    let (host, port) = address.trim().rsplit_once(':')?;
    let port = port.trim().parse().ok()?;
    let host = host.trim().trim_start_matches('[').trim_end_matches(']');
    Some((host, port))
}

struct Checker<'a> {
    config: &'a Config,
    out: Findings,
}

impl Checker<'_> {
    fn error(&mut self, path: &str, message: impl Into<String>) {
        self.out.errors.push(Issue::new(path, message));
    }

    fn required(&mut self, path: &str, value: &str) -> bool {
        if value.trim().is_empty() {
            self.error(path, "is not defined");
            return false;
        }
        true
    }

    fn listen(&mut self, path: &str, value: &str, multiple_hosts: bool) {
        if !self.required(path, value) {
            return;
        }
        match split_host_port(value) {
            None => self.error(path, format!("'{value}' is not host:port")),
            Some((hosts, _)) => {
                let hosts: Vec<&str> = if multiple_hosts {
                    hosts.split(',').map(str::trim).collect()
                } else {
                    vec![hosts]
                };
                if hosts.contains(&"*") && hosts.len() > 1 {
                    self.error(path, format!("'{value}' combines '*' with other hosts"));
                }
            }
        }
    }

    fn connect_address(&mut self, path: &str, value: &str) {
        if !self.required(path, value) {
            return;
        }
        match split_host_port(value) {
            None => self.error(path, format!("'{value}' is not host:port")),
            Some(("0.0.0.0" | "*" | "::" | "", _)) => {
                self.error(path, format!("'{value}' is not an address other members can connect to"))
            }
            // Patroni refuses loopback here; Ferroni accepts it (one-machine clusters, tests) but says so.
            Some(("127.0.0.1" | "localhost" | "::1", _)) => self.out.warnings.push(format!(
                "{path}: '{value}' is a loopback address: members and clients on other hosts cannot reach it"
            )),
            Some(_) => {}
        }
    }

    fn one_of(&mut self, path: &str, value: &str, allowed: &[&str]) {
        if !allowed.contains(&value) {
            self.error(
                path,
                format!("'{value}' is not one of {}", allowed.join(", ")),
            );
        }
    }

    fn run(mut self) -> Findings {
        let c = self.config;
        if self.required("name", &c.name) && c.name == RESERVED_NAME {
            self.error("name", format!("'{RESERVED_NAME}' is reserved by Patroni"));
        }
        self.required("scope", &c.scope);
        self.listen("restapi.listen", &c.restapi.listen, false);
        self.connect_address("restapi.connect_address", &c.restapi.connect_address);
        if let Some(vc) = &c.restapi.verify_client {
            self.one_of(
                "restapi.verify_client",
                vc,
                &["none", "optional", "required"],
            );
        }
        self.listen("postgresql.listen", &c.postgresql.listen, true);
        self.connect_address("postgresql.connect_address", &c.postgresql.connect_address);
        self.required("postgresql.data_dir", &c.postgresql.data_dir);
        for (kind, user) in [
            ("replication", &c.postgresql.authentication.replication),
            ("superuser", &c.postgresql.authentication.superuser),
        ] {
            match user {
                None => self.error(
                    &format!("postgresql.authentication.{kind}"),
                    "is not defined",
                ),
                Some(u) => {
                    self.required(
                        &format!("postgresql.authentication.{kind}.username"),
                        &u.username,
                    );
                }
            }
        }
        self.dcs();
        self.one_of("log.type", &c.log.kind, &["plain", "json"]);
        self.one_of(
            "log.level",
            &c.log.level,
            &[
                "DEBUG", "INFO", "WARN", "WARNING", "ERROR", "FATAL", "CRITICAL",
            ],
        );
        if c.watchdog.mode().is_none() {
            self.error(
                "watchdog.mode",
                format!(
                    "{} is not one of off, automatic, required",
                    describe(&c.watchdog.mode)
                ),
            );
        }
        if c.watchdog.safety_margin.0 < -1 {
            self.error(
                "watchdog.safety_margin",
                format!("{} is smaller than -1", c.watchdog.safety_margin.0),
            );
        }
        self.tags();
        if let Err(reason) = c.bootstrap.initdb_options() {
            self.error("bootstrap.initdb", reason);
        }
        self.method_sections();
        self.out
    }

    fn dcs(&mut self) {
        let c = self.config;
        let sections = c.dcs_sections();
        match sections.as_slice() {
            [] => self.error(
                "",
                "no DCS section is defined: add one of etcd3, etcd, consul, zookeeper, exhibitor, kubernetes, raft",
            ),
            [_] => {}
            [first, ..] => self.out.warnings.push(format!(
                "several DCS sections are defined ({}); {} is used",
                sections.iter().map(|s| s.key()).collect::<Vec<_>>().join(", "),
                first.key()
            )),
        }
        for (key, etcd) in [("etcd", &c.etcd), ("etcd3", &c.etcd3)] {
            if let Some(e) = etcd {
                let has_hosts = e.hosts.as_ref().is_some_and(|h| !h.0.is_empty());
                if !has_hosts
                    && e.host.is_none()
                    && e.srv.is_none()
                    && e.url.is_none()
                    && e.proxy.is_none()
                {
                    self.error(key, "none of host, hosts, srv, url, proxy is defined");
                }
                for endpoint in e.endpoints() {
                    let bare = endpoint.split("://").last().unwrap_or(&endpoint);
                    if split_host_port(bare).is_none() {
                        self.error(
                            &format!("{key}.hosts"),
                            format!("'{endpoint}' is not host:port"),
                        );
                    }
                }
            }
        }
    }

    fn tags(&mut self) {
        let t = &self.config.tags;
        for (key, value) in [
            ("tags.failover_priority", t.failover_priority()),
            ("tags.sync_priority", t.sync_priority()),
        ] {
            if let Some(v) = value.filter(|v| *v < 0) {
                self.error(key, format!("{v} is smaller than 0"));
            }
        }
        if let (Some(nofailover), Some(priority)) = (t.nofailover, t.failover_priority())
            && nofailover == (priority > 0)
        {
            self.out.warnings.push(conflicting(
                "nofailover",
                nofailover,
                "failover_priority",
                priority,
            ));
        }
        if let (Some(nosync), Some(priority)) = (t.nosync, t.sync_priority())
            && nosync == (priority > 0)
        {
            self.out
                .warnings
                .push(conflicting("nosync", nosync, "sync_priority", priority));
        }
    }

    /// `postgresql.<method>` and `bootstrap.<method>` sections are legitimate only for methods that
    /// are actually named; anything else there is reported like an unknown key.
    fn method_sections(&mut self) {
        let c = self.config;
        let methods = c.postgresql.replica_methods();
        for (key, value) in &c.postgresql.other {
            if !methods.contains(key) {
                self.out
                    .warnings
                    .push(unknown_key_warning(&format!("postgresql.{key}")));
            } else if !value.is_object() {
                self.error(
                    &format!("postgresql.{key}"),
                    format!("{} is not a mapping", describe(value)),
                );
            }
        }
        for method in &methods {
            if method != "basebackup" && !c.postgresql.other.contains_key(method) {
                self.out.warnings.push(format!(
                    "postgresql.create_replica_methods names '{method}' but postgresql.{method} is not defined"
                ));
            }
        }
        for key in c.bootstrap.other.keys() {
            if c.bootstrap.method.as_deref() != Some(key.as_str()) {
                self.out
                    .warnings
                    .push(unknown_key_warning(&format!("bootstrap.{key}")));
            }
        }
        if let Some(method) = c.bootstrap.method.as_deref()
            && method != "initdb"
            && !c.bootstrap.other.contains_key(method)
        {
            self.error(
                "bootstrap.method",
                format!("'{method}' has no bootstrap.{method} section"),
            );
        }
    }
}

/// Checks a typed configuration.
pub fn check(config: &Config) -> Findings {
    Checker {
        config,
        out: Findings::default(),
    }
    .run()
}

/// Patroni's warning for a boolean tag that says otherwise than its priority (the boolean wins).
fn conflicting(flag: &str, value: bool, priority_name: &str, priority: i64) -> String {
    let python = if value { "True" } else { "False" };
    format!(
        "Conflicting configuration between {flag}: {python} and {priority_name}: {priority}. Defaulting to {flag}: {python}"
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn misplaced_keys_name_their_home() {
        assert_eq!(
            unknown_key_warning("initdb"),
            "initdb is ignored: it belongs under `bootstrap`"
        );
        assert!(
            unknown_key_warning("pg_hba")
                .starts_with("pg_hba is ignored: it belongs under `bootstrap`")
        );
        assert!(unknown_key_warning("users").contains("post_bootstrap"));
        assert_eq!(
            unknown_key_warning("bootstrap.ttl"),
            "bootstrap.ttl is ignored: it belongs under `bootstrap.dcs`"
        );
        assert_eq!(
            unknown_key_warning("restapi.lisen"),
            "restapi.lisen is an unknown key and is ignored"
        );
    }

    #[test]
    fn host_port_forms() {
        assert_eq!(split_host_port("10.0.0.1:8008"), Some(("10.0.0.1", 8008)));
        assert_eq!(split_host_port("[::1]:5432"), Some(("::1", 5432)));
        assert_eq!(
            split_host_port("127.0.0.1, 192.168.1.11:5432"),
            Some(("127.0.0.1, 192.168.1.11", 5432))
        );
        assert_eq!(split_host_port("host"), None);
        assert_eq!(split_host_port("host:port"), None);
    }
}
