//! `metrics.k8s.io/v1beta1` for `kubectl top pod`: `PodMetrics` (one, a namespace's, or all
//! namespaces'), served by `pods::metrics` from each pod's kubelet. The group's discovery
//! documents are `discovery_groups.rs`'.

use axum::extract::{Path, RawQuery, State};
use axum::http::StatusCode;
use axum::response::Response;

use super::pods::{json, list_options};
use super::{AppState, extract, respond, respond_ok};

/// `GET /apis/metrics.k8s.io/v1beta1/namespaces/{namespace}/pods/{name}`.
pub(crate) async fn pod_metrics_view(
    State(state): State<AppState>,
    Path((namespace, name)): Path<(String, String)>,
) -> Response {
    respond_ok(state.pods.pod_metrics(&namespace, &name).await)
}

/// `GET /apis/metrics.k8s.io/v1beta1/namespaces/{namespace}/pods`, and
/// `GET /apis/metrics.k8s.io/v1beta1/pods` (no namespace in the path: every namespace's).
pub(crate) async fn pod_metrics_list(
    State(state): State<AppState>,
    namespace: Option<Path<String>>,
    RawQuery(q): RawQuery,
) -> Response {
    respond(list(state, namespace.map(|Path(ns)| ns), q).await)
}

async fn list(
    state: AppState,
    namespace: Option<String>,
    q: Option<String>,
) -> crate::error::Result<Response> {
    let q = extract::query(q.as_deref())?;
    let opts = list_options(&q)?;
    let metrics = state
        .pods
        .pod_metrics_list(namespace.as_deref(), &opts)
        .await?;
    Ok(json(StatusCode::OK, &metrics))
}

/// The group's routes.
pub(crate) fn routes() -> axum::Router<AppState> {
    use axum::routing::get;
    let base = "/apis/metrics.k8s.io";
    axum::Router::new()
        .route(&format!("{base}/v1beta1/pods"), get(pod_metrics_list))
        .route(
            &format!("{base}/v1beta1/namespaces/{{namespace}}/pods"),
            get(pod_metrics_list),
        )
        .route(
            &format!("{base}/v1beta1/namespaces/{{namespace}}/pods/{{name}}"),
            get(pod_metrics_view),
        )
}
