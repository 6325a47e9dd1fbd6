//! `/api/v1/namespaces[/{name}]`: create, get, list, replace, patch and delete namespaces
//! ([`crate::pods::namespaces`]), as a `NamespaceList`, one `Namespace`, or the `Table`
//! `kubectl get ns` prints (NAME STATUS AGE, as kube-apiserver's namespace columns).
//!
//! `?watch=true` on the list, and the label and field selectors, are
//! [`super::object_watch`]'s; `fieldSelector=metadata.name=x` (what `kubectl delete` and
//! `kubectl wait` send) narrows the list and the watch to one.

use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use k8s_openapi::api::core::v1::Namespace;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ListMeta;
use serde_json::{Value, json};

use super::object_watch::{self, ObjectQuery};
use super::object_write::ObjectWrite;
use super::pods::table_request;
use super::table::{IncludeObject, column, row_value, since, table_value};
use super::{AppState, extract, object_read, respond};
use crate::error::Result;
use crate::pods::namespaces::namespace_object;

/// `GET /api/v1/namespaces` (and `?watch=true`).
pub(crate) async fn namespace_list(
    State(state): State<AppState>,
    RawQuery(q): RawQuery,
    headers: HeaderMap,
) -> Response {
    respond(list(state, q, &headers).await)
}

/// `POST /api/v1/namespaces` (`kubectl create namespace`).
pub(crate) async fn namespace_create(write: ObjectWrite) -> Response {
    let pods = write.pods();
    write
        .create_or_replace(
            "Namespace",
            StatusCode::CREATED,
            |ns: Namespace, dry_run| async move { pods.create_namespace(ns, dry_run).await },
        )
        .await
}

/// `PUT /api/v1/namespaces/{name}`.
pub(crate) async fn namespace_replace(Path(name): Path<String>, write: ObjectWrite) -> Response {
    let pods = write.pods();
    write
        .create_or_replace("Namespace", StatusCode::OK, |ns: Namespace, _| async move {
            pods.replace_namespace(&name, ns).await
        })
        .await
}

/// `PATCH /api/v1/namespaces/{name}` (`kubectl annotate`, `label`, `edit`).
pub(crate) async fn namespace_patch(Path(name): Path<String>, write: ObjectWrite) -> Response {
    let pods = write.pods();
    write
        .patch(|kind, patch| async move { pods.patch_namespace(&name, kind, patch).await })
        .await
}

/// `DELETE /api/v1/namespaces/{name}`: 200 with the namespace, Terminating.
pub(crate) async fn namespace_delete(Path(name): Path<String>, write: ObjectWrite) -> Response {
    let pods = write.pods();
    write
        .delete(
            |dry_run, rv| async move { pods.delete_namespace(&name, rv.as_deref(), dry_run).await },
        )
        .await
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
    let selected = ObjectQuery::parse(&query)?;
    let found = state.pods.namespaces().await?;
    let items = selected.select(found.items);
    if selected.watch.is_some() {
        // A watch resumed from a list on one name that is gone now: its client listed the
        // namespace, which went in between, so it is told of the deletion; this is what
        // `kubectl delete namespace` waits for.
        let gone = match (selected.resumed, selected.pinned_name()) {
            (true, Some(name)) if items.is_empty() => Some(namespace_object(name, None)),
            _ => None,
        };
        let pods = state.pods.clone();
        return Ok(object_watch::watch(selected, items, gone, move || {
            let pods = pods.clone();
            async move { Ok(pods.namespaces().await?.items) }
        }));
    }
    let meta = ListMeta {
        resource_version: Some(found.resource_version.to_string()),
        ..Default::default()
    };
    Ok(object_read::list_or_table(
        table,
        items,
        meta,
        namespace_table,
    ))
}

async fn view(
    state: AppState,
    name: String,
    q: Option<String>,
    headers: &HeaderMap,
) -> Result<Response> {
    let query = extract::query(q.as_deref())?;
    let ns = state.pods.namespace(&name).await?;
    Ok(object_read::object_or_table(
        table_request(headers, &query)?,
        ns,
        namespace_table,
    ))
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
    use k8s_openapi::List;
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
        let names = crate::testing::strs_of(&t["columnDefinitions"], "name");
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
