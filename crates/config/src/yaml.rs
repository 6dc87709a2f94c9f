//! Reads YAML the way PyYAML's `safe_load` does for Patroni: YAML 1.1 booleans (`on`, `off`, `yes`,
//! `no`), legacy octal (`0644`), and duplicate keys where the last one wins — each duplicate reported.

use serde::de::{self, Deserialize, DeserializeSeed, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_json::{Map, Number, Value};
use std::fmt;

/// A YAML node as parsed, keeping every key of a mapping (duplicates included) so they can be reported.
enum Node {
    Null,
    Bool(bool),
    Int(i64),
    UInt(u64),
    Float(f64),
    Str(String),
    Seq(Vec<Node>),
    Map(Vec<(String, Node)>),
}

/// A problem found while reading a YAML document.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct YamlError {
    /// 1-based line of the problem, when the parser knows it.
    pub line: Option<usize>,
    /// The parser's reason.
    pub reason: String,
}

/// Parses one YAML document into a JSON-shaped tree. Returns the tree and, for every mapping key that
/// appears more than once, its dotted path (the last occurrence is the one kept).
pub fn parse(text: &str) -> Result<(Value, Vec<String>), YamlError> {
    let mut options = serde_saphyr::Options::default();
    options.duplicate_keys = serde_saphyr::DuplicateKeyPolicy::LastWins;
    options.legacy_octal_numbers = true;
    // Snippets would echo source lines into errors, and a source line may hold a password.
    options.with_snippet = false;
    let node: Node = serde_saphyr::from_str_with_options(text, options).map_err(|e| {
        let reason = e.to_string();
        YamlError {
            line: line_of(&reason),
            reason,
        }
    })?;
    let mut duplicates = Vec::new();
    let value = node.into_value("", &mut duplicates);
    Ok((value, duplicates))
}

/// serde-saphyr ends its messages with `at line N, column M`; pull N out for the caller.
fn line_of(message: &str) -> Option<usize> {
    let rest = &message[message.rfind("line ")? + 5..];
    let digits: String = rest.chars().take_while(char::is_ascii_digit).collect();
    digits.parse().ok()
}

fn join(prefix: &str, key: &str) -> String {
    if prefix.is_empty() {
        key.to_string()
    } else {
        format!("{prefix}.{key}")
    }
}

impl Node {
    fn into_value(self, path: &str, duplicates: &mut Vec<String>) -> Value {
        match self {
            Node::Null => Value::Null,
            Node::Bool(b) => Value::Bool(b),
            Node::Int(i) => Value::from(i),
            Node::UInt(u) => Value::from(u),
            Node::Float(f) => {
                Number::from_f64(f).map_or_else(|| Value::String(f.to_string()), Value::Number)
            }
            Node::Str(s) => Value::String(s),
            Node::Seq(items) => Value::Array(
                items
                    .into_iter()
                    .enumerate()
                    .map(|(i, n)| n.into_value(&format!("{path}[{i}]"), duplicates))
                    .collect(),
            ),
            Node::Map(entries) => {
                let mut map = Map::new();
                for (key, node) in entries {
                    let child = join(path, &key);
                    let value = node.into_value(&child, duplicates);
                    if map.insert(key, value).is_some() {
                        duplicates.push(child);
                    }
                }
                Value::Object(map)
            }
        }
    }
}

impl<'de> Deserialize<'de> for Node {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(NodeVisitor)
    }
}

struct NodeVisitor;

impl<'de> Visitor<'de> for NodeVisitor {
    type Value = Node;
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("any YAML value")
    }
    fn visit_unit<E>(self) -> Result<Node, E> {
        Ok(Node::Null)
    }
    fn visit_none<E>(self) -> Result<Node, E> {
        Ok(Node::Null)
    }
    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Node, D::Error> {
        Node::deserialize(d)
    }
    fn visit_bool<E>(self, v: bool) -> Result<Node, E> {
        Ok(Node::Bool(v))
    }
    fn visit_i64<E>(self, v: i64) -> Result<Node, E> {
        Ok(Node::Int(v))
    }
    fn visit_u64<E>(self, v: u64) -> Result<Node, E> {
        Ok(Node::UInt(v))
    }
    fn visit_f64<E>(self, v: f64) -> Result<Node, E> {
        Ok(Node::Float(v))
    }
    fn visit_str<E>(self, v: &str) -> Result<Node, E> {
        Ok(Node::Str(v.to_string()))
    }
    fn visit_string<E>(self, v: String) -> Result<Node, E> {
        Ok(Node::Str(v))
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Node, A::Error> {
        let mut items = Vec::new();
        while let Some(item) = seq.next_element()? {
            items.push(item);
        }
        Ok(Node::Seq(items))
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Node, A::Error> {
        let mut entries = Vec::new();
        while let Some(key) = map.next_key_seed(KeyText)? {
            entries.push((key, map.next_value()?));
        }
        Ok(Node::Map(entries))
    }
}

/// Keys are read as text: PyYAML keeps `n:` or `y:` as strings, and Patroni's keys are all strings.
struct KeyText;

impl<'de> DeserializeSeed<'de> for KeyText {
    type Value = String;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<String, D::Error> {
        d.deserialize_string(KeyVisitor)
    }
}

struct KeyVisitor;

impl Visitor<'_> for KeyVisitor {
    type Value = String;
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a mapping key")
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<String, E> {
        Ok(v.to_string())
    }
    fn visit_string<E: de::Error>(self, v: String) -> Result<String, E> {
        Ok(v)
    }
    fn visit_bool<E: de::Error>(self, v: bool) -> Result<String, E> {
        Ok(v.to_string())
    }
    fn visit_i64<E: de::Error>(self, v: i64) -> Result<String, E> {
        Ok(v.to_string())
    }
    fn visit_u64<E: de::Error>(self, v: u64) -> Result<String, E> {
        Ok(v.to_string())
    }
    fn visit_f64<E: de::Error>(self, v: f64) -> Result<String, E> {
        Ok(v.to_string())
    }
    fn visit_unit<E: de::Error>(self) -> Result<String, E> {
        Ok(String::new())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn yaml_1_1_scalars_as_pyyaml_reads_them() {
        let (v, dups) =
            parse("a: on\nb: \"on\"\nc: 0.01\nd: 128MB\ne: 5\nf:\ng: yes\nh: Off\ni: 0644\nn: 1\n")
                .unwrap();
        assert_eq!(
            v,
            json!({"a": true, "b": "on", "c": 0.01, "d": "128MB", "e": 5, "f": null, "g": true,
                   "h": false, "i": 420, "n": 1})
        );
        assert!(dups.is_empty());
    }

    #[test]
    fn duplicate_keys_last_wins_and_are_reported_with_their_path() {
        let (v, dups) = parse("a:\n  b: 1\n  b: 2\nc: x\nc: z\n").unwrap();
        assert_eq!(v, json!({"a": {"b": 2}, "c": "z"}));
        assert_eq!(dups, vec!["a.b".to_string(), "c".to_string()]);
    }

    #[test]
    fn broken_yaml_reports_the_line() {
        let err = parse("a: 1\nb: [1, 2\nc: 3\n").unwrap_err();
        assert_eq!(err.line, Some(3), "{}", err.reason);
    }
}
