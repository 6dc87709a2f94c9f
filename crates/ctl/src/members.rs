//! `list` and `topology`: the members of a cluster as patronictl prints them, in its columns and
//! formats (`pretty`, `tsv`, `json`, `yaml`, and the replication tree of `topology`).

use crate::output::text;
use crate::pyyaml;
use crate::table::Table;
use ferroni_api::cluster_view::cluster_as_json;
use ferroni_model::Cluster;
use serde_json::{Map, Value, json};

/// An output format.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Pretty,
    Tsv,
    Json,
    Yaml,
    /// `pretty`, ordered as the replication tree.
    Topology,
}

impl Format {
    /// From `-f/--format`.
    pub fn parse(text: &str) -> Option<Format> {
        match text {
            "pretty" => Some(Format::Pretty),
            "tsv" => Some(Format::Tsv),
            "json" => Some(Format::Json),
            "yaml" | "yml" => Some(Format::Yaml),
            "topology" => Some(Format::Topology),
            _ => None,
        }
    }

    fn is_table(self) -> bool {
        matches!(self, Format::Pretty | Format::Topology)
    }
}

/// `round(bytes / 1 MiB)` with Python's rounding (half to even).
fn megabytes(bytes: u64) -> u64 {
    let mb = bytes as f64 / 1_048_576.0;
    let floor = mb.floor();
    let diff = mb - floor;
    let rounded = if diff > 0.5 || (diff == 0.5 && floor % 2.0 != 0.0) {
        floor + 1.0
    } else {
        floor
    };
    rounded as u64
}

/// `leader` → `Leader`, `sync_standby` → `Sync Standby`.
fn title_case(role: &str) -> String {
    role.split('_')
        .map(|w| {
            let mut c = w.chars();
            c.next()
                .map(|f| f.to_uppercase().chain(c).collect::<String>())
                .unwrap_or_default()
        })
        .collect::<Vec<_>>()
        .join(" ")
}

/// Members in replication-tree order: the leader, then the replicas streaming from it, each
/// followed by its cascaded replicas (`replicatefrom`), names indented with `+ `.
fn topology_order(members: Vec<Map<String, Value>>) -> Vec<Map<String, Value>> {
    let is_leader =
        |m: &Map<String, Value>| m["role"].as_str().is_some_and(|r| r.ends_with("leader"));
    let name = |m: &Map<String, Value>| m["name"].as_str().unwrap_or_default().to_string();
    let leader = members.iter().find(|m| is_leader(m)).map(name);
    let replicas: Vec<String> = members.iter().filter(|m| !is_leader(m)).map(name).collect();
    let parent_of = |m: &Map<String, Value>| {
        let from = m
            .get("tags")
            .and_then(|t| t.get("replicatefrom"))
            .and_then(Value::as_str)
            .map(str::to_string);
        match from {
            Some(p) if p != name(m) && replicas.contains(&p) => Some(p),
            _ => leader.clone(),
        }
    };
    fn walk(
        level: usize,
        node: Option<&Map<String, Value>>,
        parent: Option<String>,
        members: &[Map<String, Value>],
        parent_of: &dyn Fn(&Map<String, Value>) -> Option<String>,
        is_leader: &dyn Fn(&Map<String, Value>) -> bool,
        out: &mut Vec<Map<String, Value>>,
    ) {
        if let Some(n) = node {
            let mut n = n.clone();
            if level > 0 {
                let shown = format!(
                    "{}+ {}",
                    " ".repeat((level - 1) * 2),
                    n["name"].as_str().unwrap_or_default()
                );
                n.insert("name".into(), json!(shown));
            }
            out.push(n);
        }
        for child in members
            .iter()
            .filter(|m| !is_leader(m) && parent_of(m) == parent)
        {
            let child_name = child["name"].as_str().map(str::to_string);
            walk(
                level + 1,
                Some(child),
                child_name,
                members,
                parent_of,
                is_leader,
                out,
            );
        }
    }
    let mut out = Vec::new();
    let leader_member = members.iter().find(|m| is_leader(m));
    walk(
        0,
        leader_member,
        leader.clone(),
        &members,
        &parent_of,
        &is_leader,
        &mut out,
    );
    out
}

/// `Maintenance mode: on` and the scheduled switchover, printed under a table.
fn service_info(view: &Value) -> Vec<String> {
    let mut info = Vec::new();
    if view.get("pause") == Some(&Value::Bool(true)) {
        info.push("Maintenance mode: on".to_string());
    }
    if let Some(s) = view.get("scheduled_switchover") {
        let mut line = format!(
            "Switchover scheduled at: {}",
            s["at"].as_str().unwrap_or_default()
        );
        for key in ["from", "to"] {
            if let Some(v) = s.get(key).and_then(Value::as_str) {
                line.push_str(&format!("\n{key:>24}: {v}"));
            }
        }
        info.push(line);
    }
    info
}

/// The output of `list` (or `topology`) for `cluster`, named `name`.
pub fn render(cluster: &Cluster, name: &str, extended: bool, fmt: Format) -> String {
    render_with(cluster, name, extended, fmt, false)
}

/// [`render`], with the roles in colour when `colour` (a person at a terminal).
pub fn render_with(
    cluster: &Cluster,
    name: &str,
    extended: bool,
    fmt: Format,
    colour: bool,
) -> String {
    let initialize = match cluster.initialize.as_deref() {
        None => "uninitialized",
        Some("") => "initializing",
        Some(id) => id,
    };
    let view = cluster_as_json(cluster, name);
    let members: Vec<Map<String, Value>> = view["members"]
        .as_array()
        .map(|a| a.iter().filter_map(|m| m.as_object().cloned()).collect())
        .unwrap_or_default();
    let all: Vec<&Map<String, Value>> = members.iter().filter(|m| m.contains_key("host")).collect();
    let mut columns: Vec<&str> = vec![
        "Cluster",
        "Member",
        "Host",
        "Role",
        "State",
        "TL",
        "Receive LSN",
        "Receive Lag",
        "Replay LSN",
        "Replay Lag",
    ];
    for (column, key) in [
        ("Pending restart", "pending_restart"),
        ("Pending restart reason", "pending_restart_reason"),
        ("Scheduled restart", "scheduled_restart"),
        ("Tags", "tags"),
    ] {
        let any = all.iter().any(|m| match m.get(key) {
            None | Some(Value::Null) | Some(Value::Bool(false)) => false,
            Some(Value::Object(o)) => !o.is_empty(),
            Some(Value::String(s)) => !s.is_empty(),
            Some(_) => true,
        });
        if extended || any {
            columns.push(column);
        }
    }
    let mut hosts: Vec<&str> = all.iter().filter_map(|m| m["host"].as_str()).collect();
    let with_port = all.iter().any(|m| m.get("port").is_some_and(|p| p != 5432)) || {
        hosts.sort();
        hosts.dedup();
        hosts.len() < all.len()
    };
    let ordered = if fmt == Format::Topology {
        topology_order(members)
    } else {
        members
    };
    let mut rows: Vec<Vec<Value>> = Vec::new();
    for m in &ordered {
        let get = |k: &str| m.get(k).cloned().unwrap_or(json!(""));
        let (mut receive_lsn, mut replay_lsn) = (get("receive_lsn"), get("replay_lsn"));
        let (mut receive_lag, mut replay_lag) = (get("receive_lag"), get("replay_lag"));
        let lsn = get("lsn");
        // Members of old versions report one position only.
        if receive_lsn == "unknown" && replay_lsn == "unknown" && lsn != "" && lsn != "unknown" {
            if m.get("state").and_then(Value::as_str) == Some("streaming") {
                (receive_lag, receive_lsn) = (get("lag"), lsn);
            } else {
                (replay_lag, replay_lsn) = (get("lag"), lsn);
            }
        }
        let lag = |v: Value| match v {
            Value::Number(n) => json!(megabytes(n.as_u64().unwrap_or(0))),
            Value::String(s) if s == "unknown" => json!(""),
            other => other,
        };
        let lsn_cell = |v: Value| if v == "unknown" { json!("") } else { v };
        let mut host = get("host");
        if with_port
            && let (Some(h), Some(p)) = (m.get("host").and_then(Value::as_str), m.get("port"))
            && !h.is_empty()
        {
            host = json!(format!("{h}:{p}"));
        }
        let reason: Vec<String> = m
            .get("pending_restart_reason")
            .and_then(Value::as_object)
            .map(|r| {
                r.iter()
                    .map(|(param, values)| {
                        let full = format!(
                            "{param}: {}->{}",
                            text(&values["old_value"]),
                            text(&values["new_value"])
                        );
                        if fmt.is_table() && full.chars().count() > 50 {
                            format!("{param}: [hidden - too long]")
                        } else {
                            full
                        }
                    })
                    .collect()
            })
            .unwrap_or_default();
        let scheduled = m.get("scheduled_restart").map(|s| {
            let mut value = text(&s["schedule"]);
            if let Some(v) = s.get("postgres_version") {
                value.push_str(&format!(" if version < {}", text(v)));
            }
            json!(value)
        });
        let tags = match m.get("tags") {
            Some(Value::Object(t)) if !t.is_empty() => match fmt {
                Format::Pretty => json!(pyyaml::dump(&Value::Object(t.clone())).trim_end()),
                Format::Tsv | Format::Topology => {
                    json!(pyyaml::dump_flow(&Value::Object(t.clone())))
                }
                _ => Value::Object(t.clone()),
            },
            _ => json!(""),
        };
        let role = title_case(m.get("role").and_then(Value::as_str).unwrap_or_default());
        let row: Vec<Value> = columns
            .iter()
            .map(|c| match *c {
                "Cluster" => json!(name),
                "Member" => get("name"),
                "Host" => host.clone(),
                "Role" => json!(role),
                "State" => get("state"),
                "TL" => m.get("timeline").cloned().unwrap_or(json!("")),
                "Receive LSN" => lsn_cell(receive_lsn.clone()),
                "Receive Lag" => lag(receive_lag.clone()),
                "Replay LSN" => lsn_cell(replay_lsn.clone()),
                "Replay Lag" => lag(replay_lag.clone()),
                "Pending restart" => json!(if m.get("pending_restart") == Some(&json!(true)) {
                    "*"
                } else {
                    ""
                }),
                "Pending restart reason" => json!(reason.join("\n")),
                "Scheduled restart" => scheduled.clone().unwrap_or(json!("")),
                _ => tags.clone(),
            })
            .collect();
        rows.push(row);
    }
    match fmt {
        Format::Json | Format::Yaml | Format::Tsv => {
            crate::output::machine(&columns, &rows, fmt, "\t", true).unwrap_or_default()
        }
        Format::Pretty | Format::Topology => {
            let shown: Vec<&str> = columns[1..]
                .iter()
                .map(|c| if c.ends_with(" Lag") { "Lag" } else { *c })
                .collect();
            let mut table = Table::new(&format!(" Cluster: {name} ({initialize}) "), &shown)
                .right(&["Receive LSN", "Replay LSN", "Lag", "TL"]);
            table.rows = rows
                .iter()
                .map(|r| r[1..].iter().map(text).collect())
                .collect();
            if colour {
                table.colour = shown.iter().position(|c| *c == "Role");
            }
            let mut out = table.render();
            let info = service_info(&view);
            if !info.is_empty() {
                out.push_str(&format!(" {}\n", info.join("\n ")));
            }
            out
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lags_round_half_to_even_in_megabytes() {
        assert_eq!(megabytes(0), 0);
        assert_eq!(megabytes(524_288), 0);
        assert_eq!(megabytes(1_572_864), 2);
        assert_eq!(megabytes(1_600_000), 2);
        assert_eq!(title_case("sync_standby"), "Sync Standby");
    }
}
