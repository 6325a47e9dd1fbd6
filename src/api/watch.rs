//! `?watch=true` on pod lists: newline-delimited watch events over a chunked response. The
//! changes come from [`crate::pods::watch`]; this module renders each as a Kubernetes
//! `WatchEvent` (the pod, or a one-row Table of it), an error as an ERROR event carrying a
//! `Status` (410 Expired for a resume point too old), and bookmarks.

use std::convert::Infallible;
use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::http::{StatusCode, header};
use axum::response::Response;
use k8s_openapi::api::core::v1::Pod;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{ListMeta, WatchEvent};
use serde_json::{Value, json};

use super::AppState;
use super::table::{self, IncludeObject};
use crate::error::{Error, Result};
use crate::pods::crud::read::ListOptions;
use crate::pods::watch::{PodChange, WatchItem, WatchQuery};

/// A watch request.
#[derive(Debug, Clone)]
pub(crate) struct WatchRequest {
    /// Namespace, or all.
    pub namespace: Option<String>,
    /// Selectors.
    pub opts: ListOptions,
    /// Resume point (`None` or 0: from the start).
    pub resource_version: Option<i64>,
    /// When the server ends the stream.
    pub timeout: Duration,
    /// Send BOOKMARK events.
    pub bookmarks: bool,
    /// Send each object as a one-row Table.
    pub table: Option<IncludeObject>,
}

/// Starts the stream.
pub(crate) fn start(state: AppState, req: WatchRequest) -> Result<Response> {
    let table = req.table;
    let changes = state.pods.watch(WatchQuery {
        namespace: req.namespace,
        opts: req.opts,
        resource_version: req.resource_version,
        timeout: req.timeout,
        bookmarks: req.bookmarks,
    });
    let stream = futures_util::stream::unfold(changes, move |mut rx| async move {
        let item = rx.recv().await?;
        Some((Ok::<_, Infallible>(render(item, table)), rx))
    });
    Response::builder()
        .status(StatusCode::OK)
        .header(header::CONTENT_TYPE, "application/json")
        .header(header::CACHE_CONTROL, "no-cache, private")
        .body(Body::from_stream(stream))
        .map_err(|e| Error::internal(e.to_string()))
}

/// One line of the stream.
fn render(item: WatchItem, table: Option<IncludeObject>) -> Bytes {
    let object = |pod: &Pod| object(pod, table);
    match item {
        Ok(PodChange::Added(pod)) => line(&WatchEvent::Added(object(&pod))),
        Ok(PodChange::Modified(pod)) => line(&WatchEvent::Modified(object(&pod))),
        Ok(PodChange::Deleted(pod)) => line(&WatchEvent::Deleted(object(&pod))),
        // k8s-openapi's bookmark carries no kind or apiVersion; clients decode it as a Pod.
        Ok(PodChange::Bookmark { resource_version }) => line(&json!({
            "type": "BOOKMARK",
            "object": {"kind": "Pod", "apiVersion": "v1", "metadata": {
                "resourceVersion": resource_version.to_string(),
                "annotations": {"k8s.io/initial-events-end": "true"}}}
        })),
        Err(e) => line(&json!({"type": "ERROR", "object": e.to_status()})),
    }
}

/// The pod, or a one-row Table of it.
fn object(pod: &Pod, table: Option<IncludeObject>) -> Value {
    match table {
        Some(include) => {
            let meta = ListMeta {
                resource_version: pod.metadata.resource_version.clone(),
                ..Default::default()
            };
            table::pod_table(
                std::slice::from_ref(pod),
                include,
                true,
                jiff::Timestamp::now(),
                meta,
            )
        }
        None => serde_json::to_value(pod).unwrap_or(Value::Null),
    }
}

fn line(v: &impl serde::Serialize) -> Bytes {
    let mut b = serde_json::to_vec(v).unwrap_or_default();
    b.push(b'\n');
    Bytes::from(b)
}
