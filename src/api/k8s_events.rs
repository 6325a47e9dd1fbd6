//! `GET /api/v1/namespaces/{ns}/events` and `/api/v1/events`: the Kubernetes `Event`s of pod
//! records' history ([`crate::pods::events`]), as an `EventList` or, for kubectl, a Table.

use axum::extract::Path;
use axum::response::Response;
use k8s_openapi::api::core::v1::Event;
use serde_json::Value;

use super::event_table::event_table;
use super::object_read::ObjectRead;
use super::respond;
use crate::error::Result;
use crate::pods::events::EventFilter;

/// `GET /api/v1/namespaces/{namespace}/events`, and `GET /api/v1/events` (no namespace in
/// the path: every namespace's).
pub(crate) async fn event_list(read: ObjectRead<Option<Path<String>>>) -> Response {
    respond(list(&read).await)
}

async fn list(read: &ObjectRead<Option<Path<String>>>) -> Result<Response> {
    let namespace = read.parts.as_ref().map(|Path(ns)| ns.as_str());
    let selector = read
        .query
        .get("fieldSelector")
        .map(String::as_str)
        .unwrap_or("");
    let filter = EventFilter::parse(selector)?;
    let items = read.state.pods.list_events(namespace, &filter).await?;
    Ok(read.list(items, 0, |items: &[Event], include, now, meta| {
        let values: Vec<Value> = items
            .iter()
            .filter_map(|e| serde_json::to_value(e).ok())
            .collect();
        event_table(&values, include, now, meta)
    }))
}
