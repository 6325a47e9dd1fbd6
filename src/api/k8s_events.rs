//! `GET /api/v1/namespaces/{ns}/events` and `/api/v1/events`: the Kubernetes `Event`s of pod
//! records' history ([`crate::pods::events`]), as an `EventList` or, for kubectl, a Table.

use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use k8s_openapi::List;
use k8s_openapi::api::core::v1::Event;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ListMeta;
use serde_json::Value;

use super::event_table::event_table;
use super::pods::{json as json_response, table_request, table_response};
use super::{AppState, extract, respond};
use crate::error::Result;
use crate::pods::events::EventFilter;

/// `GET /api/v1/namespaces/{namespace}/events`.
pub(crate) async fn event_list(
    State(state): State<AppState>,
    Path(namespace): Path<String>,
    RawQuery(q): RawQuery,
    headers: HeaderMap,
) -> Response {
    respond(list(state, Some(namespace), q, &headers).await)
}

/// `GET /api/v1/events`.
pub(crate) async fn event_list_all(
    State(state): State<AppState>,
    RawQuery(q): RawQuery,
    headers: HeaderMap,
) -> Response {
    respond(list(state, None, q, &headers).await)
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
    if let Some((version, include)) = table {
        let values: Vec<Value> = items
            .iter()
            .filter_map(|e| serde_json::to_value(e).ok())
            .collect();
        return Ok(table_response(
            version,
            event_table(&values, include, jiff::Timestamp::now(), metadata),
        ));
    }
    let list: List<Event> = List { items, metadata };
    Ok(json_response(StatusCode::OK, &list))
}
