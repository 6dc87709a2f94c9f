//! ferroni-dcs will own the `Dcs` trait — read the cluster, take/renew/release the leader lock,
//! write member keys, compare-and-set `config`/`failover`/`sync`, watch — and its backends: etcd v3,
//! etcd v2 and an in-memory store driven by an injected clock.
//!
//! It is empty until the DCS issue (#3) fills it.
