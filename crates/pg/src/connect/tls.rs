//! The TLS side of a connection to PostgreSQL, set up as libpq sets it up: only once the server
//! has agreed to TLS. With libpq's default `sslmode=prefer` against a server without `ssl`, no
//! certificate is read and OpenSSL is never initialised, which keeps about 4 MB of resident
//! memory out of an agent whose connections are plain.

use super::{LibpqOptions, Mode};
use crate::local::PgError;
use openssl::pkey::PKey;
use openssl::ssl::{SslConnector, SslMethod, SslVerifyMode};
use openssl::x509::X509;
use openssl::x509::store::{X509Lookup, X509StoreBuilder};
use openssl::x509::verify::X509VerifyFlags;
use postgres_openssl::{MakeTlsConnector, TlsStream};
use std::future::Future;
use std::path::{Path, PathBuf};
use std::pin::Pin;
use tokio_postgres::Socket;
use tokio_postgres::tls::{MakeTlsConnect, TlsConnect};

type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// A [`MakeTlsConnect`] that builds the OpenSSL connector in the handshake, not before the
/// server answered the TLS request.
pub(super) struct LazyTls {
    options: LibpqOptions,
    mode: Mode,
}

impl LazyTls {
    pub(super) fn new(options: &LibpqOptions, mode: Mode) -> LazyTls {
        LazyTls {
            options: options.clone(),
            mode,
        }
    }
}

impl MakeTlsConnect<Socket> for LazyTls {
    type Stream = TlsStream<Socket>;
    type TlsConnect = LazyTlsConnect;
    type Error = PgError;

    fn make_tls_connect(&mut self, domain: &str) -> Result<LazyTlsConnect, PgError> {
        Ok(LazyTlsConnect {
            options: self.options.clone(),
            mode: self.mode,
            domain: domain.to_string(),
        })
    }
}

pub(super) struct LazyTlsConnect {
    options: LibpqOptions,
    mode: Mode,
    domain: String,
}

impl TlsConnect<Socket> for LazyTlsConnect {
    type Stream = TlsStream<Socket>;
    type Error = BoxError;
    type Future = Pin<Box<dyn Future<Output = Result<TlsStream<Socket>, BoxError>> + Send>>;

    fn connect(self, stream: Socket) -> Self::Future {
        Box::pin(async move {
            let mut make = tls_connector(&self.options, self.mode)?;
            let connect = <MakeTlsConnector as MakeTlsConnect<Socket>>::make_tls_connect(
                &mut make,
                &self.domain,
            )?;
            connect.connect(stream).await
        })
    }
}

/// libpq's default for a file under `~/.postgresql/`, when the user sets none.
fn default_file(name: &str) -> Option<PathBuf> {
    let home = std::env::var_os("HOME")?;
    let path = Path::new(&home).join(".postgresql").join(name);
    path.exists().then_some(path)
}

fn tls_error(what: &str, path: &str) -> impl FnOnce(openssl::error::ErrorStack) -> PgError {
    let what = format!("{what} \"{path}\"");
    move |e| PgError::Sql(format!("could not load {what}: {e}"))
}

fn read(what: &str, path: &Path) -> Result<Vec<u8>, PgError> {
    std::fs::read(path)
        .map_err(|e| PgError::Sql(format!("could not read {what} \"{}\": {e}", path.display())))
}

/// The TLS side of a connection, as libpq sets it up for `mode`: the server certificate is
/// checked against `sslrootcert` (default `~/.postgresql/root.crt`) for verify-ca and
/// verify-full, and also for prefer/require when that file exists; its name only for
/// verify-full. A client certificate is sent when `sslcert` (or the default) exists.
fn tls_connector(o: &LibpqOptions, mode: Mode) -> Result<MakeTlsConnector, PgError> {
    let stack = |e: openssl::error::ErrorStack| PgError::Sql(format!("TLS setup: {e}"));
    let mut builder = SslConnector::builder(SslMethod::tls_client()).map_err(stack)?;
    let verify_required = matches!(mode, Mode::VerifyCa | Mode::VerifyFull);
    let rootcert = match o.sslrootcert.as_deref() {
        Some("system") => None,
        Some(path) => Some(PathBuf::from(path)),
        None => default_file("root.crt"),
    };
    let system_roots = o.sslrootcert.as_deref() == Some("system");
    // libpq trusts only the given root file, never the system's store (unless "system").
    let mut store = X509StoreBuilder::new().map_err(stack)?;
    if system_roots {
        store.set_default_paths().map_err(stack)?;
    }
    let mut verify = system_roots;
    if let Some(path) = &rootcert {
        if path.exists() {
            let pem = read("root certificate file", path)?;
            let text = path.display().to_string();
            for cert in
                X509::stack_from_pem(&pem).map_err(tls_error("root certificate file", &text))?
            {
                store.add_cert(cert).map_err(stack)?;
            }
            verify = true;
        } else if verify_required {
            return Err(PgError::Sql(format!(
                "root certificate file \"{}\" does not exist",
                path.display()
            )));
        }
    } else if verify_required && !system_roots {
        return Err(PgError::Sql(
            "root certificate file \"~/.postgresql/root.crt\" does not exist: give sslrootcert or use sslmode=require".into(),
        ));
    }
    let crl_files: Vec<PathBuf> = o.sslcrl.iter().map(PathBuf::from).collect();
    let mut crl_loaded = false;
    for path in crl_files.iter().filter(|p| p.exists()) {
        let text = path.display().to_string();
        let lookup = store.add_lookup(X509Lookup::file()).map_err(stack)?;
        lookup
            .load_crl_file(path, openssl::ssl::SslFiletype::PEM)
            .map_err(tls_error("CRL file", &text))?;
        crl_loaded = true;
    }
    if let Some(dir) = &o.sslcrldir {
        let lookup = store.add_lookup(X509Lookup::hash_dir()).map_err(stack)?;
        lookup
            .add_dir(dir, openssl::ssl::SslFiletype::PEM)
            .map_err(tls_error("CRL directory", dir))?;
        crl_loaded = true;
    }
    if crl_loaded {
        store
            .set_flags(X509VerifyFlags::CRL_CHECK | X509VerifyFlags::CRL_CHECK_ALL)
            .map_err(stack)?;
    }
    builder.set_cert_store(store.build());
    builder.set_verify(if verify {
        SslVerifyMode::PEER
    } else {
        SslVerifyMode::NONE
    });
    let cert = o
        .sslcert
        .as_ref()
        .map(PathBuf::from)
        .or_else(|| default_file("postgresql.crt"));
    if let Some(cert) = cert.filter(|c| c.exists()) {
        let text = cert.display().to_string();
        let pem = read("certificate file", &cert)?;
        let mut chain = X509::stack_from_pem(&pem)
            .map_err(tls_error("certificate file", &text))?
            .into_iter();
        if let Some(leaf) = chain.next() {
            builder.set_certificate(&leaf).map_err(stack)?;
        }
        for extra in chain {
            builder.add_extra_chain_cert(extra).map_err(stack)?;
        }
        let key = o
            .sslkey
            .as_ref()
            .map(PathBuf::from)
            .or_else(|| default_file("postgresql.key"))
            .ok_or_else(|| PgError::Sql(format!("certificate \"{text}\" has no sslkey")))?;
        let key_text = key.display().to_string();
        let pem = read("private key file", &key)?;
        let pkey = match &o.sslpassword {
            Some(p) => PKey::private_key_from_pem_passphrase(&pem, p.expose().as_bytes()),
            None => PKey::private_key_from_pem(&pem),
        }
        .map_err(tls_error("private key file", &key_text))?;
        builder.set_private_key(&pkey).map_err(stack)?;
        builder.check_private_key().map_err(stack)?;
    }
    let mut tls = MakeTlsConnector::new(builder.build());
    let check_name = mode == Mode::VerifyFull;
    tls.set_callback(move |config, _domain| {
        config.set_verify_hostname(check_name);
        // The server name is sent only where libpq sends it (a host name, not an address).
        Ok(())
    });
    Ok(tls)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn verify_modes_need_a_root_certificate() {
        let o = LibpqOptions {
            sslrootcert: Some("/nonexistent/root.crt".into()),
            ..LibpqOptions::default()
        };
        for mode in [Mode::VerifyCa, Mode::VerifyFull] {
            let err = tls_connector(&o, mode).err().map(|e| e.to_string());
            assert!(
                err.as_deref()
                    .is_some_and(|e| e.contains("/nonexistent/root.crt")),
                "{err:?}"
            );
        }
        // require without the file: encrypted, unverified, as libpq.
        assert!(tls_connector(&o, Mode::Require).is_ok());
    }
}
