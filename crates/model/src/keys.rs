//! The DCS key layout — the one place every key path is built: `/<namespace>/<scope>[/<group>]/<key>`.

/// What a key under the cluster prefix is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeyKind {
    Initialize,
    Config,
    Leader,
    Member(String),
    Failover,
    Sync,
    History,
    Status,
    Failsafe,
    /// `optime/leader`, written only for Patroni older than 2.1.0.
    OptimeLeader,
}

/// The key paths of one cluster.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyLayout {
    /// `/<namespace>/<scope>` (with `/<group>` for Citus), no trailing slash.
    base: String,
}

impl KeyLayout {
    /// The layout for `namespace` (Patroni accepts `service`, `/service` or `/service/`) and
    /// `scope`, with a Citus `group` when set.
    pub fn new(namespace: &str, scope: &str, group: Option<i64>) -> KeyLayout {
        let mut base = format!("/{namespace}/{scope}");
        if let Some(g) = group {
            base.push_str(&format!("/{g}"));
        }
        // Repeated slashes collapse, as Patroni's client_path does.
        let mut collapsed = String::with_capacity(base.len());
        for c in base.chars() {
            if !(c == '/' && collapsed.ends_with('/')) {
                collapsed.push(c);
            }
        }
        KeyLayout {
            base: collapsed.trim_end_matches('/').to_string(),
        }
    }

    /// `/<namespace>/<scope>`.
    pub fn base(&self) -> &str {
        &self.base
    }

    /// `/<namespace>/<scope>/`: every key of the cluster starts with it.
    pub fn prefix(&self) -> String {
        format!("{}/", self.base)
    }

    fn key(&self, relative: &str) -> String {
        format!("{}/{relative}", self.base)
    }

    pub fn initialize(&self) -> String {
        self.key("initialize")
    }
    pub fn config(&self) -> String {
        self.key("config")
    }
    pub fn leader(&self) -> String {
        self.key("leader")
    }
    pub fn failover(&self) -> String {
        self.key("failover")
    }
    pub fn sync(&self) -> String {
        self.key("sync")
    }
    pub fn history(&self) -> String {
        self.key("history")
    }
    pub fn status(&self) -> String {
        self.key("status")
    }
    pub fn failsafe(&self) -> String {
        self.key("failsafe")
    }
    pub fn optime_leader(&self) -> String {
        self.key("optime/leader")
    }
    /// `…/members/` : the directory of member keys.
    pub fn members_dir(&self) -> String {
        self.key("members/")
    }
    /// `…/members/<name>`.
    pub fn member(&self, name: &str) -> String {
        self.key(&format!("members/{name}"))
    }

    /// What `key` is, when it is one of this cluster's keys. A member key has exactly one `/`
    /// after `members`.
    pub fn classify(&self, key: &str) -> Option<KeyKind> {
        let relative = key.strip_prefix(&self.base)?.strip_prefix('/')?;
        Some(match relative {
            "initialize" => KeyKind::Initialize,
            "config" => KeyKind::Config,
            "leader" => KeyKind::Leader,
            "failover" => KeyKind::Failover,
            "sync" => KeyKind::Sync,
            "history" => KeyKind::History,
            "status" => KeyKind::Status,
            "failsafe" => KeyKind::Failsafe,
            "optime/leader" => KeyKind::OptimeLeader,
            other => {
                let name = other.strip_prefix("members/")?;
                if name.is_empty() || name.contains('/') {
                    return None;
                }
                KeyKind::Member(name.to_string())
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn namespace_spellings_give_one_layout() {
        for ns in ["service", "/service", "/service/", "//service//"] {
            assert_eq!(
                KeyLayout::new(ns, "demo", None).leader(),
                "/service/demo/leader"
            );
        }
        assert_eq!(
            KeyLayout::new("/db/", "Name_Cluster", None).member("Node1"),
            "/db/Name_Cluster/members/Node1"
        );
        assert_eq!(
            KeyLayout::new("service", "c", Some(1)).config(),
            "/service/c/1/config"
        );
        assert_eq!(
            KeyLayout::new("service", "demo", None).prefix(),
            "/service/demo/"
        );
    }

    #[test]
    fn classifies_every_key() {
        let l = KeyLayout::new("service", "demo", None);
        assert_eq!(l.classify("/service/demo/leader"), Some(KeyKind::Leader));
        assert_eq!(
            l.classify("/service/demo/members/node1"),
            Some(KeyKind::Member("node1".into()))
        );
        assert_eq!(
            l.classify("/service/demo/optime/leader"),
            Some(KeyKind::OptimeLeader)
        );
        assert_eq!(l.classify("/service/demo/members/a/b"), None);
        assert_eq!(l.classify("/service/demo2/leader"), None);
        assert_eq!(l.classify("/service/demo/unknown"), None);
    }
}
