//! `/api/v1/namespaces/{namespace}/resourcequotas[/{name}]` and `/api/v1/resourcequotas`:
//! create, get, list, replace, patch and delete ResourceQuotas ([`crate::pods::quota`]), as
//! objects (with `status.used` and `status.hard`, what `kubectl describe quota` prints) or as
//! the `Table` `kubectl get quota` prints (NAME AGE REQUEST LIMIT, kube-apiserver's columns).

use axum::extract::Path;
use axum::http::StatusCode;
use axum::response::Response;
use k8s_openapi::api::core::v1::ResourceQuota;
use serde_json::{Value, json};

use super::object_read::ObjectRead;
use super::object_watch::{self, ObjectQuery};
use super::object_write::ObjectWrite;
use super::respond;
use super::table::{
    Printed, TableColumnDefinition, age, age_column, column, name_column, printed_table,
};

/// `GET /api/v1/namespaces/{namespace}/resourcequotas`, and `GET /api/v1/resourcequotas`
/// (no namespace in the path: every namespace's).
pub(crate) async fn quota_list(read: ObjectRead<Option<Path<String>>>) -> Response {
    let namespace = read.parts.as_ref().map(|Path(ns)| ns.as_str());
    respond(
        async {
            let selected = ObjectQuery::parse(&read.query)?;
            let found = read.state.pods.quotas(namespace).await?;
            let items = selected.select(found.items);
            if selected.watch.is_some() {
                let pods = read.state.pods.clone();
                let namespace = namespace.map(str::to_string);
                return Ok(object_watch::watch(selected, items, None, move || {
                    let (pods, namespace) = (pods.clone(), namespace.clone());
                    async move { Ok(pods.quotas(namespace.as_deref()).await?.items) }
                }));
            }
            Ok(read.list(items, found.resource_version, printed_table))
        }
        .await,
    )
}

/// `GET /api/v1/namespaces/{namespace}/resourcequotas/{name}`.
pub(crate) async fn quota_view(read: ObjectRead<Path<(String, String)>>) -> Response {
    let Path((namespace, name)) = &read.parts;
    respond(
        async {
            let quota = read.state.pods.quota(namespace, name).await?;
            Ok(read.one(quota, printed_table))
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

/// Quotas as `kubectl get quota` prints them: NAME, AGE, REQUEST, LIMIT.
impl Printed for ResourceQuota {
    fn columns() -> Vec<TableColumnDefinition> {
        vec![
            name_column(),
            age_column(),
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
        ]
    }

    fn cells(&self, now: jiff::Timestamp) -> Value {
        json!([
            self.metadata.name.clone().unwrap_or_default(),
            age(&self.metadata, now),
            usage_cell(self, false),
            usage_cell(self, true),
        ])
    }
}
