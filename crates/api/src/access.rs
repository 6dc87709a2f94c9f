//! Who may call the mutating endpoints (Patroni's `check_access`, reference §b.5): the client
//! address against `restapi.allowlist` (and the members' API hosts with
//! `allowlist_include_members`), then HTTP Basic credentials against `restapi.authentication`.
//! GET, HEAD and OPTIONS are never checked.

use crate::state::NodeState;
use base64::Engine;
use ipnet::IpNet;
use std::net::{IpAddr, ToSocketAddrs};

/// Why a request was refused: a status code and Patroni's one-line reason.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Denied {
    pub code: u16,
    pub reason: &'static str,
}

/// The access rules of this agent's REST API.
#[derive(Debug, Clone, Default)]
pub struct Access {
    /// `user:password`, as a Basic `Authorization` header carries it (base64-decoded).
    credentials: Option<String>,
    allowlist: Vec<IpNet>,
    include_members: bool,
}

/// An address or network from `text`: an IP, a CIDR, or a host name resolved now.
fn networks(text: &str) -> Result<Vec<IpNet>, String> {
    let text = text.trim();
    if let Ok(net) = text.parse::<IpNet>() {
        return Ok(vec![net]);
    }
    if let Ok(ip) = text.parse::<IpAddr>() {
        return Ok(vec![IpNet::from(ip)]);
    }
    let resolved = (text, 0)
        .to_socket_addrs()
        .map_err(|e| format!("restapi.allowlist: cannot resolve {text:?}: {e}"))?;
    Ok(resolved.map(|a| IpNet::from(a.ip())).collect())
}

/// The host of an `http(s)://host:port/path` URL, if it is an IP address or resolves to one.
fn url_hosts(url: &str) -> Vec<IpAddr> {
    let rest = url.split_once("://").map_or(url, |(_, r)| r);
    let authority = rest.split('/').next().unwrap_or("");
    let host = match authority.strip_prefix('[') {
        Some(v6) => v6.split(']').next().unwrap_or(""),
        None => authority.rsplit_once(':').map_or(authority, |(h, _)| h),
    };
    if let Ok(ip) = host.parse::<IpAddr>() {
        return vec![ip];
    }
    (host, 0)
        .to_socket_addrs()
        .map(|addrs| addrs.map(|a| a.ip()).collect())
        .unwrap_or_default()
}

impl Access {
    /// The rules from `restapi`; host names in the allowlist are resolved once, here.
    pub fn new(
        credentials: Option<(&str, &str)>,
        allowlist: &[String],
        include_members: bool,
    ) -> Result<Access, String> {
        let mut nets = Vec::new();
        for entry in allowlist {
            nets.extend(networks(entry)?);
        }
        Ok(Access {
            credentials: credentials.map(|(u, p)| format!("{u}:{p}")),
            allowlist: nets,
            include_members,
        })
    }

    /// Whether a mutating request from `client` with this `Authorization` header may proceed.
    /// `members` is false for `/failsafe`, which the leader sends and must not be refused by the
    /// members rule.
    pub fn check(
        &self,
        client: IpAddr,
        authorization: Option<&str>,
        node: &NodeState,
        members: bool,
    ) -> Result<(), Denied> {
        let client = match client {
            IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(client, IpAddr::V4),
            v4 => v4,
        };
        let include_members = self.include_members && members;
        if !self.allowlist.is_empty() || include_members {
            let listed = self.allowlist.iter().any(|n| n.contains(&client));
            let member = include_members
                && node.cluster.as_ref().is_some_and(|c| {
                    c.members
                        .iter()
                        .any(|m| url_hosts(&m.data.api_url).contains(&client))
                });
            if !listed && !member {
                return Err(Denied {
                    code: 403,
                    reason: "Access is denied",
                });
            }
        }
        let Some(expected) = &self.credentials else {
            return Ok(());
        };
        let Some(header) = authorization else {
            return Err(Denied {
                code: 401,
                reason: "no auth header received",
            });
        };
        let given = header.strip_prefix("Basic ").and_then(|b| {
            base64::engine::general_purpose::STANDARD
                .decode(b.trim())
                .ok()
        });
        if given.as_deref() == Some(expected.as_bytes()) {
            Ok(())
        } else {
            Err(Denied {
                code: 401,
                reason: "not authenticated",
            })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn credentials_are_checked_after_the_allowlist() {
        let node = NodeState::default();
        let access = Access::new(Some(("admin", "secret")), &[], false).unwrap();
        let ok = Some("Basic YWRtaW46c2VjcmV0");
        assert_eq!(access.check(ip("10.0.0.1"), ok, &node, true), Ok(()));
        assert_eq!(
            access
                .check(ip("10.0.0.1"), None, &node, true)
                .unwrap_err()
                .reason,
            "no auth header received"
        );
        let wrong = Some("Basic YWRtaW46d3Jvbmc=");
        assert_eq!(
            access.check(ip("10.0.0.1"), wrong, &node, true),
            Err(Denied {
                code: 401,
                reason: "not authenticated"
            })
        );
        let listed = Access::new(None, &["127.0.0.0/8".into(), "10.1.2.3".into()], false).unwrap();
        assert_eq!(listed.check(ip("127.0.0.5"), None, &node, true), Ok(()));
        assert_eq!(
            listed.check(ip("::ffff:10.1.2.3"), None, &node, true),
            Ok(())
        );
        assert_eq!(
            listed
                .check(ip("10.1.2.4"), ok, &node, true)
                .unwrap_err()
                .code,
            403
        );
    }

    #[test]
    fn members_hosts_are_allowed_when_asked() {
        let mut cluster = ferroni_model::Cluster::default();
        cluster.members.push(ferroni_model::MemberKey {
            name: "node2".into(),
            data: ferroni_model::Member {
                api_url: "http://10.9.9.9:8008/patroni".into(),
                ..Default::default()
            },
            version: ferroni_model::Version(1),
            lease: None,
        });
        let node = NodeState {
            cluster: Some(cluster),
            ..NodeState::default()
        };
        let access = Access::new(None, &[], true).unwrap();
        assert_eq!(access.check(ip("10.9.9.9"), None, &node, true), Ok(()));
        assert_eq!(
            access
                .check(ip("10.9.9.8"), None, &node, true)
                .unwrap_err()
                .code,
            403
        );
        // /failsafe skips the members rule (the allowlist is empty, so anyone).
        assert_eq!(access.check(ip("10.9.9.8"), None, &node, false), Ok(()));
        assert!(Access::new(None, &["no-such-host.invalid".into()], false).is_err());
    }
}
