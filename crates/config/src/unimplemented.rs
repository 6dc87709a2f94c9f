//! Every configuration key Ferroni reads, classified: honoured, meaningless outside Patroni's
//! Python runtime, or read but not acted on yet. The last kind gives one warning, naming the key,
//! when the user's configuration sets it (at start-up and in `--validate-config`), so nobody
//! believes a setting protects them when it does not. As a key gets implemented, its row becomes
//! [`Status::Honoured`] and its warning goes.
//!
//! Paths are dotted; `*` stands for any one key and `a|b` for either. A row covers everything
//! below its path. The unit
//! tests check the [`LOCAL`] table against the typed schema and the [`DYNAMIC`] table against the
//! keys [`crate::dynamic`] reads, so a new key cannot be added without being classified here.

use serde_json::{Map, Value};

/// Whether a value is one Ferroni acts on anyway (`bootstrap.method: initdb`): no warning then.
/// Arguments: the key's full path, its value, the whole configuration tree.
pub type Harmless = fn(&str, &Value, &Value) -> bool;

/// What Ferroni does with a key.
#[derive(Clone, Copy)]
pub enum Status {
    /// Read and acted on.
    Honoured,
    /// Accepted without effect by design: it tunes Patroni's Python runtime, which Ferroni has no
    /// counterpart of. The reason is documented; no warning.
    Moot(&'static str),
    /// Read and accepted but not acted on yet: a warning with this reason when the key is set.
    Ignored(&'static str),
    /// As [`Status::Ignored`], except for the values [`Harmless`] accepts (described by the
    /// middle field, for the documentation).
    IgnoredUnless(Harmless, &'static str, &'static str),
}

/// One row of a table.
pub struct Key {
    pub path: &'static str,
    pub status: Status,
}

const fn key(path: &'static str, status: Status) -> Key {
    Key { path, status }
}

use Status::{Honoured, Ignored, IgnoredUnless, Moot};

fn is_false(_: &str, v: &Value, _: &Value) -> bool {
    matches!(v, Value::Bool(false)) || v.as_str().and_then(crate::flex::parse_bool) == Some(false)
}

fn is_int(v: &Value, wanted: i64) -> bool {
    crate::dynamic::as_int(v) == Some(wanted)
}

fn is_zero(_: &str, v: &Value, _: &Value) -> bool {
    is_int(v, 0)
}

fn is_minus_one(_: &str, v: &Value, _: &Value) -> bool {
    is_int(v, -1)
}

fn is_one(_: &str, v: &Value, _: &Value) -> bool {
    is_int(v, 1)
}

fn sync_off(p: &str, v: &Value, root: &Value) -> bool {
    is_false(p, v, root) || v.as_str() == Some("off")
}

fn is_initdb(_: &str, v: &Value, _: &Value) -> bool {
    v.as_str() == Some("initdb")
}

fn only_basebackup(_: &str, v: &Value, _: &Value) -> bool {
    match v {
        Value::Array(methods) => methods.iter().all(|m| m.as_str() == Some("basebackup")),
        Value::String(s) => s == "basebackup",
        _ => false,
    }
}

fn default_log_format(_: &str, v: &Value, _: &Value) -> bool {
    v.as_str() == Some("%(asctime)s %(levelname)s: %(message)s")
}

fn default_watchdog_driver(_: &str, v: &Value, _: &Value) -> bool {
    v.as_str() == Some("default")
}

fn base_name_postgresql(_: &str, v: &Value, _: &Value) -> bool {
    v.as_str() == Some("postgresql")
}

/// `bin_name.pg_ctl: pg_ctl`: the program's own name.
fn names_itself(path: &str, v: &Value, _: &Value) -> bool {
    path.rsplit('.').next() == v.as_str()
}

fn same_as_data_dir(_: &str, v: &Value, root: &Value) -> bool {
    let data_dir = root.pointer("/postgresql/data_dir").and_then(Value::as_str);
    let trim = |s: &str| s.trim_end_matches('/').to_string();
    v.as_str().map(trim).is_some() && v.as_str().map(trim) == data_dir.map(trim)
}

const PYTHON_THREADS: &str = "sizes Patroni's Python thread pool; Ferroni has none to size";
const ENCRYPTED_KEY: &str =
    "encrypted private keys are not supported yet: give an unencrypted key file";
const OTHER_DCS: &str = "this DCS is not supported yet: only etcd and etcd3 are served";
const SRV: &str = "etcd SRV discovery is not supported yet: list the endpoints in hosts";
const BIN_NAME: &str =
    "custom program names are not used yet: the standard names in bin_dir are run";
const SYNC: &str = "synchronous replication is not implemented yet: replicas are asynchronous";
const PERMANENT_SLOTS: &str = "permanent replication slots are not created yet";
const CITUS: &str = "Citus clusters are not managed yet: workers are not registered with the coordinator (citus.group only places the DCS keys)";

/// The local configuration (`patroni.yml`, `PATRONI_*`). `bootstrap.dcs` is checked by [`DYNAMIC`].
pub static LOCAL: &[Key] = &[
    key("name", Honoured),
    key("scope", Honoured),
    key("namespace", Honoured),
    key("thread_pool_size", Moot(PYTHON_THREADS)),
    key("thread_stack_size", Moot(PYTHON_THREADS)),
    key("log.type", Honoured),
    key("log.level", Honoured),
    key("log.static_fields", Honoured),
    key("log.dir", Honoured),
    key("log.mode", Honoured),
    key("log.file_num", Honoured),
    key("log.file_size", Honoured),
    key(
        "log.format",
        IgnoredUnless(
            default_log_format,
            "it is Patroni's default format",
            "custom line formats are not applied yet: lines are written as '%(asctime)s %(levelname)s: %(message)s'",
        ),
    ),
    key(
        "log.dateformat",
        Ignored("is not applied yet: times are written as '%Y-%m-%d %H:%M:%S,<milliseconds>'"),
    ),
    key(
        "log.loggers",
        Ignored("per-module levels are not applied yet: log.level applies to every message"),
    ),
    key(
        "log.deduplicate_heartbeat_logs",
        IgnoredUnless(
            is_false,
            "it is `false`",
            "heartbeat messages are not deduplicated yet",
        ),
    ),
    key(
        "log.traceback_level",
        Moot("sets the level of Python tracebacks; Ferroni has none"),
    ),
    key(
        "log.max_queue_size",
        Moot("sizes Patroni's Python logging queue; Ferroni has none"),
    ),
    key("restapi.listen", Honoured),
    key("restapi.connect_address", Honoured),
    key("restapi.authentication.username", Honoured),
    key("restapi.authentication.password", Honoured),
    key("restapi.certfile", Honoured),
    key("restapi.keyfile", Honoured),
    key("restapi.keyfile_password", Ignored(ENCRYPTED_KEY)),
    key("restapi.cafile", Honoured),
    key(
        "restapi.ciphers",
        Ignored("is not applied yet: the TLS library's default cipher suites are offered"),
    ),
    key("restapi.verify_client", Honoured),
    key("restapi.allowlist", Honoured),
    key("restapi.allowlist_include_members", Honoured),
    key("restapi.http_extra_headers", Honoured),
    key("restapi.https_extra_headers", Honoured),
    key(
        "restapi.request_queue_size",
        Moot("sizes the listen queue of Patroni's Python HTTP server"),
    ),
    key("restapi.thread_pool_size", Moot(PYTHON_THREADS)),
    key(
        "restapi.server_tokens",
        Moot("Ferroni sends no Server header, which is as minimal as it gets"),
    ),
    key("ctl.authentication.username", Honoured),
    key("ctl.authentication.password", Honoured),
    key("ctl.insecure", Honoured),
    key("ctl.cacert", Honoured),
    key("ctl.certfile", Honoured),
    key("ctl.keyfile", Honoured),
    key("ctl.keyfile_password", Ignored(ENCRYPTED_KEY)),
    key("etcd|etcd3.host", Honoured),
    key("etcd|etcd3.hosts", Honoured),
    key("etcd|etcd3.port", Honoured),
    key(
        "etcd|etcd3.use_proxies",
        Moot("Ferroni always uses the endpoints as listed and never discovers other etcd members"),
    ),
    key("etcd|etcd3.url", Honoured),
    key("etcd|etcd3.proxy", Honoured),
    key("etcd|etcd3.srv", Ignored(SRV)),
    key("etcd|etcd3.srv_suffix", Ignored(SRV)),
    key("etcd|etcd3.protocol", Honoured),
    key("etcd|etcd3.username", Honoured),
    key("etcd|etcd3.password", Honoured),
    key("etcd|etcd3.cacert", Honoured),
    key("etcd|etcd3.cert", Honoured),
    key("etcd|etcd3.key", Honoured),
    key("etcd|etcd3.key_password", Ignored(ENCRYPTED_KEY)),
    key(
        "consul|zookeeper|exhibitor|kubernetes|raft",
        Ignored(OTHER_DCS),
    ),
    key("bootstrap.dcs", Honoured),
    key(
        "bootstrap.method",
        IgnoredUnless(
            is_initdb,
            "it is `initdb`",
            "custom bootstrap methods are not run yet: a new cluster is created with initdb",
        ),
    ),
    key("bootstrap.initdb", Honoured),
    key("bootstrap.pg_hba", Honoured),
    key("bootstrap.post_bootstrap", Honoured),
    key("bootstrap.post_init", Honoured),
    key(
        "bootstrap.users",
        Ignored("removed in Patroni 4.0.0 and ignored: create users in a post_bootstrap script"),
    ),
    key("citus.group", Honoured),
    key("citus.database", Ignored(CITUS)),
    key("postgresql.listen", Honoured),
    key("postgresql.connect_address", Honoured),
    key(
        "postgresql.proxy_address",
        Ignored("is not published yet: the member key has no proxy_url"),
    ),
    key("postgresql.data_dir", Honoured),
    key(
        "postgresql.config_dir",
        IgnoredUnless(
            same_as_data_dir,
            "it equals `postgresql.data_dir`",
            "is not used yet: the configuration files are written in data_dir",
        ),
    ),
    key("postgresql.bin_dir", Honoured),
    key(
        "postgresql.bin_name.pg_ctl|initdb|pg_controldata|pg_basebackup|postgres|pg_isready|pg_rewind",
        IgnoredUnless(names_itself, "it is the program's own name", BIN_NAME),
    ),
    key("postgresql.pgpass", Honoured),
    key(
        "postgresql.authentication.superuser|replication|rewind.username",
        Honoured,
    ),
    key(
        "postgresql.authentication.superuser|replication|rewind.password",
        Honoured,
    ),
    key(
        "postgresql.authentication.superuser|replication|rewind.sslmode",
        Honoured,
    ),
    key(
        "postgresql.authentication.superuser|replication|rewind.sslkey",
        Honoured,
    ),
    key(
        "postgresql.authentication.superuser|replication|rewind.sslpassword",
        Honoured,
    ),
    key(
        "postgresql.authentication.superuser|replication|rewind.sslcert",
        Honoured,
    ),
    key(
        "postgresql.authentication.superuser|replication|rewind.sslrootcert",
        Honoured,
    ),
    key(
        "postgresql.authentication.superuser|replication|rewind.sslcrl",
        Honoured,
    ),
    key(
        "postgresql.authentication.superuser|replication|rewind.sslcrldir",
        Honoured,
    ),
    key(
        "postgresql.authentication.superuser|replication|rewind.sslnegotiation",
        Honoured,
    ),
    key(
        "postgresql.authentication.superuser|replication|rewind.gssencmode",
        Honoured,
    ),
    key(
        "postgresql.authentication.superuser|replication|rewind.channel_binding",
        Honoured,
    ),
    key(
        "postgresql.authentication.superuser|replication|rewind.target_session_attrs",
        Honoured,
    ),
    key("postgresql.callbacks.on_start", Honoured),
    key("postgresql.callbacks.on_stop", Honoured),
    key("postgresql.callbacks.on_restart", Honoured),
    key("postgresql.callbacks.on_reload", Honoured),
    key("postgresql.callbacks.on_role_change", Honoured),
    key("postgresql.pre_promote", Honoured),
    key("postgresql.before_stop", Honoured),
    key(
        "postgresql.create_replica_methods",
        IgnoredUnless(
            only_basebackup,
            "it names only `basebackup`",
            "only basebackup is run yet: replicas are cloned with pg_basebackup from a running member",
        ),
    ),
    key("postgresql.basebackup", Honoured),
    key("postgresql.use_unix_socket", Honoured),
    key("postgresql.use_unix_socket_repl", Honoured),
    key("postgresql.recovery_conf", Honoured),
    key(
        "postgresql.custom_conf",
        Ignored("is not used yet: postgresql.conf is written from the parameters"),
    ),
    key("postgresql.parameters", Honoured),
    key("postgresql.pg_hba", Honoured),
    key("postgresql.pg_ident", Honoured),
    key(
        "postgresql.pg_ctl_timeout",
        Ignored("is not applied yet: Ferroni's own timeouts bound pg_ctl"),
    ),
    key(
        "postgresql.use_pg_rewind",
        Ignored(
            "the local value does not override the dynamic one yet: set postgresql.use_pg_rewind in the dynamic configuration (bootstrap.dcs or edit-config)",
        ),
    ),
    key(
        "postgresql.rewind",
        Ignored(
            "is not a setting: the pg_rewind user belongs under postgresql.authentication.rewind",
        ),
    ),
    key(
        "postgresql.remove_data_directory_on_rewind_failure",
        IgnoredUnless(
            is_false,
            "it is `false`",
            "a failed pg_rewind does not remove the data directory yet",
        ),
    ),
    key(
        "postgresql.remove_data_directory_on_diverged_timelines",
        IgnoredUnless(
            is_false,
            "it is `false`",
            "a replica on a diverged timeline does not remove its data directory yet",
        ),
    ),
    key(
        "postgresql.config_base_name",
        IgnoredUnless(
            base_name_postgresql,
            "it is `postgresql`",
            "is not used yet: the files are named postgresql.conf and postgresql.base.conf",
        ),
    ),
    key(
        "postgresql.use_slots",
        Ignored(
            "is ignored in the local configuration (as by Patroni): replication slots are switched on or off cluster-wide, in bootstrap.dcs.postgresql.use_slots",
        ),
    ),
    key("watchdog.mode", Honoured),
    key("watchdog.device", Honoured),
    key("watchdog.safety_margin", Honoured),
    key(
        "watchdog.driver",
        IgnoredUnless(
            default_watchdog_driver,
            "it is `default`",
            "only the default driver (a Linux watchdog device) is supported",
        ),
    ),
    key("tags.nofailover", Honoured),
    key("tags.failover_priority", Honoured),
    // Published in the member key; they matter only with synchronous_mode, which warns itself.
    key("tags.nosync", Honoured),
    key("tags.sync_priority", Honoured),
    key("tags.clonefrom", Honoured),
    key("tags.noloadbalance", Honoured),
    key(
        "tags.replicatefrom",
        Ignored(
            "cascading replication is not implemented yet: this replica streams from the leader",
        ),
    ),
    key(
        "tags.nostream",
        IgnoredUnless(
            is_false,
            "it is `false`",
            "is not implemented yet: this replica streams from its upstream",
        ),
    ),
];

const LOCAL_ONLY: &str = "is local configuration, ignored here (as by Patroni): it belongs in the local postgresql section";

/// The dynamic configuration: the DCS `/config` key and `bootstrap.dcs`.
pub static DYNAMIC: &[Key] = &[
    key("ttl", Honoured),
    key("loop_wait", Honoured),
    key("retry_timeout", Honoured),
    key("maximum_lag_on_failover", Honoured),
    key(
        "maximum_lag_on_syncnode",
        IgnoredUnless(is_minus_one, "it is `-1`", SYNC),
    ),
    key(
        "max_timelines_history",
        IgnoredUnless(is_zero, "it is `0`", "the history key is not trimmed yet"),
    ),
    key("primary_start_timeout", Honoured),
    key("master_start_timeout", Honoured),
    key(
        "primary_stop_timeout",
        IgnoredUnless(
            is_zero,
            "it is `0`",
            "is not applied yet: a primary's stop is not cut short",
        ),
    ),
    key(
        "master_stop_timeout",
        IgnoredUnless(
            is_zero,
            "it is `0`",
            "is not applied yet: a primary's stop is not cut short",
        ),
    ),
    key(
        "primary_race_backoff",
        IgnoredUnless(is_zero, "it is `0`", "is not used yet"),
    ),
    key(
        "synchronous_mode",
        IgnoredUnless(sync_off, "it is off", SYNC),
    ),
    key(
        "synchronous_mode_strict",
        IgnoredUnless(is_false, "it is `false`", SYNC),
    ),
    key(
        "synchronous_node_count",
        IgnoredUnless(is_one, "it is `1`", SYNC),
    ),
    key("failsafe_mode", Honoured),
    key("check_timeline", Honoured),
    key("pause", Honoured),
    key(
        "standby_cluster",
        Ignored("standby clusters are not implemented yet: this cluster runs its own primary"),
    ),
    key("slots", Ignored(PERMANENT_SLOTS)),
    key("permanent_slots", Ignored(PERMANENT_SLOTS)),
    key("permanent_replication_slots", Ignored(PERMANENT_SLOTS)),
    key("ignore_slots", Ignored("is not read yet")),
    key(
        "member_slots_ttl",
        Ignored(
            "only shapes /status (retain_slots, and no slots at 0): the slot of a member that is gone is not kept for it yet",
        ),
    ),
    key("postgresql.parameters", Honoured),
    key("postgresql.use_pg_rewind", Honoured),
    key("postgresql.use_slots", Honoured),
    key(
        "postgresql.connect_address|proxy_address|listen|config_dir|data_dir|pgpass|authentication",
        Ignored(LOCAL_ONLY),
    ),
    // Patroni applies the rest of a dynamic `postgresql` section (pg_hba, recovery_conf, …) where
    // the local one does not set them; Ferroni reads them only locally.
    key(
        "postgresql.*",
        Ignored(
            "is not read from the dynamic configuration yet: set it in the local postgresql section",
        ),
    ),
];

/// Whether one segment of a pattern (`*`, `a|b` or a key) matches the key `k`.
fn segment_matches(p: &str, k: &str) -> bool {
    p == "*" || p.split('|').any(|alternative| alternative == k)
}

/// Whether a dotted pattern covers `path`: equal to it or one of its parents.
fn covers(pattern: &str, path: &str) -> bool {
    let mut keys = path.split('.');
    pattern
        .split('.')
        .all(|p| keys.next().is_some_and(|k| segment_matches(p, k)))
}

/// The paths a pattern without `*` stands for: `etcd|etcd3.host` → `etcd.host`, `etcd3.host`.
pub fn expand(pattern: &str) -> Vec<String> {
    pattern
        .split('.')
        .fold(vec![String::new()], |paths, segment| {
            paths
                .iter()
                .flat_map(|p| {
                    segment.split('|').map(move |alternative| {
                        if p.is_empty() {
                            alternative.to_string()
                        } else {
                            format!("{p}.{alternative}")
                        }
                    })
                })
                .collect()
        })
}

/// The row of `table` that covers `path`, if any (the first one, so specific rows go first).
pub fn classify<'t>(table: &'t [Key], path: &str) -> Option<&'t Key> {
    table.iter().find(|k| covers(k.path, path))
}

/// Every concrete `(path, value)` a pattern matches in `tree`.
fn lookup<'v>(tree: &'v Value, prefix: &str, pattern: &[&str], out: &mut Vec<(String, &'v Value)>) {
    let Some((first, rest)) = pattern.split_first() else {
        out.push((prefix.to_string(), tree));
        return;
    };
    let Value::Object(map) = tree else {
        return;
    };
    let join = |k: &str| {
        if prefix.is_empty() {
            k.to_string()
        } else {
            format!("{prefix}.{k}")
        }
    };
    for (k, v) in map.iter().filter(|(k, _)| segment_matches(first, k)) {
        lookup(v, &join(k), rest, out);
    }
}

/// The warnings for the keys of `table` that `tree` sets but Ferroni does not act on.
/// `prefix` is where `tree` sits (`bootstrap.dcs`), `root` the whole configuration.
fn warnings_of(table: &[Key], tree: &Value, prefix: &str, root: &Value) -> Vec<String> {
    let mut out = Vec::new();
    let mut seen = std::collections::BTreeSet::new();
    for row in table {
        let mut found = Vec::new();
        let pattern: Vec<&str> = row.path.split('.').collect();
        lookup(tree, "", &pattern, &mut found);
        for (path, value) in found {
            // A more specific row above this one already classified this key.
            if value.is_null() || !std::ptr::eq(classify(table, &path).unwrap_or(row), row) {
                continue;
            }
            let full = if prefix.is_empty() {
                path
            } else {
                format!("{prefix}.{path}")
            };
            let reason = match row.status {
                Ignored(reason) => reason,
                IgnoredUnless(harmless, _, reason) if !harmless(&full, value, root) => reason,
                _ => continue,
            };
            if seen.insert(full.clone()) {
                out.push(format!("{full}: {reason}"));
            }
        }
    }
    out
}

/// One warning per key of the local configuration `tree` that Ferroni does not act on yet,
/// `bootstrap.dcs` included.
pub fn local_warnings(tree: &Value) -> Vec<String> {
    let mut out = warnings_of(LOCAL, tree, "", tree);
    if let Some(dcs @ Value::Object(_)) = tree.pointer("/bootstrap/dcs") {
        out.extend(warnings_of(DYNAMIC, dcs, "bootstrap.dcs", tree));
    }
    out
}

/// One warning per key of a dynamic configuration that Ferroni does not act on yet. `prefix`
/// names where it comes from (`config` for the DCS key).
pub fn dynamic_warnings(config: &Map<String, Value>, prefix: &str) -> Vec<String> {
    let tree = Value::Object(config.clone());
    warnings_of(DYNAMIC, &tree, prefix, &Value::Null)
}

/// The warnings of [`dynamic_warnings`] for `after` that `before` did not already give: what a
/// change of the DCS `/config` newly sets, so each key is named once, not on every change.
pub fn new_dynamic_warnings(
    before: &Map<String, Value>,
    after: &Map<String, Value>,
    prefix: &str,
) -> Vec<String> {
    let said = dynamic_warnings(before, prefix);
    dynamic_warnings(after, prefix)
        .into_iter()
        .filter(|w| !said.contains(w))
        .collect()
}

/// The Markdown table of the keys that are read but not acted on (docs/configuration.md).
pub fn markdown() -> String {
    let mut out = String::from("| Key | What Ferroni does |\n|---|---|\n");
    let rows = LOCAL
        .iter()
        .map(|k| (k.path.to_string(), k))
        .chain(DYNAMIC.iter().map(|k| (format!("(dynamic) {}", k.path), k)));
    for (path, row) in rows {
        let path = expand(&path).join("`, `");
        let text = match row.status {
            Honoured => continue,
            Moot(reason) => format!("no effect, by design: {reason}"),
            Ignored(reason) => format!("warns: {reason}"),
            IgnoredUnless(_, when, reason) => format!("warns unless {when}: {reason}"),
        };
        out.push_str(&format!("| `{path}` | {} |\n", text.replace('|', "\\|")));
    }
    out
}

#[cfg(test)]
#[path = "unimplemented_tests.rs"]
mod tests;
