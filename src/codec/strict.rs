//! Server-side field validation (`fieldValidation=Strict|Warn|Ignore`) against our OpenAPI schemas.
//!
//! kubectl leaves validation to servers that advertise `fieldValidation` (see `api/openapi.rs`)
//! and sends `fieldValidation=Strict` by default, expecting unknown fields to be rejected. serde
//! (and the k8s-openapi types) silently drop unknown fields, so the raw JSON is walked against the
//! schema instead: every member not declared by the schema at that place is reported, with
//! Kubernetes' path syntax (`spec.containers[0].imagePullPolicyy`). Free-form objects (no
//! `properties`, e.g. `fieldsV1`), maps (`additionalProperties`, e.g. labels) and untyped values
//! (Quantity, IntOrString) accept anything their schema accepts.
//!
//! Kubernetes reports the unknown fields of a create or update as a 400 `BadRequest` with
//! [`strict_decoding_message`]; with `Warn` it accepts the object and returns one
//! `Warning: 299 - "unknown field \"...\""` header per field ([`unknown_field_warning`]).

use serde_json::Value;

use std::sync::OnceLock;

use k8s_openapi::api::core::v1::{Event, Pod};
use k8s_openapi::schemars::generate::SchemaSettings;
use serde_json::Map;

/// The unknown fields of `value` as an instance of schema `schema_name` (e.g.
/// `io.k8s.api.core.v1.Pod`), in document order, at most 100. An unknown schema name reports
/// nothing.
pub(crate) fn unknown_fields(schema_name: &str, value: &Value) -> Vec<String> {
    let schemas = schemas();
    let mut out = Vec::new();
    if let Some(schema) = schemas.get(schema_name) {
        walk(schemas, schema, value, "", &mut out);
    }
    out
}

/// The schemas of the objects k8sless decodes (and of everything they contain), generated once
/// from the k8s-openapi types with the settings of our OpenAPI document (`api/openapi.rs`,
/// which adds extensions but no properties, so the fields known here are the ones it
/// publishes).
fn schemas() -> &'static Value {
    static SCHEMAS: OnceLock<Value> = OnceLock::new();
    SCHEMAS.get_or_init(|| {
        let mut generator = SchemaSettings::openapi3()
            .with(|s| s.meta_schema = None)
            .into_generator();
        generator.subschema_for::<Pod>();
        generator.subschema_for::<Event>();
        let definitions: Map<String, Value> = generator.take_definitions(true);
        Value::Object(definitions)
    })
}

/// The message of Kubernetes' 400 response for unknown fields of a `kind` object, e.g.
/// `Pod in version "v1" cannot be handled as a Pod: strict decoding error: unknown field "spec.foo"`.
pub(crate) fn strict_decoding_message(kind: &str, unknown: &[String]) -> String {
    let fields: Vec<String> = unknown.iter().map(|f| unknown_field_warning(f)).collect();
    format!(
        "{kind} in version \"v1\" cannot be handled as a {kind}: strict decoding error: {}",
        fields.join(", ")
    )
}

/// The text Kubernetes reports for one unknown field: `unknown field "spec.foo"` (the value of a
/// `Warning: 299 - "..."` header once its quotes are escaped).
pub(crate) fn unknown_field_warning(field: &str) -> String {
    format!("unknown field {field:?}")
}

/// Follows `$ref` and single-element `allOf` wrappers to the schema that describes the value.
fn resolve<'a>(schemas: &'a Value, mut schema: &'a Value) -> &'a Value {
    for _ in 0..16 {
        if let Some(name) = schema
            .get("$ref")
            .and_then(Value::as_str)
            .and_then(|r| r.strip_prefix("#/components/schemas/"))
        {
            schema = &schemas[name];
        } else if let Some([inner]) = schema
            .get("allOf")
            .and_then(Value::as_array)
            .map(Vec::as_slice)
        {
            schema = inner;
        } else {
            break;
        }
    }
    schema
}

fn walk(schemas: &Value, schema: &Value, value: &Value, path: &str, out: &mut Vec<String>) {
    const LIMIT: usize = 100;
    let schema = resolve(schemas, schema);
    let join = |key: &str| {
        if path.is_empty() {
            key.to_string()
        } else {
            format!("{path}.{key}")
        }
    };
    match value {
        Value::Object(members) => {
            if let Some(properties) = schema.get("properties").and_then(Value::as_object) {
                for (key, member) in members {
                    match properties.get(key) {
                        Some(property) => walk(schemas, property, member, &join(key), out),
                        None if out.len() < LIMIT => out.push(join(key)),
                        None => {}
                    }
                }
            } else if let Some(values) =
                schema.get("additionalProperties").filter(|v| v.is_object())
            {
                for (key, member) in members {
                    walk(schemas, values, member, &join(key), out);
                }
            }
        }
        Value::Array(items) => {
            if let Some(item_schema) = schema.get("items") {
                for (i, item) in items.iter().enumerate() {
                    walk(schemas, item_schema, item, &format!("{path}[{i}]"), out);
                }
            }
        }
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn reports_unknown_fields_with_kubernetes_paths() {
        let pod = json!({
            "apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": "p", "labels": {"any-key": "v"}, "managedFields": [{"fieldsV1": {"f:spec": {}}}], "colour": "red"},
            "spec": {
                "containers": [{"name": "c", "image": "i", "imagePullPolicyy": "Always",
                                "resources": {"limits": {"cpu": "1"}}, "ports": [{"containerPort": 80, "protocl": "TCP"}]}],
                "nodeSelector": {"k": "v"},
                "bogus": true,
            },
            "status": {"phase": "Pending"},
        });
        assert_eq!(
            unknown_fields("io.k8s.api.core.v1.Pod", &pod),
            [
                "metadata.colour",
                "spec.bogus",
                "spec.containers[0].imagePullPolicyy",
                "spec.containers[0].ports[0].protocl"
            ]
        );
        assert!(
            unknown_fields(
                "io.k8s.api.core.v1.Pod",
                &json!({"metadata": {"name": "ok"}, "spec": {"containers": []}})
            )
            .is_empty()
        );
        assert_eq!(
            unknown_fields("io.k8s.api.core.v1.Pod", &json!({"extra": 1})),
            ["extra"]
        );
        assert!(unknown_fields("no.such.Schema", &json!({"extra": 1})).is_empty());
    }

    #[test]
    fn messages_match_kubernetes() {
        let fields = ["spec.foo".to_string(), "spec.bar".to_string()];
        assert_eq!(
            strict_decoding_message("Pod", &fields),
            r#"Pod in version "v1" cannot be handled as a Pod: strict decoding error: unknown field "spec.foo", unknown field "spec.bar""#
        );
        assert_eq!(
            unknown_field_warning("spec.foo"),
            r#"unknown field "spec.foo""#
        );
    }
}
