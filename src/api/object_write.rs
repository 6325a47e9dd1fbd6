//! What the write handlers of the objects k8sless keeps whole (Namespaces, ResourceQuotas)
//! share: decoding a body as a kind, the patch type of a `PATCH`, the options of a `DELETE`,
//! and the decode → write → respond shape of each ([`ObjectWrite`], the extractor the
//! handlers take), so a handler names only the store call.

use std::future::Future;

use axum::body::Body;
use axum::extract::{FromRequest, FromRequestParts, RawQuery, Request};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::Value;

use super::pods::{json, with_warnings};
use super::{AppState, extract, respond};
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

/// What a write handler of a stored kind takes off its request: `P`, the parts the handler
/// names itself (its path, the caller: any [`FromRequestParts`], `()` for none), then the
/// query string, the headers and the body. Its methods are the decode → write → respond shape
/// of each verb, so a handler names only the store call. Taken apart (`parts`, `query`,
/// `headers`, `body`) by the handlers whose flow is their own (pods, RBAC).
pub(crate) struct ObjectWrite<P = ()> {
    pub(super) parts: P,
    pub(super) state: AppState,
    pub(super) query: Option<String>,
    pub(super) headers: HeaderMap,
    pub(super) body: Body,
}

impl<P> FromRequest<AppState> for ObjectWrite<P>
where
    P: FromRequestParts<AppState> + Send,
    P::Rejection: IntoResponse,
{
    type Rejection = Response;

    async fn from_request(req: Request, state: &AppState) -> std::result::Result<Self, Response> {
        let (mut parts, body) = req.into_parts();
        let own = P::from_request_parts(&mut parts, state)
            .await
            .map_err(IntoResponse::into_response)?;
        let RawQuery(query) = RawQuery::from_request_parts(&mut parts, state)
            .await
            .map_err(IntoResponse::into_response)?;
        Ok(ObjectWrite {
            parts: own,
            state: state.clone(),
            query,
            headers: parts.headers,
            body,
        })
    }
}

impl<P> ObjectWrite<P> {
    /// The pod service, for the store call.
    pub(crate) fn pods(&self) -> crate::pods::Pods {
        self.state.pods.clone()
    }

    /// A create or a replace: the body decoded as a `kind` and handed to `write`, the object
    /// it returns answered with `status` and the unknown-field warnings.
    pub(crate) async fn create_or_replace<K, T, Fut>(
        self,
        kind: &str,
        status: StatusCode,
        write: impl FnOnce(K, DryRun) -> Fut,
    ) -> Response
    where
        K: DeserializeOwned + Serialize,
        T: Serialize,
        Fut: Future<Output = Result<T>>,
    {
        respond(
            async {
                let (obj, warnings, dry_run) = decode_body::<K>(
                    &self.state,
                    self.query.as_deref(),
                    &self.headers,
                    self.body,
                    kind,
                )
                .await?;
                let written = write(obj, dry_run).await?;
                Ok(with_warnings(json(status, &written), &warnings))
            }
            .await,
        )
    }

    /// A `PATCH`: its type and document handed to `apply`, the patched object answered 200.
    pub(crate) async fn patch<T, Fut>(self, apply: impl FnOnce(PatchKind, Value) -> Fut) -> Response
    where
        T: Serialize,
        Fut: Future<Output = Result<T>>,
    {
        respond(
            async {
                let kind = patch_kind(&self.headers)?;
                let document = patch_body(&self.state, &self.headers, self.body).await?;
                let patched = apply(kind, document).await?;
                Ok(json(StatusCode::OK, &patched))
            }
            .await,
        )
    }

    /// A `DELETE`: its `dryRun` and precondition handed to `remove`, the object it returns
    /// answered 200.
    pub(crate) async fn delete<T, Fut>(
        self,
        remove: impl FnOnce(DryRun, Option<String>) -> Fut,
    ) -> Response
    where
        T: Serialize,
        Fut: Future<Output = Result<T>>,
    {
        respond(
            async {
                let (dry_run, resource_version) =
                    delete_options(&self.state, self.query.as_deref(), &self.headers, self.body)
                        .await?;
                let deleted = remove(dry_run, resource_version).await?;
                Ok(json(StatusCode::OK, &deleted))
            }
            .await,
        )
    }
}
