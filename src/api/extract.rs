//! Request decoding with Kubernetes semantics: query strings, `dryRun`, `fieldValidation` and
//! bounded bodies. The body formats themselves (JSON, YAML, strict fields) are
//! [`crate::codec`]'s; this module only takes them off the HTTP request. Every failure is an
//! [`Error`], so it renders as a `Status`.

use std::collections::HashMap;

use axum::body::Body;
use axum::http::{HeaderMap, header};
use serde_json::Value;

pub(crate) use crate::codec::decode::{FieldValidation, decode_object};
use crate::error::{Error, Result};
use crate::pods::DryRun;

/// The request's `Accept` header, for content negotiation: the handlers that read no other
/// header take this, not a `HeaderMap`, which as an extractor copies every header (perf on
/// `GET pod`, docs/benchmarks.md). The value is a reference count on the request's buffer.
#[derive(Debug, Default)]
pub(crate) struct Accept(Option<axum::http::HeaderValue>);

impl Accept {
    /// The header as text; absent or not visible ASCII is `""` (any media type).
    pub(crate) fn text(&self) -> &str {
        header_text(self.0.as_ref())
    }
}

impl<S: Send + Sync> axum::extract::FromRequestParts<S> for Accept {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(
        parts: &mut axum::http::request::Parts,
        _: &S,
    ) -> std::result::Result<Self, Self::Rejection> {
        Ok::<_, Self::Rejection>(Accept(parts.headers.get(header::ACCEPT).cloned()))
    }
}

/// What [`Accept::text`] reads, from `headers`.
pub(crate) fn accept_of(headers: &HeaderMap) -> &str {
    header_text(headers.get(header::ACCEPT))
}

/// A header's value as text; absent or not visible ASCII is `""`.
fn header_text(value: Option<&axum::http::HeaderValue>) -> &str {
    value.and_then(|v| v.to_str().ok()).unwrap_or("")
}

/// The query string as a map (last value wins).
pub(crate) fn query(raw: Option<&str>) -> Result<HashMap<String, String>> {
    let pairs: Vec<(String, String)> = serde_urlencoded::from_str(raw.unwrap_or(""))
        .map_err(|e| Error::bad_request(format!("invalid query string: {e}")))?;
    Ok(pairs.into_iter().collect())
}

/// A boolean query parameter as kube-apiserver parses it (Go's `strconv.ParseBool`): clients
/// send `true`, `True` or `1` (the Python client Airflow pins sends `follow=True`).
pub(crate) fn flag(q: &HashMap<String, String>, k: &str) -> bool {
    q.get(k)
        .is_some_and(|v| matches!(v.as_str(), "1" | "t" | "T" | "true" | "True" | "TRUE"))
}

/// A watch's `timeoutSeconds`, or `default` when the client sent none; 400 when it is not a
/// whole number of seconds.
pub(crate) fn timeout_seconds(
    q: &HashMap<String, String>,
    default: std::time::Duration,
) -> Result<std::time::Duration> {
    match q.get("timeoutSeconds") {
        Some(t) => t
            .parse::<u64>()
            .map(std::time::Duration::from_secs)
            .map_err(|_| Error::bad_request(format!("invalid timeoutSeconds {t:?}"))),
        None => Ok(default),
    }
}

/// `dryRun=All` (anything else but empty is a 400, as in Kubernetes).
pub(crate) fn dry_run(q: &HashMap<String, String>) -> Result<DryRun> {
    match q.get("dryRun").map(String::as_str) {
        None | Some("") => Ok(DryRun::No),
        Some("All") => Ok(DryRun::All),
        Some(other) => Err(Error::bad_request(format!(
            "Invalid dry run value {other:?}: only \"All\" is supported"
        ))),
    }
}

/// Parses `fieldValidation`.
pub(crate) fn field_validation(q: &HashMap<String, String>) -> Result<FieldValidation> {
    match q.get("fieldValidation").map(String::as_str) {
        None | Some("") | Some("Warn") => Ok(FieldValidation::Warn),
        Some("Strict") => Ok(FieldValidation::Strict),
        Some("Ignore") => Ok(FieldValidation::Ignore),
        Some(other) => Err(Error::bad_request(format!(
            "fieldValidation must be one of \"Ignore\", \"Warn\", or \"Strict\", got {other:?}"
        ))),
    }
}

/// The options of a write from its query string: `dryRun` and `fieldValidation`.
pub(crate) fn write_options(raw: Option<&str>) -> Result<(DryRun, FieldValidation)> {
    let q = query(raw)?;
    Ok((dry_run(&q)?, field_validation(&q)?))
}

/// At most `limit` bytes of body, parsed as JSON or YAML by the request's Content-Type.
pub(crate) async fn body_value(headers: &HeaderMap, body: Body, limit: usize) -> Result<Value> {
    let bytes = body_bytes(body, limit).await?;
    parse_value(headers, &bytes)
}

/// Reads at most `limit` bytes of body.
pub(crate) async fn body_bytes(body: Body, limit: usize) -> Result<bytes::Bytes> {
    axum::body::to_bytes(body, limit).await.map_err(|e| {
        let too_large = std::error::Error::source(&e)
            .is_some_and(|s| s.to_string().contains("length limit"))
            || e.to_string().contains("length limit");
        if too_large {
            Error::TooLarge { limit }
        } else {
            Error::bad_request(format!("reading the request body: {e}"))
        }
    })
}

/// The media type of the request: Content-Type without parameters, lowercase.
pub(crate) fn media_type(headers: &HeaderMap) -> String {
    media_type_as_sent(headers).to_ascii_lowercase()
}

/// The media type of the request: Content-Type without parameters, as sent.
pub(crate) fn media_type_as_sent(headers: &HeaderMap) -> &str {
    headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
}

/// Parses a JSON or YAML body by the request's Content-Type (see
/// [`crate::codec::decode::parse_value`]).
pub fn parse_value(headers: &HeaderMap, body: &[u8]) -> Result<Value> {
    crate::codec::decode::parse_value(&media_type(headers), body)
}
