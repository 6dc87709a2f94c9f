//! Network namespaces for partition tests: each node gets its own namespace, wired to a hub
//! namespace (where etcd runs and packets between nodes are routed) by one veth pair — cutting
//! that pair partitions the node from etcd and its peers — and to the test's own namespace by a
//! second pair, so the test keeps watching and writing to a node that is cut off.
//!
//! ```text
//!   root (the test) ── 10.S+1.K.1/24 ═ observer ═ 10.S+1.K.2/24 ── node K
//!   root ── 10.S.250.1/24 ═ to-hub ═ 10.S.250.2/24 ── hub (etcd on 10.S.0.1)
//!   hub ── 10.S.K.1/24 ═ cluster ═ 10.S.K.2/24 ── node K
//! ```
//!
//! Every address is on links this module creates; dropping the [`Network`] removes them all.

use crate::user::RunAs;
use anyhow::{Context, Result, bail};
use std::net::Ipv4Addr;
use std::process::Command;

/// The namespaces and links of one test.
#[derive(Debug)]
pub struct Network {
    tag: String,
    subnet: u8,
    nodes: usize,
}

fn ip(args: &[&str]) -> Result<()> {
    let out = Command::new("ip")
        .args(args)
        .output()
        .context("cannot run `ip`: install iproute2 (scripts/setup)")?;
    if !out.status.success() {
        bail!(
            "ip {}: {}",
            args.join(" "),
            String::from_utf8_lossy(&out.stderr).trim()
        );
    }
    Ok(())
}

fn in_ns(ns: &str, args: &[&str]) -> Result<()> {
    let mut all = vec!["netns", "exec", ns, "ip"];
    all.extend_from_slice(args);
    ip(&all)
}

impl Network {
    /// Creates the hub and `nodes` node namespaces. Needs root (CAP_NET_ADMIN, CAP_SYS_ADMIN).
    pub fn create(nodes: usize) -> Result<Network> {
        remove_stale();
        let pid = std::process::id();
        let net = Network {
            tag: format!("fr{pid}"),
            // Two /16s per process, distinct for concurrent test processes.
            subnet: 100 + u8::try_from(pid % 60).unwrap_or(0) * 2,
            nodes,
        };
        net.build()
            .context("cannot build the test network (network namespaces need root)")?;
        Ok(net)
    }

    fn build(&self) -> Result<()> {
        let hub = self.hub();
        ip(&["netns", "add", &hub])?;
        in_ns(&hub, &["link", "set", "lo", "up"])?;
        in_ns(
            &hub,
            &[
                "addr",
                "add",
                &format!("{}/32", self.etcd_addr()),
                "dev",
                "lo",
            ],
        )?;
        let forward = Command::new("ip")
            .args([
                "netns",
                "exec",
                &hub,
                "sysctl",
                "-qw",
                "net.ipv4.ip_forward=1",
            ])
            .status()
            .context("cannot run sysctl")?;
        if !forward.success() {
            bail!("cannot enable forwarding in {hub}");
        }
        let s = self.subnet;
        let to_hub = format!("{}r", self.tag);
        ip(&[
            "link", "add", &to_hub, "type", "veth", "peer", "name", "root", "netns", &hub,
        ])?;
        ip(&["addr", "add", &format!("10.{s}.250.1/24"), "dev", &to_hub])?;
        ip(&["link", "set", &to_hub, "up"])?;
        in_ns(
            &hub,
            &["addr", "add", &format!("10.{s}.250.2/24"), "dev", "root"],
        )?;
        in_ns(&hub, &["link", "set", "root", "up"])?;
        ip(&[
            "route",
            "add",
            &format!("{}/32", self.etcd_addr()),
            "via",
            &format!("10.{s}.250.2"),
        ])?;
        for i in 0..self.nodes {
            let ns = self.node_ns(i);
            let k = i + 1;
            ip(&["netns", "add", &ns])?;
            in_ns(&ns, &["link", "set", "lo", "up"])?;
            // The cluster link: node ↔ hub.
            let hub_end = format!("n{k}");
            ip(&[
                "link", "add", "cluster", "netns", &ns, "type", "veth", "peer", "name", &hub_end,
                "netns", &hub,
            ])?;
            in_ns(
                &ns,
                &[
                    "addr",
                    "add",
                    &format!("{}/24", self.cluster_addr(i)),
                    "dev",
                    "cluster",
                ],
            )?;
            in_ns(&ns, &["link", "set", "cluster", "up"])?;
            in_ns(
                &ns,
                &["route", "add", "default", "via", &format!("10.{s}.{k}.1")],
            )?;
            in_ns(
                &hub,
                &["addr", "add", &format!("10.{s}.{k}.1/24"), "dev", &hub_end],
            )?;
            in_ns(&hub, &["link", "set", &hub_end, "up"])?;
            // The observer link: node ↔ the test.
            let root_end = format!("{}o{k}", self.tag);
            ip(&[
                "link", "add", &root_end, "type", "veth", "peer", "name", "observer", "netns", &ns,
            ])?;
            ip(&[
                "addr",
                "add",
                &format!("10.{}.{k}.1/24", s + 1),
                "dev",
                &root_end,
            ])?;
            ip(&["link", "set", &root_end, "up"])?;
            in_ns(
                &ns,
                &[
                    "addr",
                    "add",
                    &format!("{}/24", self.observer_addr(i)),
                    "dev",
                    "observer",
                ],
            )?;
            in_ns(&ns, &["link", "set", "observer", "up"])?;
        }
        Ok(())
    }

    /// The hub namespace (etcd's).
    pub fn hub(&self) -> String {
        format!("{}hub", self.tag)
    }

    /// Node `i`'s namespace (0-based).
    pub fn node_ns(&self, i: usize) -> String {
        format!("{}n{}", self.tag, i + 1)
    }

    /// etcd's address, in the hub.
    pub fn etcd_addr(&self) -> Ipv4Addr {
        Ipv4Addr::new(10, self.subnet, 0, 1)
    }

    /// Node `i`'s address on the cluster link: what its peers and etcd see.
    pub fn cluster_addr(&self, i: usize) -> Ipv4Addr {
        Ipv4Addr::new(10, self.subnet, node_octet(i), 2)
    }

    /// Node `i`'s address on the observer link: what the test uses.
    pub fn observer_addr(&self, i: usize) -> Ipv4Addr {
        Ipv4Addr::new(10, self.subnet + 1, node_octet(i), 2)
    }

    /// Cuts node `i` off from etcd and every peer (the test still reaches it).
    pub fn cut(&self, i: usize) -> Result<()> {
        in_ns(
            &self.hub(),
            &["link", "set", &format!("n{}", i + 1), "down"],
        )
    }

    /// Undoes [`Network::cut`].
    pub fn heal(&self, i: usize) -> Result<()> {
        in_ns(&self.hub(), &["link", "set", &format!("n{}", i + 1), "up"])
    }

    /// `command` run inside namespace `ns`, as `run_as` when given (`ip netns exec` and `setpriv`
    /// both exec in place, so the PID is the command's own).
    pub fn command_in(ns: &str, command: &Command, run_as: Option<RunAs>) -> Command {
        let mut wrapped = Command::new("ip");
        wrapped.args(["netns", "exec", ns]);
        if let Some(o) = run_as {
            wrapped
                .arg("setpriv")
                .arg(format!("--reuid={}", o.uid))
                .arg(format!("--regid={}", o.gid))
                .args(["--init-groups", "--"]);
        }
        wrapped.arg(command.get_program()).args(command.get_args());
        for (key, value) in command.get_envs() {
            match value {
                Some(v) => wrapped.env(key, v),
                None => wrapped.env_remove(key),
            };
        }
        if let Some(dir) = command.get_current_dir() {
            wrapped.current_dir(dir);
        }
        wrapped
    }
}

/// The test process that made a namespace or link named `fr<pid>…`.
fn owner(name: &str) -> Option<u32> {
    let digits: String = name
        .strip_prefix("fr")?
        .chars()
        .take_while(char::is_ascii_digit)
        .collect();
    digits.parse().ok()
}

/// Removes namespaces and links left by a test process that was killed before its `Network` was
/// dropped: their addresses could collide with ours.
fn remove_stale() {
    let stale = |name: &str| owner(name).is_some_and(|pid| !crate::process::pid_alive(pid));
    if let Ok(out) = Command::new("ip").args(["netns", "list"]).output() {
        for line in String::from_utf8_lossy(&out.stdout).lines() {
            let name = line.split_whitespace().next().unwrap_or_default();
            if stale(name) {
                let _ = ip(&["netns", "del", name]);
            }
        }
    }
    if let Ok(out) = Command::new("ip").args(["-o", "link", "show"]).output() {
        for line in String::from_utf8_lossy(&out.stdout).lines() {
            // "7: fr123o1@if2: <…>"
            let name = line
                .split(':')
                .nth(1)
                .map(|n| n.trim().split('@').next().unwrap_or_default())
                .unwrap_or_default();
            if stale(name) {
                let _ = ip(&["link", "del", name]);
            }
        }
    }
}

fn node_octet(i: usize) -> u8 {
    u8::try_from(i + 1).unwrap_or(u8::MAX)
}

impl Drop for Network {
    fn drop(&mut self) {
        // Deleting a namespace removes the veth pairs with an end in it.
        for i in 0..self.nodes {
            let _ = ip(&["netns", "del", &self.node_ns(i)]);
        }
        let _ = ip(&["netns", "del", &self.hub()]);
        for i in 0..self.nodes {
            let _ = ip(&["link", "del", &format!("{}o{}", self.tag, i + 1)]);
        }
        let _ = ip(&["link", "del", &format!("{}r", self.tag)]);
    }
}
