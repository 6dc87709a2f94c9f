//! What the other members say about themselves in a leader race, asked on their REST API's
//! `/patroni` as Patroni asks (so a Ferroni member can race Patroni members during a migration,
//! and no probe needs the superuser's password or a `pg_hba` line for it). Tags come from their
//! member keys; role, timeline and WAL position from the answer, which Ferroni (like Patroni)
//! computes from PostgreSQL when asked.

use super::Runtime;
use ferroni_ha::PeerReport;
use ferroni_model::{Cluster, MemberKey};
use serde_json::Value;
use std::time::Duration;

/// How long a member has to answer (Patroni's is 2 s too).
const PROBE_TIMEOUT: Duration = Duration::from_secs(2);

impl Runtime {
    /// Every other member's report, asked concurrently.
    pub(super) async fn peers(&self, cluster: &Cluster) -> Vec<PeerReport> {
        let probes = cluster
            .members
            .iter()
            .filter(|m| m.name != self.me.name)
            .map(|m| async move {
                let body = self.ask_status(m).await;
                report(m, body.as_ref())
            });
        futures::future::join_all(probes).await
    }

    /// The member's `/patroni` JSON (any status code: a 503 still describes the member).
    async fn ask_status(&self, m: &MemberKey) -> Option<Value> {
        let url = &m.data.api_url;
        if url.is_empty() {
            return None;
        }
        match self.peer_link.status(url, PROBE_TIMEOUT).await {
            Ok(body) => Some(body),
            Err(e) => {
                tracing::warn!("Request failed to {}: GET {url} ({e})", m.name);
                None
            }
        }
    }
}

/// A member's report from its `/patroni` answer (`None`: it did not answer). An answer without
/// positions (its server is not running) counts as no answer, as in Patroni, where such a
/// member is "not reachable" in the race: a crashed primary is neither alive nor ahead.
fn report(m: &MemberKey, body: Option<&Value>) -> PeerReport {
    let body = body.filter(|b| b.get("xlog").is_some());
    let lsn = |v: Option<&Value>| v.and_then(Value::as_u64).unwrap_or(0);
    let primary = body.is_some_and(|b| b.get("role").and_then(Value::as_str) == Some("primary"));
    let xlog = body.and_then(|b| b.get("xlog"));
    let wal_position = if primary {
        lsn(xlog.and_then(|x| x.get("location")))
    } else {
        let received = lsn(xlog.and_then(|x| x.get("received_location")));
        received.max(lsn(xlog.and_then(|x| x.get("replayed_location"))))
    };
    PeerReport {
        name: m.name.clone(),
        reachable: body.is_some(),
        primary,
        wal_position,
        timeline: lsn(body.and_then(|b| b.get("timeline"))),
        nofailover: m.data.nofailover(),
        failover_priority: m.data.failover_priority().unwrap_or(1),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ferroni_model::Member;
    use serde_json::json;

    fn member() -> MemberKey {
        MemberKey {
            name: "node2".into(),
            data: Member {
                api_url: "http://127.0.0.1:8009/patroni".into(),
                ..Member::default()
            },
            version: ferroni_model::cluster::Version(1),
            lease: None,
        }
    }

    #[test]
    fn a_replica_reports_the_furthest_of_its_received_and_replayed_positions() {
        let body = json!({"state": "running", "role": "replica", "timeline": 3,
                          "xlog": {"received_location": 500, "replayed_location": 700}});
        let r = report(&member(), Some(&body));
        assert!(r.reachable && !r.primary);
        assert_eq!((r.wal_position, r.timeline), (700, 3));
    }

    #[test]
    fn a_primary_reports_its_location() {
        let body = json!({"state": "running", "role": "primary", "timeline": 2, "xlog": {"location": 900}});
        let r = report(&member(), Some(&body));
        assert!(r.primary);
        assert_eq!(r.wal_position, 900);
    }

    #[test]
    fn a_member_whose_server_is_not_running_is_unreachable() {
        let body = json!({"state": "stopped", "role": "primary", "dcs_last_seen": 0});
        let r = report(&member(), Some(&body));
        assert!(!r.reachable && !r.primary);
    }

    #[test]
    fn a_member_that_does_not_answer_is_unreachable_at_position_zero() {
        let r = report(&member(), None);
        assert!(!r.reachable && !r.primary);
        assert_eq!(r.wal_position, 0);
    }
}
