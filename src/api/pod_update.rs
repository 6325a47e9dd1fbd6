//! `PUT` and `PATCH` on a pod and on its `status` subresource.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use k8s_openapi::api::core::v1::Pod;

use super::extract::{self, FieldValidation};
use super::object_write::{ObjectWrite, decode_body, patch_kind};
use super::pods::{json, with_warnings};
use super::{AppState, respond};
use crate::codec::strict;
use crate::error::{Error, Result};
use crate::pods::DryRun;
use crate::pods::update::replace::Part;

/// What a write to one named pod takes off its request: the pod's namespace and name, the
/// query string, the headers and the body.
type PodWrite = ObjectWrite<Path<(String, String)>>;

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
    let Path((namespace, name)) = &w.parts;
    let (pod, warnings, dry_run) =
        decode_body::<Pod>(&w.state, w.query.as_deref(), &w.headers, w.body, "Pod").await?;
    let updated = w
        .state
        .pods
        .replace(namespace, name, pod, part, dry_run)
        .await?;
    Ok(with_warnings(json(StatusCode::OK, &updated), &warnings))
}

async fn patch(w: PodWrite, part: Part) -> Result<Response> {
    let Path((namespace, name)) = &w.parts;
    let (dry_run, validation) = extract::write_options(w.query.as_deref())?;
    if extract::media_type_as_sent(&w.headers) == "application/apply-patch+yaml"
        && part == Part::Main
    {
        return server_side_apply(w, dry_run, validation).await;
    }
    let kind = patch_kind(&w.headers)?;
    let value = extract::body_value(&w.headers, w.body, w.state.body_limit).await?;
    let patched = w
        .state
        .pods
        .patch(namespace, name, kind, value, part, dry_run)
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
    let Path((namespace, name)) = &w.parts;
    let value = extract::body_value(&w.headers, w.body, w.state.body_limit).await?;
    // kubectl's server-side apply defaults to strict field validation.
    let (pod, warnings): (Pod, Vec<String>) =
        extract::decode_object(value.clone(), "Pod", validation)?;
    let applied = w
        .state
        .pods
        .apply(namespace, name, pod, value, dry_run)
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
