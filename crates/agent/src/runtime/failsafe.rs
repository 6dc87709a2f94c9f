//! Failsafe mode (`failsafe_mode: true`, §e.9): the leader publishes the `/failsafe` topology; a
//! primary cut off from the DCS asks every member of it to accept it (`POST /failsafe`) and keeps
//! running only if all do; a member that accepted treats that primary as the leader for `ttl`,
//! even after its leader key expired.

use super::Runtime;
use crate::member;
use ferroni_api::FailsafeCall;
use serde_json::json;
use std::time::Duration;

/// How long each member has to answer a failsafe call.
const CALL_TIMEOUT: Duration = Duration::from_secs(2);

impl Runtime {
    /// The primary heard less than `ttl` ago, if any.
    pub(super) fn failsafe_leader(&self) -> Option<FailsafeCall> {
        let ttl = Duration::from_secs(self.dynamic.ttl.into());
        self.failsafe_calls
            .last()
            .filter(|l| self.dynamic.failsafe_mode && l.at.elapsed() < ttl)
    }

    /// Asks every other member of the last known `/failsafe` topology to accept this primary;
    /// true only if all answer 200 `Accepted` (2 s each, one retry).
    pub(super) async fn failsafe_members_accept(&self) -> bool {
        let Some(topology) = &self.last_failsafe else {
            return false;
        };
        if !topology.contains_key(&self.me.name) {
            return false;
        }
        let (conn_url, api_url) = member::urls(&self.loaded.config);
        let body =
            json!({"name": self.me.name, "conn_url": conn_url, "api_url": api_url}).to_string();
        let calls = topology
            .iter()
            .filter(|(name, _)| **name != self.me.name)
            .map(|(name, url)| {
                let url = url.as_str().unwrap_or_default();
                let endpoint = format!("{}/failsafe", url.trim_end_matches("/patroni"));
                let (body, link) = (body.clone(), self.peer_link.clone());
                async move {
                    for _ in 0..2 {
                        match link.post(&endpoint, &body, CALL_TIMEOUT).await {
                            Ok(answer) => {
                                let text = answer.body;
                                tracing::info!("Got response from {name} {endpoint}: {text}");
                                return answer.status == 200 && text == "Accepted";
                            }
                            Err(e) => {
                                tracing::warn!("Request failed to {name}: POST {endpoint} ({e})");
                            }
                        }
                    }
                    false
                }
            });
        futures::future::join_all(calls)
            .await
            .into_iter()
            .all(|ok| ok)
    }
}
