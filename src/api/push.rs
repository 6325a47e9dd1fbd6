//! The endpoints Google Cloud calls: `POST /pubsub/push` (guest reports, Pub/Sub push or
//! Eventarc), `POST /gc` (Cloud Scheduler) and `POST /events/compute` (Eventarc audit log
//! events, or a Log Router sink through Pub/Sub). Each verifies its caller's OIDC token first,
//! decodes the envelope, and hands the pod layer a report, a collection, or a VM event.
//!
//! Status codes (docs/lifecycle.md): 200 once the change is durable or deliberately ignored;
//! 400 malformed; 401 no or bad caller token; 403 a valid token of another account, or a
//! report whose identity token is not its pod's VM; 503 for transient failures.

use axum::Router;
use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use jiff::Timestamp;
use serde_json::json;

use super::{AppState, extract};
use crate::error::Result;
use crate::pods::lifecycle::report::Merge;
use crate::push::{audit, pubsub};

/// The routes of this module (merged into [`super::router`]).
pub(crate) fn routes() -> Router<AppState> {
    Router::new()
        .route("/pubsub/push", post(report_push))
        .route("/gc", post(collection_run))
        .route("/events/compute", post(compute_event_receive))
}

fn merged(outcome: &Merge) -> Response {
    let body = match outcome {
        Merge::Applied => json!({"result": "applied"}),
        Merge::Ignored(why) => json!({"result": "ignored", "reason": why}),
    };
    (StatusCode::OK, axum::Json(body)).into_response()
}

/// Verifies that the caller may `POST` to `path` (Pub/Sub's or Eventarc's push identity), then
/// reads the body; with the time it arrived.
async fn verified_body(
    state: &AppState,
    headers: &HeaderMap,
    path: &str,
    body: Body,
) -> Result<(Timestamp, bytes::Bytes)> {
    let now = state.lifecycle.clock.now();
    state.verifier.verify_caller(headers, path, now).await?;
    Ok((now, extract::body_bytes(body, state.body_limit).await?))
}

/// `POST /pubsub/push`: a guest's report.
pub(crate) async fn report_push(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response> {
    let (now, bytes) = verified_body(&state, &headers, "/pubsub/push", body).await?;
    let message = pubsub::decode_push(&headers, &bytes)?;
    let report = pubsub::decode_report(&message)?;
    let published = message.publish_time.unwrap_or(now);
    let identity = state
        .verifier
        .verify_instance(report.identity_token.as_deref(), published)
        .await?;
    let outcome = state
        .pods
        .apply_pushed_report(&report, identity.as_ref(), now)
        .await?;
    tracing::debug!(
        pod = %format!("{}/{}", report.namespace, report.name),
        sequence = report.sequence,
        message_id = %message.message_id,
        ?outcome,
        "report"
    );
    Ok(merged(&outcome))
}

/// `POST /gc`: one collection pass; answers its summary.
pub(crate) async fn collection_run(
    State(state): State<AppState>,
    headers: HeaderMap,
) -> Result<Response> {
    let now = state.lifecycle.clock.now();
    state.verifier.verify_caller(&headers, "/gc", now).await?;
    let summary = state.pods.collect(&state.lifecycle.collect, now).await?;
    if summary.errors.count > 0 {
        tracing::warn!(errors = ?summary.errors.items, "collection had failures; the next run retries");
    }
    Ok((StatusCode::OK, axum::Json(summary)).into_response())
}

/// `POST /events/compute`: a Compute Engine audit log entry.
pub(crate) async fn compute_event_receive(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response> {
    let (now, bytes) = verified_body(&state, &headers, "/events/compute", body).await?;
    let Some(incident) =
        audit::decode_compute_incident(&headers, &bytes, &state.pods.settings().project)?
    else {
        return Ok(merged(&Merge::Ignored("not an event k8sless acts on")));
    };
    let outcome = state
        .pods
        .apply_vm_incident(&incident, state.lifecycle.service_account.as_deref(), now)
        .await?;
    tracing::info!(vm = %incident.instance_name, kind = ?incident.kind, ?outcome, "compute event");
    Ok(merged(&outcome))
}
