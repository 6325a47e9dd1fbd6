//! The one way this crate builds an outbound HTTP client. reqwest is built without a default
//! TLS crypto provider (`rustls-no-provider`, so the binary carries only ring); a client built
//! before one is installed panics on its first https call. Every client goes through
//! [`client_builder`], which installs ring once, so no caller (the CLI, a test, a benchmark)
//! has to remember.

/// A reqwest client builder, with rustls' ring provider installed for the process.
pub(crate) fn client_builder() -> reqwest::ClientBuilder {
    static INSTALL: std::sync::Once = std::sync::Once::new();
    INSTALL.call_once(|| {
        // Already installed (by the CLI or a test) is fine: that is the provider we want.
        let _ = rustls::crypto::ring::default_provider().install_default();
    });
    reqwest::Client::builder()
}

/// `builder` (from [`client_builder`], with the caller's settings) built; `what` names the
/// client in the error.
pub(crate) fn build(
    what: &str,
    builder: reqwest::ClientBuilder,
) -> Result<reqwest::Client, String> {
    builder.build().map_err(|e| format!("{what}: {e}"))
}
