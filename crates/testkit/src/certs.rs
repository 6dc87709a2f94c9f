//! Certificates for a TLS-only test cluster, made with the `openssl` command (scripts/setup
//! installs it): a CA, one server certificate for 127.0.0.1 that every member's PostgreSQL
//! presents, and one client certificate that every member's roles present (`clientcert=verify-ca`
//! checks the chain, not the name). Keys are mode 0600 and owned by the PostgreSQL user, as both
//! the server and libpq insist.

use crate::user::RunAs;
use anyhow::{Context, Result, bail};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Command;

/// The files of [`Certs::make`].
#[derive(Debug, Clone)]
pub struct Certs {
    pub ca: PathBuf,
    pub server_cert: PathBuf,
    pub server_key: PathBuf,
    pub client_cert: PathBuf,
    pub client_key: PathBuf,
}

fn openssl(args: &[&str], dir: &Path) -> Result<()> {
    let out = Command::new("openssl")
        .args(args)
        .current_dir(dir)
        .output()
        .context("cannot run openssl (scripts/setup installs it)")?;
    if !out.status.success() {
        bail!(
            "openssl {} failed: {}",
            args.join(" "),
            String::from_utf8_lossy(&out.stderr)
        );
    }
    Ok(())
}

/// A key and a certificate signed by the CA in `dir`, `extensions` in an extension file.
fn signed(dir: &Path, name: &str, subject: &str, extensions: &str) -> Result<()> {
    let (key, csr, crt, ext) = (
        format!("{name}.key"),
        format!("{name}.csr"),
        format!("{name}.crt"),
        format!("{name}.ext"),
    );
    std::fs::write(dir.join(&ext), extensions)?;
    openssl(
        &[
            "req", "-new", "-nodes", "-newkey", "rsa:2048", "-keyout", &key, "-out", &csr, "-subj",
            subject,
        ],
        dir,
    )?;
    openssl(
        &[
            "x509",
            "-req",
            "-in",
            &csr,
            "-CA",
            "ca.crt",
            "-CAkey",
            "ca.key",
            "-CAcreateserial",
            "-days",
            "2",
            "-out",
            &crt,
            "-extfile",
            &ext,
        ],
        dir,
    )
}

impl Certs {
    /// Makes the CA and both certificates in `dir` (which must exist).
    pub fn make(dir: &Path, owner: Option<RunAs>) -> Result<Certs> {
        openssl(
            &[
                "req",
                "-x509",
                "-new",
                "-nodes",
                "-newkey",
                "rsa:2048",
                "-keyout",
                "ca.key",
                "-out",
                "ca.crt",
                "-days",
                "2",
                "-subj",
                "/CN=ferroni test CA",
            ],
            dir,
        )?;
        signed(
            dir,
            "server",
            "/CN=127.0.0.1",
            "subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth\n",
        )?;
        signed(
            dir,
            "client",
            "/CN=postgres",
            "extendedKeyUsage=clientAuth\n",
        )?;
        for entry in std::fs::read_dir(dir)? {
            let path = entry?.path();
            let mode = if path.extension().is_some_and(|e| e == "key") {
                0o600
            } else {
                0o644
            };
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(mode))?;
            if let Some(o) = owner {
                nix::unistd::chown(
                    &path,
                    Some(nix::unistd::Uid::from_raw(o.uid)),
                    Some(nix::unistd::Gid::from_raw(o.gid)),
                )?;
            }
        }
        Ok(Certs {
            ca: dir.join("ca.crt"),
            server_cert: dir.join("server.crt"),
            server_key: dir.join("server.key"),
            client_cert: dir.join("client.crt"),
            client_key: dir.join("client.key"),
        })
    }
}
