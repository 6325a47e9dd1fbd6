//! `GET /api/v1/namespaces/{ns}/events` and `/api/v1/events`: the Kubernetes `Event`s of pod
//! records' history ([`crate::pods::events`]), as an `EventList` or, for kubectl, a Table.

use axum::extract::{Path, RawQuery, State};
use axum::http::HeaderMap;
use axum::response::Response;
use k8s_openapi::api::core::v1::Event;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ListMeta;
use serde_json::Value;

use super::event_table::event_table;
use super::pods::table_request;
use super::{AppState, extract, object_read, respond};
use crate::error::Result;
use crate::pods::events::EventFilter;

/// `GET /api/v1/namespaces/{namespace}/events`, and `GET /api/v1/events` (no namespace in
/// the path: every namespace's).
pub(crate) async fn event_list(
    State(state): State<AppState>,
    namespace: Option<Path<String>>,
    RawQuery(q): RawQuery,
    headers: HeaderMap,
) -> Response {
    respond(list(state, namespace.map(|Path(ns)| ns), q, &headers).await)
}

async fn list(
    state: AppState,
    namespace: Option<String>,
    q: Option<String>,
    headers: &HeaderMap,
) -> Result<Response> {
    let query = extract::query(q.as_deref())?;
    let table = table_request(headers, &query)?;
    let selector = query.get("fieldSelector").map(String::as_str).unwrap_or("");
    let filter = EventFilter::parse(selector)?;
    let items = state
        .pods
        .list_events(namespace.as_deref(), &filter)
        .await?;
    let metadata = ListMeta {
        resource_version: Some("0".to_string()),
        ..Default::default()
    };
    Ok(object_read::list_or_table(
        table,
        items,
        metadata,
        |items: &[Event], include, now, meta| {
            let values: Vec<Value> = items
                .iter()
                .filter_map(|e| serde_json::to_value(e).ok())
                .collect();
            event_table(&values, include, now, meta)
        },
    ))
}
