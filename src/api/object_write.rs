//! What the write handlers of the objects k8sless keeps whole (Namespaces, ResourceQuotas)
//! share: decoding a body as a kind, the patch type of a `PATCH`, the options of a `DELETE`,
//! and the decode → write → respond shape of each ([`create_or_replace`], [`patch`],
//! [`delete`]), so a handler names only the store call.

use std::future::Future;

use axum::body::Body;
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::Value;

use super::pods::{json, with_warnings};
use super::{AppState, extract};
use crate::error::{Error, Result};
use crate::pods::DryRun;
use crate::pods::update::replace::PatchKind;

/// The body decoded as a `kind`, the warnings for its unknown fields, and `dryRun`.
pub(crate) async fn decode_body<K: DeserializeOwned + Serialize>(
    state: &AppState,
    q: Option<&str>,
    headers: &HeaderMap,
    body: Body,
    kind: &str,
) -> Result<(K, Vec<String>, DryRun)> {
    let (dry_run, validation) = extract::write_options(q)?;
    let value = extract::body_value(headers, body, state.body_limit).await?;
    let (obj, warnings) = extract::decode_object(value, kind, validation)?;
    Ok((obj, warnings, dry_run))
}

/// The patch type from `Content-Type`; 415 for server-side apply and anything else.
pub(crate) fn patch_kind(headers: &HeaderMap) -> Result<PatchKind> {
    match extract::media_type_as_sent(headers) {
        "application/json-patch+json" => Ok(PatchKind::Json),
        "application/merge-patch+json" => Ok(PatchKind::Merge),
        "application/strategic-merge-patch+json" => Ok(PatchKind::Strategic),
        other => Err(Error::UnsupportedMediaType {
            content_type: other.to_string(),
        }),
    }
}

/// The patch document.
pub(crate) async fn patch_body(state: &AppState, headers: &HeaderMap, body: Body) -> Result<Value> {
    extract::body_value(headers, body, state.body_limit).await
}

/// A `DELETE`'s `dryRun` and `preconditions.resourceVersion` (query or DeleteOptions body).
pub(crate) async fn delete_options(
    state: &AppState,
    q: Option<&str>,
    headers: &HeaderMap,
    body: Body,
) -> Result<(DryRun, Option<String>)> {
    let query = extract::query(q)?;
    let mut dry_run = extract::dry_run(&query)?;
    let mut resource_version = None;
    let bytes = extract::body_bytes(body, state.body_limit).await?;
    if !bytes.iter().all(u8::is_ascii_whitespace) {
        let options: Value = extract::parse_value(headers, &bytes)?;
        if options
            .get("dryRun")
            .and_then(Value::as_array)
            .is_some_and(|d| d.iter().any(|v| v == "All"))
        {
            dry_run = DryRun::All;
        }
        resource_version = options
            .pointer("/preconditions/resourceVersion")
            .and_then(Value::as_str)
            .map(str::to_string);
    }
    Ok((dry_run, resource_version))
}

/// A `POST` or `PUT`: the body decoded as `kind`, handed with its `dryRun` to `write`, and the
/// written object answered with `status` (201 for a create, 200 for a replace) and the
/// warnings for the body's unknown fields.
pub(crate) async fn create_or_replace<K, T, Fut>(
    state: &AppState,
    q: Option<&str>,
    headers: &HeaderMap,
    body: Body,
    kind: &str,
    status: StatusCode,
    write: impl FnOnce(K, DryRun) -> Fut,
) -> Result<Response>
where
    K: DeserializeOwned + Serialize,
    T: Serialize,
    Fut: Future<Output = Result<T>>,
{
    let (obj, warnings, dry_run) = decode_body::<K>(state, q, headers, body, kind).await?;
    let written = write(obj, dry_run).await?;
    Ok(with_warnings(json(status, &written), &warnings))
}

/// A `PATCH`: its type and document handed to `apply`, the patched object answered 200.
pub(crate) async fn patch<T, Fut>(
    state: &AppState,
    headers: &HeaderMap,
    body: Body,
    apply: impl FnOnce(PatchKind, Value) -> Fut,
) -> Result<Response>
where
    T: Serialize,
    Fut: Future<Output = Result<T>>,
{
    let kind = patch_kind(headers)?;
    let document = patch_body(state, headers, body).await?;
    let patched = apply(kind, document).await?;
    Ok(json(StatusCode::OK, &patched))
}

/// A `DELETE`: its `dryRun` and precondition handed to `remove`, the object it returns
/// answered 200.
pub(crate) async fn delete<T, Fut>(
    state: &AppState,
    q: Option<&str>,
    headers: &HeaderMap,
    body: Body,
    remove: impl FnOnce(DryRun, Option<String>) -> Fut,
) -> Result<Response>
where
    T: Serialize,
    Fut: Future<Output = Result<T>>,
{
    let (dry_run, resource_version) = delete_options(state, q, headers, body).await?;
    let deleted = remove(dry_run, resource_version).await?;
    Ok(json(StatusCode::OK, &deleted))
}
