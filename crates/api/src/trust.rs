//! Which certificates the REST API's TLS trusts, on both ends (the server checking client
//! certificates, and the clients — `ferronictl`, the agent's calls to its peers — checking
//! servers).
//!
//! webpki refuses a CA certificate presented as an end entity (`CaUsedAsEndEntity`). OpenSSL,
//! and so Patroni's Python and libpq, accept a self-signed certificate that is itself in the CA
//! file: one certificate as CA, server and client certificate, the setup of Patroni's
//! acceptance suite and of many small clusters. We accept exactly that case: the presented
//! certificate, byte for byte one of the trusted ones, with no chain; every other verdict
//! (expiry, signature, unknown issuer) stays webpki's, and a server's name is still checked.
//! (Its extended key usage is not: webpki checks it after the CA flag, OpenSSL does not
//! require it for a trusted self-signed certificate either.)

use std::sync::Arc;
use tokio_rustls::rustls::client::danger::{
    HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier,
};
use tokio_rustls::rustls::client::{WebPkiServerVerifier, verify_server_name};
use tokio_rustls::rustls::crypto::{self, CryptoProvider};
use tokio_rustls::rustls::pki_types::pem::PemObject;
use tokio_rustls::rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName, UnixTime};
use tokio_rustls::rustls::server::ParsedCertificate;
use tokio_rustls::rustls::server::danger::{ClientCertVerified, ClientCertVerifier};
use tokio_rustls::rustls::{
    CertificateError, ClientConfig, DigitallySignedStruct, DistinguishedName, Error, RootCertStore,
    SignatureScheme,
};

/// The certificates of a PEM file, the setting named in errors.
pub fn read_certs(setting: &str, path: &str) -> Result<Vec<CertificateDer<'static>>, String> {
    let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(path)
        .and_then(|it| it.collect::<Result<_, _>>())
        .map_err(|e| format!("{setting} {path}: {e}"))?;
    if certs.is_empty() {
        return Err(format!("{setting} {path}: no certificate in it"));
    }
    Ok(certs)
}

/// The trust anchors of `certs`.
pub fn roots(
    setting: &str,
    path: &str,
    certs: &[CertificateDer<'static>],
) -> Result<RootCertStore, String> {
    let mut roots = RootCertStore::empty();
    for cert in certs {
        roots
            .add(cert.clone())
            .map_err(|e| format!("{setting} {path}: {e}"))?;
    }
    Ok(roots)
}

/// webpki's verdict, except for a trusted self-signed certificate presented as itself.
fn pinned<T>(
    verdict: Result<T, Error>,
    end_entity: &CertificateDer<'_>,
    intermediates: &[CertificateDer<'_>],
    trusted: &[CertificateDer<'static>],
    accepted: T,
) -> Result<T, Error> {
    match verdict {
        Err(Error::InvalidCertificate(CertificateError::Other(other)))
            if matches!(
                other.0.downcast_ref::<webpki::Error>(),
                Some(webpki::Error::CaUsedAsEndEntity)
            ) && intermediates.is_empty()
                && trusted.iter().any(|t| t.as_ref() == end_entity.as_ref()) =>
        {
            Ok(accepted)
        }
        other => other,
    }
}

/// The server side: client certificates checked by webpki, with the pinned exception.
#[derive(Debug)]
pub struct ClientVerifier {
    pub inner: Arc<dyn ClientCertVerifier>,
    pub trusted: Vec<CertificateDer<'static>>,
}

impl ClientCertVerifier for ClientVerifier {
    fn offer_client_auth(&self) -> bool {
        self.inner.offer_client_auth()
    }
    fn client_auth_mandatory(&self) -> bool {
        self.inner.client_auth_mandatory()
    }
    fn root_hint_subjects(&self) -> &[DistinguishedName] {
        self.inner.root_hint_subjects()
    }
    fn verify_client_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        now: UnixTime,
    ) -> Result<ClientCertVerified, Error> {
        pinned(
            self.inner
                .verify_client_cert(end_entity, intermediates, now),
            end_entity,
            intermediates,
            &self.trusted,
            ClientCertVerified::assertion(),
        )
    }
    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, Error> {
        self.inner.verify_tls12_signature(message, cert, dss)
    }
    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, Error> {
        self.inner.verify_tls13_signature(message, cert, dss)
    }
    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.inner.supported_verify_schemes()
    }
}

/// The client side: server certificates checked by webpki, with the pinned exception; or, for
/// `--insecure`, not checked at all (signatures still are).
#[derive(Debug)]
struct ServerVerifier {
    inner: Option<Arc<WebPkiServerVerifier>>,
    trusted: Vec<CertificateDer<'static>>,
    provider: Arc<CryptoProvider>,
}

impl ServerCertVerifier for ServerVerifier {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp_response: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, Error> {
        let Some(inner) = &self.inner else {
            return Ok(ServerCertVerified::assertion());
        };
        let verdict = pinned(
            inner.verify_server_cert(end_entity, intermediates, server_name, ocsp_response, now),
            end_entity,
            intermediates,
            &self.trusted,
            ServerCertVerified::assertion(),
        )?;
        // webpki stops at the CA verdict before the name: check it here, so a CA file holding
        // several members' certificates never lets one pose as another.
        verify_server_name(&ParsedCertificate::try_from(end_entity)?, server_name)?;
        Ok(verdict)
    }
    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, Error> {
        crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }
    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, Error> {
        crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }
    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.provider
            .signature_verification_algorithms
            .supported_schemes()
    }
}

/// What an HTTPS client of the REST API presents and trusts (`ctl.*`, else `restapi.*`).
#[derive(Debug, Clone, Default)]
pub struct ClientFiles {
    pub cacert: Option<String>,
    pub certfile: Option<String>,
    pub keyfile: Option<String>,
    /// Do not check the server's certificate.
    pub insecure: bool,
}

/// The TLS side of a REST API client. Without a CA file, Mozilla's roots (webpki-roots, as
/// reqwest's default) are trusted; with `insecure`, no CA file is read.
pub fn client_config(files: &ClientFiles) -> Result<ClientConfig, String> {
    let provider = Arc::new(crypto::ring::default_provider());
    let (roots, trusted) = match files.cacert.as_ref().filter(|_| !files.insecure) {
        Some(path) => {
            let certs = read_certs("CA file", path)?;
            (roots("CA file", path, &certs)?, certs)
        }
        None => {
            let mut roots = RootCertStore::empty();
            roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
            (roots, Vec::new())
        }
    };
    let inner = if files.insecure {
        None
    } else {
        Some(
            WebPkiServerVerifier::builder_with_provider(Arc::new(roots), provider.clone())
                .build()
                .map_err(|e| format!("CA file: {e}"))?,
        )
    };
    let verifier = ServerVerifier {
        inner,
        trusted,
        provider: provider.clone(),
    };
    let builder = ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| format!("TLS: {e}"))?
        .dangerous()
        .with_custom_certificate_verifier(Arc::new(verifier));
    let Some(certfile) = &files.certfile else {
        return Ok(builder.with_no_client_auth());
    };
    let certs = read_certs("certfile", certfile)?;
    let keyfile = files.keyfile.as_deref().unwrap_or(certfile);
    let key = PrivateKeyDer::from_pem_file(keyfile)
        .map_err(|e| format!("keyfile {keyfile}: {e} (encrypted keys are not supported)"))?;
    builder
        .with_client_auth_cert(certs, key)
        .map_err(|e| format!("certfile/keyfile: {e}"))
}
