//! The error the simulator answers with, in Google's shape (rendered by [`super::server`]).

/// An error the simulator answers with, in Google's shape.
#[derive(Debug, Clone, PartialEq)]
pub struct SimError {
    /// HTTP status.
    pub code: u16,
    /// Reason (`notFound`, `alreadyExists`, `invalid`, `conditionNotMet`, `rateLimitExceeded`, ...).
    pub reason: &'static str,
    /// Message.
    pub message: String,
}

impl SimError {
    pub(crate) fn new(code: u16, reason: &'static str, message: impl Into<String>) -> Self {
        SimError {
            code,
            reason,
            message: message.into(),
        }
    }

    /// `400 invalid` with Compute Engine's message.
    pub(crate) fn invalid(message: impl Into<String>) -> Self {
        SimError::new(400, "invalid", message)
    }

    /// The answer to an injected fault with HTTP status `code`.
    pub(crate) fn injected(code: u16) -> Self {
        match code {
            429 => SimError::new(429, "rateLimitExceeded", "Rate Limit Exceeded (injected)"),
            403 => SimError::new(403, "rateLimitExceeded", "Rate Limit Exceeded (injected)"),
            500 => SimError::new(500, "backendError", "Internal Error (injected)"),
            502 => SimError::new(502, "backendError", "Bad Gateway (injected)"),
            504 => SimError::new(504, "backendError", "Deadline Exceeded (injected)"),
            _ => SimError::new(503, "backendError", "Service Unavailable (injected)"),
        }
    }

    /// `404 notFound` for an instance.
    pub(crate) fn instance_not_found(zone: &str, name: &str) -> Self {
        SimError::new(
            404,
            "notFound",
            format!("The resource 'projects/zones/{zone}/instances/{name}' was not found"),
        )
    }

    /// `412 conditionNotMet`: a stale fingerprint.
    pub(crate) fn stale_fingerprint(message: &str) -> Self {
        SimError::new(412, "conditionNotMet", message)
    }
}
