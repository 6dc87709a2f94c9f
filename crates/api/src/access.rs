//! Who may call the mutating endpoints (Patroni's `check_access`, reference §b.5): the client
//! address against `restapi.allowlist` (and the members' API hosts with
//! `allowlist_include_members`), then HTTP Basic credentials against `restapi.authentication`.
//! GET, HEAD and OPTIONS are never checked.

use base64::Engine;
use ferroni_config::Secret;
use ipnet::IpNet;
use std::net::{IpAddr, ToSocketAddrs};
use std::sync::{Arc, RwLock};
use subtle::ConstantTimeEq;

/// Why a request was refused: a status code and Patroni's one-line reason.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Denied {
    pub code: u16,
    pub reason: &'static str,
}

/// The access rules of this agent's REST API. Host names are resolved when the rules are made
/// (the configuration loads or is reloaded), never while a request waits.
#[derive(Debug, Clone, Default)]
pub struct Access {
    /// `user:password`, as a Basic `Authorization` header carries it (base64-decoded).
    credentials: Option<Secret>,
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

/// The host of an `http(s)://host:port/path` URL (IPv6 without its brackets).
pub(crate) fn url_host(url: &str) -> &str {
    let rest = url.split_once("://").map_or(url, |(_, r)| r);
    let authority = rest.split('/').next().unwrap_or("");
    match authority.strip_prefix('[') {
        Some(v6) => v6.split(']').next().unwrap_or(""),
        None => authority.rsplit_once(':').map_or(authority, |(h, _)| h),
    }
}

/// An IPv4 client seen through an IPv6 socket (`::ffff:a.b.c.d`) as the IPv4 address it is.
pub(crate) fn canonical(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
        v4 => v4,
    }
}

/// Whether `given` is `expected`, in a time that depends on `expected`'s length only: a wrong
/// guess learns nothing from how long the refusal took.
fn same_secret(given: &[u8], expected: &[u8]) -> bool {
    let mut padded = vec![0u8; expected.len()];
    let n = given.len().min(expected.len());
    padded[..n].copy_from_slice(&given[..n]);
    let same_length = (given.len() as u64).ct_eq(&(expected.len() as u64));
    bool::from(padded.as_slice().ct_eq(expected) & same_length)
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
            credentials: credentials.map(|(u, p)| Secret::new(format!("{u}:{p}"))),
            allowlist: nets,
            include_members,
        })
    }

    /// `allowlist_include_members`: the members' API hosts are let in too.
    pub fn include_members(&self) -> bool {
        self.include_members
    }

    /// Whether a mutating request from `client` with this `Authorization` header may proceed.
    /// `members` holds the members' API addresses, already resolved, when the members rule
    /// applies (`None` for `/failsafe`, which the leader sends and must not be refused by it).
    pub fn check(
        &self,
        client: IpAddr,
        authorization: Option<&str>,
        members: Option<&[IpAddr]>,
    ) -> Result<(), Denied> {
        let client = canonical(client);
        let members = members.filter(|_| self.include_members);
        if !self.allowlist.is_empty() || members.is_some() {
            let listed = self.allowlist.iter().any(|n| n.contains(&client));
            let member = members.is_some_and(|ips| ips.contains(&client));
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
        match given {
            Some(given) if same_secret(&given, expected.expose().as_bytes()) => Ok(()),
            _ => Err(Denied {
                code: 401,
                reason: "not authenticated",
            }),
        }
    }
}

/// The rules the server checks, replaced in place on a reload: connections kept alive from
/// before see the new credentials too.
#[derive(Debug, Clone, Default)]
pub struct SharedAccess(Arc<RwLock<Arc<Access>>>);

impl SharedAccess {
    pub fn replace(&self, access: Access) {
        let mut current = self
            .0
            .write()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        *current = Arc::new(access);
    }

    pub fn current(&self) -> Arc<Access> {
        self.0
            .read()
            .map(|a| a.clone())
            .unwrap_or_else(|poisoned| poisoned.into_inner().clone())
    }
}

impl From<Access> for SharedAccess {
    fn from(access: Access) -> SharedAccess {
        SharedAccess(Arc::new(RwLock::new(Arc::new(access))))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    fn basic(user_password: &str) -> String {
        format!(
            "Basic {}",
            base64::engine::general_purpose::STANDARD.encode(user_password)
        )
    }

    #[test]
    fn credentials_are_checked_after_the_allowlist() {
        let access = Access::new(Some(("admin", "secret")), &[], false).unwrap();
        let ok = basic("admin:secret");
        assert_eq!(access.check(ip("10.0.0.1"), Some(&ok), None), Ok(()));
        assert_eq!(
            access.check(ip("10.0.0.1"), None, None).unwrap_err().reason,
            "no auth header received"
        );
        let refused = Err(Denied {
            code: 401,
            reason: "not authenticated",
        });
        for wrong in [
            "admin:wrong",
            "admin:secre",
            "admin:secrets",
            "",
            "Admin:secret",
        ] {
            assert_eq!(
                access.check(ip("10.0.0.1"), Some(&basic(wrong)), None),
                refused,
                "{wrong}"
            );
        }
        assert_eq!(
            access.check(ip("10.0.0.1"), Some("Bearer YWRtaW46c2VjcmV0"), None),
            refused
        );
        assert_eq!(
            access.check(ip("10.0.0.1"), Some("Basic %%%"), None),
            refused
        );
        let listed = Access::new(None, &["127.0.0.0/8".into(), "10.1.2.3".into()], false).unwrap();
        assert_eq!(listed.check(ip("127.0.0.5"), None, None), Ok(()));
        assert_eq!(listed.check(ip("::ffff:10.1.2.3"), None, None), Ok(()));
        assert_eq!(
            listed
                .check(ip("10.1.2.4"), Some(&ok), None)
                .unwrap_err()
                .code,
            403
        );
    }

    #[test]
    fn the_password_is_never_shown() {
        let access = Access::new(Some(("admin", "hunter2-secret")), &[], false).unwrap();
        let shown = format!("{access:?} {:?}", SharedAccess::from(access.clone()));
        assert!(!shown.contains("hunter2"), "{shown}");
        assert!(shown.contains("********"), "{shown}");
    }

    #[test]
    fn same_secret_compares_whole_values() {
        assert!(same_secret(b"a:b", b"a:b"));
        assert!(!same_secret(b"a:", b"a:b"));
        assert!(!same_secret(b"a:bc", b"a:b"));
        assert!(!same_secret(b"", b"a:b"));
        assert!(same_secret(b"", b""));
    }

    /// The members rule takes addresses resolved beforehand: the check itself has no host
    /// names to resolve, so it cannot block on DNS.
    #[test]
    fn members_addresses_are_allowed_when_asked() {
        let members = [ip("10.9.9.9")];
        let access = Access::new(None, &[], true).unwrap();
        assert_eq!(access.check(ip("10.9.9.9"), None, Some(&members)), Ok(()));
        assert_eq!(
            access
                .check(ip("10.9.9.8"), None, Some(&members))
                .unwrap_err()
                .code,
            403
        );
        // /failsafe skips the members rule (the allowlist is empty, so anyone).
        assert_eq!(access.check(ip("10.9.9.8"), None, None), Ok(()));
        // Without allowlist_include_members the members' addresses mean nothing.
        let open = Access::new(None, &[], false).unwrap();
        assert_eq!(open.check(ip("10.9.9.8"), None, Some(&members)), Ok(()));
        let strict = Access::new(None, &["10.0.0.1".into()], false).unwrap();
        assert_eq!(
            strict
                .check(ip("10.9.9.9"), None, Some(&members))
                .unwrap_err()
                .code,
            403
        );
        assert!(Access::new(None, &["no-such-host.invalid".into()], false).is_err());
    }

    #[test]
    fn shared_rules_are_replaced_in_place() {
        let shared = SharedAccess::from(Access::default());
        let seen_by_a_connection = shared.clone();
        shared.replace(Access::new(None, &["10.0.0.1".into()], false).unwrap());
        assert!(
            seen_by_a_connection
                .current()
                .check(ip("10.0.0.2"), None, None)
                .is_err()
        );
    }

    #[test]
    fn url_hosts() {
        assert_eq!(url_host("http://10.0.0.1:8008/patroni"), "10.0.0.1");
        assert_eq!(url_host("https://[::1]:8008/patroni"), "::1");
        assert_eq!(url_host("http://node1.example:8008"), "node1.example");
        assert_eq!(url_host("node1"), "node1");
    }
}
