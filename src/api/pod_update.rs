//! `PUT` and `PATCH` on a pod and on its `status` subresource.

use axum::body::Body;
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::Response;
use k8s_openapi::api::core::v1::Pod;

use super::extract::{self, FieldValidation};
use super::pods::{json, with_warnings};
use super::{AppState, respond};
use crate::codec::strict;
use crate::error::{Error, Result};
use crate::pods::DryRun;
use crate::pods::update::replace::{Part, PatchKind};

/// `PUT .../pods/{name}`.
pub(crate) async fn pod_replace(
    s: State<AppState>,
    p: Path<(String, String)>,
    q: RawQuery,
    h: HeaderMap,
    b: Body,
) -> Response {
    respond(replace(s.0, p.0, q.0, h, b, Part::Main).await)
}

/// `PUT .../pods/{name}/status`.
pub(crate) async fn pod_status_replace(
    s: State<AppState>,
    p: Path<(String, String)>,
    q: RawQuery,
    h: HeaderMap,
    b: Body,
) -> Response {
    respond(replace(s.0, p.0, q.0, h, b, Part::Status).await)
}

/// `PATCH .../pods/{name}`.
pub(crate) async fn pod_patch(
    s: State<AppState>,
    p: Path<(String, String)>,
    q: RawQuery,
    h: HeaderMap,
    b: Body,
) -> Response {
    respond(patch(s.0, p.0, q.0, h, b, Part::Main).await)
}

/// `PATCH .../pods/{name}/status`.
pub(crate) async fn pod_status_patch(
    s: State<AppState>,
    p: Path<(String, String)>,
    q: RawQuery,
    h: HeaderMap,
    b: Body,
) -> Response {
    respond(patch(s.0, p.0, q.0, h, b, Part::Status).await)
}

/// `GET .../pods/{name}/status`: the pod.
pub(crate) async fn pod_status_view(
    State(state): State<AppState>,
    Path((namespace, name)): Path<(String, String)>,
) -> Response {
    respond(
        state
            .pods
            .get(&namespace, &name)
            .await
            .map(|p| json(StatusCode::OK, &p)),
    )
}

async fn replace(
    state: AppState,
    (namespace, name): (String, String),
    q: Option<String>,
    headers: HeaderMap,
    body: Body,
    part: Part,
) -> Result<Response> {
    let query = extract::query(q.as_deref())?;
    let dry_run = extract::dry_run(&query)?;
    let validation = extract::field_validation(&query)?;
    let bytes = extract::body_bytes(body, state.body_limit).await?;
    let value = extract::parse_value(&headers, &bytes)?;
    let (pod, warnings): (Pod, Vec<String>) = extract::decode_object(value, "Pod", validation)?;
    let updated = state
        .pods
        .replace(&namespace, &name, pod, part, dry_run)
        .await?;
    Ok(with_warnings(json(StatusCode::OK, &updated), &warnings))
}

async fn patch(
    state: AppState,
    (namespace, name): (String, String),
    q: Option<String>,
    headers: HeaderMap,
    body: Body,
    part: Part,
) -> Result<Response> {
    let query = extract::query(q.as_deref())?;
    let dry_run = extract::dry_run(&query)?;
    let validation = extract::field_validation(&query)?;
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_string();
    if content_type == "application/apply-patch+yaml" && part == Part::Main {
        return server_side_apply(state, namespace, name, dry_run, validation, headers, body).await;
    }
    let kind = match content_type.as_str() {
        "application/json-patch+json" => PatchKind::Json,
        "application/merge-patch+json" => PatchKind::Merge,
        "application/strategic-merge-patch+json" => PatchKind::Strategic,
        other => {
            return Err(Error::UnsupportedMediaType {
                content_type: other.to_string(),
            });
        }
    };
    let bytes = extract::body_bytes(body, state.body_limit).await?;
    let value = extract::parse_value(&headers, &bytes)?;
    let patched = state
        .pods
        .patch(&namespace, &name, kind, value, part, dry_run)
        .await?;
    let unknown = &patched.unknown_fields;
    let warnings: Vec<String> = match validation {
        FieldValidation::Strict if !unknown.is_empty() => {
            return Err(Error::bad_request(strict::strict_decoding_message(
                "Pod", unknown,
            )));
        }
        FieldValidation::Warn => unknown
            .iter()
            .map(|f| strict::unknown_field_warning(f))
            .collect(),
        _ => Vec::new(),
    };
    Ok(with_warnings(json(StatusCode::OK, &patched.pod), &warnings))
}

/// Server-side apply (`kubectl apply --server-side`): see [`crate::pods::update::apply`].
async fn server_side_apply(
    state: AppState,
    namespace: String,
    name: String,
    dry_run: DryRun,
    validation: FieldValidation,
    headers: HeaderMap,
    body: Body,
) -> Result<Response> {
    let bytes = extract::body_bytes(body, state.body_limit).await?;
    let value = extract::parse_value(&headers, &bytes)?;
    // kubectl's server-side apply defaults to strict field validation.
    let (pod, warnings): (Pod, Vec<String>) =
        extract::decode_object(value.clone(), "Pod", validation)?;
    let applied = state
        .pods
        .apply(&namespace, &name, pod, value, dry_run)
        .await?;
    let code = if applied.created {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    let warnings = if applied.created {
        [warnings, crate::pods::validate::warnings(&applied.pod)].concat()
    } else {
        warnings
    };
    Ok(with_warnings(json(code, &applied.pod), &warnings))
}
