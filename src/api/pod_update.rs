//! `PUT` and `PATCH` on a pod and on its `status` subresource.

use axum::body::Body;
use axum::extract::{FromRequest, FromRequestParts, Path, RawQuery, Request, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use k8s_openapi::api::core::v1::Pod;

use super::extract::{self, FieldValidation};
use super::pods::{json, with_warnings};
use super::{AppState, respond};
use crate::codec::strict;
use crate::error::{Error, Result};
use crate::pods::DryRun;
use crate::pods::update::replace::{Part, PatchKind};

/// What a write to one named pod takes off its request: the pod's namespace and name, the
/// query string, the headers and the body.
pub(crate) struct PodWrite {
    state: AppState,
    namespace: String,
    name: String,
    query: Option<String>,
    headers: HeaderMap,
    body: Body,
}

impl FromRequest<AppState> for PodWrite {
    type Rejection = Response;

    async fn from_request(req: Request, state: &AppState) -> std::result::Result<Self, Response> {
        let (mut parts, body) = req.into_parts();
        let Path((namespace, name)) =
            Path::<(String, String)>::from_request_parts(&mut parts, state)
                .await
                .map_err(IntoResponse::into_response)?;
        let RawQuery(query) = RawQuery::from_request_parts(&mut parts, state)
            .await
            .map_err(IntoResponse::into_response)?;
        Ok(PodWrite {
            state: state.clone(),
            namespace,
            name,
            query,
            headers: parts.headers,
            body,
        })
    }
}

/// `PUT .../pods/{name}`.
pub(crate) async fn pod_replace(w: PodWrite) -> Response {
    respond(replace(w, Part::Main).await)
}

/// `PUT .../pods/{name}/status`.
pub(crate) async fn pod_status_replace(w: PodWrite) -> Response {
    respond(replace(w, Part::Status).await)
}

/// `PATCH .../pods/{name}`.
pub(crate) async fn pod_patch(w: PodWrite) -> Response {
    respond(patch(w, Part::Main).await)
}

/// `PATCH .../pods/{name}/status`.
pub(crate) async fn pod_status_patch(w: PodWrite) -> Response {
    respond(patch(w, Part::Status).await)
}

/// `GET .../pods/{name}/status`: the pod.
pub(crate) async fn pod_status_view(
    State(state): State<AppState>,
    Path((namespace, name)): Path<(String, String)>,
) -> Response {
    super::respond_ok(state.pods.get(&namespace, &name).await)
}

async fn replace(w: PodWrite, part: Part) -> Result<Response> {
    let (dry_run, validation) = extract::write_options(w.query.as_deref())?;
    let value = extract::body_value(&w.headers, w.body, w.state.body_limit).await?;
    let (pod, warnings): (Pod, Vec<String>) = extract::decode_object(value, "Pod", validation)?;
    let updated = w
        .state
        .pods
        .replace(&w.namespace, &w.name, pod, part, dry_run)
        .await?;
    Ok(with_warnings(json(StatusCode::OK, &updated), &warnings))
}

async fn patch(w: PodWrite, part: Part) -> Result<Response> {
    let (dry_run, validation) = extract::write_options(w.query.as_deref())?;
    let content_type = extract::media_type_as_sent(&w.headers).to_string();
    if content_type == "application/apply-patch+yaml" && part == Part::Main {
        return server_side_apply(w, dry_run, validation).await;
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
    let value = extract::body_value(&w.headers, w.body, w.state.body_limit).await?;
    let patched = w
        .state
        .pods
        .patch(&w.namespace, &w.name, kind, value, part, dry_run)
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
    w: PodWrite,
    dry_run: DryRun,
    validation: FieldValidation,
) -> Result<Response> {
    let value = extract::body_value(&w.headers, w.body, w.state.body_limit).await?;
    // kubectl's server-side apply defaults to strict field validation.
    let (pod, warnings): (Pod, Vec<String>) =
        extract::decode_object(value.clone(), "Pod", validation)?;
    let applied = w
        .state
        .pods
        .apply(&w.namespace, &w.name, pod, value, dry_run)
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
