//! `docs/openapi.yaml` stays true: it parses, and documents every endpoint the server answers
//! with each of its methods.

use ferroni_api::server::MUTATING;
use serde_json::Value;
use std::path::Path;

const READ_ONLY: &[&str] = &[
    "",
    "primary",
    "master",
    "read-write",
    "leader",
    "standby-leader",
    "standby_leader",
    "replica",
    "read-only",
    "health",
    "sync",
    "synchronous",
    "quorum",
    "read-only-sync",
    "read-only-quorum",
    "async",
    "asynchronous",
    "liveness",
    "readiness",
    "patroni",
    "cluster",
    "history",
    "metrics",
    "failsafe",
    "config",
];

#[test]
fn the_openapi_document_covers_every_endpoint() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs/openapi.yaml");
    let text = std::fs::read_to_string(path).unwrap();
    let doc: Value = serde_saphyr::from_str(&text).unwrap();
    assert_eq!(doc["openapi"], "3.0.3");
    let paths = doc["paths"].as_object().unwrap();
    let has = |method: &str, segment: &str| {
        paths
            .get(&format!("/{segment}"))
            .and_then(|p| p.get(method.to_ascii_lowercase()))
            .is_some()
    };
    for segment in READ_ONLY {
        assert!(has("GET", segment), "GET /{segment} is not documented");
        assert!(
            ferroni_api::health::status_code(
                ferroni_api::health::Method::Get,
                segment,
                "",
                &ferroni_api::NodeState::default()
            ) > 0
        );
    }
    for (method, segment) in MUTATING {
        assert!(
            has(method, segment),
            "{method} /{segment} is not documented"
        );
    }
    // Every health check documents both outcomes.
    assert!(paths["/replica"]["get"]["responses"].get("503").is_some());
}
