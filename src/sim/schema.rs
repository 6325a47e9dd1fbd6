//! Checks JSON against a Google API discovery document's schemas: no property the schema
//! lacks, every enum value valid, JSON types as the schema says (int64 as strings), and the
//! properties a method marks required (`annotations.required`) present.
//!
//! The simulator uses it, when given the Compute discovery document (`--discovery`), to
//! reject what Compute Engine would reject; the fidelity tests use it on every request body
//! the client sends and every response the simulator returns. The document is read at run
//! time from a path: it is reference data, never embedded.

use serde_json::Value;

/// A loaded discovery document.
#[derive(Debug)]
pub struct Discovery {
    doc: Value,
}

impl Discovery {
    /// Reads a discovery document from a file.
    pub fn load(path: &std::path::Path) -> Result<Self, String> {
        let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
        let doc: Value =
            serde_json::from_str(&text).map_err(|e| format!("{}: {e}", path.display()))?;
        if !doc.get("schemas").is_some_and(Value::is_object) {
            return Err(format!(
                "{}: not a discovery document (no schemas)",
                path.display()
            ));
        }
        Ok(Discovery { doc })
    }

    /// Problems of `value` as schema `schema`; `method_id` (e.g. `compute.instances.insert`)
    /// turns on that method's required properties. Empty means valid.
    pub fn validate(&self, schema: &str, value: &Value, method_id: Option<&str>) -> Vec<String> {
        let mut errors = Vec::new();
        let root = serde_json::json!({ "$ref": schema });
        self.check(&root, value, "", method_id, &mut errors, 0);
        errors
    }

    fn check(
        &self,
        schema: &Value,
        value: &Value,
        path: &str,
        method: Option<&str>,
        errors: &mut Vec<String>,
        depth: usize,
    ) {
        if depth > 32 {
            return;
        }
        if let Some(name) = schema.get("$ref").and_then(Value::as_str) {
            match self.doc["schemas"].get(name) {
                Some(s) => self.check(s, value, path, method, errors, depth + 1),
                None => errors.push(format!("{path}: unknown schema {name}")),
            }
            return;
        }
        let ty = schema.get("type").and_then(Value::as_str).unwrap_or("any");
        let here = if path.is_empty() { "(root)" } else { path };
        match (ty, value) {
            (_, Value::Null) => {}
            ("object", Value::Object(map)) => {
                let props = schema.get("properties").and_then(Value::as_object);
                let additional = schema.get("additionalProperties");
                for (key, v) in map {
                    let sub = format!("{path}.{key}");
                    match (props.and_then(|p| p.get(key)), additional) {
                        (Some(s), _) => self.check(s, v, &sub, method, errors, depth + 1),
                        (None, Some(a)) => self.check(a, v, &sub, method, errors, depth + 1),
                        (None, None) => {
                            errors.push(format!("{sub}: no such field in the discovery schema"))
                        }
                    }
                }
                if let (Some(props), Some(method)) = (props, method) {
                    for (key, s) in props {
                        let required = s["annotations"]["required"]
                            .as_array()
                            .is_some_and(|r| r.iter().any(|m| m.as_str() == Some(method)));
                        if required && depth <= 1 && !map.contains_key(key) {
                            errors.push(format!("{path}.{key}: required by {method}"));
                        }
                    }
                }
            }
            ("array", Value::Array(items)) => {
                if let Some(item_schema) = schema.get("items") {
                    for (i, v) in items.iter().enumerate() {
                        self.check(
                            item_schema,
                            v,
                            &format!("{path}[{i}]"),
                            method,
                            errors,
                            depth + 1,
                        );
                    }
                }
            }
            ("string", Value::String(s)) => {
                if let Some(values) = schema.get("enum").and_then(Value::as_array) {
                    if !values.iter().any(|e| e.as_str() == Some(s)) {
                        errors.push(format!("{here}: {s:?} is not one of the enum values"));
                    }
                }
                let fmt = schema.get("format").and_then(Value::as_str);
                if matches!(fmt, Some("int64" | "uint64")) && s.parse::<i128>().is_err() {
                    errors.push(format!("{here}: {s:?} is not an {}", fmt.unwrap_or("")));
                }
            }
            ("integer", Value::Number(n)) if n.is_i64() || n.is_u64() => {}
            ("number", Value::Number(_)) | ("boolean", Value::Bool(_)) | ("any", _) => {}
            (ty, v) => errors.push(format!("{here}: expected {ty}, found {}", json_type(v))),
        }
    }
}

fn json_type(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}
