//! The namespace and ResourceQuota `paths` of the OpenAPI document: every verb we serve, each
//! tagged with its group-version-kind. kubectl's `--validate=strict` (the default of `apply`
//! and `create -f`) looks for the `PATCH` of the object's kind with `fieldValidation`; without
//! it kubectl falls back to `/openapi/v2` and fails.

use k8s_openapi::api::core::v1::ResourceQuota;
use serde_json::{Value, json};

use super::openapi::{NAMESPACE_SCHEMA, QUOTA_SCHEMA, gvk, schema_ref};
use super::openapi_paths::{
    CREATED, DELETED, JSON_ONLY, LIST_TYPES, OK, Ops, WRITTEN, content, delete_params, list_params,
    operation, param, patch_body, responses, write_params,
};

fn body(schema: &str) -> Option<Value> {
    Some(content(schema_ref(schema), &["*/*"]))
}

fn delete_body() -> Option<Value> {
    body("io.k8s.apimachinery.pkg.apis.meta.v1.DeleteOptions")
}

pub(super) fn paths(ops: &Ops) -> Value {
    let ns = &ops.ns;
    let quota = gvk::<ResourceQuota>("");
    let list_of = |s: &str| format!("{s}List");
    json!({
        "/api/v1/namespaces": {
            "parameters": [ops.pretty],
            "get": operation("listCoreV1Namespace", "list", "list or watch objects of kind Namespace", ns, list_params(), None,
                responses(&list_of(NAMESPACE_SCHEMA), &OK, LIST_TYPES)),
            "post": operation("createCoreV1Namespace", "post", "create a Namespace", ns, write_params(), body(NAMESPACE_SCHEMA),
                responses(NAMESPACE_SCHEMA, &CREATED, JSON_ONLY)),
        },
        "/api/v1/namespaces/{name}": {
            "parameters": [param("name", "path", "string", "name of the Namespace"), ops.pretty],
            "get": operation("readCoreV1Namespace", "get", "read the specified Namespace", ns, vec![], None, responses(NAMESPACE_SCHEMA, &OK, JSON_ONLY)),
            "put": operation("replaceCoreV1Namespace", "put", "replace the specified Namespace", ns, write_params(), body(NAMESPACE_SCHEMA),
                responses(NAMESPACE_SCHEMA, &WRITTEN, JSON_ONLY)),
            "patch": operation("patchCoreV1Namespace", "patch", "partially update the specified Namespace", ns, write_params(), patch_body(),
                responses(NAMESPACE_SCHEMA, &WRITTEN, JSON_ONLY)),
            "delete": operation("deleteCoreV1Namespace", "delete", "delete a Namespace", ns, delete_params(), delete_body(),
                responses(NAMESPACE_SCHEMA, &DELETED, JSON_ONLY)),
        },
        "/api/v1/namespaces/{namespace}/resourcequotas": {
            "parameters": ops.scoped(),
            "get": operation("listCoreV1NamespacedResourceQuota", "list", "list objects of kind ResourceQuota", &quota, list_params(), None,
                responses(&list_of(QUOTA_SCHEMA), &OK, JSON_ONLY)),
            "post": operation("createCoreV1NamespacedResourceQuota", "post", "create a ResourceQuota", &quota, write_params(), body(QUOTA_SCHEMA),
                responses(QUOTA_SCHEMA, &CREATED, JSON_ONLY)),
        },
        "/api/v1/namespaces/{namespace}/resourcequotas/{name}": {
            "parameters": ops.named("ResourceQuota"),
            "get": operation("readCoreV1NamespacedResourceQuota", "get", "read the specified ResourceQuota", &quota, vec![], None, responses(QUOTA_SCHEMA, &OK, JSON_ONLY)),
            "put": operation("replaceCoreV1NamespacedResourceQuota", "put", "replace the specified ResourceQuota", &quota, write_params(), body(QUOTA_SCHEMA),
                responses(QUOTA_SCHEMA, &WRITTEN, JSON_ONLY)),
            "patch": operation("patchCoreV1NamespacedResourceQuota", "patch", "partially update the specified ResourceQuota", &quota, write_params(), patch_body(),
                responses(QUOTA_SCHEMA, &WRITTEN, JSON_ONLY)),
            "delete": operation("deleteCoreV1NamespacedResourceQuota", "delete", "delete a ResourceQuota", &quota, delete_params(), delete_body(),
                responses(QUOTA_SCHEMA, &DELETED, JSON_ONLY)),
        },
        "/api/v1/resourcequotas": {
            "parameters": [ops.pretty],
            "get": operation("listCoreV1ResourceQuotaForAllNamespaces", "list", "list objects of kind ResourceQuota", &quota, list_params(), None,
                responses(&list_of(QUOTA_SCHEMA), &OK, JSON_ONLY)),
        },
    })
}
