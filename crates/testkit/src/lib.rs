//! ferroni-testkit owns the real-process test harness: it starts real etcd and PostgreSQL (and,
//! later, agents) on free loopback ports, as the `postgres` OS user where PostgreSQL requires it,
//! captures every process's output, and stops everything it started — also when a test panics.
//!
//! - [`kit`]: [`Kit`], the per-test work directory that owns logs and prints them on failure.
//! - [`process`]: [`Proc`], a child in its own process group, stopped by PID when dropped.
//! - [`user`]: the `postgres` OS user and directories it owns.
//! - [`ports`]: free loopback ports.
//! - [`wait`]: [`wait_until`], polling a probe until a deadline.
//! - [`etcd`]: one etcd member or a three-member cluster.
//! - [`postgres`]: locating PostgreSQL binaries and running a plain server.
//! - [`cluster`]: etcd plus Ferroni agents from `patroni.yml` files, as the `postgres` user.
//! - [`member_config`]: those files, with password, TLS-only or unix-socket access to PostgreSQL.
//! - [`certs`]: a CA and certificates (openssl) for the TLS-only clusters.
//! - [`netns`]: network namespaces that let a test partition a node.
//! - [`fixtures`]: the captured Patroni 4.1.5 fixtures.
//! - [`probes`]: a writer recording acknowledged inserts, a watcher for two writable nodes.

pub mod certs;
pub mod cluster;
pub mod etcd;
pub mod fixtures;
pub mod kit;
pub mod member_config;
pub mod netns;
pub mod ports;
pub mod postgres;
pub mod probes;
pub mod process;
pub mod user;
pub mod wait;

pub use etcd::{Etcd, EtcdCluster};
pub use kit::Kit;
pub use postgres::{PgServer, find_bin_dir};
pub use process::Proc;
pub use wait::{wait_until, wait_until_async};
