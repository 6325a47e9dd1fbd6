//! The endpoints Google Cloud calls: `POST /pubsub/push` (guest reports, Pub/Sub push or
//! Eventarc), `POST /gc` (Cloud Scheduler) and `POST /events/compute` (Eventarc audit log
//! events, or a Log Router sink through Pub/Sub). Each verifies its caller's OIDC token first,
//! decodes the envelope, and hands the pod layer a report, a collection, or a VM event.
//!
//! Status codes (docs/lifecycle.md): 200 once the change is durable or deliberately ignored;
//! 400 malformed; 401 no or bad caller token; 403 a valid token of another account, or a
//! report whose identity token is not its pod's VM; 503 for transient failures.

use axum::Router;
use axum::extract::{FromRequest, MatchedPath, Request, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use jiff::Timestamp;
use serde_json::json;

use super::object_write::ObjectWrite;
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

/// Largest push body: a Pub/Sub message of the largest size Pub/Sub takes (10 MB), base64 in
/// the push JSON, with room for its attributes.
const PUSH_BODY_LIMIT: usize = 14 * 1024 * 1024;

/// A push from Google Cloud (Pub/Sub, Eventarc): its caller verified as the push identity for
/// the route it came to, then its body read; with the time it arrived.
pub(crate) struct Push {
    state: AppState,
    now: Timestamp,
    headers: HeaderMap,
    body: bytes::Bytes,
}

impl FromRequest<AppState> for Push {
    type Rejection = Response;

    async fn from_request(req: Request, state: &AppState) -> std::result::Result<Self, Response> {
        let request = ObjectWrite::<MatchedPath>::from_request(req, state).await?;
        let path = request.parts.as_str();
        let now = state.lifecycle.clock.now();
        let verified = async {
            state
                .verifier
                .verify_caller(&request.headers, path, now)
                .await?;
            // A report is bounded by what the record keeps (pods/bounds.rs), not refused for its
            // size: a refused push is redelivered for days and the pod's phase would never advance.
            let limit = match path {
                "/pubsub/push" => state.body_limit.max(PUSH_BODY_LIMIT),
                _ => state.body_limit,
            };
            extract::body_bytes(request.body, limit).await
        };
        let body = verified.await.map_err(IntoResponse::into_response)?;
        Ok(Push {
            state: state.clone(),
            now,
            headers: request.headers,
            body,
        })
    }
}

/// `POST /pubsub/push`: a guest's report.
pub(crate) async fn report_push(p: Push) -> Result<Response> {
    let message = pubsub::decode_push(&p.headers, &p.body)?;
    let report = pubsub::decode_report(&message)?;
    let published = message.publish_time.unwrap_or(p.now);
    let identity = p
        .state
        .verifier
        .verify_instance(report.identity_token.as_deref(), published)
        .await?;
    let outcome = p
        .state
        .pods
        .apply_pushed_report(&report, identity.as_ref(), p.now)
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
pub(crate) async fn compute_event_receive(p: Push) -> Result<Response> {
    let project = &p.state.pods.settings().project;
    let Some(incident) = audit::decode_compute_incident(&p.headers, &p.body, project)? else {
        return Ok(merged(&Merge::Ignored("not an event k8sless acts on")));
    };
    let service_account = p.state.lifecycle.service_account.as_deref();
    let outcome = p
        .state
        .pods
        .apply_vm_incident(&incident, service_account, p.now)
        .await?;
    tracing::info!(vm = %incident.instance_name, kind = ?incident.kind, ?outcome, "compute event");
    Ok(merged(&outcome))
}
