//! HTTPS for local runs: kubectl sends a bearer token only over https, so `k8sless dev --tls`
//! serves with a freshly generated self-signed certificate for `localhost` and `127.0.0.1`
//! and writes it where kubectl's `--certificate-authority` can read it. On Cloud Run, TLS is
//! Cloud Run's.

use axum_server::tls_rustls::RustlsConfig;

/// A certificate and its key, PEM.
#[derive(Debug, Clone)]
pub struct SelfSigned {
    /// The certificate (also the CA kubectl trusts).
    pub cert_pem: String,
    /// The private key.
    pub key_pem: String,
}

/// Generates a certificate for `localhost` and `127.0.0.1`.
pub fn self_signed() -> Result<SelfSigned, String> {
    let names = vec!["localhost".to_string(), "127.0.0.1".to_string()];
    let certified = rcgen::generate_simple_self_signed(names)
        .map_err(|e| format!("generating a certificate: {e}"))?;
    Ok(SelfSigned {
        cert_pem: certified.cert.pem(),
        key_pem: certified.signing_key.serialize_pem(),
    })
}

/// The server configuration for a certificate.
pub(crate) async fn server_config(cert: &SelfSigned) -> Result<RustlsConfig, String> {
    RustlsConfig::from_pem(
        cert.cert_pem.clone().into_bytes(),
        cert.key_pem.clone().into_bytes(),
    )
    .await
    .map_err(|e| format!("TLS configuration: {e}"))
}
