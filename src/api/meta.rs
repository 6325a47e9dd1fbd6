//! Discovery (`/api`, `/api/v1`, `/apis`, `/version`), OpenAPI v3, and clear answers for what
//! k8sless does not proxy (the pod proxy).

use axum::body::Body;
use axum::extract::{Path, RawQuery};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;

use super::extract::accept_of;
use super::{discovery, openapi};
use crate::error::Error;

/// `value` as JSON with `content_type`; discovery answers vary by `Accept`.
fn json_with(content_type: &str, value: &impl Serialize) -> Response {
    let body = serde_json::to_vec(value).unwrap_or_default();
    (
        StatusCode::OK,
        [
            (header::CONTENT_TYPE, content_type.to_string()),
            (header::VARY, "Accept".to_string()),
        ],
        body,
    )
        .into_response()
}

/// The aggregated discovery document when `Accept` asks for it, else the plain one.
fn by_accept<A: Serialize, P: Serialize>(
    headers: &HeaderMap,
    aggregated: impl FnOnce() -> A,
    plain: impl FnOnce() -> P,
) -> Response {
    if discovery::wants_aggregated(accept_of(headers)) {
        json_with(discovery::AGGREGATED_DISCOVERY_CONTENT_TYPE, &aggregated())
    } else {
        json_with("application/json", &plain())
    }
}

/// `GET /api`.
pub(crate) async fn api(headers: HeaderMap) -> Response {
    by_accept(
        &headers,
        discovery::aggregated_discovery_v2,
        discovery::api_versions,
    )
}

/// `GET /apis`: the named groups (`discovery_groups`).
pub(crate) async fn apis(headers: HeaderMap) -> Response {
    by_accept(
        &headers,
        super::discovery_groups::aggregated,
        super::discovery_groups::api_group_list,
    )
}

/// `GET /apis/{group}`.
pub(crate) async fn api_group(Path(group): Path<String>) -> Response {
    match super::discovery_groups::api_group_of(&group) {
        Some(doc) => json_with("application/json", &doc),
        None => Error::NotFound {
            kind: "path",
            name: format!("/apis/{group}"),
        }
        .into_response(),
    }
}

/// `GET /apis/{group}/{version}`.
pub(crate) async fn api_group_version(Path((group, version)): Path<(String, String)>) -> Response {
    match super::discovery_groups::api_resource_list(&group, &version) {
        Some(doc) => json_with("application/json", &doc),
        None => Error::NotFound {
            kind: "path",
            name: format!("/apis/{group}/{version}"),
        }
        .into_response(),
    }
}

/// `GET /api/v1`.
pub(crate) async fn api_v1() -> Response {
    json_with("application/json", &discovery::api_resource_list_v1())
}

/// `GET /version`.
pub(crate) async fn version() -> Response {
    json_with("application/json", &discovery::version_info())
}

/// `GET /openapi/v3`.
pub(crate) async fn openapi_root() -> Response {
    json_with("application/json", &openapi::openapi_v3_root())
}

/// `GET /openapi/v3/apis/rbac.authorization.k8s.io/v1`.
pub(crate) async fn openapi_rbac_v1() -> Response {
    Response::builder()
        .status(StatusCode::OK)
        .header(header::CONTENT_TYPE, "application/json")
        .header(header::ETAG, format!("\"{}\"", super::openapi_rbac::hash()))
        .body(Body::from(super::openapi_rbac::document_json()))
        .unwrap_or_else(|e| Error::internal(e.to_string()).into_response())
}

/// `GET /openapi/v3/api/v1`.
pub(crate) async fn openapi_v1(RawQuery(q): RawQuery) -> Response {
    let hash = openapi::openapi_v3_hash();
    let pinned = q
        .as_deref()
        .is_some_and(|q| q.split('&').any(|kv| kv == format!("hash={hash}")));
    let cache = if pinned {
        "public, immutable"
    } else {
        "no-cache, private"
    };
    Response::builder()
        .status(StatusCode::OK)
        .header(header::CONTENT_TYPE, "application/json")
        .header(header::ETAG, format!("\"{hash}\""))
        .header(header::CACHE_CONTROL, cache)
        .body(Body::from(openapi::openapi_v3_api_v1_json()))
        .unwrap_or_else(|e| Error::internal(e.to_string()).into_response())
}

/// The pod `proxy` subresource (exec, attach and portforward have their own routes,
/// [`super::exec`], [`super::portforward`]): a Status that says why not and what to use
/// instead.
pub(crate) async fn pod_unsupported(
    Path((_namespace, name, verb)): Path<(String, String, String)>,
) -> Error {
    if verb != "proxy" {
        return Error::NotFound {
            kind: "pods subresource",
            name: verb,
        };
    }
    Error::MethodNotAllowed {
        message: format!(
            "proxy to pod {name:?} is not supported by k8sless: the service proxies exec, attach, logs and \
             port-forward to the pod's kubelet, not HTTP to its ports. Run `kubectl port-forward` to reach a port."
        ),
    }
}
