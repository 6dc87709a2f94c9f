//! The other read-only views: `history`, `show-config`, `dsn`.

use crate::members::Format;
use crate::pyyaml;
use crate::table::Table;
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
    match fmt {
        Format::Json | Format::Yaml | Format::Tsv => {
            crate::output::machine(&columns, &rows, fmt, "\t", false).unwrap_or_default()
        }
        Format::Pretty | Format::Topology => {
            let mut table = Table::new("", &columns).right(&["TL", "LSN"]);
            table.rows = rows
                .iter()
                .map(|r| r.iter().map(crate::output::text).collect())
                .collect();
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
