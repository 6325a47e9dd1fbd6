//! The endpoint a pod's VM calls itself: `PUT /guest/v1/namespaces/{ns}/pods/{name}/logs/
//! {container}?uid=UID`, one container's log when the pod ends (docs/guest-protocol.md).
//!
//! The caller is the VM, authenticated by its instance identity token (`Authorization:
//! Bearer`, audience the service URL, `format=full`), the same token its reports carry; the
//! service writes the object under the pod's uid (`pods::logs::upload`), so the VM's service
//! account needs no Cloud Storage permission at all.
//!
//! # Memory
//! A body is at most [`MAX_LOG_BYTES`] (16 MiB: the guest sends the newest 16 MiB of each
//! log; Cloud Run refuses HTTP/1 requests over 32 MiB) and is held whole until written; at
//! most [`CONCURRENT_UPLOADS`] bodies are read at once (others wait before their body is
//! read), so uploads hold at most 64 MiB of the instance's memory.

use axum::Router;
use axum::body::Body;
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::put;
use serde_json::json;
use tokio::sync::Semaphore;

use super::{AppState, extract, respond};
use crate::error::{Error, Result};
use crate::pods::logs::MAX_LOG_BYTES;
use crate::pods::logs::upload::LogUpload;

/// Uploads whose bodies are read at the same time (per instance).
const CONCURRENT_UPLOADS: usize = 4;
static UPLOADS: Semaphore = Semaphore::const_new(CONCURRENT_UPLOADS);

/// The routes of this module (merged into [`super::router`]).
pub(crate) fn routes() -> Router<AppState> {
    Router::new().route(
        "/guest/v1/namespaces/{namespace}/pods/{name}/logs/{container}",
        put(pod_log_upload),
    )
}

/// `PUT /guest/v1/namespaces/{namespace}/pods/{name}/logs/{container}?uid=UID`.
pub(crate) async fn pod_log_upload(
    State(state): State<AppState>,
    Path((namespace, name, container)): Path<(String, String, String)>,
    RawQuery(q): RawQuery,
    headers: HeaderMap,
    body: Body,
) -> Response {
    respond(upload(state, (namespace, name, container), q, headers, body).await)
}

async fn upload(
    state: AppState,
    (namespace, name, container): (String, String, String),
    q: Option<String>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response> {
    let q = extract::query(q.as_deref())?;
    let uid = q
        .get("uid")
        .filter(|u| !u.is_empty())
        .ok_or_else(|| Error::bad_request("the query parameter uid is required"))?;
    let token = crate::auth::oidc::bearer_token(&headers);
    let now = state.lifecycle.clock.now();
    let identity = state.verifier.verify_instance(token, now).await?;
    let _permit = UPLOADS
        .acquire()
        .await
        .map_err(|_| Error::unavailable("log uploads are closed"))?;
    let data = extract::body_bytes(body, MAX_LOG_BYTES).await?;
    let up = LogUpload {
        namespace: &namespace,
        name: &name,
        uid,
        container: &container,
    };
    let key = state.pods.archive_log(&up, identity.as_ref(), data).await?;
    tracing::debug!(%key, "log archived");
    Ok((
        StatusCode::OK,
        axum::Json(json!({"result": "archived", "object": key})),
    )
        .into_response())
}
