//! The other read-only views: `history`, `show-config`, `dsn`.

use crate::members::Format;
use crate::pyyaml;
use crate::table::Table;
use ferroni_api::json::python_json;
use ferroni_model::Cluster;
use serde_json::{Value, json};

/// `history`: the `history` key as a table (`TL`, `LSN`, `Reason`, `Timestamp`, `New Leader`).
pub fn history(cluster: &Cluster, fmt: Format) -> String {
    let columns = ["TL", "LSN", "Reason", "Timestamp", "New Leader"];
    let rows: Vec<Vec<Value>> = cluster
        .history
        .as_ref()
        .map(|h| {
            h.value
                .0
                .iter()
                .map(|e| {
                    vec![
                        json!(e.timeline),
                        json!(e.lsn),
                        json!(e.reason),
                        json!(e.timestamp.clone().unwrap_or_default()),
                        json!(e.new_leader.clone().unwrap_or_default()),
                    ]
                })
                .collect()
        })
        .unwrap_or_default();
    let text = |v: &Value| match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    };
    match fmt {
        Format::Json | Format::Yaml => {
            let objects: Vec<Value> = rows
                .iter()
                .map(|r| {
                    Value::Object(
                        columns
                            .iter()
                            .zip(r)
                            .map(|(c, v)| (c.to_string(), v.clone()))
                            .collect(),
                    )
                })
                .collect();
            if fmt == Format::Json {
                format!("{}\n", python_json(&Value::Array(objects)))
            } else {
                format!("{}\n", pyyaml::dump(&Value::Array(objects)))
            }
        }
        Format::Tsv => {
            let mut out = columns.join("\t");
            out.push('\n');
            for r in &rows {
                out.push_str(&r.iter().map(text).collect::<Vec<_>>().join("\t"));
                out.push('\n');
            }
            out
        }
        Format::Pretty | Format::Topology => {
            let mut table = Table::new("", &columns).right(&["TL", "LSN"]);
            table.rows = rows.iter().map(|r| r.iter().map(text).collect()).collect();
            table.render()
        }
    }
}

/// `show-config`: the dynamic configuration as YAML.
pub fn show_config(cluster: &Cluster) -> String {
    let config = cluster
        .config
        .as_ref()
        .map(|c| Value::Object(c.value.clone()))
        .unwrap_or(json!({}));
    format!("{}\n", pyyaml::dump(&config))
}
