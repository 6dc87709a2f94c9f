//! The machine-readable formats every listing shares (`json`, `yaml`, `tsv`), as patronictl's
//! `print_output` writes them.

use crate::members::Format;
use crate::pyyaml;
use ferroni_api::json::python_json;
use serde_json::{Map, Value};

/// Python's `str()` of a cell.
pub fn text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Null => String::new(),
        other => other.to_string(),
    }
}

/// `rows` under `columns` as JSON, YAML or TSV (with `delimiter`); `None` for the table formats.
/// `drop_empty`: cells whose text is empty are left out of JSON and YAML objects (`list`).
pub fn machine(
    columns: &[&str],
    rows: &[Vec<Value>],
    fmt: Format,
    delimiter: &str,
    drop_empty: bool,
) -> Option<String> {
    match fmt {
        Format::Json | Format::Yaml => {
            let objects: Vec<Value> = rows
                .iter()
                .map(|r| {
                    let cells = columns.iter().zip(r);
                    let o: Map<String, Value> = cells
                        .filter(|(_, v)| !drop_empty || !text(v).is_empty())
                        .map(|(c, v)| (c.to_string(), v.clone()))
                        .collect();
                    Value::Object(o)
                })
                .collect();
            let all = Value::Array(objects);
            Some(if fmt == Format::Json {
                format!("{}\n", python_json(&all))
            } else {
                format!("{}\n", pyyaml::dump(&all))
            })
        }
        Format::Tsv => {
            let mut out = columns.join(delimiter);
            out.push('\n');
            for r in rows {
                out.push_str(&r.iter().map(text).collect::<Vec<_>>().join(delimiter));
                out.push('\n');
            }
            Some(out)
        }
        Format::Pretty | Format::Topology => None,
    }
}
