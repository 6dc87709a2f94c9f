//! Connections to PostgreSQL made as libpq (and so Patroni) makes them: a unix socket when the
//! host is a directory, else TCP with every libpq keyword of `postgresql.authentication.*` —
//! `sslmode` with libpq's meaning of each of its six values, client certificates, CRLs,
//! `sslnegotiation`, `channel_binding`, `gssencmode`, `target_session_attrs`.

use crate::conninfo::format_dsn;
use crate::local::PgError;
use ferroni_config::Secret;
use std::path::Path;
use std::time::Duration;
use tokio_postgres::config::{ChannelBinding, SslMode, SslNegotiation, TargetSessionAttrs};

mod tls;

/// The libpq keywords of one `postgresql.authentication` user, beside its name and password.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct LibpqOptions {
    pub sslmode: Option<String>,
    pub sslcert: Option<String>,
    pub sslkey: Option<String>,
    pub sslpassword: Option<Secret>,
    pub sslrootcert: Option<String>,
    pub sslcrl: Option<String>,
    pub sslcrldir: Option<String>,
    pub sslnegotiation: Option<String>,
    pub gssencmode: Option<String>,
    pub channel_binding: Option<String>,
    pub target_session_attrs: Option<String>,
}

impl LibpqOptions {
    /// The options libpq takes from the environment (`PGSSLMODE`, …), as a client program such
    /// as `ferronictl query` gets them, like psql.
    pub fn from_env() -> LibpqOptions {
        let var = |name: &str| std::env::var(name).ok().filter(|v| !v.is_empty());
        LibpqOptions {
            sslmode: var("PGSSLMODE"),
            sslcert: var("PGSSLCERT"),
            sslkey: var("PGSSLKEY"),
            sslpassword: None,
            sslrootcert: var("PGSSLROOTCERT"),
            sslcrl: var("PGSSLCRL"),
            sslcrldir: var("PGSSLCRLDIR"),
            sslnegotiation: var("PGSSLNEGOTIATION"),
            gssencmode: var("PGGSSENCMODE"),
            channel_binding: var("PGCHANNELBINDING"),
            target_session_attrs: var("PGTARGETSESSIONATTRS"),
        }
    }
}

/// The libpq service name of [`Target::program_dsn`]'s file.
const SERVICE: &str = "ferroni";

/// A database user, its password (which `Debug` never shows) and its libpq options.
#[derive(Debug, Clone, Default)]
pub struct Credentials {
    pub username: String,
    pub password: Option<Secret>,
    pub libpq: LibpqOptions,
}

/// Where a server listens: a TCP host, or (a path) the directory of its unix socket.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Endpoint {
    pub host: String,
    pub port: u16,
}

impl Endpoint {
    pub fn is_socket(&self) -> bool {
        self.host.starts_with('/')
    }
}

/// One connection to open: who, where, to which database, named how.
#[derive(Debug, Clone, Copy)]
pub struct Target<'a> {
    pub credentials: &'a Credentials,
    pub endpoint: &'a Endpoint,
    pub dbname: &'a str,
    pub application_name: &'a str,
}

impl Target<'_> {
    /// The libpq keywords of this connection, for a connection string. Never the password
    /// (programs get it from a pgpass file), nor `sslpassword` (see [`Target::program_dsn`]).
    pub fn dsn_pairs(&self) -> Vec<(&'static str, String)> {
        let o = &self.credentials.libpq;
        let mut pairs: Vec<(&'static str, String)> = vec![
            ("dbname", self.dbname.to_string()),
            ("user", self.credentials.username.clone()),
            ("host", self.endpoint.host.clone()),
            ("port", self.endpoint.port.to_string()),
        ];
        if !self.application_name.is_empty() {
            pairs.push(("application_name", self.application_name.to_string()));
        }
        let text = [
            ("sslmode", &o.sslmode),
            ("sslcert", &o.sslcert),
            ("sslkey", &o.sslkey),
            ("sslrootcert", &o.sslrootcert),
            ("sslcrl", &o.sslcrl),
            ("sslcrldir", &o.sslcrldir),
            ("sslnegotiation", &o.sslnegotiation),
            ("gssencmode", &o.gssencmode),
            ("channel_binding", &o.channel_binding),
            ("target_session_attrs", &o.target_session_attrs),
        ];
        pairs.extend(
            text.into_iter()
                .filter_map(|(k, v)| v.as_ref().map(|v| (k, v.clone()))),
        );
        pairs
    }

    /// The connection string for a private file (`primary_conninfo` in the 0600
    /// `postgresql.conf`, as Patroni writes it): with `sslpassword`, and `passfile` when given.
    pub fn dsn(&self, passfile: Option<&Path>) -> String {
        let mut pairs = self.dsn_pairs();
        if let Some(p) = passfile {
            pairs.push(("passfile", p.display().to_string()));
        }
        if let Some(p) = &self.credentials.libpq.sslpassword {
            pairs.push(("sslpassword", p.expose().to_string()));
        }
        format_dsn(&pairs)
    }

    /// The connection string for a program's command line, which any local user can read in
    /// `/proc`: no secret in it. An `sslpassword` goes into the private libpq service file
    /// `service_file` (written here, 0600), which the program must get as `PGSERVICEFILE`;
    /// returns whether it was written.
    pub fn program_dsn(&self, service_file: &Path) -> Result<(String, bool), PgError> {
        let dsn = format_dsn(&self.dsn_pairs());
        let Some(secret) = &self.credentials.libpq.sslpassword else {
            return Ok((dsn, false));
        };
        crate::local::write_private(
            service_file,
            &format!("[{SERVICE}]\nsslpassword={}\n", secret.expose()),
        )?;
        Ok((format!("{dsn} service={SERVICE}"), true))
    }

    /// Opens the connection, within `timeout`.
    pub async fn connect(&self, timeout: Duration) -> Result<tokio_postgres::Client, PgError> {
        let mut config = tokio_postgres::Config::new();
        config
            .host(&self.endpoint.host)
            .port(self.endpoint.port)
            .user(&self.credentials.username)
            .dbname(self.dbname)
            .connect_timeout(timeout);
        if !self.application_name.is_empty() {
            config.application_name(self.application_name);
        }
        if let Some(password) = &self.credentials.password {
            config.password(password.expose());
        }
        let o = &self.credentials.libpq;
        if let Some(v) = &o.channel_binding {
            config.channel_binding(parse_channel_binding(v)?);
        }
        if let Some(v) = &o.target_session_attrs {
            config.target_session_attrs(parse_session_attrs(v)?);
        }
        if let Some(v) = &o.sslnegotiation {
            config.ssl_negotiation(parse_negotiation(v)?);
        }
        if o.gssencmode.as_deref() == Some("require") {
            return Err(PgError::Sql(
                "gssencmode=require: GSSAPI encryption is not supported by Ferroni".into(),
            ));
        }
        let sql = |e: tokio_postgres::Error| PgError::Sql(e.to_string());
        // A unix socket never carries TLS (libpq ignores sslmode there).
        let mode = if self.endpoint.is_socket() {
            Mode::Disable
        } else {
            Mode::parse(o.sslmode.as_deref())?
        };
        if mode == Mode::Disable {
            config.ssl_mode(SslMode::Disable);
            let (client, connection) = config.connect(tokio_postgres::NoTls).await.map_err(sql)?;
            tokio::spawn(connection);
            return Ok(client);
        }
        if mode == Mode::Allow {
            // libpq: plain first, TLS only when the server refuses a plain session.
            config.ssl_mode(SslMode::Disable);
            if let Ok((client, connection)) = config.connect(tokio_postgres::NoTls).await {
                tokio::spawn(connection);
                return Ok(client);
            }
        }
        config.ssl_mode(if mode == Mode::Prefer {
            SslMode::Prefer
        } else {
            SslMode::Require
        });
        let tls = tls::LazyTls::new(o, mode);
        let (client, connection) = config.connect(tls).await.map_err(sql)?;
        tokio::spawn(connection);
        Ok(client)
    }
}

/// libpq's `sslmode`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    Disable,
    Allow,
    Prefer,
    Require,
    VerifyCa,
    VerifyFull,
}

impl Mode {
    fn parse(value: Option<&str>) -> Result<Mode, PgError> {
        Ok(match value.unwrap_or("prefer") {
            "disable" => Mode::Disable,
            "allow" => Mode::Allow,
            "prefer" => Mode::Prefer,
            "require" => Mode::Require,
            "verify-ca" => Mode::VerifyCa,
            "verify-full" => Mode::VerifyFull,
            other => return Err(invalid("sslmode", other)),
        })
    }
}

fn invalid(key: &str, value: &str) -> PgError {
    PgError::Sql(format!("invalid {key} value: \"{value}\""))
}

fn parse_channel_binding(v: &str) -> Result<ChannelBinding, PgError> {
    match v {
        "disable" => Ok(ChannelBinding::Disable),
        "prefer" => Ok(ChannelBinding::Prefer),
        "require" => Ok(ChannelBinding::Require),
        other => Err(invalid("channel_binding", other)),
    }
}

fn parse_session_attrs(v: &str) -> Result<TargetSessionAttrs, PgError> {
    match v {
        "any" => Ok(TargetSessionAttrs::Any),
        "read-write" | "primary" => Ok(TargetSessionAttrs::ReadWrite),
        "read-only" | "standby" | "prefer-standby" => Ok(TargetSessionAttrs::ReadOnly),
        other => Err(invalid("target_session_attrs", other)),
    }
}

fn parse_negotiation(v: &str) -> Result<SslNegotiation, PgError> {
    match v {
        "postgres" => Ok(SslNegotiation::Postgres),
        "direct" => Ok(SslNegotiation::Direct),
        other => Err(invalid("sslnegotiation", other)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn target_pairs(libpq: LibpqOptions) -> String {
        let credentials = Credentials {
            username: "replicator".into(),
            password: Some(Secret::new("rep-pass")),
            libpq,
        };
        let endpoint = Endpoint {
            host: "127.0.0.1".into(),
            port: 5432,
        };
        Target {
            credentials: &credentials,
            endpoint: &endpoint,
            dbname: "postgres",
            application_name: "node2",
        }
        .dsn(Some(Path::new("/tmp/pgpass")))
    }

    #[test]
    fn dsn_carries_every_libpq_keyword_in_patronis_order_and_never_the_password() {
        let dsn = target_pairs(LibpqOptions {
            sslmode: Some("verify-ca".into()),
            sslcert: Some("/c.crt".into()),
            sslkey: Some("/c.key".into()),
            sslrootcert: Some("/ca.crt".into()),
            sslnegotiation: Some("postgres".into()),
            channel_binding: Some("require".into()),
            ..LibpqOptions::default()
        });
        assert_eq!(
            dsn,
            "dbname=postgres user=replicator passfile=/tmp/pgpass host=127.0.0.1 port=5432 \
             sslmode=verify-ca sslcert=/c.crt sslkey=/c.key sslrootcert=/ca.crt \
             application_name=node2 channel_binding=require sslnegotiation=postgres"
        );
        assert!(!dsn.contains("rep-pass"));
    }

    #[test]
    fn a_programs_command_line_never_carries_the_key_passphrase() {
        let credentials = Credentials {
            username: "replicator".into(),
            password: Some(Secret::new("rep-pass")),
            libpq: LibpqOptions {
                sslpassword: Some(Secret::new("key-pass")),
                ..LibpqOptions::default()
            },
        };
        let endpoint = Endpoint {
            host: "127.0.0.1".into(),
            port: 5432,
        };
        let target = Target {
            credentials: &credentials,
            endpoint: &endpoint,
            dbname: "postgres",
            application_name: "",
        };
        let dir = tempfile::tempdir().expect("temporary directory");
        let file = dir.path().join("pg_service.conf");
        let (dsn, written) = target.program_dsn(&file).expect("service file written");
        assert!(written);
        assert!(
            !dsn.contains("key-pass") && !dsn.contains("rep-pass"),
            "{dsn}"
        );
        assert!(dsn.ends_with(" service=ferroni"), "{dsn}");
        let text = std::fs::read_to_string(&file).expect("service file");
        assert_eq!(text, "[ferroni]\nsslpassword=key-pass\n");
        let mode = std::fs::metadata(&file).expect("metadata").permissions();
        assert_eq!(
            std::os::unix::fs::PermissionsExt::mode(&mode) & 0o777,
            0o600
        );
        // In the private postgresql.conf, as Patroni writes primary_conninfo, it stays.
        assert!(target.dsn(None).contains("sslpassword=key-pass"));
    }

    #[test]
    fn sslmode_values_are_libpqs() {
        for (text, mode) in [
            ("disable", Mode::Disable),
            ("allow", Mode::Allow),
            ("prefer", Mode::Prefer),
            ("require", Mode::Require),
            ("verify-ca", Mode::VerifyCa),
            ("verify-full", Mode::VerifyFull),
        ] {
            assert_eq!(Mode::parse(Some(text)).ok(), Some(mode));
        }
        assert_eq!(Mode::parse(None).ok(), Some(Mode::Prefer));
        assert!(Mode::parse(Some("verify")).is_err());
    }
}
