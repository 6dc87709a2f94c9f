//! HTTPS for the REST API (`restapi.certfile`, `keyfile`, `cafile`, `verify_client`), with rustls.

use std::sync::Arc;
use tokio_rustls::TlsAcceptor;
use tokio_rustls::rustls::pki_types::PrivateKeyDer;
use tokio_rustls::rustls::pki_types::pem::PemObject;
use tokio_rustls::rustls::server::WebPkiClientVerifier;
use tokio_rustls::rustls::{ServerConfig, crypto};

/// `restapi.verify_client`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum VerifyClient {
    None,
    Optional,
    Required,
}

impl VerifyClient {
    /// From the configuration value (`none` when absent).
    pub fn parse(value: Option<&str>) -> Result<VerifyClient, String> {
        match value.map(str::trim) {
            None | Some("") | Some("none") => Ok(VerifyClient::None),
            Some("optional") => Ok(VerifyClient::Optional),
            Some("required") => Ok(VerifyClient::Required),
            Some(other) => Err(format!(
                "restapi.verify_client: {other:?} is not one of none, optional, required"
            )),
        }
    }
}

/// The REST API's TLS settings.
#[derive(Debug, Clone, Default)]
pub struct TlsFiles {
    pub certfile: String,
    /// The private key (the certificate file when empty).
    pub keyfile: Option<String>,
    pub cafile: Option<String>,
    pub verify_client: Option<String>,
}

/// The acceptor for `files`; errors name the setting and the reason.
pub fn acceptor(files: &TlsFiles) -> Result<(TlsAcceptor, VerifyClient), String> {
    let verify = VerifyClient::parse(files.verify_client.as_deref())?;
    let certs = crate::trust::read_certs("restapi.certfile", &files.certfile)?;
    let keyfile = files.keyfile.as_deref().unwrap_or(&files.certfile);
    let key = PrivateKeyDer::from_pem_file(keyfile).map_err(|e| {
        format!("restapi.keyfile {keyfile}: {e} (encrypted keys are not supported)")
    })?;
    let provider = Arc::new(crypto::ring::default_provider());
    let builder = ServerConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .map_err(|e| format!("TLS: {e}"))?;
    let builder = match (&files.cafile, verify) {
        (_, VerifyClient::None) => builder.with_no_client_auth(),
        (None, _) => return Err("restapi.verify_client needs restapi.cafile".into()),
        (Some(cafile), mode) => {
            let trusted = crate::trust::read_certs("restapi.cafile", cafile)?;
            let roots = crate::trust::roots("restapi.cafile", cafile, &trusted)?;
            let verifier = WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider);
            let verifier = if mode == VerifyClient::Optional {
                verifier.allow_unauthenticated()
            } else {
                verifier
            };
            let inner = verifier
                .build()
                .map_err(|e| format!("restapi.cafile {cafile}: {e}"))?;
            builder.with_client_cert_verifier(Arc::new(crate::trust::ClientVerifier {
                inner,
                trusted,
            }))
        }
    };
    let config = builder
        .with_single_cert(certs, key)
        .map_err(|e| format!("restapi.certfile/keyfile: {e}"))?;
    Ok((TlsAcceptor::from(Arc::new(config)), verify))
}
