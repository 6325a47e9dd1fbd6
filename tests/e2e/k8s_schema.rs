//! Validates JSON the service returns against Kubernetes' own OpenAPI v3 schemas (the 1.35
//! core/v1 document in ../shared/fixtures): no unknown field, the right JSON types, required
//! properties present, enums respected. Test-only: the service never reads this file.

use std::sync::OnceLock;

use k8sless::testing::fixture;
use serde_json::Value;

/// The document, read once; absent: a printed skip, or a failure when tools are required.
fn doc() -> Option<&'static Value> {
    static DOC: OnceLock<Option<Value>> = OnceLock::new();
    DOC.get_or_init(|| {
        let p = fixture("kubernetes-1.35-api-v1-openapi.json")?;
        let text = std::fs::read_to_string(p).ok()?;
        serde_json::from_str(&text).ok()
    })
    .as_ref()
}

/// Problems of `value` as `io.k8s...` schema `name`; `None` when the fixture is absent
/// (a skip is printed).
pub fn check(name: &str, value: &Value) -> Option<Vec<String>> {
    let d = doc()?;
    let mut errors = Vec::new();
    walk(
        d,
        &serde_json::json!({"$ref": format!("#/components/schemas/{name}")}),
        value,
        "",
        &mut errors,
        0,
    );
    Some(errors)
}

/// Asserts `value` is a valid `name`.
pub fn assert_valid(name: &str, value: &Value) {
    if let Some(errors) = check(name, value) {
        assert!(
            errors.is_empty(),
            "{name} does not validate against Kubernetes' schema: {errors:#?}\n{value:#}"
        );
    }
}

fn walk(
    doc: &Value,
    schema: &Value,
    value: &Value,
    path: &str,
    errors: &mut Vec<String>,
    depth: usize,
) {
    if depth > 64 {
        return;
    }
    if let Some(r) = schema.get("$ref").and_then(Value::as_str) {
        let name = r.trim_start_matches("#/components/schemas/");
        match doc["components"]["schemas"].get(name) {
            Some(s) => walk(doc, s, value, path, errors, depth + 1),
            None => errors.push(format!("{path}: unresolved {r}")),
        }
        return;
    }
    if let Some(all) = schema.get("allOf").and_then(Value::as_array) {
        for s in all {
            walk(doc, s, value, path, errors, depth + 1);
        }
    }
    if let Some(one) = schema.get("oneOf").and_then(Value::as_array) {
        let ok = one.iter().any(|s| {
            let mut e = Vec::new();
            walk(doc, s, value, path, &mut e, depth + 1);
            e.is_empty()
        });
        if !ok {
            errors.push(format!("{path}: matches none of oneOf"));
        }
        return;
    }
    let here = if path.is_empty() {
        "(root)".to_string()
    } else {
        path.to_string()
    };
    if value.is_null() {
        return;
    }
    let ty = schema.get("type").and_then(Value::as_str);
    match (ty, value) {
        (Some("object") | None, Value::Object(map))
            if schema.get("properties").is_some()
                || schema.get("additionalProperties").is_some() =>
        {
            let props = schema.get("properties").and_then(Value::as_object);
            for (k, v) in map {
                let sub = format!("{path}.{k}");
                match (
                    props.and_then(|p| p.get(k)),
                    schema.get("additionalProperties"),
                ) {
                    (Some(s), _) => walk(doc, s, v, &sub, errors, depth + 1),
                    (None, Some(a)) if a.is_object() => walk(doc, a, v, &sub, errors, depth + 1),
                    (None, Some(Value::Bool(true))) => {}
                    _ => errors.push(format!("{sub}: unknown field")),
                }
            }
            for req in schema
                .get("required")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
            {
                if let Some(r) = req.as_str() {
                    if !map.contains_key(r) {
                        errors.push(format!("{here}: required field {r} missing"));
                    }
                }
            }
        }
        (Some("object") | None, Value::Object(_)) => {}
        (Some("array"), Value::Array(items)) => {
            if let Some(s) = schema.get("items") {
                for (i, v) in items.iter().enumerate() {
                    walk(doc, s, v, &format!("{path}[{i}]"), errors, depth + 1);
                }
            }
        }
        (Some("string"), Value::String(s)) => {
            if let Some(e) = schema.get("enum").and_then(Value::as_array) {
                if !e.iter().any(|x| x.as_str() == Some(s)) {
                    errors.push(format!("{here}: {s:?} not in enum"));
                }
            }
        }
        (Some("integer"), Value::Number(n)) if n.is_i64() || n.is_u64() => {}
        (Some("number"), Value::Number(_)) | (Some("boolean"), Value::Bool(_)) => {}
        (None, _) => {}
        (Some(t), v) => errors.push(format!("{here}: expected {t}, got {v}")),
    }
}
