//! `/api/v1/namespaces[/{name}]`: create, get, list, replace, patch and delete namespaces
//! ([`crate::pods::namespaces`]), as a `NamespaceList`, one `Namespace`, or the `Table`
//! `kubectl get ns` prints (NAME STATUS AGE, as kube-apiserver's namespace columns).
//!
//! `?watch=true` on the list answers the current namespaces as `ADDED` events and then ends the
//! stream at `timeoutSeconds` (default 30 s, at most 5 minutes), as a watch that saw no change;
//! clients re-list and re-watch then. Nothing is sent for a namespace that changes while the
//! stream is open: `kubectl delete namespace` waits by polling `GET`, which sees the change.

use std::time::Duration;

use axum::body::Body;
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use k8s_openapi::List;
use k8s_openapi::api::core::v1::Namespace;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{ListMeta, WatchEvent};
use serde_json::{Value, json};

use super::object_write;
use super::pods::{json as json_response, table_request, table_response, with_warnings};
use super::table::{IncludeObject, column, row_value, since, table_value};
use super::{AppState, extract, respond};
use crate::error::{Error, Result};

/// The longest a namespace watch stays open.
const WATCH_LIMIT: Duration = Duration::from_secs(300);

/// `GET /api/v1/namespaces` (and `?watch=true`).
pub(crate) async fn namespace_list(
    State(state): State<AppState>,
    RawQuery(q): RawQuery,
    headers: HeaderMap,
) -> Response {
    respond(list(state, q, &headers).await)
}

/// `POST /api/v1/namespaces` (`kubectl create namespace`).
pub(crate) async fn namespace_create(
    State(state): State<AppState>,
    RawQuery(q): RawQuery,
    headers: HeaderMap,
    body: Body,
) -> Response {
    respond(
        async {
            let (ns, warnings, dry_run) = object_write::decode_body::<Namespace>(
                &state,
                q.as_deref(),
                &headers,
                body,
                "Namespace",
            )
            .await?;
            let created = state.pods.create_namespace(ns, dry_run).await?;
            Ok(with_warnings(
                json_response(StatusCode::CREATED, &created),
                &warnings,
            ))
        }
        .await,
    )
}

/// `PUT /api/v1/namespaces/{name}`.
pub(crate) async fn namespace_replace(
    State(state): State<AppState>,
    Path(name): Path<String>,
    RawQuery(q): RawQuery,
    headers: HeaderMap,
    body: Body,
) -> Response {
    respond(
        async {
            let (ns, warnings, _) = object_write::decode_body::<Namespace>(
                &state,
                q.as_deref(),
                &headers,
                body,
                "Namespace",
            )
            .await?;
            let replaced = state.pods.replace_namespace(&name, ns).await?;
            Ok(with_warnings(
                json_response(StatusCode::OK, &replaced),
                &warnings,
            ))
        }
        .await,
    )
}

/// `PATCH /api/v1/namespaces/{name}` (`kubectl annotate`, `label`, `edit`).
pub(crate) async fn namespace_patch(
    State(state): State<AppState>,
    Path(name): Path<String>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    respond(
        async {
            let kind = object_write::patch_kind(&headers)?;
            let patch = object_write::patch_body(&state, &headers, body).await?;
            let patched = state.pods.patch_namespace(&name, kind, patch).await?;
            Ok(json_response(StatusCode::OK, &patched))
        }
        .await,
    )
}

/// `DELETE /api/v1/namespaces/{name}`: 200 with the namespace, Terminating.
pub(crate) async fn namespace_delete(
    State(state): State<AppState>,
    Path(name): Path<String>,
    RawQuery(q): RawQuery,
    headers: HeaderMap,
    body: Body,
) -> Response {
    respond(
        async {
            let (dry_run, rv) =
                object_write::delete_options(&state, q.as_deref(), &headers, body).await?;
            let ns = state
                .pods
                .delete_namespace(&name, rv.as_deref(), dry_run)
                .await?;
            Ok(json_response(StatusCode::OK, &ns))
        }
        .await,
    )
}

/// `GET /api/v1/namespaces/{name}`.
pub(crate) async fn namespace_view(
    State(state): State<AppState>,
    Path(name): Path<String>,
    RawQuery(q): RawQuery,
    headers: HeaderMap,
) -> Response {
    respond(view(state, name, q, &headers).await)
}

async fn list(state: AppState, q: Option<String>, headers: &HeaderMap) -> Result<Response> {
    let query = extract::query(q.as_deref())?;
    let table = table_request(headers, &query)?;
    let found = state.pods.namespaces().await?;
    let meta = ListMeta {
        resource_version: Some(found.resource_version.to_string()),
        ..Default::default()
    };
    if super::extract::flag(&query, "watch") {
        let timeout = match query.get("timeoutSeconds") {
            Some(t) => Duration::from_secs(
                t.parse::<u64>()
                    .map_err(|_| Error::bad_request(format!("invalid timeoutSeconds {t:?}")))?,
            ),
            None => Duration::from_secs(30),
        };
        return Ok(watch(found.items, timeout.min(WATCH_LIMIT)));
    }
    Ok(match table {
        Some((version, include)) => table_response(
            version,
            namespace_table(&found.items, include, jiff::Timestamp::now(), meta),
        ),
        None => json_response(
            StatusCode::OK,
            &List::<Namespace> {
                items: found.items,
                metadata: meta,
            },
        ),
    })
}

async fn view(
    state: AppState,
    name: String,
    q: Option<String>,
    headers: &HeaderMap,
) -> Result<Response> {
    let query = extract::query(q.as_deref())?;
    let ns = state.pods.namespace(&name).await?;
    Ok(match table_request(headers, &query)? {
        Some((version, include)) => table_response(
            version,
            namespace_table(&[ns], include, jiff::Timestamp::now(), ListMeta::default()),
        ),
        None => json_response(StatusCode::OK, &ns),
    })
}

/// The namespaces as `ADDED` events, then the stream stays open until `timeout` and ends.
fn watch(items: Vec<Namespace>, timeout: Duration) -> Response {
    let mut lines = Vec::new();
    for ns in items {
        if let Ok(mut line) = serde_json::to_vec(&WatchEvent::Added(ns)) {
            line.push(b'\n');
            lines.push(Ok::<_, std::io::Error>(bytes::Bytes::from(line)));
        }
    }
    let events = futures_util::stream::iter(lines);
    let end = futures_util::stream::once(async move {
        tokio::time::sleep(timeout).await;
        Ok(bytes::Bytes::new())
    });
    use futures_util::StreamExt;
    (
        StatusCode::OK,
        [(header::CONTENT_TYPE, "application/json;stream=watch")],
        Body::from_stream(events.chain(end)),
    )
        .into_response()
}

/// Renders namespaces as a `meta.k8s.io/v1` `Table`: NAME, STATUS, AGE.
pub(crate) fn namespace_table(
    items: &[Namespace],
    include_object: IncludeObject,
    now: jiff::Timestamp,
    list_meta: ListMeta,
) -> Value {
    let columns = vec![
        column(
            "Name",
            "string",
            Some("name"),
            0,
            "Name must be unique within a namespace.",
        ),
        column("Status", "string", None, 0, "The status of the namespace"),
        column(
            "Age",
            "string",
            None,
            0,
            "CreationTimestamp is a timestamp representing the server time when this object was created.",
        ),
    ];
    let rows: Vec<Value> = items
        .iter()
        .map(|ns| {
            let cells = json!([
                ns.metadata.name.clone().unwrap_or_default(),
                ns.status
                    .as_ref()
                    .and_then(|s| s.phase.clone())
                    .unwrap_or_default(),
                ns.metadata
                    .creation_timestamp
                    .as_ref()
                    .map_or_else(|| "<unknown>".to_string(), |t| since(t.0, now)),
            ]);
            row_value(
                cells,
                include_object,
                &serde_json::to_value(ns).unwrap_or_default(),
            )
        })
        .collect();
    table_value(list_meta, columns, rows)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pods::namespaces::namespace_object;
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;

    #[test]
    fn table_has_kube_apiserver_namespace_columns() {
        let now: jiff::Timestamp = "2025-06-01T12:00:00Z".parse().expect("ts");
        let created = Time("2025-06-01T11:00:00Z".parse().expect("ts"));
        let items = [
            namespace_object("default", None),
            namespace_object("team-a", Some(created)),
        ];
        let t = namespace_table(&items, IncludeObject::Metadata, now, ListMeta::default());
        let names: Vec<&str> = t["columnDefinitions"]
            .as_array()
            .expect("columns")
            .iter()
            .filter_map(|c| c["name"].as_str())
            .collect();
        assert_eq!(names, ["Name", "Status", "Age"]);
        assert_eq!(
            t["rows"][0]["cells"],
            json!(["default", "Active", "<unknown>"])
        );
        assert_eq!(t["rows"][1]["cells"], json!(["team-a", "Active", "60m"]));
        assert_eq!(t["rows"][1]["object"]["metadata"]["name"], "team-a");
    }

    #[test]
    fn list_serializes_as_namespace_list() {
        let list = List::<Namespace> {
            items: vec![namespace_object("default", None)],
            metadata: ListMeta::default(),
        };
        let v = serde_json::to_value(&list).expect("serializes");
        assert_eq!(v["kind"], "NamespaceList");
        assert_eq!(v["apiVersion"], "v1");
        assert_eq!(v["items"][0]["kind"], "Namespace");
    }
}
