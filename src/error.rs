//! The one error type of the API and its one rendering as a Kubernetes `Status`.
//!
//! Module errors (`GceError`, `StoreError`, validation causes) are mapped into [`Error`] by
//! hand-written `From` impls, so the HTTP policy lives in exactly one place:
//! [`Error::code`] and [`Error::reason`]. `into_response` has no side effects; the request
//! middleware logs failures from the response extension [`ErrorLogged`].

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{ListMeta, Status, StatusDetails};

use crate::gce::GceError;
use crate::store::StoreError;

mod cause;
pub use cause::Cause;

/// The cause an [`Error`] wraps: a module error, kept whole for the log.
pub(crate) type Source = Box<dyn std::error::Error + Send + Sync + 'static>;

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
    #[error("Request entity too large: limit is {limit}")]
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
    /// 401: no identity could be established. kube-apiserver says only `Unauthorized`; the
    /// reason goes to the log through the source chain.
    #[error("Unauthorized")]
    Unauthenticated {
        /// Why the token was refused.
        #[source]
        source: crate::auth::oidc::OidcError,
    },
    /// 403 from the authorizer, as kube-apiserver's `NewForbidden` renders it: the message
    /// (`pods "web" is forbidden: User ...`) and details naming the group, resource and name.
    #[error("{message}")]
    Denied {
        /// The API group.
        group: String,
        /// The resource (plural, without subresource): the Status' `details.kind`.
        resource: String,
        /// The object's name, when the request named one.
        name: String,
        /// The whole message.
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
        /// A continue token the client may use instead (the Status's `metadata.continue`):
        /// kube-apiserver sends one that continues the list inconsistently.
        continue_token: Option<String>,
    },
    /// 503 with Retry-After: a dependency stayed unavailable after retries.
    #[error("{message}")]
    Unavailable {
        /// Shown to the client.
        message: String,
        /// Seconds for Retry-After.
        retry_after: u32,
        /// The dependency's error, logged only.
        #[source]
        source: Option<Source>,
    },
    /// 500: a bug or an unexpected dependency answer. The message is logged, not shown.
    #[error("internal error: {internal}")]
    Internal {
        /// Logged only: what k8sless was doing.
        internal: String,
        /// The error that stopped it, logged only.
        #[source]
        source: Option<Source>,
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
            source: None,
        }
    }
    /// 500 caused by `source`; `doing` says what failed (without repeating the source).
    pub fn internal_from(doing: impl Into<String>, source: impl Into<Source>) -> Self {
        Error::Internal {
            internal: doing.into(),
            source: Some(source.into()),
        }
    }
    /// 503 with a default Retry-After.
    pub fn unavailable(message: impl Into<String>) -> Self {
        Error::Unavailable {
            message: message.into(),
            retry_after: 5,
            source: None,
        }
    }
    /// 503 caused by a dependency's `source`.
    pub fn unavailable_from(message: impl Into<String>, source: impl Into<Source>) -> Self {
        Error::Unavailable {
            message: message.into(),
            retry_after: 5,
            source: Some(source.into()),
        }
    }
    /// 409 Conflict for a pod changed since the client read it.
    pub fn pod_conflict(name: &str) -> Self {
        crate::objects::conflict("pods", name)
    }
    /// A record store failure on pod `name`, by meaning: 409 for a taken name or a lost
    /// compare-and-swap, 404, 503 while Cloud Storage is unavailable, 500 else.
    pub fn pod_store(err: StoreError, name: &str) -> Self {
        match err {
            StoreError::AlreadyExists { .. } => Error::AlreadyExists {
                kind: "pods",
                name: name.to_string(),
            },
            StoreError::NotFound { .. } => Error::pod_not_found(name),
            StoreError::Conflict { .. } => Error::pod_conflict(name),
            err @ StoreError::Unavailable { .. } => Error::unavailable_from(
                "the pod record store (Cloud Storage) is unavailable; retry shortly",
                err,
            ),
            err @ StoreError::Internal { .. } => {
                Error::internal_from("the pod record store failed", err)
            }
        }
    }

    /// The chain of causes, outermost first, as the middleware logs it.
    pub fn chain(&self) -> String {
        chain_of(self)
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
            Error::Unauthorized { .. } | Error::Unauthenticated { .. } => StatusCode::UNAUTHORIZED,
            Error::Forbidden { .. } | Error::Denied { .. } => StatusCode::FORBIDDEN,
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
            Error::Unauthorized { .. } | Error::Unauthenticated { .. } => "Unauthorized",
            Error::Forbidden { .. } | Error::Denied { .. } => "Forbidden",
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
    pub fn status(&self) -> Status {
        let mut details = StatusDetails::default();
        match self {
            Error::NotFound { kind, name } | Error::AlreadyExists { kind, name } => {
                // `kind` is the resource as the message qualifies it (`roles.rbac.authorization.k8s.io`);
                // kube-apiserver's details split it into resource and group.
                let (resource, group) = kind.split_once('.').unwrap_or((kind, ""));
                details.name = Some(name.clone());
                details.kind = Some(resource.to_string());
                details.group = Some(group.to_string());
            }
            Error::Invalid { kind, name, causes } => {
                details.name = Some(name.clone());
                details.kind = Some((*kind).to_string());
                details.causes = Some(causes.iter().map(Cause::to_status_cause).collect());
            }
            Error::Denied {
                group,
                resource,
                name,
                ..
            } => {
                details.group = Some(group.clone());
                details.kind = Some(resource.clone());
                details.name = (!name.is_empty()).then(|| name.clone());
            }
            Error::Unavailable { retry_after, .. } => {
                details.retry_after_seconds = Some(i32::try_from(*retry_after).unwrap_or(i32::MAX));
            }
            _ => {}
        }
        let metadata = match self {
            Error::Gone {
                continue_token: Some(token),
                ..
            } => ListMeta {
                continue_: Some(token.clone()),
                ..Default::default()
            },
            _ => ListMeta::default(),
        };
        Status {
            code: Some(i32::from(self.code().as_u16())),
            details: (details != StatusDetails::default()).then_some(details),
            message: Some(self.external_message()),
            metadata,
            reason: Some(self.reason().to_string()),
            status: Some("Failure".to_string()),
        }
    }

    /// [`Error::status`] as JSON.
    pub fn to_status(&self) -> serde_json::Value {
        serde_json::to_value(self.status()).unwrap_or_default()
    }
}

/// Response extension carrying the internal message and its causes so the middleware can log
/// them, once.
#[derive(Clone, Debug)]
pub(crate) struct ErrorLogged(pub String);

/// An error's message followed by its causes, outermost first: `a: b: c`.
pub(crate) fn chain_of(err: &(dyn std::error::Error + 'static)) -> String {
    let mut out = err.to_string();
    let mut next = err.source();
    while let Some(cause) = next {
        out.push_str(": ");
        out.push_str(&cause.to_string());
        next = cause.source();
    }
    out
}

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
        response.extensions_mut().insert(ErrorLogged(self.chain()));
        response
    }
}

/// A Compute Engine failure, by meaning: 503 while it is unavailable or out of capacity, 409 for
/// a stale fingerprint, 500 else (a permission problem is k8sless' own, not the client's).
impl From<GceError> for Error {
    fn from(err: GceError) -> Self {
        match err {
            GceError::Transient { .. } | GceError::Quota { .. } | GceError::Stockout { .. } => {
                Error::unavailable_from("Compute Engine is unavailable; retry shortly", err)
            }
            GceError::Conflict { ref message, .. } => Error::Conflict {
                message: message.clone(),
            },
            GceError::PermissionDenied { .. } => {
                Error::internal_from("Compute Engine denied k8sless permission", err)
            }
            _ => Error::internal_from("Compute Engine failed", err),
        }
    }
}

/// A record store failure. Records are pods: the pod's name comes from the record's key.
impl From<StoreError> for Error {
    fn from(err: StoreError) -> Self {
        let name = match &err {
            StoreError::AlreadyExists { key, .. }
            | StoreError::NotFound { key, .. }
            | StoreError::Conflict { key, .. } => name_of_key(key).to_string(),
            _ => String::new(),
        };
        Error::pod_store(err, &name)
    }
}

/// `pods/<namespace>/<name>.json` → `<name>`.
fn name_of_key(key: &str) -> &str {
    let last = key.rsplit('/').next().unwrap_or(key);
    last.strip_suffix(".json").unwrap_or(last)
}

/// Result alias for API operations.
pub(crate) type Result<T, E = Error> = std::result::Result<T, E>;

/// A kubelet that could not be reached or refused: 503 (the VM may be booting, stopping or
/// gone; the caller falls back where it can), 500 for a corrupt record's certificates.
impl From<crate::kubelet::KubeletError> for Error {
    fn from(err: crate::kubelet::KubeletError) -> Self {
        use crate::kubelet::KubeletError as K;
        match err {
            K::Credentials { .. } => {
                Error::internal_from("using the pod's kubelet certificates", err)
            }
            K::Status { status: 404, .. } => Error::unavailable_from(
                "the pod's kubelet does not know the container yet; retry shortly",
                err,
            ),
            _ => Error::unavailable_from("the pod's kubelet cannot be reached; retry shortly", err),
        }
    }
}

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
    fn store_errors_map_by_meaning_and_keep_their_cause() {
        let err = Error::from(StoreError::NotFound {
            key: "pods/default/web.json".into(),
        });
        assert_eq!(err.to_string(), "pods \"web\" not found");
        assert_eq!(err.to_status()["details"]["group"], "");
        let err = Error::internal_from("reading", std::io::Error::other("disk on fire"));
        assert_eq!(err.chain(), "internal error: reading: disk on fire");
        assert!(
            !err.to_status()["message"]
                .as_str()
                .unwrap_or("")
                .contains("fire")
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
