//! Real etcd servers on free loopback ports: one member, or a three-member cluster. The v2 API is
//! switched on as well, for Patroni's `etcd` (v2) section.

use crate::kit::Kit;
use crate::netns::Network;
use crate::ports::free_port;
use crate::process::Proc;
use crate::wait::wait_until;
use anyhow::{Context, Result};
use nix::sys::signal::Signal;
use std::io::{Read, Write};
use std::net::{IpAddr, Ipv4Addr, TcpStream};
use std::process::Command;
use std::time::Duration;

/// How long an etcd member may take to report itself healthy.
const START_DEADLINE: Duration = Duration::from_secs(30);

/// One etcd member.
#[derive(Debug)]
pub struct EtcdMember {
    pub name: String,
    pub host: IpAddr,
    pub client_port: u16,
    pub peer_port: u16,
    pub proc: Proc,
}

impl EtcdMember {
    /// `<host>:<client port>`.
    pub fn endpoint(&self) -> String {
        format!("{}:{}", self.host, self.client_port)
    }

    /// Whether the member answers `GET /health` with `"health":"true"`.
    pub fn is_healthy(&self) -> bool {
        http_get(self.host, self.client_port, "/health")
            .is_some_and(|body| body.contains("\"health\":\"true\""))
    }
}

/// A bare HTTP/1.0 GET; `None` on any failure. Enough for a health probe.
fn http_get(host: IpAddr, port: u16, path: &str) -> Option<String> {
    let timeout = Duration::from_millis(500);
    let mut stream = TcpStream::connect_timeout(&(host, port).into(), timeout).ok()?;
    stream.set_read_timeout(Some(timeout)).ok()?;
    stream
        .write_all(format!("GET {path} HTTP/1.0\r\nHost: {host}\r\n\r\n").as_bytes())
        .ok()?;
    let mut response = String::new();
    stream.read_to_string(&mut response).ok()?;
    response.starts_with("HTTP/1.").then_some(response)
}

const LOOPBACK: IpAddr = IpAddr::V4(Ipv4Addr::LOCALHOST);

fn spawn_member(
    kit: &Kit,
    name: &str,
    (host, client_port, peer_port): (IpAddr, u16, u16),
    initial_cluster: &str,
    netns: Option<&str>,
) -> Result<EtcdMember> {
    let data = kit.path().join(format!("{name}.etcd"));
    let client = format!("http://{host}:{client_port}");
    let peer = format!("http://{host}:{peer_port}");
    let mut cmd = Command::new("etcd");
    cmd.args(["--name", name])
        .arg("--data-dir")
        .arg(&data)
        .args([
            "--listen-client-urls",
            &client,
            "--advertise-client-urls",
            &client,
        ])
        .args([
            "--listen-peer-urls",
            &peer,
            "--initial-advertise-peer-urls",
            &peer,
        ])
        .args([
            "--initial-cluster",
            initial_cluster,
            "--initial-cluster-state",
            "new",
        ])
        .args([
            "--initial-cluster-token",
            &format!("ferroni-{}", kit.path().display()),
        ])
        .args([
            "--enable-v2=true",
            "--heartbeat-interval",
            "50",
            "--election-timeout",
            "500",
        ]);
    if let Some(ns) = netns {
        cmd = Network::command_in(ns, &cmd, None);
    }
    let proc = Proc::spawn(name, cmd, None, &kit.log_path(name), Signal::SIGTERM)
        .context("cannot start etcd: install etcd-server (scripts/setup)")?;
    Ok(EtcdMember {
        name: name.to_string(),
        host,
        client_port,
        peer_port,
        proc,
    })
}

/// A single-member etcd.
#[derive(Debug)]
pub struct Etcd {
    pub member: EtcdMember,
}

impl Etcd {
    /// Starts one member on loopback and waits until it is healthy.
    pub fn start(kit: &Kit) -> Result<Etcd> {
        Etcd::start_on(kit, LOOPBACK, None)
    }

    /// Starts one member on `host`, inside namespace `netns` when given.
    pub fn start_on(kit: &Kit, host: IpAddr, netns: Option<&str>) -> Result<Etcd> {
        let (client, peer) = (free_port()?, free_port()?);
        let member = spawn_member(
            kit,
            "etcd1",
            (host, client, peer),
            &format!("etcd1=http://{host}:{peer}"),
            netns,
        )?;
        wait_until(START_DEADLINE, "etcd to be healthy", || {
            member.is_healthy().then_some(())
        })?;
        Ok(Etcd { member })
    }

    /// `<host>:<port>`.
    pub fn endpoint(&self) -> String {
        self.member.endpoint()
    }

    /// `http://<host>:<port>`.
    pub fn url(&self) -> String {
        format!("http://{}", self.endpoint())
    }
}

/// A three-member etcd cluster.
#[derive(Debug)]
pub struct EtcdCluster {
    pub members: Vec<EtcdMember>,
}

impl EtcdCluster {
    /// Starts `size` members and waits until every one is healthy.
    pub fn start(kit: &Kit, size: usize) -> Result<EtcdCluster> {
        let ports: Vec<(u16, u16)> = (0..size)
            .map(|_| Ok((free_port()?, free_port()?)))
            .collect::<Result<_>>()?;
        let initial = ports
            .iter()
            .enumerate()
            .map(|(i, (_, peer))| format!("etcd{}=http://127.0.0.1:{peer}", i + 1))
            .collect::<Vec<_>>()
            .join(",");
        let members = ports
            .iter()
            .enumerate()
            .map(|(i, (client, peer))| {
                spawn_member(
                    kit,
                    &format!("etcd{}", i + 1),
                    (LOOPBACK, *client, *peer),
                    &initial,
                    None,
                )
            })
            .collect::<Result<Vec<_>>>()?;
        wait_until(START_DEADLINE, "every etcd member to be healthy", || {
            members.iter().all(EtcdMember::is_healthy).then_some(())
        })?;
        Ok(EtcdCluster { members })
    }

    /// Every member's `127.0.0.1:<port>`.
    pub fn endpoints(&self) -> Vec<String> {
        self.members.iter().map(EtcdMember::endpoint).collect()
    }
}
