//! The Kubernetes API facade: routes, request middleware (trace id, access log, error log, a
//! panic as a 500 Status: [`panic`]; large bodies a few at a time: [`admit`]) and the shared state. Handlers parse, call `pods::`, and render; they never call Compute Engine
//! or the store directly.

pub(crate) mod accept;
pub(crate) mod admit;
pub(crate) mod authz;
pub(crate) mod discovery;
pub(crate) mod discovery_groups;
pub(crate) mod event_table;
pub(crate) mod exec;
pub(crate) mod extract;
pub(crate) mod guest;
pub(crate) mod health;
pub(crate) mod k8s_events;
pub(crate) mod logs;
pub(crate) mod meta;
pub(crate) mod metrics;
pub(crate) mod namespaces;
pub(crate) mod object_read;
pub(crate) mod object_watch;
pub(crate) mod object_write;
pub(crate) mod openapi;
pub(crate) mod openapi_objects;
mod openapi_paths;
mod openapi_rbac;
pub(crate) mod panic;
pub(crate) mod pod_summary;
pub(crate) mod pod_update;
pub(crate) mod pods;
pub(crate) mod portforward;
pub(crate) mod push;
pub(crate) mod quotas;
pub(crate) mod rbac;
pub(crate) mod rbac_table;
pub(crate) mod table;
pub(crate) mod watch;

use std::convert::Infallible;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Instant;

use axum::Router;
use axum::extract::Request;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use futures_util::future::BoxFuture;

use crate::error::{Error, ErrorLogged};
use crate::pods::Pods;

/// Shared by every handler: one `Arc` around [`AppParts`]. axum clones the state into every
/// route's handler and middleware for each request (a dozen clones a `GET`); a clone of the
/// parts themselves was some twenty reference counts bumped and dropped on cache lines every
/// core shares, a tenth of a pod `GET`'s time (perf, docs/benchmarks.md).
#[derive(Debug, Clone)]
pub struct AppState(Arc<AppParts>);

impl From<AppParts> for AppState {
    fn from(parts: AppParts) -> Self {
        AppState(Arc::new(parts))
    }
}

impl std::ops::Deref for AppState {
    type Target = AppParts;

    fn deref(&self) -> &AppParts {
        &self.0
    }
}

/// What the handlers share ([`AppState`] holds it).
#[derive(Debug, Clone)]
pub struct AppParts {
    /// Pod operations.
    pub pods: Pods,
    /// Largest request body.
    pub body_limit: usize,
    /// Where container logs come from.
    pub logs: crate::pods::logs::LogSources,
    /// How often `kubectl logs -f` polls them (`--log-follow-interval`).
    pub log_follow_interval: std::time::Duration,
    /// Set once shutdown begins, so `/readyz` turns 503 and Cloud Run stops routing here.
    pub shutting_down: Arc<std::sync::atomic::AtomicBool>,
    /// Verifies the callers of /pubsub/push, /gc and /events/* (off in dev mode).
    pub verifier: Arc<crate::auth::oidc::Verifier>,
    /// Collection settings, the lifecycle clock, the service's own account.
    pub lifecycle: crate::pods::lifecycle::collect::Lifecycle,
    /// How exec and attach reach each pod's kubelet.
    pub exec: crate::pods::exec::Exec,
    /// Who is calling (`--identity`).
    pub authn: Arc<crate::auth::identity::Authenticator>,
    /// May they (RBAC, `--admins`).
    pub authz: Arc<crate::rbac::Authorizer>,
}

/// The whole API: the Kubernetes routes behind authentication and authorization
/// ([`authz::Checked`]), then the routes with checks of their own (health; Pub/Sub,
/// Scheduler and Eventarc pushes; the guests' uploads).
pub fn router(state: AppState) -> Router {
    assemble(
        kubernetes_routes().route_layer(authz::Guard::of(&state)),
        state,
    )
}

/// [`router`] without authentication and authorization, for the benchmark that measures them
/// (`rbac::bench`); every caller is the dev admin.
#[cfg(test)]
pub(crate) fn router_unchecked(state: AppState) -> Router {
    let admin = |mut request: Request, next: axum::middleware::Next| async move {
        request
            .extensions_mut()
            .insert(crate::auth::identity::User {
                name: crate::auth::identity::DEV_ADMIN.into(),
                groups: vec![crate::auth::identity::MASTERS_GROUP.into()],
            });
        next.run(request).await
    };
    assemble(
        kubernetes_routes().route_layer(axum::middleware::from_fn(admin)),
        state,
    )
}

fn assemble(kubernetes: Router<AppState>, state: AppState) -> Router {
    Router::new().fallback_service(front(kubernetes, state))
}

/// The whole API as the service a listener serves ([`router`] as a [`Front`], without the
/// `Router` around it: `serve` and `dev` hand it to `axum::serve` directly, so a request is
/// routed once).
pub(crate) fn service(state: AppState) -> Front {
    front(
        kubernetes_routes().route_layer(authz::Guard::of(&state)),
        state,
    )
}

fn front(kubernetes: Router<AppState>, state: AppState) -> Front {
    let routes = kubernetes
        .route("/livez", get(health::livez))
        .route("/healthz", get(health::livez))
        .route("/readyz", get(health::readyz))
        .merge(push::routes())
        .merge(guest::routes())
        .fallback(not_found)
        .with_state(state);
    Front { routes }
}

/// The steps around every route, in one future: [`observe`] (the request's context and its
/// log line), then [`panic::catch_panic`], then [`admit::admit`], then the routes. Around the
/// whole router once, not around each route (`Router::layer` clones what it wraps per
/// request, per route the route's whole boxed stack); and one hand-written service, not a
/// `middleware::from_fn` each: every `from_fn` boxes its future and the service it wraps
/// for each request (perf: a fifth of `GET pod`'s allocations, docs/benchmarks.md).
#[derive(Clone, Debug)]
pub(crate) struct Front {
    routes: Router,
}

/// The future of the hand-written services around the routes ([`Front`], the authorization
/// layer's [`authz::Checked`], the test stack's listener): a response, boxed, never an error.
pub(crate) type Answering = BoxFuture<'static, Result<Response, Infallible>>;

impl tower::Service<Request> for Front {
    type Response = Response;
    type Error = Infallible;
    type Future = Answering;

    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        // `Router` is always ready; each call clones it (one reference count).
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, request: Request) -> Self::Future {
        let routes = self.routes.clone();
        Box::pin(async move {
            let routed = |request: Request| answer(routes, request);
            let admitted = |request: Request| admit::admit(request, routed);
            Ok(observe(request, |request| panic::catch_panic(request, admitted)).await)
        })
    }
}

/// The answer of a service that cannot fail (a `Router`, a route), readied and called once.
pub(crate) async fn answer<S>(service: S, request: Request) -> Response
where
    S: tower::Service<Request, Response = Response, Error = Infallible>,
{
    use tower::ServiceExt;
    match service.oneshot(request).await {
        Ok(response) => response,
        Err(never) => match never {},
    }
}

/// Every route of the Kubernetes API (and k8sless' `/pods` shortcut). A route added here is
/// authorized by the attributes `rbac::request_info` resolves from its method and path.
fn kubernetes_routes() -> Router<AppState> {
    pod_routes()
        .merge(object_routes())
        .merge(rbac::routes())
        .merge(discovery_routes())
        .merge(metrics::routes())
}

/// Pods and their subresources.
fn pod_routes() -> Router<AppState> {
    let ns_pods = "/api/v1/namespaces/{namespace}/pods";
    Router::new()
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
            &format!("{ns_pods}/{{name}}/exec"),
            exec::pod_connect("exec"),
        )
        .route(
            &format!("{ns_pods}/{{name}}/attach"),
            exec::pod_connect("attach"),
        )
        .route(
            &format!("{ns_pods}/{{name}}/portforward"),
            get(portforward::pod_portforward).post(portforward::pod_portforward),
        )
        .route(
            &format!("{ns_pods}/{{name}}/{{verb}}"),
            axum::routing::any(meta::pod_unsupported),
        )
}

/// Events, namespaces, quotas and the self reviews.
fn object_routes() -> Router<AppState> {
    Router::new()
        .route(
            "/api/v1/namespaces/{namespace}/events",
            get(k8s_events::event_list),
        )
        .route("/api/v1/events", get(k8s_events::event_list))
        .route(
            "/api/v1/namespaces",
            get(namespaces::namespace_list).post(namespaces::namespace_create),
        )
        .route(
            "/api/v1/namespaces/{namespace}",
            get(namespaces::namespace_view)
                .put(namespaces::namespace_replace)
                .patch(namespaces::namespace_patch)
                .delete(namespaces::namespace_delete),
        )
        .route(
            "/api/v1/namespaces/{namespace}/resourcequotas",
            get(quotas::quota_list).post(quotas::quota_create),
        )
        .route(
            "/api/v1/namespaces/{namespace}/resourcequotas/{name}",
            get(quotas::quota_view)
                .put(quotas::quota_replace)
                .patch(quotas::quota_patch)
                .delete(quotas::quota_delete),
        )
        .route("/api/v1/resourcequotas", get(quotas::quota_list))
        .route(
            "/apis/authorization.k8s.io/v1/selfsubjectaccessreviews",
            axum::routing::post(authz::self_subject_access_review),
        )
        .route(
            "/apis/authorization.k8s.io/v1/selfsubjectrulesreviews",
            axum::routing::post(authz::self_subject_rules_review),
        )
        .route(
            "/apis/authentication.k8s.io/v1/selfsubjectreviews",
            axum::routing::post(authz::self_subject_review),
        )
}

/// Discovery, version and OpenAPI documents.
fn discovery_routes() -> Router<AppState> {
    Router::new()
        .route("/api", get(meta::api))
        .route("/api/", get(meta::api))
        .route("/api/v1", get(meta::api_v1))
        .route("/api/v1/", get(meta::api_v1))
        .route("/apis", get(meta::apis))
        .route("/apis/", get(meta::apis))
        .route("/apis/{group}", get(meta::api_group))
        .route("/apis/{group}/{version}", get(meta::api_group_version))
        .route("/version", get(meta::version))
        .route("/version/", get(meta::version))
        .route("/openapi/v3", get(meta::openapi_root))
        .route("/openapi/v3/api/v1", get(meta::openapi_v1))
        .route(
            "/openapi/v3/apis/rbac.authorization.k8s.io/v1",
            get(meta::openapi_rbac_v1),
        )
}

async fn not_found(uri: axum::http::Uri) -> Error {
    Error::NotFound {
        kind: "path",
        name: uri.path().to_string(),
    }
}

/// Every log line of a request names it (trace id, method, path, caller:
/// [`crate::telemetry::request`], read only when a line is written); a failure logged once,
/// with its internal message and the whole `source()` chain (the response only carries the
/// external message). Nothing else logs an error on its way to the response. A successful
/// request logs at debug level only (`RUST_LOG=debug`): Cloud Run writes a request log of
/// its own for each request, with its status, latency and trace.
async fn observe<F, Fut>(request: Request, next: F) -> Response
where
    F: FnOnce(Request) -> Fut,
    Fut: std::future::Future<Output = Response>,
{
    let headers = request.headers();
    let trace = crate::telemetry::trace_id(
        headers
            .get("x-cloud-trace-context")
            .and_then(|v| v.to_str().ok()),
        headers.get("traceparent").and_then(|v| v.to_str().ok()),
    )
    .unwrap_or_default();
    let context = crate::telemetry::request::RequestContext::new(
        trace,
        request.method().clone(),
        request.uri().path().to_string(),
    );
    crate::telemetry::request::scope(context, async move {
        let started = Instant::now();
        let response = next(request).await;
        log_outcome(&response, started);
        response
    })
    .await
}

/// The line [`observe`] writes once a response is ready.
fn log_outcome(response: &Response, started: Instant) {
    let status = response.status().as_u16();
    let latency_ms = || started.elapsed().as_secs_f64() * 1000.0;
    if let Some(ErrorLogged(internal)) = response.extensions().get::<ErrorLogged>() {
        let error = internal.chain();
        if status >= 500 {
            tracing::error!(status, latency_ms = latency_ms(), %error, "request failed");
        } else {
            tracing::info!(status, latency_ms = latency_ms(), %error, "request rejected");
        }
    } else if tracing::enabled!(tracing::Level::DEBUG) {
        let quiet =
            crate::telemetry::request::with_current(|c| c.path == "/livez" || c.path == "/readyz");
        if quiet != Some(true) {
            tracing::debug!(status, latency_ms = latency_ms(), "request");
        }
    }
}

/// What the middleware can log from the error a response carries ([`ErrorLogged`]): an error
/// value with its `source()` chain, or (until `ErrorLogged` carries the error itself) the
/// message rendered when the response was built.
trait LoggedChain {
    fn chain(&self) -> String;
}

impl LoggedChain for String {
    fn chain(&self) -> String {
        self.clone()
    }
}

impl<E: std::error::Error + 'static> LoggedChain for Arc<E> {
    fn chain(&self) -> String {
        crate::error::chain_of(&**self)
    }
}

/// Renders a result whose Ok is already a response.
pub(crate) fn respond(result: Result<Response, Error>) -> Response {
    result.unwrap_or_else(IntoResponse::into_response)
}

/// Renders a result whose Ok is an object: 200 with it as JSON.
pub(crate) fn respond_ok<T: serde::Serialize>(result: Result<T, Error>) -> Response {
    respond(result.map(|obj| pods::json(axum::http::StatusCode::OK, &obj)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, thiserror::Error)]
    #[error("outer")]
    struct Outer(#[source] std::io::Error);

    #[test]
    fn the_logged_chain_names_every_cause_once() {
        let err = Arc::new(Outer(std::io::Error::other("inner")));
        assert_eq!(err.chain(), "outer: inner");
        assert_eq!("as rendered".to_string().chain(), "as rendered");
    }
}
