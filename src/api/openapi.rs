//! The OpenAPI v3 document of what we serve (`/openapi/v3` and `/openapi/v3/api/v1`; RBAC's is
//! `openapi_rbac.rs`).
//!
//! kubectl reads it for three things (all verified with kubectl 1.33 against this document):
//! - **Validation** (`kubectl create/apply`, default `--validate=strict`): kubectl looks for a
//!   `PATCH` operation whose `x-kubernetes-group-version-kind` is the object's GVK and whose
//!   parameters include `fieldValidation`; finding it, it leaves validation to the server and sends
//!   `fieldValidation=Strict`. If the document is missing or lacks that path, kubectl fails
//!   (it then needs `--validate=false`). So every pod operation carries its GVK and write
//!   operations list `fieldValidation`, `dryRun` and `fieldManager`; the server side of strict
//!   validation is [`super::strict`].
//! - **Strategic merge patches** (`kubectl apply`): when the `PATCH` operation accepts
//!   `application/strategic-merge-patch+json`, kubectl computes the patch from the schema whose
//!   `x-kubernetes-group-version-kind` list holds Pod, following `$ref`/`allOf` and reading
//!   `x-kubernetes-patch-strategy` / `x-kubernetes-patch-merge-key`. Those come from
//!   [`POD_PATCH_META`], the table our own patch code applies with.
//! - **`kubectl explain pods`**: finds the GVK on the `get` of `/api/v1/namespaces/{namespace}/pods`
//!   and then the schema carrying that GVK.
//!
//! Namespaces and ResourceQuotas are in it too, every verb we serve ([`super::openapi_objects`]).
//!
//! `/openapi/v2` is not served: kube-apiserver serves it, but every client we test reads v3
//! (kubectl since 1.27 tries v3 first and uses v2 only when v3 is absent), so `/openapi/v2`
//! answers as any absent path does, a 404 `Status`.
//!
//! Schemas are generated at first use from the k8s-openapi types (`schemars` feature, OpenAPI 3.0
//! settings: `#/components/schemas/io.k8s.api.core.v1.Pod` names, `$ref` with siblings wrapped in
//! `allOf` as Kubernetes does), then completed with what the types lack: GVK extensions, patch
//! extensions, `PodList`/`EventList`. The document is built once ([`OnceLock`]) and its hash
//! (SHA-512, as Kubernetes) versions the URL so clients can cache it for good.

use std::sync::OnceLock;

use k8s_openapi::Resource;
use k8s_openapi::api::core::v1::{Event, Namespace, Pod, ResourceQuota};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{
    DeleteOptions, ListMeta, Patch, Status, WatchEvent,
};
use k8s_openapi::schemars::generate::{SchemaGenerator, SchemaSettings};
use serde_json::{Map, Value, json};
use sha2::{Digest, Sha512};

use super::discovery::KUBERNETES_VERSION;
use super::openapi_paths::paths;
use crate::pods::update::patch_meta::POD_PATCH_META;

/// Where client-go finds the core group's document in the `/openapi/v3` index.
pub(crate) const API_V1_PATH: &str = "api/v1";

/// `GET /openapi/v3`: the index of group-version documents, with a hash-versioned URL.
pub(crate) fn openapi_v3_root() -> Value {
    let rbac = super::openapi_rbac::RBAC_V1_PATH;
    json!({ "paths": {
        API_V1_PATH: { "serverRelativeURL": format!("/openapi/v3/{API_V1_PATH}?hash={}", openapi_v3_hash()) },
        rbac: { "serverRelativeURL": format!("/openapi/v3/{rbac}?hash={}", super::openapi_rbac::hash()) },
    } })
}

/// `GET /openapi/v3/api/v1`: the document, built on first use.
pub(crate) fn openapi_v3_api_v1() -> &'static Value {
    static DOC: OnceLock<Value> = OnceLock::new();
    DOC.get_or_init(build_document)
}

/// The document serialized once, ready to send as the `application/json` body (about 320 KB).
pub(crate) fn openapi_v3_api_v1_json() -> &'static [u8] {
    static BYTES: OnceLock<Vec<u8>> = OnceLock::new();
    BYTES.get_or_init(|| serde_json::to_vec(openapi_v3_api_v1()).unwrap_or_default())
}

/// The uppercase hex SHA-512 of [`openapi_v3_api_v1_json`] (the `hash` of the document's URL,
/// as Kubernetes computes it; also usable as a strong ETag).
pub(crate) fn openapi_v3_hash() -> &'static str {
    static HASH: OnceLock<String> = OnceLock::new();
    HASH.get_or_init(|| document_hash(openapi_v3_api_v1_json()))
}

/// The `hash` of a served OpenAPI document's URL, as Kubernetes computes it: the uppercase
/// hex SHA-512 of its bytes.
pub(super) fn document_hash(document: &[u8]) -> String {
    Sha512::digest(document)
        .iter()
        .map(|b| format!("{b:02X}"))
        .collect()
}

pub(super) fn gvk<R: Resource>(suffix: &str) -> Value {
    json!({ "group": R::GROUP, "version": R::VERSION, "kind": format!("{}{suffix}", R::KIND) })
}

pub(super) fn schema_ref(name: &str) -> Value {
    json!({ "$ref": format!("#/components/schemas/{name}") })
}

fn build_document() -> Value {
    json!({
        "openapi": "3.0.0",
        "info": { "title": "Kubernetes", "version": KUBERNETES_VERSION.2 },
        "paths": paths(),
        "components": {
            "schemas": schemas(),
            "securitySchemes": { "BearerToken": { "type": "apiKey", "name": "authorization", "in": "header", "description": "Bearer Token authentication" } },
        },
    })
}

pub(super) const POD_SCHEMA: &str = "io.k8s.api.core.v1.Pod";
pub(super) const EVENT_SCHEMA: &str = "io.k8s.api.core.v1.Event";
pub(super) const NAMESPACE_SCHEMA: &str = "io.k8s.api.core.v1.Namespace";
pub(super) const QUOTA_SCHEMA: &str = "io.k8s.api.core.v1.ResourceQuota";

/// An OpenAPI 3 schema generator holding the schemas every document refers to: `Status`,
/// `DeleteOptions`, `ListMeta` and `Patch` (the core document and the RBAC group's).
pub(super) fn generator() -> SchemaGenerator {
    let mut generator = SchemaSettings::openapi3()
        .with(|s| s.meta_schema = None)
        .into_generator();
    generator.subschema_for::<Status>();
    generator.subschema_for::<DeleteOptions>();
    generator.subschema_for::<ListMeta>();
    generator.subschema_for::<Patch>();
    generator
}

fn schemas() -> Map<String, Value> {
    let mut generator = generator();
    generator.subschema_for::<Pod>();
    generator.subschema_for::<Event>();
    generator.subschema_for::<Namespace>();
    generator.subschema_for::<ResourceQuota>();
    generator.subschema_for::<WatchEvent<Pod>>();
    let mut schemas = generator.take_definitions(true);

    schemas.insert(
        format!("{POD_SCHEMA}List"),
        list_schema::<Pod>(POD_SCHEMA, "List of pods."),
    );
    schemas.insert(
        format!("{EVENT_SCHEMA}List"),
        list_schema::<Event>(EVENT_SCHEMA, "List of events."),
    );
    schemas.insert(
        format!("{NAMESPACE_SCHEMA}List"),
        list_schema::<Namespace>(
            NAMESPACE_SCHEMA,
            "Items is the list of Namespace objects in the list.",
        ),
    );
    schemas.insert(
        format!("{QUOTA_SCHEMA}List"),
        list_schema::<ResourceQuota>(QUOTA_SCHEMA, "Items is a list of ResourceQuota objects."),
    );
    annotate(&mut schemas);
    schemas
}

/// Kubernetes' own annotations on the generated schemas: group-version-kinds, fields it does
/// not require, the scalar-or-string forms, and the strategic-merge directives.
fn annotate(schemas: &mut Map<String, Value>) {
    let kinds = [
        (POD_SCHEMA, gvk::<Pod>("")),
        (EVENT_SCHEMA, gvk::<Event>("")),
        (NAMESPACE_SCHEMA, gvk::<Namespace>("")),
        (QUOTA_SCHEMA, gvk::<ResourceQuota>("")),
        (
            "io.k8s.apimachinery.pkg.apis.meta.v1.Status",
            gvk::<Status>(""),
        ),
        (
            "io.k8s.apimachinery.pkg.apis.meta.v1.DeleteOptions",
            json!({"group": "", "version": "v1", "kind": "DeleteOptions"}),
        ),
        (
            "io.k8s.apimachinery.pkg.apis.meta.v1.WatchEvent",
            json!({"group": "", "version": "v1", "kind": "WatchEvent"}),
        ),
    ];
    for (name, gvk) in kinds {
        if let Some(Value::Object(schema)) = schemas.get_mut(name) {
            schema.insert("x-kubernetes-group-version-kind".into(), json!([gvk]));
        }
    }
    relax_required(schemas);
    scalar_forms(schemas);
    patch_directives(schemas);
}

fn relax_required(schemas: &mut Map<String, Value>) {
    // Fields k8s-openapi types make mandatory (not `Option` in Rust) that Kubernetes does not require.
    for (name, field) in NOT_REQUIRED {
        if let Some(Value::Object(schema)) = schemas.get_mut(*name) {
            if let Some(Value::Array(required)) = schema.get_mut("required") {
                required.retain(|r| r != field);
                if required.is_empty() {
                    schema.remove("required");
                }
            }
        }
    }
}

fn scalar_forms(schemas: &mut Map<String, Value>) {
    // Kubernetes' forms of the two scalar-or-string types (k8s-openapi leaves them untyped).
    let forms = [
        (
            "io.k8s.apimachinery.pkg.api.resource.Quantity",
            json!({"oneOf": [{"type": "string"}, {"type": "number"}]}),
        ),
        (
            "io.k8s.apimachinery.pkg.util.intstr.IntOrString",
            json!({"format": "int-or-string", "oneOf": [{"type": "integer"}, {"type": "string"}]}),
        ),
    ];
    for (name, form) in forms {
        if let (Some(Value::Object(schema)), Value::Object(form)) = (schemas.get_mut(name), form) {
            schema.remove("x-kubernetes-int-or-string");
            schema.extend(form);
        }
    }
}

fn patch_directives(schemas: &mut Map<String, Value>) {
    for meta in POD_PATCH_META {
        if let Some(Value::Object(prop)) = schemas
            .get_mut(meta.schema)
            .and_then(|s| s.pointer_mut(&format!("/properties/{}", meta.field)))
        {
            prop.insert("x-kubernetes-patch-strategy".into(), meta.strategy.into());
            if let Some(key) = meta.merge_key {
                prop.insert("x-kubernetes-patch-merge-key".into(), key.into());
            }
        }
    }
}

const NOT_REQUIRED: &[(&str, &str)] = &[
    (POD_SCHEMA, "metadata"),
    (NAMESPACE_SCHEMA, "metadata"),
    (QUOTA_SCHEMA, "metadata"),
    ("io.k8s.apimachinery.pkg.apis.meta.v1.Status", "metadata"),
    ("io.k8s.api.core.v1.LocalObjectReference", "name"),
    ("io.k8s.api.core.v1.ConfigMapEnvSource", "name"),
    ("io.k8s.api.core.v1.ConfigMapKeySelector", "name"),
    ("io.k8s.api.core.v1.ConfigMapProjection", "name"),
    ("io.k8s.api.core.v1.ConfigMapVolumeSource", "name"),
    ("io.k8s.api.core.v1.SecretEnvSource", "name"),
    ("io.k8s.api.core.v1.SecretKeySelector", "name"),
    ("io.k8s.api.core.v1.SecretProjection", "name"),
];

fn list_schema<R: Resource>(item: &str, description: &str) -> Value {
    json!({
        "description": format!("{}List is a list of {}s.", R::KIND, R::KIND),
        "type": "object",
        "properties": {
            "apiVersion": { "description": "APIVersion defines the versioned schema of this representation of an object.", "type": "string" },
            "items": { "description": description, "type": "array", "items": schema_ref(item) },
            "kind": { "description": "Kind is a string value representing the REST resource this object represents.", "type": "string" },
            "metadata": { "allOf": [schema_ref("io.k8s.apimachinery.pkg.apis.meta.v1.ListMeta")], "description": "Standard list metadata." },
        },
        "required": ["items"],
        "x-kubernetes-group-version-kind": [gvk::<R>("List")],
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn schemas() -> &'static Map<String, Value> {
        openapi_v3_api_v1()["components"]["schemas"]
            .as_object()
            .expect("schemas")
    }

    fn collect_refs<'a>(value: &'a Value, out: &mut Vec<&'a str>) {
        match value {
            Value::Object(map) => {
                if let Some(r) = map.get("$ref").and_then(Value::as_str) {
                    out.push(r);
                }
                map.values().for_each(|v| collect_refs(v, out));
            }
            Value::Array(items) => items.iter().for_each(|v| collect_refs(v, out)),
            _ => {}
        }
    }

    #[test]
    fn document_round_trips_and_every_ref_resolves() {
        let doc = openapi_v3_api_v1();
        let again: Value = serde_json::from_slice(openapi_v3_api_v1_json()).expect("parses");
        assert_eq!(&again, doc);
        assert_eq!(doc["openapi"], "3.0.0");
        let mut refs = Vec::new();
        collect_refs(doc, &mut refs);
        assert!(refs.len() > 100);
        for r in refs {
            let name = r
                .strip_prefix("#/components/schemas/")
                .unwrap_or_else(|| panic!("unexpected ref {r}"));
            assert!(schemas().contains_key(name), "dangling {r}");
        }
    }

    #[test]
    fn root_points_at_the_hashed_document() {
        let root = openapi_v3_root();
        let url = root["paths"]["api/v1"]["serverRelativeURL"]
            .as_str()
            .expect("url");
        assert_eq!(
            url,
            format!("/openapi/v3/api/v1?hash={}", openapi_v3_hash())
        );
        assert_eq!(openapi_v3_hash().len(), 128);
        assert!(
            openapi_v3_hash()
                .bytes()
                .all(|b| b.is_ascii_digit() || (b'A'..=b'F').contains(&b))
        );
    }

    /// What kubectl's `queryParamVerifierV3` and apply's `gvkSupportsPatchOpenAPIV3` look for.
    #[test]
    fn every_pod_patch_operation_supports_field_validation_and_strategic_merge() {
        let pod = json!({"group": "", "version": "v1", "kind": "Pod"});
        let paths = openapi_v3_api_v1()["paths"].as_object().expect("paths");
        let patches: Vec<&Value> = paths
            .values()
            .filter_map(|p| p.get("patch"))
            .filter(|op| op["x-kubernetes-group-version-kind"] == pod)
            .collect();
        assert_eq!(patches.len(), 2);
        for op in patches {
            let params: Vec<(&str, &str)> = op["parameters"]
                .as_array()
                .expect("params")
                .iter()
                .map(|p| {
                    (
                        p["name"].as_str().expect("name"),
                        p["in"].as_str().expect("in"),
                    )
                })
                .collect();
            assert!(params.contains(&("fieldValidation", "query")));
            assert!(params.contains(&("dryRun", "query")));
            assert!(
                op["requestBody"]["content"]
                    .get("application/strategic-merge-patch+json")
                    .is_some()
            );
        }
        for (path, item) in paths {
            for (method, op) in item.as_object().expect("path item") {
                if method != "parameters" {
                    assert!(
                        op["x-kubernetes-group-version-kind"].is_object(),
                        "{method} {path} lacks its GVK"
                    );
                }
            }
        }
        let list = &paths["/api/v1/namespaces/{namespace}/pods"]["get"];
        let names = crate::testing::strs_of(&list["parameters"], "name");
        for name in [
            "watch",
            "labelSelector",
            "fieldSelector",
            "limit",
            "continue",
            "resourceVersion",
            "timeoutSeconds",
            "allowWatchBookmarks",
        ] {
            assert!(names.contains(&name), "{name}");
        }
    }

    /// What `kubectl explain` and apply's `buildStrategicMergePatchFromOpenAPIV3` look for.
    #[test]
    fn schemas_carry_gvk_and_patch_extensions() {
        let with_gvk = |kind: &str| {
            schemas()
                .values()
                .filter(|s| {
                    s["x-kubernetes-group-version-kind"]
                        .as_array()
                        .is_some_and(|l| {
                            l.iter().any(|g| {
                                g["kind"] == kind && g["group"] == "" && g["version"] == "v1"
                            })
                        })
                })
                .count()
        };
        for kind in [
            "Pod",
            "PodList",
            "Event",
            "EventList",
            "Namespace",
            "NamespaceList",
            "Status",
            "DeleteOptions",
            "WatchEvent",
        ] {
            assert_eq!(with_gvk(kind), 1, "{kind}");
        }
        let spec = &schemas()["io.k8s.api.core.v1.PodSpec"];
        assert_eq!(
            spec["properties"]["containers"]["x-kubernetes-patch-merge-key"],
            "name"
        );
        assert_eq!(
            spec["properties"]["volumes"]["x-kubernetes-patch-strategy"],
            "merge,retainKeys"
        );
        assert_eq!(spec["required"], json!(["containers"]));
        assert_eq!(
            schemas()["io.k8s.api.core.v1.Pod"]["properties"]["metadata"]["allOf"][0]["$ref"],
            "#/components/schemas/io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta"
        );
        assert!(
            schemas()["io.k8s.api.core.v1.Pod"]
                .get("required")
                .is_none()
        );
    }

    /// Compares with the published Kubernetes 1.35 document (a newer release: it may have more
    /// fields, never fewer, and the same types and required fields).
    #[test]
    fn schemas_agree_with_the_kubernetes_openapi() {
        let Some(text) = crate::testing::fixture_text("kubernetes-1.35-api-v1-openapi.json") else {
            return;
        };
        let fixture: Value = serde_json::from_str(&text).expect("fixture parses");
        let theirs = fixture["components"]["schemas"]
            .as_object()
            .expect("schemas");
        let props = |s: &Value| -> Vec<String> {
            s["properties"]
                .as_object()
                .map(|p| p.keys().cloned().collect())
                .unwrap_or_default()
        };
        for name in [
            "io.k8s.api.core.v1.Pod",
            "io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta",
            "io.k8s.api.core.v1.PodList",
            "io.k8s.apimachinery.pkg.apis.meta.v1.Status",
        ] {
            assert_eq!(props(&schemas()[name]), props(&theirs[name]), "{name}");
        }
        for (name, ours) in schemas() {
            let their = theirs
                .get(name)
                .unwrap_or_else(|| panic!("{name} is not a Kubernetes schema"));
            for (field, prop) in ours["properties"].as_object().into_iter().flatten() {
                let their_prop = their["properties"]
                    .get(field)
                    .unwrap_or_else(|| panic!("{name}.{field} is not in Kubernetes"));
                assert_eq!(prop.get("type"), their_prop.get("type"), "{name}.{field}");
                assert_eq!(
                    prop.get("format"),
                    their_prop.get("format"),
                    "{name}.{field}"
                );
            }
            let required = |s: &Value| -> std::collections::BTreeSet<String> {
                s["required"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .filter_map(|r| r.as_str().map(String::from))
                    .collect()
            };
            assert_eq!(required(ours), required(their), "{name} required");
            assert_eq!(
                ours.get("x-kubernetes-group-version-kind").is_some(),
                their.get("x-kubernetes-group-version-kind").is_some(),
                "{name} GVK"
            );
        }
    }
}
