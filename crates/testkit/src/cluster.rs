//! A Ferroni cluster for integration tests: etcd plus N agents (each with its PostgreSQL) on free
//! loopback ports, run as the `postgres` user from `patroni.yml` files like users write.

use crate::etcd::Etcd;
use crate::kit::Kit;
use crate::member_config::{MemberConfig, PgAccess};
use crate::netns::Network;
use crate::ports::free_port;
use crate::process::Proc;
use crate::user::make_dir_for;
use anyhow::{Context, Result};
use nix::sys::signal::Signal;
use std::path::{Path, PathBuf};
use std::process::Command;

/// The timings of a test cluster's dynamic configuration.
#[derive(Debug, Clone, Copy)]
pub struct Timings {
    pub ttl: u32,
    pub loop_wait: u32,
    pub retry_timeout: u32,
    /// `synchronous_standby_names: '*'`: a commit is acknowledged once a replica has it, so a
    /// crashed primary cannot take acknowledged writes with it.
    pub synchronous_commit: bool,
}

impl Timings {
    /// Patroni's defaults: 30 / 10 / 10.
    pub const DEFAULT: Timings = Timings {
        ttl: 30,
        loop_wait: 10,
        retry_timeout: 10,
        synchronous_commit: false,
    };
    /// The fastest Patroni accepts: 20 / 1 / 3.
    pub const FAST: Timings = Timings {
        ttl: 20,
        loop_wait: 1,
        retry_timeout: 3,
        synchronous_commit: false,
    };
    /// The fastest Ferroni accepts: 4 / 1 / 1 (safe because of the fence, docs/ha.md).
    pub const FASTEST: Timings = Timings {
        ttl: 4,
        loop_wait: 1,
        retry_timeout: 1,
        synchronous_commit: false,
    };

    /// The same timings with synchronous commit to any one replica.
    pub const fn synchronous(self) -> Timings {
        Timings {
            synchronous_commit: true,
            ..self
        }
    }
}

/// One member: its ports, files and agent process.
#[derive(Debug)]
pub struct Node {
    pub name: String,
    /// The address the test reaches this node's PostgreSQL and REST API on.
    pub host: String,
    /// The network namespace it runs in, if any.
    pub netns: Option<String>,
    pub pg_port: u16,
    pub api_port: u16,
    pub config: PathBuf,
    pub data_dir: PathBuf,
    /// The unix socket directory the test reaches PostgreSQL through, when TCP needs more
    /// than a password ([`PgAccess::test_uses_socket`]).
    pub socket_dir: Option<PathBuf>,
    pub agent: Option<Proc>,
}

impl Node {
    /// A libpq connection string to this node's PostgreSQL as the superuser.
    pub fn connstr(&self) -> String {
        format!(
            "host={} port={} user=postgres password=super-pass dbname=postgres connect_timeout=2",
            self.test_host(),
            self.pg_port
        )
    }

    /// The host the test connects to: the socket directory or the address.
    fn test_host(&self) -> String {
        match &self.socket_dir {
            Some(dir) => dir.display().to_string(),
            None => self.host.clone(),
        }
    }

    /// The base URL of its REST API.
    pub fn api_url(&self) -> String {
        format!("http://{}:{}", self.host, self.api_port)
    }

    /// The postmaster's PID, from `postmaster.pid`.
    pub fn postmaster_pid(&self) -> Option<i32> {
        let text = std::fs::read_to_string(self.data_dir.join("postmaster.pid")).ok()?;
        text.lines().next()?.trim().parse().ok()
    }
}

/// etcd and the agents.
#[derive(Debug)]
pub struct Cluster {
    pub nodes: Vec<Node>,
    pub etcd: Etcd,
    binary: PathBuf,
    scope: String,
    /// Dropped last: the processes inside its namespaces are stopped first.
    network: Option<Network>,
}

impl Cluster {
    /// Writes the members' configurations (nothing is started yet but etcd), all on loopback.
    pub fn new(kit: &Kit, agent_binary: &Path, size: usize, timings: Timings) -> Result<Cluster> {
        Cluster::build(kit, agent_binary, size, timings, None, &PgAccess::Password)
    }

    /// Like [`Cluster::new`], with the members reaching PostgreSQL as `access` says.
    pub fn with_access(
        kit: &Kit,
        agent_binary: &Path,
        size: usize,
        timings: Timings,
        access: &PgAccess,
    ) -> Result<Cluster> {
        Cluster::build(kit, agent_binary, size, timings, None, access)
    }

    /// Like [`Cluster::new`], but every node in its own network namespace and etcd in a hub
    /// namespace ([`Network`]), so that [`Cluster::cut`] can partition a node.
    pub fn partitionable(
        kit: &Kit,
        agent_binary: &Path,
        size: usize,
        timings: Timings,
    ) -> Result<Cluster> {
        Cluster::build(
            kit,
            agent_binary,
            size,
            timings,
            Some(Network::create(size)?),
            &PgAccess::Password,
        )
    }

    fn build(
        kit: &Kit,
        agent_binary: &Path,
        size: usize,
        timings: Timings,
        network: Option<Network>,
        access: &PgAccess,
    ) -> Result<Cluster> {
        let etcd = match &network {
            Some(net) => Etcd::start_on(kit, net.etcd_addr().into(), Some(&net.hub()))?,
            None => Etcd::start(kit)?,
        };
        let owner = kit.postgres_user();
        let bin_dir = kit.path().join("bin");
        make_dir_for(&bin_dir, None, 0o755)?;
        // The build directory may not be readable by the postgres user (a checkout under /root).
        let binary = bin_dir.join("ferroni");
        std::fs::copy(agent_binary, &binary).context("cannot copy the agent binary")?;
        // The fence guard's own small binary, built beside the agent.
        let guard = agent_binary.with_file_name("ferroni-fence");
        if guard.is_file() {
            std::fs::copy(&guard, bin_dir.join("ferroni-fence"))
                .context("cannot copy the fence guard binary")?;
        }
        let sockets = kit.postgres_dir("sockets")?;
        let mut nodes = Vec::new();
        for i in 1..=size {
            let name = format!("node{i}");
            let (pg_port, api_port) = (free_port()?, free_port()?);
            // Inside a namespace a node listens everywhere, is reached by its peers on its
            // cluster link and by the test on its observer link.
            let (listen, connect, host, netns) = match &network {
                Some(net) => (
                    "0.0.0.0".to_string(),
                    net.cluster_addr(i - 1).to_string(),
                    net.observer_addr(i - 1).to_string(),
                    Some(net.node_ns(i - 1)),
                ),
                None => (
                    "127.0.0.1".to_string(),
                    "127.0.0.1".to_string(),
                    "127.0.0.1".to_string(),
                    None,
                ),
            };
            let home = kit.postgres_dir(&name)?;
            let data_dir = home.join("data");
            let config = home.join("patroni.yml");
            let yaml = MemberConfig {
                name: &name,
                listen: &listen,
                connect: &connect,
                pg_port,
                api_port,
                etcd: etcd.endpoint(),
                timings,
                data_dir: &data_dir,
                home: &home,
                sockets: &sockets,
                access,
            }
            .yaml();
            std::fs::write(&config, yaml)?;
            if let Some(o) = owner {
                nix::unistd::chown(
                    &config,
                    Some(nix::unistd::Uid::from_raw(o.uid)),
                    Some(nix::unistd::Gid::from_raw(o.gid)),
                )?;
            }
            nodes.push(Node {
                name,
                host,
                netns,
                pg_port,
                api_port,
                config,
                data_dir,
                socket_dir: access.test_uses_socket().then(|| sockets.clone()),
                agent: None,
            });
        }
        Ok(Cluster {
            nodes,
            etcd,
            binary,
            scope: "test".into(),
            network,
        })
    }

    /// Partitions node `i` from etcd and its peers (a partitionable cluster only).
    pub fn cut(&self, i: usize) -> Result<()> {
        self.network
            .as_ref()
            .context("not a partitionable cluster")?
            .cut(i)
    }

    /// Ends [`Cluster::cut`].
    pub fn heal(&self, i: usize) -> Result<()> {
        self.network
            .as_ref()
            .context("not a partitionable cluster")?
            .heal(i)
    }

    /// The cluster's scope.
    pub fn scope(&self) -> &str {
        &self.scope
    }

    /// Starts (or restarts) the agent of node `i` (0-based).
    pub fn start(&mut self, kit: &Kit, i: usize) -> Result<()> {
        let node = &mut self.nodes[i];
        let mut cmd = Command::new(&self.binary);
        cmd.arg(&node.config)
            .env("HOME", node.config.parent().unwrap_or(Path::new("/tmp")));
        let log = kit.log_path(&node.name);
        node.agent = Some(match &node.netns {
            Some(ns) => {
                let cmd = Network::command_in(ns, &cmd, kit.postgres_user());
                Proc::spawn(&node.name, cmd, None, &log, Signal::SIGTERM)?
            }
            None => Proc::spawn(&node.name, cmd, kit.postgres_user(), &log, Signal::SIGTERM)?,
        });
        Ok(())
    }

    /// Starts every agent.
    pub fn start_all(&mut self, kit: &Kit) -> Result<()> {
        for i in 0..self.nodes.len() {
            self.start(kit, i)?;
        }
        Ok(())
    }

    /// A libpq multi-host string that reaches whichever node accepts writes.
    pub fn write_connstr(&self) -> String {
        let ports: Vec<String> = self.nodes.iter().map(|n| n.pg_port.to_string()).collect();
        let hosts: Vec<String> = self.nodes.iter().map(Node::test_host).collect();
        format!(
            "host={} port={} user=postgres password=super-pass dbname=postgres target_session_attrs=read-write connect_timeout=1",
            hosts.join(","),
            ports.join(",")
        )
    }
}
