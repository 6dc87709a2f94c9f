//! etcd v2's JSON: the node tree of a recursive GET, flattened into keys.

use ferroni_model::{RawKv, Version};
use serde::Deserialize;

#[derive(Deserialize)]
struct Node {
    key: Option<String>,
    value: Option<String>,
    #[serde(default)]
    dir: bool,
    #[serde(default)]
    nodes: Vec<Node>,
    #[serde(rename = "modifiedIndex")]
    modified_index: Option<u64>,
}

#[derive(Deserialize)]
struct Response {
    node: Option<Node>,
}

fn flatten(node: Node, out: &mut Vec<RawKv>) {
    if node.dir {
        for child in node.nodes {
            flatten(child, out);
        }
        return;
    }
    if let (Some(key), Some(value)) = (node.key, node.value) {
        let version = Version(node.modified_index.unwrap_or(0) as i64);
        out.push(RawKv {
            key,
            value,
            version,
            lease: None,
        });
    }
}

/// The keys of a `GET /v2/keys/<dir>?recursive=true` body.
pub fn parse_keys_response(body: &str) -> Result<Vec<RawKv>, String> {
    let response: Response = serde_json::from_str(body).map_err(|e| e.to_string())?;
    let mut out = Vec::new();
    if let Some(node) = response.node {
        flatten(node, &mut out);
    }
    Ok(out)
}

/// The `modifiedIndex` of the node an answer is about.
pub(crate) fn modified_index(body: &str) -> Option<u64> {
    serde_json::from_str::<Response>(body)
        .ok()?
        .node?
        .modified_index
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flattens_nested_directories() {
        let body = r#"{"action":"get","node":{"key":"/s/d","dir":true,"nodes":[
            {"key":"/s/d/members","dir":true,"nodes":[{"key":"/s/d/members/n1","value":"{}","modifiedIndex":7}]},
            {"key":"/s/d/leader","value":"n1","modifiedIndex":9}]}}"#;
        let kvs = parse_keys_response(body).unwrap();
        assert_eq!(kvs.len(), 2);
        assert_eq!(
            (kvs[0].key.as_str(), kvs[0].version),
            ("/s/d/members/n1", Version(7))
        );
        assert_eq!(kvs[1].value, "n1");
        assert!(parse_keys_response("{").is_err());
    }
}
