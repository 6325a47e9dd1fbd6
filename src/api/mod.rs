//! The Kubernetes API facade: routes, request middleware (trace id, access log, error log) and
//! the shared state. Handlers parse, call `pods::`, and render; they never call Compute Engine
//! or the store directly.

pub mod accept;
pub mod discovery;
pub mod event_table;
pub mod events;
pub mod extract;
pub mod health;
pub mod k8s_events;
pub mod logs;
pub mod meta;
pub mod namespaces;
pub mod openapi;
mod openapi_paths;
pub mod pod_summary;
pub mod pod_update;
pub mod pods;
pub mod strict;
pub mod table;
pub mod watch;

use std::sync::Arc;
use std::time::Instant;

use axum::Router;
use axum::extract::{Request, State};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use tracing::Instrument;

use crate::error::{Error, ErrorLogged};
use crate::pods::Pods;

/// Shared by every handler.
#[derive(Debug, Clone)]
pub struct AppState {
    /// Pod operations.
    pub pods: Pods,
    /// Largest request body.
    pub body_limit: usize,
    /// Where container logs come from.
    pub logs: crate::pods::logs::LogSources,
    /// Set once shutdown begins, so `/readyz` turns 503 and Cloud Run stops routing here.
    pub shutting_down: Arc<std::sync::atomic::AtomicBool>,
    /// Verifies the callers of /pubsub/push, /gc and /events/* (off in dev mode).
    pub verifier: Arc<crate::events::oidc::Verifier>,
    /// Collection settings, the lifecycle clock, the service's own account.
    pub lifecycle: crate::pods::collect::Lifecycle,
}

/// The whole API.
pub fn router(state: AppState) -> Router {
    let ns_pods = "/api/v1/namespaces/{namespace}/pods";
    Router::new()
        .route("/livez", get(health::livez))
        .route("/healthz", get(health::livez))
        .route("/readyz", get(health::readyz))
        .route(
            "/pods",
            get(pods::pod_list_default).post(pods::pod_create_default),
        )
        .route("/api/v1/pods", get(pods::pod_list_all))
        .route(ns_pods, get(pods::pod_list).post(pods::pod_create))
        .route(
            &format!("{ns_pods}/{{name}}"),
            get(pods::pod_view)
                .delete(pods::pod_delete)
                .put(pod_update::pod_replace)
                .patch(pod_update::pod_patch),
        )
        .route(
            &format!("{ns_pods}/{{name}}/status"),
            get(pod_update::pod_status_view)
                .put(pod_update::pod_status_replace)
                .patch(pod_update::pod_status_patch),
        )
        .route(&format!("{ns_pods}/{{name}}/log"), get(logs::pod_log))
        .route(
            &format!("{ns_pods}/{{name}}/{{verb}}"),
            axum::routing::any(meta::pod_unsupported),
        )
        .route(
            "/api/v1/namespaces/{namespace}/events",
            get(k8s_events::event_list),
        )
        .route("/api/v1/events", get(k8s_events::event_list_all))
        .route(
            "/api/v1/namespaces",
            get(namespaces::namespace_list).fallback(namespaces::namespace_unsupported),
        )
        .route(
            "/api/v1/namespaces/{namespace}",
            get(namespaces::namespace_view).fallback(namespaces::namespace_unsupported),
        )
        .route("/api", get(meta::api))
        .route("/api/", get(meta::api))
        .route("/api/v1", get(meta::api_v1))
        .route("/api/v1/", get(meta::api_v1))
        .route("/apis", get(meta::apis))
        .route("/apis/", get(meta::apis))
        .route("/version", get(meta::version))
        .route("/version/", get(meta::version))
        .route("/openapi/v3", get(meta::openapi_root))
        .route("/openapi/v3/api/v1", get(meta::openapi_v1))
        .merge(events::routes())
        .fallback(not_found)
        .layer(middleware::from_fn(observe))
        .with_state(state)
}

async fn not_found(method: axum::http::Method, uri: axum::http::Uri) -> Error {
    let _ = method;
    Error::NotFound {
        kind: "path",
        name: uri.path().to_string(),
    }
}

/// One span per request with the trace id; one access log line; errors logged with their
/// internal message (the response only carries the external one).
async fn observe(request: Request, next: Next) -> Response {
    let headers = request.headers();
    let trace = crate::telemetry::trace_id(
        headers
            .get("x-cloud-trace-context")
            .and_then(|v| v.to_str().ok()),
        headers.get("traceparent").and_then(|v| v.to_str().ok()),
    )
    .unwrap_or_default();
    let method = request.method().clone();
    let path = request.uri().path().to_string();
    let span = tracing::info_span!("request", trace = %trace, method = %method, path = %path);
    let started = Instant::now();
    let response = next.run(request).instrument(span.clone()).await;
    let status = response.status().as_u16();
    let latency_ms = started.elapsed().as_secs_f64() * 1000.0;
    span.in_scope(|| {
        if let Some(ErrorLogged(internal)) = response.extensions().get::<ErrorLogged>() {
            if status >= 500 {
                tracing::error!(status, latency_ms, error = %internal, "request failed");
            } else {
                tracing::info!(status, latency_ms, error = %internal, "request rejected");
            }
        } else if path != "/livez" && path != "/readyz" {
            tracing::debug!(status, latency_ms, "request");
        }
    });
    response
}

/// Renders a result whose Ok is already a response.
pub fn respond(result: Result<Response, Error>) -> Response {
    result.unwrap_or_else(IntoResponse::into_response)
}

/// For handlers that need the state only.
pub type St = State<AppState>;
