//! `/api/v1/namespaces[/{name}]`: create, get, list, replace, patch and delete namespaces
//! ([`crate::pods::namespaces`]), as a `NamespaceList`, one `Namespace`, or the `Table`
//! `kubectl get ns` prints (NAME STATUS AGE, as kube-apiserver's namespace columns).
//!
//! `?watch=true` on the list, and the label and field selectors, are
//! [`super::object_watch`]'s; `fieldSelector=metadata.name=x` (what `kubectl delete` and
//! `kubectl wait` send) narrows the list and the watch to one.

use axum::extract::Path;
use axum::http::StatusCode;
use axum::response::Response;
use k8s_openapi::api::core::v1::Namespace;
use serde_json::{Value, json};

use super::object_read::ObjectRead;
use super::object_watch::{self, ObjectQuery};
use super::object_write::ObjectWrite;
use super::respond;
use super::table::{
    Printed, TableColumnDefinition, age, age_column, column, name_column, printed_table,
};
use crate::error::Result;
use crate::pods::namespaces::namespace_object;

/// `GET /api/v1/namespaces` (and `?watch=true`).
pub(crate) async fn namespace_list(read: ObjectRead) -> Response {
    respond(list(read).await)
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
pub(crate) async fn namespace_view(read: ObjectRead<Path<String>>) -> Response {
    let Path(name) = &read.parts;
    respond(
        async {
            let ns = read.state.pods.namespace(name).await?;
            Ok(read.one(ns, printed_table))
        }
        .await,
    )
}

async fn list(read: ObjectRead) -> Result<Response> {
    let selected = ObjectQuery::parse(&read.query)?;
    let found = read.state.pods.namespaces().await?;
    let items = selected.select(found.items);
    if selected.watch.is_some() {
        // A watch resumed from a list on one name that is gone now: its client listed the
        // namespace, which went in between, so it is told of the deletion; this is what
        // `kubectl delete namespace` waits for.
        let gone = match (selected.resumed, selected.pinned_name()) {
            (true, Some(name)) if items.is_empty() => Some(namespace_object(name, None)),
            _ => None,
        };
        let pods = read.state.pods.clone();
        return Ok(object_watch::watch(selected, items, gone, move || {
            let pods = pods.clone();
            async move { Ok(pods.namespaces().await?.items) }
        }));
    }
    Ok(read.list(items, found.resource_version, printed_table))
}

/// Namespaces as `kubectl get ns` prints them: NAME, STATUS, AGE.
impl Printed for Namespace {
    fn columns() -> Vec<TableColumnDefinition> {
        vec![
            name_column(),
            column("Status", "string", None, 0, "The status of the namespace"),
            age_column(),
        ]
    }

    fn cells(&self, now: jiff::Timestamp) -> Value {
        json!([
            self.metadata.name.clone().unwrap_or_default(),
            self.status
                .as_ref()
                .and_then(|s| s.phase.clone())
                .unwrap_or_default(),
            age(&self.metadata, now),
        ])
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::table::IncludeObject;
    use k8s_openapi::List;
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::ListMeta;
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;

    #[test]
    fn table_has_kube_apiserver_namespace_columns() {
        let now: jiff::Timestamp = "2025-06-01T12:00:00Z".parse().expect("ts");
        let created = Time("2025-06-01T11:00:00Z".parse().expect("ts"));
        let items = [
            namespace_object("default", None),
            namespace_object("team-a", Some(created)),
        ];
        let t = printed_table(&items, IncludeObject::Metadata, now, ListMeta::default());
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
