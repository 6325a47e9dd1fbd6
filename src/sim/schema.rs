//! Checks JSON against a Google API discovery document's schemas: no property the schema
//! lacks, every enum value valid, JSON types as the schema says (int64 as strings), and the
//! properties a method marks required (`annotations.required`) present.
//!
//! The simulator uses it, when given the Compute discovery document (`--discovery`), to
//! reject what Compute Engine would reject; the fidelity tests use it on every request body
//! the client sends and every response the simulator returns, and the contract tests
//! (tests/e2e/google_contracts.rs) on every call of the Storage client and the Cloud Logging
//! reader ([`Discovery::check_call`]: method, path, query parameters). The document is read at run
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

impl Discovery {
    /// The method `id` (e.g. `storage.objects.list`), anywhere in the resource tree.
    fn method(&self, id: &str) -> Option<&Value> {
        fn find<'a>(resources: &'a Value, id: &str) -> Option<&'a Value> {
            resources.as_object()?.values().find_map(|r| {
                r["methods"]
                    .as_object()
                    .and_then(|m| m.values().find(|m| m["id"] == id))
                    .or_else(|| find(&r["resources"], id))
            })
        }
        find(&self.doc["resources"], id)
    }

    /// Problems of one call of method `method_id` as sent: its HTTP method, its path (the
    /// method's, or one of its media upload paths) and every query parameter, which the method
    /// or the API must declare, with the declared enum values and integer formats; the
    /// method's required query parameters present. Empty means valid.
    pub fn check_call(
        &self,
        method_id: &str,
        http_method: &str,
        path: &str,
        query: &[(String, String)],
    ) -> Vec<String> {
        let Some(m) = self.method(method_id) else {
            return vec![format!(
                "{method_id}: no such method in the discovery document"
            )];
        };
        let mut errors = Vec::new();
        if m["httpMethod"] != http_method {
            errors.push(format!(
                "{method_id}: {http_method}, not {}",
                m["httpMethod"]
            ));
        }
        let service = self.doc["servicePath"].as_str().unwrap_or("");
        let mut templates = vec![format!("/{service}{}", m["path"].as_str().unwrap_or(""))];
        let protocols = m["mediaUpload"]["protocols"].as_object();
        templates.extend(
            protocols
                .into_iter()
                .flat_map(|p| p.values())
                .filter_map(|p| p["path"].as_str().map(str::to_string)),
        );
        if !templates.iter().any(|t| path_matches(t, path)) {
            errors.push(format!("{method_id}: path {path} is none of {templates:?}"));
        }
        for (key, value) in query {
            let declared = m["parameters"]
                .get(key)
                .filter(|p| p["location"] == "query")
                .or_else(|| self.doc["parameters"].get(key));
            let Some(p) = declared else {
                errors.push(format!(
                    "{method_id}: query parameter {key} is not declared"
                ));
                continue;
            };
            if let Some(values) = p["enum"].as_array()
                && !values.iter().any(|e| e.as_str() == Some(value))
            {
                errors.push(format!(
                    "{method_id}: {key}={value:?} is not one of {values:?}"
                ));
            }
            let integer = p["type"] == "integer"
                || matches!(
                    p["format"].as_str(),
                    Some("int64" | "uint64" | "int32" | "uint32")
                );
            if integer && value.parse::<i128>().is_err() {
                errors.push(format!("{method_id}: {key}={value:?} is not an integer"));
            }
            if key == "uploadType"
                && value == "multipart"
                && !protocols.is_some_and(|p| p.values().any(|p| p["multipart"] == true))
            {
                errors.push(format!("{method_id}: no multipart upload protocol"));
            }
        }
        for (key, p) in m["parameters"].as_object().into_iter().flatten() {
            if p["location"] == "query"
                && p["required"] == true
                && !query.iter().any(|(k, _)| k == key)
            {
                errors.push(format!(
                    "{method_id}: required query parameter {key} missing"
                ));
            }
        }
        errors
    }
}

impl Discovery {
    /// The description of property `property` of schema `schema` (empty if none): what the
    /// document states in words, such as the values a string permits.
    pub fn property_doc(&self, schema: &str, property: &str) -> &str {
        self.doc["schemas"][schema]["properties"][property]["description"]
            .as_str()
            .unwrap_or("")
    }
}

/// Whether `path` (percent-encoded, as sent) fits `template`, whose `{name}` segments stand
/// for any one segment.
fn path_matches(template: &str, path: &str) -> bool {
    let t: Vec<&str> = template.trim_start_matches('/').split('/').collect();
    let p: Vec<&str> = path.trim_start_matches('/').split('/').collect();
    t.len() == p.len()
        && t.iter()
            .zip(&p)
            .all(|(t, p)| (t.starts_with('{') && !p.is_empty()) || t == p)
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
