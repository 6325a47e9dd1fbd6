//! Cloud Logging: the reader client for `entries:list`, beside the Compute and Storage
//! clients, and the log source that serves a running pod's container lines from it.
//!
//! The guest writes each container's lines itself with `entries:write`
//! (`src/guest/files/k8sless-logship.sh`, docs/guest.md: COS's agent forwards only journal
//! entries at WARNING and above) to the log `projects/P/logs/k8sless-containers`, with the VM
//! as the `gce_instance` resource and `jsonPayload.SYSLOG_IDENTIFIER`
//! `NAMESPACE/POD/CONTAINER`. So one container's lines are the entries of that log, that
//! resource with the pod's current instance id (from the pod record) and that identifier,
//! since a little before the VM was inserted.
//!
//! `client` knows only the API; `pods::logs::cloud` reads the pod record and implements
//! `pods::logs::LogSource`. Failures are a [`LoggingError`] with the transport or decoding
//! error as `#[source]`; nothing here logs them (the request middleware does, once).

pub(crate) mod client;

pub use client::CloudLogging;

use crate::error::Error;

/// A failed `entries:list` call.
#[derive(Debug, thiserror::Error)]
pub enum LoggingError {
    /// No access token.
    #[error("Cloud Logging entries:list: credentials")]
    Credentials {
        /// The token source's error.
        #[source]
        source: crate::error::Source,
    },
    /// The request did not get an answer (connection, timeout).
    #[error("Cloud Logging entries:list: unreachable")]
    Unreachable {
        /// The transport error.
        #[source]
        source: reqwest::Error,
    },
    /// An HTTP error answer.
    #[error("Cloud Logging entries:list answered {status}: {body}")]
    Rejected {
        /// HTTP status.
        status: u16,
        /// The answer's body.
        body: String,
    },
    /// A successful answer that does not decode.
    #[error("Cloud Logging entries:list: undecodable answer")]
    Undecodable {
        /// The decoding error.
        #[source]
        source: reqwest::Error,
    },
}

impl LoggingError {
    /// Whether a later call may succeed: no answer, 429 or 5xx.
    pub fn is_transient(&self) -> bool {
        match self {
            LoggingError::Unreachable { .. } => true,
            LoggingError::Rejected { status, .. } => *status == 429 || *status >= 500,
            LoggingError::Credentials { .. } | LoggingError::Undecodable { .. } => false,
        }
    }
}

// TODO(integrator): move beside the other `From` impls in src/error.rs, and carry `err` as the
// `#[source]` of `Internal`/`Unavailable` once those variants have one.
impl From<LoggingError> for Error {
    fn from(err: LoggingError) -> Self {
        match &err {
            LoggingError::Unreachable { .. } => {
                Error::unavailable("Cloud Logging is unreachable; retry shortly")
            }
            _ if err.is_transient() => {
                Error::unavailable("Cloud Logging is unavailable; retry shortly")
            }
            _ => Error::internal(err.to_string()),
        }
    }
}
