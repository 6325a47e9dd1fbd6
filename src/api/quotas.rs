//! `/api/v1/namespaces/{namespace}/resourcequotas[/{name}]` and `/api/v1/resourcequotas`:
//! create, get, list, replace, patch and delete ResourceQuotas ([`crate::pods::quota`]), as
//! objects (with `status.used` and `status.hard`, what `kubectl describe quota` prints) or as
//! the `Table` `kubectl get quota` prints (NAME AGE REQUEST LIMIT, kube-apiserver's columns).
//! Lists take selectors and `?watch=true` ([`super::object_watch`]).

use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use k8s_openapi::api::core::v1::ResourceQuota;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ListMeta;
use serde_json::{Value, json};

use super::object_watch::{self, ObjectQuery};
use super::object_write::ObjectWrite;
use super::pods::table_request;
use super::table::{IncludeObject, column, row_value, since, table_value};
use super::{AppState, extract, object_read, respond};
use crate::error::Result;

/// `GET /api/v1/namespaces/{namespace}/resourcequotas`, and `GET /api/v1/resourcequotas`
/// (no namespace in the path: every namespace's).
pub(crate) async fn quota_list(
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
    let selected = ObjectQuery::parse(&query)?;
    let found = state.pods.quotas(namespace.as_deref()).await?;
    let items = selected.select(found.items);
    if selected.watch.is_some() {
        let pods = state.pods.clone();
        return Ok(object_watch::watch(selected, items, None, move || {
            let (pods, namespace) = (pods.clone(), namespace.clone());
            async move { Ok(pods.quotas(namespace.as_deref()).await?.items) }
        }));
    }
    let meta = ListMeta {
        resource_version: Some(found.resource_version.to_string()),
        ..Default::default()
    };
    Ok(object_read::list_or_table(table, items, meta, quota_table))
}

/// `GET /api/v1/namespaces/{namespace}/resourcequotas/{name}`.
pub(crate) async fn quota_view(
    State(state): State<AppState>,
    Path((namespace, name)): Path<(String, String)>,
    RawQuery(q): RawQuery,
    headers: HeaderMap,
) -> Response {
    respond(
        async {
            let query = extract::query(q.as_deref())?;
            let quota = state.pods.quota(&namespace, &name).await?;
            Ok(object_read::object_or_table(
                table_request(&headers, &query)?,
                quota,
                quota_table,
            ))
        }
        .await,
    )
}

/// `POST /api/v1/namespaces/{namespace}/resourcequotas` (`kubectl create quota`).
pub(crate) async fn quota_create(Path(namespace): Path<String>, write: ObjectWrite) -> Response {
    let pods = write.pods();
    write
        .create_or_replace(
            "ResourceQuota",
            StatusCode::CREATED,
            |quota: ResourceQuota, dry_run| async move {
                pods.create_quota(&namespace, quota, dry_run).await
            },
        )
        .await
}

/// `PUT /api/v1/namespaces/{namespace}/resourcequotas/{name}`.
pub(crate) async fn quota_replace(
    Path((namespace, name)): Path<(String, String)>,
    write: ObjectWrite,
) -> Response {
    let pods = write.pods();
    write
        .create_or_replace("ResourceQuota", StatusCode::OK, |quota: ResourceQuota, _| async move {
            pods.replace_quota(&namespace, &name, quota).await
        })
        .await
}

/// `PATCH /api/v1/namespaces/{namespace}/resourcequotas/{name}`.
pub(crate) async fn quota_patch(
    Path((namespace, name)): Path<(String, String)>,
    write: ObjectWrite,
) -> Response {
    let pods = write.pods();
    write
        .patch(|kind, patch| async move { pods.patch_quota(&namespace, &name, kind, patch).await })
        .await
}

/// `DELETE /api/v1/namespaces/{namespace}/resourcequotas/{name}`: 200 with the quota.
pub(crate) async fn quota_delete(
    Path((namespace, name)): Path<(String, String)>,
    write: ObjectWrite,
) -> Response {
    let pods = write.pods();
    write
        .delete(|_, rv| async move { pods.delete_quota(&namespace, &name, rv.as_deref()).await })
        .await
}

/// `used/hard` of the quota's resources, `limits.*` or the others, as kube-apiserver's
/// printer joins them: `pods: 1/2, requests.cpu: 500m/4`.
fn usage_cell(q: &ResourceQuota, limits: bool) -> String {
    let Some(status) = &q.status else {
        return String::new();
    };
    let used = status.used.clone().unwrap_or_default();
    status
        .hard
        .iter()
        .flatten()
        .filter(|(k, _)| k.starts_with("limits.") == limits)
        .map(|(k, hard)| {
            let u = used.get(k).map_or("0", |q| q.0.as_str());
            format!("{k}: {u}/{}", hard.0)
        })
        .collect::<Vec<_>>()
        .join(", ")
}

/// Renders quotas as a `meta.k8s.io/v1` `Table`: NAME, AGE, REQUEST, LIMIT.
pub(crate) fn quota_table(
    items: &[ResourceQuota],
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
        column(
            "Age",
            "string",
            None,
            0,
            "CreationTimestamp is a timestamp representing the server time when this object was created.",
        ),
        column(
            "Request",
            "string",
            None,
            0,
            "Request represents a minimum amount of cpu/memory that a container may consume.",
        ),
        column(
            "Limit",
            "string",
            None,
            0,
            "Limits control the maximum amount of cpu/memory that a container may use independent of contention on the node.",
        ),
    ];
    let rows = items
        .iter()
        .map(|q| {
            let cells = json!([
                q.metadata.name.clone().unwrap_or_default(),
                q.metadata
                    .creation_timestamp
                    .as_ref()
                    .map_or_else(|| "<unknown>".to_string(), |t| since(t.0, now)),
                usage_cell(q, false),
                usage_cell(q, true),
            ]);
            row_value(
                cells,
                include_object,
                &serde_json::to_value(q).unwrap_or_default(),
            )
        })
        .collect();
    table_value(list_meta, columns, rows)
}
