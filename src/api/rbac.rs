//! `rbac.authorization.k8s.io/v1`: Roles and RoleBindings per namespace, ClusterRoles and
//! ClusterRoleBindings, over HTTP only: decode, call the authorizer's RBAC flows
//! (`rbac/write.rs`: escalation checks, built-in ClusterRoles), render. `kubectl create
//! rolebinding`, `kubectl get rolebindings`, `kubectl apply`, `kubectl delete rolebinding` use
//! these. The
//! request itself was authorized by the middleware like any other (`create rolebindings in
//! team-a`).

use std::collections::HashMap;

use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use axum::routing::get;
use axum::{Extension, Router};
use k8s_openapi::api::rbac::v1::{ClusterRole, ClusterRoleBinding, Role, RoleBinding};
use serde_json::json;

use super::AppState;
use super::extract::{body_value, write_options};
use super::object_read::ObjectRead;
use super::object_watch::{self, ObjectQuery};
use super::object_write::{ObjectWrite, patch_body, patch_kind};
use super::pods::json;
use super::rbac_table::rbac_table;
use crate::auth::identity::User;
use crate::error::{Error, Result};
use crate::pods::DryRun;
use crate::pods::update::replace::PatchKind;
use crate::rbac::write::RbacKind;

const BASE: &str = "/apis/rbac.authorization.k8s.io/v1";

/// The RBAC routes (behind the authorization middleware with every Kubernetes route).
pub(crate) fn routes() -> Router<AppState> {
    let mut router = Router::new();
    router = namespaced::<Role>(router, "roles");
    router = namespaced::<RoleBinding>(router, "rolebindings");
    router = cluster::<ClusterRole>(router, "clusterroles");
    cluster::<ClusterRoleBinding>(router, "clusterrolebindings")
}

/// A namespaced kind: its objects under each namespace, and the list across namespaces.
fn namespaced<K: RbacKind>(router: Router<AppState>, resource: &str) -> Router<AppState> {
    let router = router.route(&format!("{BASE}/{resource}"), get(list::<K>));
    objects::<K>(
        router,
        &format!("{BASE}/namespaces/{{namespace}}/{resource}"),
    )
}

/// A cluster-scoped kind: its objects at the group's root.
fn cluster<K: RbacKind>(router: Router<AppState>, resource: &str) -> Router<AppState> {
    objects::<K>(router, &format!("{BASE}/{resource}"))
}

/// The collection (list, create) and its objects (get, replace, patch, delete) at `collection`.
fn objects<K: RbacKind>(router: Router<AppState>, collection: &str) -> Router<AppState> {
    router
        .route(
            collection,
            get(list::<K>).post(create::<K>).fallback(unsupported),
        )
        .route(
            &format!("{collection}/{{name}}"),
            get(view::<K>)
                .put(replace::<K>)
                .patch(patch::<K>)
                .delete(delete::<K>)
                .fallback(unsupported),
        )
}

/// What the RBAC routes do not offer (deletecollection): a 405 Status, not a bare 405.
async fn unsupported(method: axum::http::Method, uri: axum::http::Uri) -> Error {
    Error::MethodNotAllowed {
        message: format!(
            "{method} {} is not supported by k8sless: RBAC objects take create, get, list, watch, update, patch and delete",
            uri.path()
        ),
    }
}

type Params = Path<HashMap<String, String>>;

fn scope<K: RbacKind>(p: &HashMap<String, String>) -> Option<&str> {
    if K::NAMESPACED {
        p.get("namespace").map(String::as_str)
    } else {
        None
    }
}

fn name_of(p: &HashMap<String, String>) -> &str {
    p.get("name").map(String::as_str).unwrap_or("")
}

async fn decode<K: RbacKind>(state: &AppState, headers: &HeaderMap, body: Body) -> Result<K> {
    let value = body_value(headers, body, state.body_limit).await?;
    if let Some(kind) = value.get("kind").and_then(|k| k.as_str())
        && kind != K::KIND
    {
        return Err(Error::bad_request(format!(
            "the body is a {kind}, not a {}",
            K::KIND
        )));
    }
    serde_json::from_value(value).map_err(|e| Error::bad_request(format!("{}: {e}", K::KIND)))
}

/// What a write of an RBAC object takes off its request: the caller (the escalation checks
/// are theirs), the path's namespace and name, then the query, the headers and the body.
type RbacWrite = ObjectWrite<(Extension<User>, Params)>;

async fn create<K: RbacKind>(w: RbacWrite) -> Result<Response> {
    let (Extension(user), Path(p)) = &w.parts;
    let (dry_run, _) = write_options(w.query.as_deref())?;
    let obj = decode::<K>(&w.state, &w.headers, w.body).await?;
    let ns = scope::<K>(p);
    if let Some(namespace) = ns {
        let name = obj.metadata().name.as_deref().unwrap_or_default();
        w.state
            .pods
            .admit_namespace(namespace, K::RESOURCE, name, dry_run)
            .await?;
    }
    let created = if dry_run == DryRun::All {
        w.state.authz.rbac_admit(user, ns, &obj).await?;
        obj
    } else {
        w.state.authz.rbac_create(user, ns, obj).await?
    };
    Ok(json(StatusCode::CREATED, &created))
}

async fn replace<K: RbacKind>(w: RbacWrite) -> Result<Response> {
    let (Extension(user), Path(p)) = &w.parts;
    let obj = decode::<K>(&w.state, &w.headers, w.body).await?;
    let replaced = w
        .state
        .authz
        .rbac_replace(user, scope::<K>(p), name_of(p), obj)
        .await?;
    Ok(json(StatusCode::OK, &replaced))
}

/// `PATCH`: JSON patch, merge patch, or strategic merge patch, which for these kinds is a merge
/// patch (their lists, `rules` and `subjects`, have no merge key in Kubernetes' schema: a
/// strategic merge replaces them too). Applied to the stored object, written on its
/// resourceVersion (409 if it changed meanwhile).
async fn patch<K: RbacKind>(w: RbacWrite) -> Result<Response> {
    use crate::pods::update::patch::{PatchError, apply_json_patch, apply_merge_patch};
    let (Extension(user), Path(p)) = &w.parts;
    let (ns, name) = (scope::<K>(p), name_of(p));
    let kind = patch_kind(&w.headers)?;
    let patch = patch_body(&w.state, &w.headers, w.body).await?;
    let stored: K = w.state.authz.rbac_get(ns, name).await?;
    let doc = serde_json::to_value(&stored)
        .map_err(|e| Error::internal_from("encoding an RBAC object", e))?;
    let patched = match kind {
        PatchKind::Json => apply_json_patch(&doc, &patch).map_err(|e| match e {
            PatchError::Unprocessable { message } => Error::Invalid {
                kind: K::QUALIFIED_KIND,
                name: name.to_string(),
                causes: vec![crate::error::Cause::invalid("", message)],
            },
            other => Error::bad_request(other.to_string()),
        })?,
        PatchKind::Merge | PatchKind::Strategic => apply_merge_patch(&doc, &patch),
    };
    let mut obj: K = serde_json::from_value(patched)
        .map_err(|e| Error::bad_request(format!("the patched {}: {e}", K::KIND)))?;
    obj.metadata_mut().resource_version = stored.metadata().resource_version.clone();
    let replaced = w.state.authz.rbac_replace(user, ns, name, obj).await?;
    Ok(json(StatusCode::OK, &replaced))
}

async fn view<K: RbacKind>(read: ObjectRead<Params>) -> Result<Response> {
    let Path(p) = &read.parts;
    let obj = read
        .state
        .authz
        .rbac_get::<K>(scope::<K>(p), name_of(p))
        .await?;
    Ok(read.one(obj, printer::<K>))
}

/// kube-apiserver's columns for `K` (`api/rbac_table.rs`).
fn printer<K: RbacKind>(
    items: &[K],
    include: super::table::IncludeObject,
    now: jiff::Timestamp,
    meta: k8s_openapi::apimachinery::pkg::apis::meta::v1::ListMeta,
) -> serde_json::Value {
    rbac_table(K::KIND, items, include, now, meta)
}

/// `GET` of a collection: the list (label and field selectors applied, as a `Table` when
/// kubectl asks), or `?watch=true`.
async fn list<K: RbacKind>(read: ObjectRead<Params>) -> Result<Response> {
    let Path(p) = &read.parts;
    let selected = ObjectQuery::parse(&read.query)?;
    let ns = scope::<K>(p).map(str::to_string);
    let list = read.state.authz.rbac_list::<K>(ns.as_deref()).await?;
    let items = selected.select(list.items);
    if selected.watch.is_some() {
        let authz = read.state.authz.clone();
        return Ok(object_watch::watch(selected, items, None, move || {
            let (authz, ns) = (authz.clone(), ns.clone());
            async move { Ok(authz.rbac_list::<K>(ns.as_deref()).await?.items) }
        }));
    }
    Ok(read.list(items, list.resource_version, printer::<K>))
}

async fn delete<K: RbacKind>(State(state): State<AppState>, Path(p): Params) -> Result<Response> {
    let name = name_of(&p);
    let gone: K = state.authz.rbac_delete(scope::<K>(&p), name).await?;
    let resource = K::RESOURCE.split('.').next().unwrap_or(K::RESOURCE);
    Ok(json(
        StatusCode::OK,
        &json!({
            "kind": "Status",
            "apiVersion": "v1",
            "metadata": {},
            "status": "Success",
            "details": {
                "name": name,
                "group": K::GROUP,
                "kind": resource,
                "uid": gone.metadata().uid,
            },
        }),
    ))
}
