//! YAML as patronictl prints it: PyYAML's `safe_dump` (sorted keys, block style, sequences inside
//! mappings not indented, strings quoted only where YAML would read them as something else), or
//! its flow style for member tags (`{nofailover: true, zone: b}`).

use regex::Regex;
use serde_json::Value;
use std::sync::LazyLock;

/// Strings PyYAML's implicit resolvers would not read back as strings.
static IMPLICIT: LazyLock<Regex> = LazyLock::new(|| {
    let patterns = [
        // bool
        r"yes|Yes|YES|no|No|NO|true|True|TRUE|false|False|FALSE|on|On|ON|off|Off|OFF",
        // int
        r"[-+]?0b[0-1_]+|[-+]?0[0-7_]+|[-+]?(?:0|[1-9][0-9_]*)|[-+]?0x[0-9a-fA-F_]+|[-+]?[1-9][0-9_]*(?::[0-5]?[0-9])+",
        // float
        r"[-+]?(?:[0-9][0-9_]*)\.[0-9_]*(?:[eE][-+][0-9]+)?|\.[0-9_]+(?:[eE][-+][0-9]+)?|[-+]?[0-9][0-9_]*(?::[0-5]?[0-9])+\.[0-9_]*|[-+]?\.(?:inf|Inf|INF)|\.(?:nan|NaN|NAN)",
        // null
        r"~|null|Null|NULL",
        // timestamp
        r"[0-9]{4}-[0-9]{2}-[0-9]{2}|[0-9]{4}-[0-9]{1,2}-[0-9]{1,2}(?:[Tt]|[ \t]+)[0-9]{1,2}:[0-9]{2}:[0-9]{2}(?:\.[0-9]*)?(?:[ \t]*(?:Z|[-+][0-9]{1,2}(?::[0-9]{2})?))?",
        // merge, value
        r"<<|=",
    ];
    Regex::new(&format!("^(?:{})$", patterns.join("|"))).unwrap_or_else(|_| unreachable!())
});

/// Whether `s` can be written plain (unquoted) in block (`flow` false) or flow context.
fn plain(s: &str, flow: bool) -> bool {
    if s.is_empty() || IMPLICIT.is_match(s) || s.trim() != s {
        return false;
    }
    let first = s.chars().next().unwrap_or(' ');
    let second = s.chars().nth(1);
    if "#,[]{}&*!|>'\"%@`".contains(first) {
        return false;
    }
    if "-?:".contains(first) && second.is_none_or(|c| c == ' ') {
        return false;
    }
    if s.contains(": ") || s.contains(" #") || s.ends_with(':') {
        return false;
    }
    if flow && s.contains([',', '[', ']', '{', '}']) {
        return false;
    }
    !s.chars().any(|c| c.is_control())
}

fn scalar(v: &Value, flow: bool) -> String {
    match v {
        Value::Null => "null".into(),
        Value::Bool(b) => b.to_string(),
        Value::Number(n) => n.to_string(),
        Value::String(s) if plain(s, flow) => s.clone(),
        Value::String(s) if s.chars().any(|c| c.is_control()) => {
            serde_json::to_string(s).unwrap_or_default()
        }
        Value::String(s) => format!("'{}'", s.replace('\'', "''")),
        Value::Array(a) if a.is_empty() => "[]".into(),
        Value::Object(m) if m.is_empty() => "{}".into(),
        other => flow_value(other),
    }
}

fn sorted(m: &serde_json::Map<String, Value>) -> Vec<(&String, &Value)> {
    let mut entries: Vec<_> = m.iter().collect();
    entries.sort_by(|a, b| a.0.cmp(b.0));
    entries
}

fn flow_value(v: &Value) -> String {
    match v {
        Value::Array(a) => format!(
            "[{}]",
            a.iter().map(flow_value).collect::<Vec<_>>().join(", ")
        ),
        Value::Object(m) => format!(
            "{{{}}}",
            sorted(m)
                .into_iter()
                .map(|(k, v)| format!(
                    "{}: {}",
                    scalar(&Value::String(k.clone()), true),
                    flow_value(v)
                ))
                .collect::<Vec<_>>()
                .join(", ")
        ),
        other => scalar(other, true),
    }
}

fn block(v: &Value, indent: usize, out: &mut String) {
    let pad = " ".repeat(indent);
    match v {
        Value::Object(m) if !m.is_empty() => {
            for (k, v) in sorted(m) {
                let key = scalar(&Value::String(k.clone()), false);
                match v {
                    Value::Object(inner) if !inner.is_empty() => {
                        out.push_str(&format!("{pad}{key}:\n"));
                        block(v, indent + 2, out);
                    }
                    Value::Array(items) if !items.is_empty() => {
                        out.push_str(&format!("{pad}{key}:\n"));
                        block(v, indent, out);
                    }
                    _ => out.push_str(&format!("{pad}{key}: {}\n", scalar(v, false))),
                }
            }
        }
        Value::Array(items) if !items.is_empty() => {
            for item in items {
                match item {
                    Value::Object(m) if !m.is_empty() => {
                        let mut inner = String::new();
                        block(item, indent + 2, &mut inner);
                        // The first line of the item goes after the dash.
                        out.push_str(&format!("{pad}- {}", &inner[indent + 2..]));
                    }
                    Value::Array(a) if !a.is_empty() => {
                        let mut inner = String::new();
                        block(item, indent + 2, &mut inner);
                        out.push_str(&format!("{pad}- {}", &inner[indent + 2..]));
                    }
                    _ => out.push_str(&format!("{pad}- {}\n", scalar(item, false))),
                }
            }
        }
        other => out.push_str(&format!("{pad}{}\n", scalar(other, false))),
    }
}

/// `yaml.safe_dump(value, default_flow_style=False)`.
pub fn dump(value: &Value) -> String {
    let mut out = String::new();
    block(value, 0, &mut out);
    if !value.is_object() && !value.is_array()
        || value.as_array().is_some_and(|a| a.is_empty())
        || value.as_object().is_some_and(|m| m.is_empty())
    {
        out.push_str("...\n");
    }
    out
}

/// `yaml.safe_dump(value, default_flow_style=True)`, without the final newline.
pub fn dump_flow(value: &Value) -> String {
    flow_value(value)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn strings_are_quoted_where_yaml_would_misread_them() {
        let v = json!({"b": "on", "a": "32MB", "c": "2026-11-23T17:25:28+00:00", "d": "", "e": "0644",
                       "f": "it's", "g": "x: y", "h": "0/4000060", "i": "127.0.0.1:5541", "j": 1.5});
        assert_eq!(
            dump(&v),
            "a: 32MB\nb: 'on'\nc: '2026-11-23T17:25:28+00:00'\nd: ''\ne: '0644'\nf: it's\ng: 'x: y'\nh: 0/4000060\ni: 127.0.0.1:5541\nj: 1.5\n"
        );
    }

    #[test]
    fn sequences_and_flow() {
        let v = json!([{"b": 1, "a": {"y": [1, 2], "x": "z"}}, "s"]);
        assert_eq!(
            dump(&v),
            "- a:\n    x: z\n    y:\n    - 1\n    - 2\n  b: 1\n- s\n"
        );
        assert_eq!(
            dump_flow(&json!({"zone": "b", "n": true})),
            "{n: true, zone: b}"
        );
    }
}
