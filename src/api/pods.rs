//! Pod handlers: `pod_create`, `pod_view`, `pod_list`, `pod_delete`.

use axum::body::Body;
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use k8s_openapi::api::core::v1::Pod;
use serde_json::Value;

use super::extract;
use super::{AppState, respond};
use crate::error::{Error, Result};
use crate::pods::read::ListOptions;
use crate::pods::selector::{FieldSelector, LabelSelector};

/// `POST /api/v1/namespaces/{namespace}/pods`.
pub async fn pod_create(
    State(state): State<AppState>,
    Path(namespace): Path<String>,
    RawQuery(q): RawQuery,
    headers: HeaderMap,
    body: Body,
) -> Response {
    respond(create(state, Some(namespace), q, headers, body).await)
}

/// `POST /pods`: the body's namespace, else `default`.
pub async fn pod_create_default(
    State(state): State<AppState>,
    RawQuery(q): RawQuery,
    headers: HeaderMap,
    body: Body,
) -> Response {
    respond(create(state, None, q, headers, body).await)
}

async fn create(
    state: AppState,
    namespace: Option<String>,
    q: Option<String>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response> {
    let query = extract::query(q.as_deref())?;
    let dry_run = extract::dry_run(&query)?;
    let validation = extract::field_validation(&query)?;
    let bytes = extract::body_bytes(body, state.body_limit).await?;
    let value = extract::parse_value(&headers, &bytes)?;
    let (pod, warnings): (Pod, Vec<String>) = extract::decode_object(value, "Pod", validation)?;
    let created = state
        .pods
        .create(namespace.as_deref(), pod, dry_run)
        .await?;
    Ok(with_warnings(
        json(StatusCode::CREATED, &created),
        &warnings,
    ))
}

/// `GET /api/v1/namespaces/{namespace}/pods/{name}`.
pub async fn pod_view(
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

/// `GET /api/v1/namespaces/{namespace}/pods`.
pub async fn pod_list(
    State(state): State<AppState>,
    Path(namespace): Path<String>,
    RawQuery(q): RawQuery,
) -> Response {
    respond(list(state, Some(namespace), q).await)
}

/// `GET /api/v1/pods`.
pub async fn pod_list_all(State(state): State<AppState>, RawQuery(q): RawQuery) -> Response {
    respond(list(state, None, q).await)
}

/// `GET /pods`: the default namespace.
pub async fn pod_list_default(State(state): State<AppState>, RawQuery(q): RawQuery) -> Response {
    respond(list(state, Some("default".into()), q).await)
}

async fn list(state: AppState, namespace: Option<String>, q: Option<String>) -> Result<Response> {
    let query = extract::query(q.as_deref())?;
    let opts = list_options(&query)?;
    let page = state.pods.list(namespace.as_deref(), &opts).await?;
    Ok(json(StatusCode::OK, &page.to_json()))
}

/// List options from a query map.
pub fn list_options(query: &std::collections::HashMap<String, String>) -> Result<ListOptions> {
    let limit = match query.get("limit").map(String::as_str) {
        None | Some("") => 0,
        Some(l) => l
            .parse::<i64>()
            .map_err(|_| Error::bad_request(format!("invalid limit {l:?}")))?
            .max(0) as usize,
    };
    Ok(ListOptions {
        labels: LabelSelector::parse(query.get("labelSelector").map(String::as_str).unwrap_or(""))?,
        fields: FieldSelector::parse(query.get("fieldSelector").map(String::as_str).unwrap_or(""))?,
        limit,
        continue_token: query.get("continue").filter(|c| !c.is_empty()).cloned(),
    })
}

/// `DELETE /api/v1/namespaces/{namespace}/pods/{name}`.
pub async fn pod_delete(
    State(state): State<AppState>,
    Path((namespace, name)): Path<(String, String)>,
    RawQuery(q): RawQuery,
    headers: HeaderMap,
    body: Body,
) -> Response {
    respond(delete(state, namespace, name, q, headers, body).await)
}

async fn delete(
    state: AppState,
    namespace: String,
    name: String,
    q: Option<String>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response> {
    let query = extract::query(q.as_deref())?;
    let mut dry_run = extract::dry_run(&query)?;
    let mut grace = match query.get("gracePeriodSeconds") {
        Some(g) => Some(
            g.parse::<i64>()
                .map_err(|_| Error::bad_request(format!("invalid gracePeriodSeconds {g:?}")))?,
        ),
        None => None,
    };
    // kubectl sends DeleteOptions in the body.
    let bytes = extract::body_bytes(body, state.body_limit).await?;
    if !bytes.iter().all(u8::is_ascii_whitespace) {
        let options: Value = extract::parse_value(&headers, &bytes)?;
        if let Some(g) = options.get("gracePeriodSeconds").and_then(Value::as_i64) {
            grace = Some(g);
        }
        if options
            .get("dryRun")
            .and_then(Value::as_array)
            .is_some_and(|d| d.iter().any(|v| v == "All"))
        {
            dry_run = crate::pods::DryRun::All;
        }
    }
    let pod = state.pods.delete(&namespace, &name, grace, dry_run).await?;
    Ok(json(StatusCode::OK, &pod))
}

/// A JSON response.
pub fn json<T: serde::Serialize>(status: StatusCode, value: &T) -> Response {
    match serde_json::to_vec(value) {
        Ok(body) => (
            status,
            [(axum::http::header::CONTENT_TYPE, "application/json")],
            body,
        )
            .into_response(),
        Err(e) => Error::internal(format!("encoding response: {e}")).into_response(),
    }
}

/// Adds `Warning: 299 - "..."` headers, as the API server does.
pub fn with_warnings(mut response: Response, warnings: &[String]) -> Response {
    for w in warnings {
        let text = format!("299 - \"{}\"", w.replace('"', "\\\""));
        if let Ok(v) = HeaderValue::from_str(&text) {
            response
                .headers_mut()
                .append(axum::http::header::WARNING, v);
        }
    }
    response
}
