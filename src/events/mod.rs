//! What arrives from Google Cloud rather than from API users: Pub/Sub pushes of guest reports
//! ([`pubsub`]), Eventarc and Log Router deliveries of Compute Engine audit log entries
//! ([`eventarc`]), and the OIDC tokens that prove who sent them ([`oidc`]).
//!
//! These modules only decode and verify; they hand a pod report, a VM event or a collection
//! request to the pod layer ([`crate::pods`]), which decides what changes.

pub mod eventarc;
pub mod jwks;
pub mod oidc;
pub mod pubsub;

/// A delivery that cannot be decoded: 400, logged, never retried usefully.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("malformed {what}: {reason}")]
pub struct EnvelopeError {
    /// What was being decoded.
    pub what: &'static str,
    /// Why it failed.
    pub reason: String,
}

impl EnvelopeError {
    pub(crate) fn new(what: &'static str, reason: impl Into<String>) -> Self {
        EnvelopeError {
            what,
            reason: reason.into(),
        }
    }
}

impl From<EnvelopeError> for crate::error::Error {
    fn from(e: EnvelopeError) -> Self {
        crate::error::Error::bad_request(e.to_string())
    }
}
