//! The one error type of the API and its one rendering as a Kubernetes `Status`.
//!
//! Module errors (`GceError`, `StoreError`, validation causes) are mapped into [`Error`] by
//! hand-written `From` impls, so the HTTP policy lives in exactly one place:
//! [`Error::code`] and [`Error::reason`]. `into_response` has no side effects; the request
//! middleware logs failures from the response extension [`ErrorLogged`].

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;

/// One field-level problem, rendered as a `StatusCause`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Cause {
    /// Kubernetes cause type, e.g. `FieldValueInvalid`, `FieldValueRequired`.
    pub reason: String,
    /// Human-readable explanation, without the field path.
    pub message: String,
    /// JSONPath-like field path, e.g. `spec.containers[0].image`.
    pub field: String,
}

impl Cause {
    /// A cause of the given Kubernetes type.
    pub fn new(reason: &str, field: impl Into<String>, message: impl Into<String>) -> Self {
        Cause {
            reason: reason.to_string(),
            message: message.into(),
            field: field.into(),
        }
    }
    /// `FieldValueInvalid`.
    pub fn invalid(field: impl Into<String>, message: impl Into<String>) -> Self {
        Self::new("FieldValueInvalid", field, message)
    }
    /// `FieldValueRequired`.
    pub fn required(field: impl Into<String>) -> Self {
        Self::new("FieldValueRequired", field, "Required value")
    }
    /// `FieldValueForbidden`.
    pub fn forbidden(field: impl Into<String>, message: impl Into<String>) -> Self {
        Self::new("FieldValueForbidden", field, message)
    }
    /// `FieldValueNotSupported`.
    pub fn not_supported(field: impl Into<String>, message: impl Into<String>) -> Self {
        Self::new("FieldValueNotSupported", field, message)
    }
    /// `FieldValueTooLong`.
    pub fn too_long(field: impl Into<String>, message: impl Into<String>) -> Self {
        Self::new("FieldValueTooLong", field, message)
    }
    /// `FieldValueDuplicate`.
    pub fn duplicate(field: impl Into<String>, message: impl Into<String>) -> Self {
        Self::new("FieldValueDuplicate", field, message)
    }
    /// The same cause with another message.
    pub fn with_message(mut self, message: impl Into<String>) -> Self {
        self.message = message.into();
        self
    }
    /// Renders as Kubernetes does in a message: `spec.x: Invalid value: ...`.
    pub fn render(&self) -> String {
        let kind = match self.reason.as_str() {
            "FieldValueRequired" => "Required value",
            "FieldValueForbidden" => "Forbidden",
            "FieldValueNotSupported" => "Unsupported value",
            "FieldValueTooLong" => "Too long",
            "FieldValueDuplicate" => "Duplicate value",
            _ => "Invalid value",
        };
        if self.message == kind {
            format!("{}: {}", self.field, kind)
        } else {
            format!("{}: {}: {}", self.field, kind, self.message)
        }
    }
}

/// What went wrong, by meaning; no HTTP knowledge outside [`Error::code`].
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// 400: the request itself is malformed (body, query, content).
    #[error("{message}")]
    BadRequest {
        /// Shown to the client.
        message: String,
    },
    /// 404.
    #[error("{kind} \"{name}\" not found")]
    NotFound {
        /// Resource kind, plural (e.g. `pods`).
        kind: &'static str,
        /// Object name.
        name: String,
    },
    /// 409 AlreadyExists.
    #[error("{kind} \"{name}\" already exists")]
    AlreadyExists {
        /// Resource kind, plural.
        kind: &'static str,
        /// Object name.
        name: String,
    },
    /// 409 Conflict (stale resourceVersion, lost compare-and-swap).
    #[error("{message}")]
    Conflict {
        /// Shown to the client.
        message: String,
    },
    /// 422 Invalid with causes.
    #[error("{kind} \"{name}\" is invalid: {}", render_causes(.causes))]
    Invalid {
        /// Kind, singular and capitalised (`Pod`).
        kind: &'static str,
        /// Object name (may be empty when generated).
        name: String,
        /// Field-level problems.
        causes: Vec<Cause>,
    },
    /// 405 MethodNotAllowed, for verbs k8sless does not offer.
    #[error("{message}")]
    MethodNotAllowed {
        /// Why, and what to use instead.
        message: String,
    },
    /// 413.
    #[error("the request body is larger than the limit of {limit} bytes")]
    TooLarge {
        /// The configured limit.
        limit: usize,
    },
    /// 415.
    #[error(
        "the content type {content_type:?} is not supported; use application/json or application/yaml"
    )]
    UnsupportedMediaType {
        /// What the client sent.
        content_type: String,
    },
    /// 401: no or bad credentials on an authenticated endpoint.
    #[error("{message}")]
    Unauthorized {
        /// Why.
        message: String,
    },
    /// 403: authenticated but not allowed.
    #[error("{message}")]
    Forbidden {
        /// Why.
        message: String,
    },
    /// 410 Expired: a resourceVersion or continue token too old to serve.
    #[error("{message}")]
    Gone {
        /// Why.
        message: String,
    },
    /// 503 with Retry-After: a dependency stayed unavailable after retries.
    #[error("{message}")]
    Unavailable {
        /// Shown to the client.
        message: String,
        /// Seconds for Retry-After.
        retry_after: u32,
    },
    /// 500: a bug or an unexpected dependency answer. The message is logged, not shown.
    #[error("internal error: {internal}")]
    Internal {
        /// Logged only.
        internal: String,
    },
}

fn render_causes(causes: &[Cause]) -> String {
    let parts: Vec<String> = causes.iter().map(Cause::render).collect();
    if parts.len() == 1 {
        parts[0].clone()
    } else {
        format!("[{}]", parts.join(", "))
    }
}

impl Error {
    /// 400 BadRequest.
    pub fn bad_request(message: impl Into<String>) -> Self {
        Error::BadRequest {
            message: message.into(),
        }
    }
    /// 404 for a pod.
    pub fn pod_not_found(name: &str) -> Self {
        Error::NotFound {
            kind: "pods",
            name: name.to_string(),
        }
    }
    /// 422 for a pod.
    pub fn pod_invalid(name: &str, causes: Vec<Cause>) -> Self {
        Error::Invalid {
            kind: "Pod",
            name: name.to_string(),
            causes,
        }
    }
    /// 500; the detail is logged, never returned.
    pub fn internal(internal: impl Into<String>) -> Self {
        Error::Internal {
            internal: internal.into(),
        }
    }
    /// 503 with a default Retry-After.
    pub fn unavailable(message: impl Into<String>) -> Self {
        Error::Unavailable {
            message: message.into(),
            retry_after: 5,
        }
    }

    /// Whether the same request may succeed later (drives Pub/Sub redelivery too).
    pub fn retryable(&self) -> bool {
        matches!(
            self,
            Error::Unavailable { .. } | Error::Internal { .. } | Error::Conflict { .. }
        )
    }

    /// The HTTP status.
    pub fn code(&self) -> StatusCode {
        match self {
            Error::BadRequest { .. } => StatusCode::BAD_REQUEST,
            Error::NotFound { .. } => StatusCode::NOT_FOUND,
            Error::AlreadyExists { .. } | Error::Conflict { .. } => StatusCode::CONFLICT,
            Error::Invalid { .. } => StatusCode::UNPROCESSABLE_ENTITY,
            Error::MethodNotAllowed { .. } => StatusCode::METHOD_NOT_ALLOWED,
            Error::TooLarge { .. } => StatusCode::PAYLOAD_TOO_LARGE,
            Error::UnsupportedMediaType { .. } => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            Error::Unauthorized { .. } => StatusCode::UNAUTHORIZED,
            Error::Forbidden { .. } => StatusCode::FORBIDDEN,
            Error::Gone { .. } => StatusCode::GONE,
            Error::Unavailable { .. } => StatusCode::SERVICE_UNAVAILABLE,
            Error::Internal { .. } => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    /// The Kubernetes `StatusReason`.
    pub fn reason(&self) -> &'static str {
        match self {
            Error::BadRequest { .. } => "BadRequest",
            Error::NotFound { .. } => "NotFound",
            Error::AlreadyExists { .. } => "AlreadyExists",
            Error::Conflict { .. } => "Conflict",
            Error::Invalid { .. } => "Invalid",
            Error::MethodNotAllowed { .. } => "MethodNotAllowed",
            Error::TooLarge { .. } => "RequestEntityTooLarge",
            Error::UnsupportedMediaType { .. } => "UnsupportedMediaType",
            Error::Unauthorized { .. } => "Unauthorized",
            Error::Forbidden { .. } => "Forbidden",
            Error::Gone { .. } => "Expired",
            Error::Unavailable { .. } => "ServiceUnavailable",
            Error::Internal { .. } => "InternalError",
        }
    }

    /// The message shown to clients (internal details stay in the logs).
    pub fn external_message(&self) -> String {
        match self {
            Error::Internal { .. } => "an internal error occurred; it has been logged".to_string(),
            other => other.to_string(),
        }
    }

    /// The Kubernetes `Status` object for this error.
    pub fn to_status(&self) -> serde_json::Value {
        let mut details = serde_json::Map::new();
        match self {
            Error::NotFound { kind, name } | Error::AlreadyExists { kind, name } => {
                details.insert("name".into(), name.clone().into());
                details.insert("kind".into(), (*kind).into());
            }
            Error::Invalid { kind, name, causes } => {
                details.insert("name".into(), name.clone().into());
                details.insert("kind".into(), (*kind).into());
                details.insert(
                    "causes".into(),
                    serde_json::to_value(causes).unwrap_or_default(),
                );
            }
            Error::Unavailable { retry_after, .. } => {
                details.insert("retryAfterSeconds".into(), (*retry_after).into());
            }
            _ => {}
        }
        if matches!(self, Error::NotFound { .. } | Error::AlreadyExists { .. }) {
            details.insert("group".into(), "".into());
        }
        let mut status = serde_json::json!({
            "kind": "Status",
            "apiVersion": "v1",
            "metadata": {},
            "status": "Failure",
            "message": self.external_message(),
            "reason": self.reason(),
            "code": self.code().as_u16(),
        });
        if !details.is_empty() {
            status["details"] = serde_json::Value::Object(details);
        }
        status
    }
}

/// Response extension carrying the internal message so the middleware can log it.
#[derive(Clone, Debug)]
pub struct ErrorLogged(pub String);

impl IntoResponse for Error {
    fn into_response(self) -> Response {
        let body = serde_json::to_vec(&self.to_status()).unwrap_or_default();
        let mut response = (self.code(), body).into_response();
        let headers = response.headers_mut();
        headers.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        );
        if let Error::Unavailable { retry_after, .. } = &self {
            headers.insert(header::RETRY_AFTER, HeaderValue::from(*retry_after));
        }
        response
            .extensions_mut()
            .insert(ErrorLogged(self.to_string()));
        response
    }
}

/// Result alias for API operations.
pub type Result<T, E = Error> = std::result::Result<T, E>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn invalid_renders_causes_like_kubernetes() {
        let err = Error::pod_invalid("x", vec![Cause::required("spec.containers[0].image")]);
        assert_eq!(
            err.to_string(),
            "Pod \"x\" is invalid: spec.containers[0].image: Required value"
        );
        let status = err.to_status();
        assert_eq!(status["code"], 422);
        assert_eq!(status["reason"], "Invalid");
        assert_eq!(
            status["details"]["causes"][0]["field"],
            "spec.containers[0].image"
        );
    }

    #[test]
    fn internal_details_are_not_shown() {
        let err = Error::internal("secret detail");
        assert!(
            !err.to_status()["message"]
                .as_str()
                .unwrap_or("")
                .contains("secret")
        );
    }
}
