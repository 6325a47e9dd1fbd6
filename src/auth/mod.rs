//! Who calls whom: access tokens for the Google APIs k8sless calls (here: Application Default
//! Credentials through `gcp_auth`, the metadata server on Cloud Run, a user's gcloud
//! credentials locally, or none at all when a client targets a local simulator or emulator),
//! and the verification of the Google-signed tokens its callers present ([`oidc`], with
//! Google's keys from [`jwks`]).

pub(crate) mod identity;
pub(crate) mod jwks;
pub(crate) mod oidc;
#[cfg(test)]
pub(crate) mod test_tokens;

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

/// Why no token could be had.
#[derive(Debug, thiserror::Error)]
pub enum TokenError {
    /// No Application Default Credentials were found.
    #[error("application default credentials")]
    NoCredentials {
        /// What `gcp_auth` said.
        #[source]
        source: gcp_auth::Error,
    },
    /// The credentials gave no access token.
    #[error("access token")]
    NoToken {
        /// What `gcp_auth` said.
        #[source]
        source: gcp_auth::Error,
    },
}

impl TokenError {
    /// The message with its cause, for clients whose errors carry text.
    pub fn detail(&self) -> String {
        match self {
            TokenError::NoCredentials { source } | TokenError::NoToken { source } => {
                format!("{self}: {source}")
            }
        }
    }
}

impl TokenSource {
    /// Anonymous for loopback endpoints, ADC otherwise.
    pub async fn for_endpoint(endpoint: &str) -> Result<Self, TokenError> {
        if is_local(endpoint) {
            return Ok(TokenSource::Anonymous);
        }
        let provider = gcp_auth::provider()
            .await
            .map_err(|source| TokenError::NoCredentials { source })?;
        Ok(TokenSource::Adc(provider))
    }

    /// A bearer token, if this source has one.
    pub async fn bearer(&self) -> Result<Option<String>, TokenError> {
        match self {
            TokenSource::Anonymous => Ok(None),
            TokenSource::Adc(provider) => {
                let token = provider
                    .token(&[CLOUD_PLATFORM])
                    .await
                    .map_err(|source| TokenError::NoToken { source })?;
                Ok(Some(token.as_str().to_string()))
            }
        }
    }

    /// `request` with this source's token as `Authorization: Bearer`, when it has one: what
    /// every cloud client (Compute Engine, Cloud Storage, Cloud Logging) sends.
    pub(crate) async fn authorize(
        &self,
        request: reqwest::RequestBuilder,
    ) -> Result<reqwest::RequestBuilder, TokenError> {
        Ok(match self.bearer().await? {
            Some(token) => request.bearer_auth(token),
            None => request,
        })
    }
}

/// Whether an endpoint is on this machine (no credentials are sent there).
pub(crate) fn is_local(endpoint: &str) -> bool {
    let rest = endpoint.split("://").nth(1).unwrap_or(endpoint);
    rest.starts_with("127.") || rest.starts_with("localhost") || rest.starts_with("[::1]")
}
