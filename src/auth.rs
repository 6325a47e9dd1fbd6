//! Access tokens for Google APIs: Application Default Credentials through `gcp_auth`
//! (the metadata server on Cloud Run, a user's gcloud credentials locally), or none at all
//! when a client targets a local simulator or emulator.

use std::sync::Arc;

/// The OAuth scope every Google API call here uses.
const CLOUD_PLATFORM: &str = "https://www.googleapis.com/auth/cloud-platform";

/// Where bearer tokens come from.
#[derive(Clone)]
pub enum TokenSource {
    /// No Authorization header (simulator, emulators).
    Anonymous,
    /// Application Default Credentials.
    Adc(Arc<dyn gcp_auth::TokenProvider>),
}

impl std::fmt::Debug for TokenSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            TokenSource::Anonymous => f.write_str("Anonymous"),
            TokenSource::Adc(_) => f.write_str("Adc"),
        }
    }
}

impl TokenSource {
    /// Anonymous for loopback endpoints, ADC otherwise.
    pub async fn for_endpoint(endpoint: &str) -> Result<Self, String> {
        if is_local(endpoint) {
            return Ok(TokenSource::Anonymous);
        }
        let provider = gcp_auth::provider()
            .await
            .map_err(|e| format!("application default credentials: {e}"))?;
        Ok(TokenSource::Adc(provider))
    }

    /// A bearer token, if this source has one.
    pub async fn bearer(&self) -> Result<Option<String>, String> {
        match self {
            TokenSource::Anonymous => Ok(None),
            TokenSource::Adc(provider) => {
                let token = provider
                    .token(&[CLOUD_PLATFORM])
                    .await
                    .map_err(|e| format!("access token: {e}"))?;
                Ok(Some(token.as_str().to_string()))
            }
        }
    }
}

/// Whether an endpoint is on this machine (no credentials are sent there).
pub fn is_local(endpoint: &str) -> bool {
    let rest = endpoint.split("://").nth(1).unwrap_or(endpoint);
    rest.starts_with("127.") || rest.starts_with("localhost") || rest.starts_with("[::1]")
}
