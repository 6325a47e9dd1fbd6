//! The one way this crate builds an outbound HTTP client. reqwest is built without a default
//! TLS crypto provider (`rustls-no-provider`, so the binary carries only ring); a client built
//! before one is installed panics on its first https call. Every client is made by
//! [`client`], which installs ring once, so no caller (the CLI, a test, a benchmark) has to
//! remember.

use reqwest::ClientBuilder;

/// A reqwest client with the caller's settings (`configure` applied to a fresh builder), with
/// rustls' ring provider installed for the process; `what` names the client in the error.
pub(crate) fn client(
    what: &str,
    configure: impl FnOnce(ClientBuilder) -> ClientBuilder,
) -> Result<reqwest::Client, String> {
    static INSTALL: std::sync::Once = std::sync::Once::new();
    INSTALL.call_once(|| {
        // Already installed (by the CLI or a test) is fine: that is the provider we want.
        let _ = rustls::crypto::ring::default_provider().install_default();
    });
    configure(reqwest::Client::builder())
        .build()
        .map_err(|e| format!("{what}: {e}"))
}
