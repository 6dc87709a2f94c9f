//! The members' REST API addresses for `allowlist_include_members`, resolved off the request
//! path: a task follows the published cluster view and resolves the members' API hosts when
//! they change, so a mutating request only compares its client with addresses already known.

use crate::access::{SharedAccess, canonical, url_host};
use crate::state::NodeState;
use std::net::IpAddr;
use std::sync::{Arc, RwLock};
use std::time::Duration;
use tokio::sync::watch;
use tokio::task::AbortHandle;

/// One host name may not hold the others up for longer than this.
const RESOLVE_TIMEOUT: Duration = Duration::from_secs(5);

type Addresses = Arc<RwLock<Arc<Vec<IpAddr>>>>;

/// The members' API addresses as last resolved; the resolving task stops when this is dropped.
#[derive(Debug)]
pub struct MemberAddresses {
    addresses: Addresses,
    task: AbortHandle,
}

impl Drop for MemberAddresses {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl MemberAddresses {
    /// Starts resolving the API hosts of the members in `state`'s cluster view, each time the set
    /// of hosts changes (and again after a failure), while `access` includes the members.
    pub fn follow(state: watch::Receiver<Arc<NodeState>>, access: SharedAccess) -> Self {
        let addresses = Addresses::default();
        let task = tokio::spawn(resolve_changes(state, access, addresses.clone())).abort_handle();
        MemberAddresses { addresses, task }
    }

    /// The addresses known now.
    pub fn current(&self) -> Arc<Vec<IpAddr>> {
        self.addresses
            .read()
            .map(|a| a.clone())
            .unwrap_or_else(|poisoned| poisoned.into_inner().clone())
    }
}

/// The distinct API hosts of the members, sorted.
fn api_hosts(node: &NodeState) -> Vec<String> {
    let mut hosts: Vec<String> = node
        .cluster
        .iter()
        .flat_map(|c| c.members.iter())
        .map(|m| url_host(&m.data.api_url).to_string())
        .filter(|h| !h.is_empty())
        .collect();
    hosts.sort();
    hosts.dedup();
    hosts
}

/// The addresses of `hosts`, and whether every one of them resolved.
async fn resolve(hosts: &[String]) -> (Vec<IpAddr>, bool) {
    let mut addresses = Vec::new();
    let mut complete = true;
    for host in hosts {
        if let Ok(ip) = host.parse::<IpAddr>() {
            addresses.push(canonical(ip));
            continue;
        }
        match tokio::time::timeout(RESOLVE_TIMEOUT, tokio::net::lookup_host((host.as_str(), 0)))
            .await
        {
            Ok(Ok(found)) => addresses.extend(found.map(|a| canonical(a.ip()))),
            Ok(Err(e)) => {
                tracing::warn!("allowlist_include_members: cannot resolve {host:?}: {e}");
                complete = false;
            }
            Err(_) => {
                tracing::warn!("allowlist_include_members: resolving {host:?} timed out");
                complete = false;
            }
        }
    }
    addresses.sort();
    addresses.dedup();
    (addresses, complete)
}

async fn resolve_changes(
    mut state: watch::Receiver<Arc<NodeState>>,
    access: SharedAccess,
    addresses: Addresses,
) {
    let mut resolved: Option<Vec<String>> = None;
    loop {
        let hosts = if access.current().include_members() {
            api_hosts(&state.borrow_and_update())
        } else {
            Vec::new()
        };
        if resolved.as_ref() != Some(&hosts) {
            let (found, complete) = resolve(&hosts).await;
            *addresses
                .write()
                .unwrap_or_else(|poisoned| poisoned.into_inner()) = Arc::new(found);
            // A host that did not resolve is tried again at the next publication.
            resolved = complete.then_some(hosts);
        }
        if state.changed().await.is_err() {
            return;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::access::Access;

    fn with_members(urls: &[&str]) -> NodeState {
        let mut cluster = ferroni_model::Cluster::default();
        for (i, url) in urls.iter().enumerate() {
            cluster.members.push(ferroni_model::MemberKey {
                name: format!("node{i}"),
                data: ferroni_model::Member {
                    api_url: (*url).into(),
                    ..Default::default()
                },
                version: ferroni_model::Version(1),
                lease: None,
            });
        }
        NodeState {
            cluster: Some(cluster),
            ..NodeState::default()
        }
    }

    async fn wait_for(members: &MemberAddresses, expected: &[IpAddr]) {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
        while members.current().as_slice() != expected {
            assert!(
                tokio::time::Instant::now() < deadline,
                "{:?} != {expected:?}",
                members.current()
            );
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }

    #[tokio::test]
    async fn follows_the_cluster_view() {
        let (tx, rx) = watch::channel(Arc::new(with_members(&[
            "http://10.9.9.9:8008/patroni",
            "http://localhost:8008/patroni",
        ])));
        let access = SharedAccess::from(Access::new(None, &[], true).unwrap());
        let members = MemberAddresses::follow(rx, access.clone());
        // localhost comes from the hosts file, as the test machine resolves it.
        let mut expected: Vec<IpAddr> = std::net::ToSocketAddrs::to_socket_addrs(&("localhost", 0))
            .unwrap()
            .map(|a| canonical(a.ip()))
            .chain(["10.9.9.9".parse().unwrap()])
            .collect();
        expected.sort();
        expected.dedup();
        wait_for(&members, &expected).await;
        tx.send(Arc::new(with_members(&["http://[::ffff:10.1.1.1]:8008"])))
            .unwrap();
        wait_for(&members, &["10.1.1.1".parse().unwrap()]).await;
        // Not asked for: nothing is resolved, nobody is a member.
        access.replace(Access::new(None, &[], false).unwrap());
        tx.send(Arc::new(with_members(&["http://10.2.2.2:8008"])))
            .unwrap();
        wait_for(&members, &[]).await;
    }
}
