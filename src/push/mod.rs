//! What Google Cloud pushes to k8sless rather than what API users send: Pub/Sub pushes of
//! guest reports ([`pubsub`]) and Eventarc or Log Router deliveries of Compute Engine audit
//! log entries ([`audit`]). The callers' tokens are verified by [`crate::auth::oidc`].
//!
//! These modules only decode; they hand a pod report or a VM incident to the pod layer
//! ([`crate::pods`]), which decides what changes.

pub(crate) mod audit;
pub(crate) mod pubsub;

use crate::error::Source;

/// A delivery that cannot be decoded: 400, logged, never retried usefully.
#[derive(Debug, thiserror::Error)]
#[error("malformed {what}: {reason}")]
pub(crate) struct EnvelopeError {
    /// What was being decoded.
    pub(crate) what: &'static str,
    /// Why it failed.
    pub(crate) reason: String,
    /// The decoder's error, when one failed.
    #[source]
    pub(crate) source: Option<Source>,
}

impl EnvelopeError {
    pub(crate) fn new(what: &'static str, reason: impl Into<String>) -> Self {
        EnvelopeError {
            what,
            reason: reason.into(),
            source: None,
        }
    }

    /// A decoder (JSON, base64, a timestamp) failed.
    pub(crate) fn caused(
        what: &'static str,
        reason: impl Into<String>,
        source: impl Into<Source>,
    ) -> Self {
        EnvelopeError {
            what,
            reason: reason.into(),
            source: Some(source.into()),
        }
    }
}

impl PartialEq for EnvelopeError {
    fn eq(&self, other: &Self) -> bool {
        let cause = |e: &Self| e.source.as_ref().map(|s| s.to_string());
        self.what == other.what && self.reason == other.reason && cause(self) == cause(other)
    }
}

/// 400 Bad Request, the message with its cause (nothing is logged here).
impl From<EnvelopeError> for crate::error::Error {
    fn from(e: EnvelopeError) -> Self {
        match &e.source {
            Some(cause) => crate::error::Error::bad_request(format!("{e}: {cause}")),
            None => crate::error::Error::bad_request(e.to_string()),
        }
    }
}
