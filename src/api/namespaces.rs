//! `/api/v1/namespaces[/{name}]`: create, get, list, replace, patch and delete namespaces
//! ([`crate::pods::namespaces`]), as a `NamespaceList`, one `Namespace`, or the `Table`
//! `kubectl get ns` prints (NAME STATUS AGE, as kube-apiserver's namespace columns).
//!
//! `?watch=true` on the list is [`super::namespace_watch`]; `fieldSelector=metadata.name=x`
//! (what `kubectl delete` and `kubectl wait` send) narrows the list and the watch to one.

use std::time::Duration;

use axum::extract::Path;
use axum::http::StatusCode;
use axum::response::Response;
use k8s_openapi::api::core::v1::Namespace;
use serde_json::{Value, json};

use super::object_read::ObjectRead;
use super::object_write::ObjectWrite;
use super::respond;
use super::table::{
    Printed, TableColumnDefinition, age, age_column, column, name_column, printed_table,
};
use crate::error::{Error, Result};

/// The longest a namespace watch stays open.
const WATCH_LIMIT: Duration = Duration::from_secs(300);

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
    let query = &read.query;
    let name = name_selector(query)?;
    let mut found = read.state.pods.namespaces().await?;
    found.items.retain(|ns| {
        name.as_deref()
            .is_none_or(|n| ns.metadata.name.as_deref() == Some(n))
    });
    if super::extract::flag(query, "watch") {
        let timeout = match query.get("timeoutSeconds") {
            Some(t) => Duration::from_secs(
                t.parse::<u64>()
                    .map_err(|_| Error::bad_request(format!("invalid timeoutSeconds {t:?}")))?,
            ),
            None => Duration::from_secs(30),
        };
        return Ok(super::namespace_watch::watch(
            read.state.pods.clone(),
            name,
            found.items,
            timeout.min(WATCH_LIMIT),
            query
                .get("resourceVersion")
                .is_some_and(|v| !v.is_empty() && v != "0"),
        ));
    }
    Ok(read.list(found.items, found.resource_version, printed_table))
}

/// The name a `fieldSelector` pins (`metadata.name=x`, what `kubectl delete` and `wait` send);
/// other fields are not served for namespaces.
fn name_selector(query: &std::collections::HashMap<String, String>) -> Result<Option<String>> {
    let Some(selector) = query.get("fieldSelector").filter(|s| !s.is_empty()) else {
        return Ok(None);
    };
    let fields = crate::pods::selector::FieldSelector::parse(selector)?;
    match fields.pinned("metadata.name") {
        Some(name) => Ok(Some(name.to_string())),
        None => Err(Error::bad_request(format!(
            "field label not supported for namespaces: {selector:?} (k8sless selects namespaces by metadata.name only)"
        ))),
    }
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
    use crate::pods::namespaces::namespace_object;
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
