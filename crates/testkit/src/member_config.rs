//! The `patroni.yml` of a test cluster's member, as users write it, in one of the ways users
//! let their members reach PostgreSQL ([`PgAccess`]).

use crate::certs::Certs;
use crate::cluster::Timings;
use std::fmt::Write;
use std::path::Path;

/// How the members' roles are let in (`pg_hba`) and how the agents connect.
#[derive(Debug, Clone, Default)]
pub enum PgAccess {
    /// Passwords (scram-sha-256) over plain TCP.
    #[default]
    Password,
    /// TCP only with TLS and a client certificate (`hostssl … clientcert=verify-ca`), the way
    /// Patroni's acceptance suite runs: every role connects with `sslmode: verify-ca`, the
    /// certificates of [`Certs`].
    TlsOnly(Certs),
    /// `use_unix_socket`: the superuser has only `local` lines; replication and a rewind role
    /// connect over TCP.
    SocketSuperuser,
}

impl PgAccess {
    /// The test itself reaches the servers over their unix sockets (`local … trust`) unless
    /// plain passwords over TCP work.
    pub fn test_uses_socket(&self) -> bool {
        !matches!(self, PgAccess::Password)
    }
}

/// One member's settings.
#[derive(Debug)]
pub struct MemberConfig<'a> {
    pub name: &'a str,
    /// Where its PostgreSQL and REST API listen, and the address its peers use.
    pub listen: &'a str,
    pub connect: &'a str,
    pub pg_port: u16,
    pub api_port: u16,
    pub etcd: String,
    pub timings: Timings,
    pub data_dir: &'a Path,
    pub home: &'a Path,
    pub sockets: &'a Path,
    pub access: &'a PgAccess,
}

/// The TLS keywords of a role (`verify-ca` with the client certificate).
fn tls_keys(certs: &Certs) -> String {
    format!(
        "      sslmode: verify-ca\n      sslrootcert: {}\n      sslcert: {}\n      sslkey: {}\n",
        certs.ca.display(),
        certs.client_cert.display(),
        certs.client_key.display()
    )
}

impl MemberConfig<'_> {
    fn authentication(&self) -> String {
        let tls = match self.access {
            PgAccess::TlsOnly(certs) => tls_keys(certs),
            _ => String::new(),
        };
        let mut text = String::from("  authentication:\n");
        for (role, user, password) in [
            ("replication", "replicator", "rep-pass"),
            ("superuser", "postgres", "super-pass"),
            ("rewind", "rewinder", "rewind-pass"),
        ] {
            if role == "rewind" && matches!(self.access, PgAccess::Password) {
                continue;
            }
            let _ = write!(
                text,
                "    {role}:\n      username: {user}\n      password: {password}\n{tls}"
            );
        }
        text
    }

    fn pg_hba(&self) -> String {
        let lines: Vec<String> = match self.access {
            PgAccess::Password => [
                "local all all trust",
                "host all all 127.0.0.1/32 scram-sha-256",
                "host replication all 127.0.0.1/32 scram-sha-256",
                "host all all 10.0.0.0/8 scram-sha-256",
                "host replication all 10.0.0.0/8 scram-sha-256",
            ]
            .map(String::from)
            .to_vec(),
            PgAccess::TlsOnly(_) => [
                "local all all trust",
                "hostssl all all 127.0.0.1/32 scram-sha-256 clientcert=verify-ca",
                "hostssl replication all 127.0.0.1/32 scram-sha-256 clientcert=verify-ca",
            ]
            .map(String::from)
            .to_vec(),
            PgAccess::SocketSuperuser => [
                "local all all trust",
                "host replication replicator 127.0.0.1/32 scram-sha-256",
                "host all rewinder 127.0.0.1/32 scram-sha-256",
            ]
            .map(String::from)
            .to_vec(),
        };
        let mut text = String::from("  pg_hba:\n");
        for line in lines {
            let _ = writeln!(text, "    - {line}");
        }
        text
    }

    fn local_parameters(&self) -> String {
        let mut text = format!(
            "  parameters:\n    unix_socket_directories: {}\n    fsync: \"off\"\n",
            self.sockets.display()
        );
        if let PgAccess::TlsOnly(certs) = self.access {
            let _ = write!(
                text,
                "    ssl: \"on\"\n    ssl_cert_file: {}\n    ssl_key_file: {}\n    ssl_ca_file: {}\n",
                certs.server_cert.display(),
                certs.server_key.display(),
                certs.ca.display()
            );
        }
        if matches!(self.access, PgAccess::SocketSuperuser) {
            text.push_str("  use_unix_socket: true\n");
        }
        text
    }

    /// The YAML text.
    pub fn yaml(&self) -> String {
        let t = self.timings;
        let sync = if t.synchronous_commit {
            "        synchronous_standby_names: \"*\"\n"
        } else {
            ""
        };
        let home = self.home.display();
        format!(
            "scope: test\nname: {name}\n\
             restapi:\n  listen: {listen}:{api}\n  connect_address: {connect}:{api}\n\
             etcd3:\n  hosts: {etcd}\n\
             bootstrap:\n  dcs:\n    ttl: {ttl}\n    loop_wait: {loop_wait}\n    retry_timeout: {retry}\n    maximum_lag_on_failover: 1048576\n\
             \x20   postgresql:\n      use_pg_rewind: true\n      use_slots: true\n      parameters:\n        wal_level: replica\n        hot_standby: \"on\"\n        wal_log_hints: \"on\"\n        max_connections: 50\n        max_wal_senders: 10\n        max_replication_slots: 10\n        shared_buffers: 16MB\n{sync}\
             \x20 initdb:\n    - encoding: UTF8\n    - data-checksums\n\
             postgresql:\n  listen: {listen}:{pg}\n  connect_address: {connect}:{pg}\n  data_dir: {data}\n  pgpass: {home}/pgpass\n\
             {auth}{hba}{params}",
            name = self.name,
            listen = self.listen,
            connect = self.connect,
            api = self.api_port,
            pg = self.pg_port,
            etcd = self.etcd,
            ttl = t.ttl,
            loop_wait = t.loop_wait,
            retry = t.retry_timeout,
            data = self.data_dir.display(),
            auth = self.authentication(),
            hba = self.pg_hba(),
            params = self.local_parameters(),
        )
    }
}
