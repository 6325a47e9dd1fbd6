//! The Compute Engine layer's one error type.
//!
//! It tells apart what callers act on differently: a missing instance, a name taken, a zone out
//! of capacity (try another zone), quota, a request Google rejected (its message kept), missing
//! permission, a stale fingerprint, and transient failures (retry later).
//!
//! Google's own message is kept in `message`; a failure below HTTP (connection, timeout, an
//! answer that does not decode, credentials) is kept as the `#[source]`, never stringified, so
//! the request middleware can log the whole chain once.

use super::types::{GoogleError, OperationError};

/// A failed Compute Engine call or operation.
#[derive(Debug, thiserror::Error)]
pub enum GceError {
    /// 404 `notFound`.
    #[error("{method}: not found: {message}")]
    NotFound {
        /// API method.
        method: &'static str,
        /// Google's message.
        message: String,
    },
    /// 409 `alreadyExists` (instance name taken).
    #[error("{method}: already exists: {message}")]
    AlreadyExists {
        /// API method.
        method: &'static str,
        /// Google's message.
        message: String,
    },
    /// `ZONE_RESOURCE_POOL_EXHAUSTED`: the zone has no capacity for this shape right now.
    #[error("{method}: zone {zone} is out of resources: {message}")]
    Stockout {
        /// API method.
        method: &'static str,
        /// The zone.
        zone: String,
        /// Google's message.
        message: String,
    },
    /// `QUOTA_EXCEEDED`.
    #[error("{method}: quota exceeded: {message}")]
    Quota {
        /// API method.
        method: &'static str,
        /// Google's message.
        message: String,
    },
    /// 400 `invalid`, an operation error caused by the request, or an answer that does not
    /// decode.
    #[error("{method}: invalid request: {message}")]
    Invalid {
        /// API method.
        method: &'static str,
        /// Google's message, kept verbatim for the user (or what did not decode).
        message: String,
        /// The decoding error, for an answer that did not decode.
        #[source]
        source: Option<Source>,
    },
    /// 401/403 (other than rate limits).
    #[error("{method}: permission denied: {message}")]
    PermissionDenied {
        /// API method.
        method: &'static str,
        /// Google's message.
        message: String,
    },
    /// 412 `conditionNotMet`: a stale fingerprint. Re-read and retry.
    #[error("{method}: conflict (stale fingerprint): {message}")]
    Conflict {
        /// API method.
        method: &'static str,
        /// Google's message.
        message: String,
    },
    /// 429, 403 rateLimitExceeded, 5xx, timeouts, connection errors, after retries ran out.
    #[error("{method}: transient failure: {message}")]
    Transient {
        /// API method.
        method: &'static str,
        /// What happened last (Google's message, or which step failed).
        message: String,
        /// The transport or credentials error, when the failure was below HTTP.
        #[source]
        source: Option<Source>,
    },
}

/// The cause of a failure below HTTP (a `reqwest` or `serde_json` error, or the token source's):
/// the crate's one cause type.
pub(crate) use crate::error::Source;

impl GceError {
    /// Whether a later retry of the same call may succeed.
    pub fn is_transient(&self) -> bool {
        matches!(self, GceError::Transient { .. })
    }

    /// A failure below HTTP in `step` (sending, reading the answer, credentials); retried.
    pub(crate) fn transport(method: &'static str, step: &str, source: impl Into<Source>) -> Self {
        GceError::Transient {
            method,
            message: step.to_string(),
            source: Some(source.into()),
        }
    }

    /// A successful answer that does not decode as the expected type.
    pub(crate) fn undecodable(method: &'static str, source: serde_json::Error) -> Self {
        GceError::Invalid {
            method,
            message: "unexpected response".to_string(),
            source: Some(source.into()),
        }
    }

    /// Classifies an HTTP error answer.
    pub(crate) fn from_http(
        method: &'static str,
        zone: &str,
        status: u16,
        body: Option<&GoogleError>,
    ) -> Self {
        let message = body
            .map(|b| b.message.clone())
            .unwrap_or_else(|| format!("HTTP {status}"));
        let reason = body
            .and_then(|b| b.errors.first())
            .map(|e| e.reason.as_str())
            .unwrap_or("");
        match (status, reason) {
            (_, "rateLimitExceeded" | "userRateLimitExceeded") => GceError::Transient {
                method,
                message,
                source: None,
            },
            (429 | 500 | 502 | 503 | 504, _) => GceError::Transient {
                method,
                message,
                source: None,
            },
            (404, _) => GceError::NotFound { method, message },
            (409, _) => GceError::AlreadyExists { method, message },
            (412, _) => GceError::Conflict { method, message },
            (401 | 403, "quotaExceeded") => GceError::Quota { method, message },
            (401 | 403, _) => GceError::PermissionDenied { method, message },
            (_, "ZONE_RESOURCE_POOL_EXHAUSTED" | "ZONE_RESOURCE_POOL_EXHAUSTED_WITH_DETAILS") => {
                GceError::Stockout {
                    method,
                    zone: zone.to_string(),
                    message,
                }
            }
            (_, "QUOTA_EXCEEDED" | "quotaExceeded") => GceError::Quota { method, message },
            _ => GceError::Invalid {
                method,
                message,
                source: None,
            },
        }
    }

    /// Classifies the `error` of an operation that is `DONE`.
    pub(crate) fn from_operation(method: &'static str, zone: &str, error: &OperationError) -> Self {
        let first = error.errors.first();
        let code = first.map(|e| e.code.as_str()).unwrap_or("");
        let message = first
            .and_then(|e| e.message.clone())
            .unwrap_or_else(|| code.to_string());
        match code {
            "ZONE_RESOURCE_POOL_EXHAUSTED" | "ZONE_RESOURCE_POOL_EXHAUSTED_WITH_DETAILS" => {
                GceError::Stockout {
                    method,
                    zone: zone.to_string(),
                    message,
                }
            }
            "QUOTA_EXCEEDED" => GceError::Quota { method, message },
            "RESOURCE_NOT_FOUND" => GceError::NotFound { method, message },
            "RESOURCE_ALREADY_EXISTS" => GceError::AlreadyExists { method, message },
            "CONDITION_NOT_MET" => GceError::Conflict { method, message },
            "PERMISSIONS_ERROR" | "FORBIDDEN" => GceError::PermissionDenied { method, message },
            "INTERNAL_ERROR" | "SERVICE_UNAVAILABLE" | "RATE_LIMIT_EXCEEDED" => {
                GceError::Transient {
                    method,
                    message,
                    source: None,
                }
            }
            _ => GceError::Invalid {
                method,
                message,
                source: None,
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::gce::types::{GoogleErrorItem, OperationErrorItem};

    fn body(code: u16, reason: &str) -> GoogleError {
        GoogleError {
            code,
            message: "m".into(),
            errors: vec![GoogleErrorItem {
                message: "m".into(),
                domain: "global".into(),
                reason: reason.into(),
            }],
            status: None,
        }
    }

    #[test]
    fn http_classification() {
        let c = |s, r| GceError::from_http("insert", "z", s, Some(&body(s, r)));
        assert!(c(429, "rateLimitExceeded").is_transient());
        assert!(c(403, "rateLimitExceeded").is_transient());
        assert!(matches!(
            c(403, "forbidden"),
            GceError::PermissionDenied { .. }
        ));
        assert!(matches!(c(403, "quotaExceeded"), GceError::Quota { .. }));
        assert!(matches!(c(404, "notFound"), GceError::NotFound { .. }));
        assert!(matches!(
            c(409, "alreadyExists"),
            GceError::AlreadyExists { .. }
        ));
        assert!(matches!(
            c(412, "conditionNotMet"),
            GceError::Conflict { .. }
        ));
        assert!(matches!(c(400, "invalid"), GceError::Invalid { .. }));
        assert!(c(503, "backendError").is_transient());
    }

    #[test]
    fn operation_classification() {
        let op = |code: &str| OperationError {
            errors: vec![OperationErrorItem {
                code: code.into(),
                message: Some("x".into()),
                location: None,
            }],
        };
        assert!(matches!(
            GceError::from_operation("insert", "z", &op("ZONE_RESOURCE_POOL_EXHAUSTED")),
            GceError::Stockout { .. }
        ));
        assert!(matches!(
            GceError::from_operation("insert", "z", &op("QUOTA_EXCEEDED")),
            GceError::Quota { .. }
        ));
    }
}
