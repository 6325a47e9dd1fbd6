//! `PUT` and `PATCH` on a pod and on its `status` subresource.

use axum::body::Body;
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::Response;
use k8s_openapi::api::core::v1::Pod;

use super::extract::{self, FieldValidation};
use super::pods::{json, with_warnings};
use super::{AppState, respond, strict};
use crate::error::{Error, Result};
use crate::pods::replace::{Part, PatchKind};

/// `PUT .../pods/{name}`.
pub async fn pod_replace(
    s: State<AppState>,
    p: Path<(String, String)>,
    q: RawQuery,
    h: HeaderMap,
    b: Body,
) -> Response {
    respond(replace(s.0, p.0, q.0, h, b, Part::Main).await)
}

/// `PUT .../pods/{name}/status`.
pub async fn pod_status_replace(
    s: State<AppState>,
    p: Path<(String, String)>,
    q: RawQuery,
    h: HeaderMap,
    b: Body,
) -> Response {
    respond(replace(s.0, p.0, q.0, h, b, Part::Status).await)
}

/// `PATCH .../pods/{name}`.
pub async fn pod_patch(
    s: State<AppState>,
    p: Path<(String, String)>,
    q: RawQuery,
    h: HeaderMap,
    b: Body,
) -> Response {
    respond(patch(s.0, p.0, q.0, h, b, Part::Main).await)
}

/// `PATCH .../pods/{name}/status`.
pub async fn pod_status_patch(
    s: State<AppState>,
    p: Path<(String, String)>,
    q: RawQuery,
    h: HeaderMap,
    b: Body,
) -> Response {
    respond(patch(s.0, p.0, q.0, h, b, Part::Status).await)
}

/// `GET .../pods/{name}/status`: the pod.
pub async fn pod_status_view(
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
    let (pod, unknown) = state
        .pods
        .patch(&namespace, &name, kind, value, part, dry_run)
        .await?;
    let warnings: Vec<String> = match validation {
        FieldValidation::Strict if !unknown.is_empty() => {
            return Err(Error::bad_request(strict::strict_decoding_message(
                "Pod", &unknown,
            )));
        }
        FieldValidation::Warn => unknown
            .iter()
            .map(|f| strict::unknown_field_warning(f))
            .collect(),
        _ => Vec::new(),
    };
    Ok(with_warnings(json(StatusCode::OK, &pod), &warnings))
}

/// Server-side apply (`kubectl apply --server-side`): creates the pod when absent, else merges
/// the applied configuration into it with the pod's strategic merge rules.
///
/// # Caveats
/// k8sless keeps no `managedFields`: a field dropped from the applied configuration is not
/// removed, and conflicts between field managers are not detected. For pods, whose spec is
/// immutable after creation, that leaves metadata: remove a label with `kubectl label pod x key-`.
async fn server_side_apply(
    state: AppState,
    namespace: String,
    name: String,
    dry_run: crate::pods::DryRun,
    validation: FieldValidation,
    headers: HeaderMap,
    body: Body,
) -> Result<Response> {
    let bytes = extract::body_bytes(body, state.body_limit).await?;
    let value = extract::parse_value(&headers, &bytes)?;
    // kubectl's server-side apply defaults to strict field validation.
    let (pod, warnings): (Pod, Vec<String>) =
        extract::decode_object(value.clone(), "Pod", validation)?;
    if pod.metadata.name.as_deref().is_some_and(|n| n != name) {
        return Err(Error::bad_request(format!(
            "the name of the object ({}) does not match the name on the URL ({name})",
            pod.metadata.name.as_deref().unwrap_or("")
        )));
    }
    match state.pods.get(&namespace, &name).await {
        Err(Error::NotFound { .. }) => {
            let warnings = [warnings, crate::pods::validate::warnings(&pod)].concat();
            let created = state.pods.create(Some(&namespace), pod, dry_run).await?;
            Ok(with_warnings(
                json(StatusCode::CREATED, &created),
                &warnings,
            ))
        }
        Err(e) => Err(e),
        Ok(_) => {
            let (updated, _) = state
                .pods
                .patch(
                    &namespace,
                    &name,
                    PatchKind::Strategic,
                    value,
                    Part::Main,
                    dry_run,
                )
                .await?;
            Ok(with_warnings(json(StatusCode::OK, &updated), &warnings))
        }
    }
}
