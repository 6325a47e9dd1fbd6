//! The OpenAPI v3 document of `rbac.authorization.k8s.io/v1`
//! (`/openapi/v3/apis/rbac.authorization.k8s.io/v1`), for what kubectl reads in it (see
//! `openapi.rs`): `kubectl apply`/`create -f` validation finds a `PATCH` operation with the
//! object's `x-kubernetes-group-version-kind` and a `fieldValidation` parameter (without it
//! kubectl refuses the file unless `--validate=false`); `kubectl apply` computes its strategic
//! merge patch from the schema carrying the GVK (RBAC's lists have no merge key: they are
//! replaced, as the server's merge does). Schemas come from the k8s-openapi types, as the core
//! document's do.

use std::sync::OnceLock;

use k8s_openapi::Resource;
use k8s_openapi::api::rbac::v1::{ClusterRole, ClusterRoleBinding, Role, RoleBinding};
use serde_json::{Map, Value, json};

use super::discovery::KUBERNETES_VERSION;
use super::openapi::{document_hash, generator, gvk, schema_ref};

/// Where client-go finds this document in the `/openapi/v3` index.
pub(crate) const RBAC_V1_PATH: &str = "apis/rbac.authorization.k8s.io/v1";
const BASE: &str = "/apis/rbac.authorization.k8s.io/v1";
const PREFIX: &str = "io.k8s.api.rbac.v1";

/// The document serialized once.
pub(crate) fn document_json() -> &'static [u8] {
    static BYTES: OnceLock<Vec<u8>> = OnceLock::new();
    BYTES.get_or_init(|| serde_json::to_vec(&build()).unwrap_or_default())
}

/// The uppercase hex SHA-512 of [`document_json`] (the `hash` of its URL).
pub(crate) fn hash() -> &'static str {
    static HASH: OnceLock<String> = OnceLock::new();
    HASH.get_or_init(|| document_hash(document_json()))
}

fn query(name: &str, description: &str) -> Value {
    json!({"name": name, "in": "query", "description": description, "schema": {"type": "string", "uniqueItems": true}})
}

fn write_params() -> Vec<Value> {
    vec![
        query(
            "dryRun",
            "When present, indicates that modifications should not be persisted.",
        ),
        query(
            "fieldManager",
            "fieldManager is a name associated with the actor or entity that is making these changes.",
        ),
        query(
            "fieldValidation",
            "fieldValidation instructs the server on how to handle objects in the request containing unknown or duplicate fields: Ignore, Warn or Strict.",
        ),
    ]
}

fn op(
    kind: &Value,
    action: &str,
    id: String,
    schema: &str,
    body: Option<&[&str]>,
    params: Vec<Value>,
) -> Value {
    let mut o = json!({
        "operationId": id,
        "x-kubernetes-action": action,
        "x-kubernetes-group-version-kind": kind,
        "parameters": params,
        "responses": {"200": {"description": "OK", "content": {"application/json": {"schema": schema_ref(schema)}}},
                      "401": {"description": "Unauthorized"}},
    });
    if let Some(types) = body {
        let body_schema = if action == "patch" {
            schema_ref("io.k8s.apimachinery.pkg.apis.meta.v1.Patch")
        } else {
            schema_ref(schema)
        };
        let content: Map<String, Value> = types
            .iter()
            .map(|t| ((*t).to_string(), json!({"schema": body_schema})))
            .collect();
        o["requestBody"] = json!({"content": content, "required": true});
    }
    o
}

fn kind_paths<K: Resource>(paths: &mut Map<String, Value>, plural: &str, namespaced: bool) {
    let kind = gvk::<K>("");
    let schema = format!("{PREFIX}.{}", K::KIND);
    let scope = if namespaced {
        "/namespaces/{namespace}"
    } else {
        ""
    };
    let ns_param =
        json!({"name": "namespace", "in": "path", "required": true, "schema": {"type": "string"}});
    let name_param =
        json!({"name": "name", "in": "path", "required": true, "schema": {"type": "string"}});
    let mut scoped = Vec::new();
    if namespaced {
        scoped.push(ns_param);
    }
    let collection = format!("{BASE}{scope}/{plural}");
    paths.insert(collection, json!({
        "parameters": scoped,
        "get": op(&kind, "list", format!("list{}", K::KIND), &format!("{schema}List"), None, vec![]),
        "post": op(&kind, "post", format!("create{}", K::KIND), &schema, Some(&["*/*"]), write_params()),
    }));
    let mut named = scoped.clone();
    named.insert(0, name_param);
    let patch_types = [
        "application/json-patch+json",
        "application/merge-patch+json",
        "application/strategic-merge-patch+json",
    ];
    paths.insert(format!("{BASE}{scope}/{plural}/{{name}}"), json!({
        "parameters": named,
        "get": op(&kind, "get", format!("read{}", K::KIND), &schema, None, vec![]),
        "put": op(&kind, "put", format!("replace{}", K::KIND), &schema, Some(&["*/*"]), write_params()),
        "patch": op(&kind, "patch", format!("patch{}", K::KIND), &schema, Some(&patch_types), write_params()),
        "delete": op(&kind, "delete", format!("delete{}", K::KIND), "io.k8s.apimachinery.pkg.apis.meta.v1.Status", None, vec![query("dryRun", "")]),
    }));
}

fn list_schema(item: &str) -> Value {
    json!({"type": "object", "required": ["items"], "properties": {
        "apiVersion": {"type": "string"}, "kind": {"type": "string"},
        "items": {"type": "array", "items": {"allOf": [schema_ref(item)], "default": {}}},
        "metadata": {"allOf": [schema_ref("io.k8s.apimachinery.pkg.apis.meta.v1.ListMeta")], "default": {}},
    }})
}

fn build() -> Value {
    let mut generator = generator();
    generator.subschema_for::<Role>();
    generator.subschema_for::<RoleBinding>();
    generator.subschema_for::<ClusterRole>();
    generator.subschema_for::<ClusterRoleBinding>();
    let mut schemas = generator.take_definitions(true);
    let kinds = [
        ("Role", gvk::<Role>("")),
        ("RoleBinding", gvk::<RoleBinding>("")),
        ("ClusterRole", gvk::<ClusterRole>("")),
        ("ClusterRoleBinding", gvk::<ClusterRoleBinding>("")),
    ];
    for (kind, g) in kinds {
        let name = format!("{PREFIX}.{kind}");
        if let Some(Value::Object(schema)) = schemas.get_mut(&name) {
            schema.insert("x-kubernetes-group-version-kind".into(), json!([g]));
        }
        schemas.insert(format!("{name}List"), list_schema(&name));
    }
    let mut paths = Map::new();
    kind_paths::<Role>(&mut paths, "roles", true);
    kind_paths::<RoleBinding>(&mut paths, "rolebindings", true);
    kind_paths::<ClusterRole>(&mut paths, "clusterroles", false);
    kind_paths::<ClusterRoleBinding>(&mut paths, "clusterrolebindings", false);
    json!({
        "openapi": "3.0.0",
        "info": { "title": "Kubernetes", "version": KUBERNETES_VERSION.2 },
        "paths": paths,
        "components": { "schemas": schemas },
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_kind_has_a_validating_patch_and_a_schema_with_its_gvk() {
        let doc: Value = serde_json::from_slice(document_json()).expect("json");
        for (path, kind) in [
            (
                "/apis/rbac.authorization.k8s.io/v1/namespaces/{namespace}/rolebindings/{name}",
                "RoleBinding",
            ),
            (
                "/apis/rbac.authorization.k8s.io/v1/clusterroles/{name}",
                "ClusterRole",
            ),
        ] {
            let patch = &doc["paths"][path]["patch"];
            assert_eq!(
                patch["x-kubernetes-group-version-kind"]["kind"], kind,
                "{path}"
            );
            let params = patch["parameters"].as_array().expect("params");
            assert!(params.iter().any(|p| p["name"] == "fieldValidation"));
            let schema = &doc["components"]["schemas"][format!("io.k8s.api.rbac.v1.{kind}")];
            assert_eq!(schema["x-kubernetes-group-version-kind"][0]["kind"], kind);
        }
        assert_eq!(hash().len(), 128);
    }
}
