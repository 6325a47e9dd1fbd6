//! Request decoding with Kubernetes semantics: bodies in JSON or YAML (bounded), query strings,
//! `dryRun` and `fieldValidation`. Every failure is an [`Error`], so it renders as a `Status`.

use std::collections::HashMap;

use axum::body::Body;
use axum::http::{HeaderMap, header};
use serde::de::DeserializeOwned;
use serde_json::Value;

use crate::error::{Error, Result};
use crate::pods::DryRun;

/// The query string as a map (last value wins).
pub fn query(raw: Option<&str>) -> Result<HashMap<String, String>> {
    let pairs: Vec<(String, String)> = serde_urlencoded::from_str(raw.unwrap_or(""))
        .map_err(|e| Error::bad_request(format!("invalid query string: {e}")))?;
    Ok(pairs.into_iter().collect())
}

/// `dryRun=All` (anything else but empty is a 400, as in Kubernetes).
pub fn dry_run(q: &HashMap<String, String>) -> Result<DryRun> {
    match q.get("dryRun").map(String::as_str) {
        None | Some("") => Ok(DryRun::No),
        Some("All") => Ok(DryRun::All),
        Some(other) => Err(Error::bad_request(format!(
            "Invalid dry run value {other:?}: only \"All\" is supported"
        ))),
    }
}

/// `fieldValidation`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FieldValidation {
    /// Unknown or duplicate fields are a 400.
    Strict,
    /// Unknown fields are reported in `Warning` headers (the API server's default).
    Warn,
    /// Unknown fields are dropped silently.
    Ignore,
}

/// Parses `fieldValidation`.
pub fn field_validation(q: &HashMap<String, String>) -> Result<FieldValidation> {
    match q.get("fieldValidation").map(String::as_str) {
        None | Some("") | Some("Warn") => Ok(FieldValidation::Warn),
        Some("Strict") => Ok(FieldValidation::Strict),
        Some("Ignore") => Ok(FieldValidation::Ignore),
        Some(other) => Err(Error::bad_request(format!(
            "fieldValidation must be one of \"Ignore\", \"Warn\", or \"Strict\", got {other:?}"
        ))),
    }
}

/// Reads at most `limit` bytes of body.
pub async fn body_bytes(body: Body, limit: usize) -> Result<bytes::Bytes> {
    axum::body::to_bytes(body, limit).await.map_err(|e| {
        let too_large = std::error::Error::source(&e)
            .is_some_and(|s| s.to_string().contains("length limit"))
            || e.to_string().contains("length limit");
        if too_large {
            Error::TooLarge { limit }
        } else {
            Error::bad_request(format!("reading the request body: {e}"))
        }
    })
}

/// Parses a JSON or YAML body into a `serde_json::Value` by Content-Type (sniffing when the
/// client sent none or a form type, as `curl --data-binary` does).
pub fn parse_value(headers: &HeaderMap, body: &[u8]) -> Result<Value> {
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    let text = std::str::from_utf8(body)
        .map_err(|_| Error::bad_request("the request body is not valid UTF-8"))?;
    if text.trim().is_empty() {
        return Err(Error::bad_request(
            "the request body is empty; send a Pod as JSON or YAML",
        ));
    }
    let yaml = match content_type.as_str() {
        "application/json"
        | "application/merge-patch+json"
        | "application/strategic-merge-patch+json"
        | "application/json-patch+json" => false,
        "application/yaml"
        | "application/x-yaml"
        | "text/yaml"
        | "text/x-yaml"
        | "application/apply-patch+yaml" => true,
        "" | "application/x-www-form-urlencoded" | "text/plain" | "application/octet-stream" => {
            !text.trim_start().starts_with(['{', '['])
        }
        other => {
            return Err(Error::UnsupportedMediaType {
                content_type: other.to_string(),
            });
        }
    };
    if yaml {
        let v: serde_yaml::Value = serde_yaml::from_str(text)
            .map_err(|e| Error::bad_request(format!("error converting YAML to JSON: {e}")))?;
        serde_json::to_value(v)
            .map_err(|e| Error::bad_request(format!("error converting YAML to JSON: {e}")))
    } else {
        serde_json::from_str(text)
            .map_err(|e| Error::bad_request(format!("the request body is not valid JSON: {e}")))
    }
}

/// Decodes an object of type `T` (`kind` `expect_kind`), applying `fieldValidation`: returns
/// the object and the warnings to send.
pub fn decode_object<T: DeserializeOwned + serde::Serialize>(
    value: Value,
    expect_kind: &str,
    validation: FieldValidation,
) -> Result<(T, Vec<String>)> {
    if !value.is_object() {
        return Err(Error::bad_request(format!(
            "the request body must be a {expect_kind} object"
        )));
    }
    if let Some(kind) = value.get("kind").and_then(Value::as_str) {
        if kind != expect_kind {
            return Err(Error::bad_request(format!(
                "the body is a {kind:?}, expected a {expect_kind:?}"
            )));
        }
    }
    if let Some(v) = value.get("apiVersion").and_then(Value::as_str) {
        if v != "v1" {
            return Err(Error::bad_request(format!(
                "the API version in the data ({v}) does not match the expected API version (v1)"
            )));
        }
    }
    let object: T = serde_json::from_value(value.clone()).map_err(|e| {
        Error::bad_request(format!(
            "{expect_kind} in version \"v1\" cannot be handled as a {expect_kind}: {e}"
        ))
    })?;
    let unknown = if validation == FieldValidation::Ignore {
        Vec::new()
    } else {
        super::strict::unknown_fields(&format!("io.k8s.api.core.v1.{expect_kind}"), &value)
    };
    match validation {
        FieldValidation::Strict if !unknown.is_empty() => Err(Error::bad_request(
            super::strict::strict_decoding_message(expect_kind, &unknown),
        )),
        FieldValidation::Warn => Ok((
            object,
            unknown
                .iter()
                .map(|f| super::strict::unknown_field_warning(f))
                .collect(),
        )),
        _ => Ok((object, Vec::new())),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::api::core::v1::Pod;

    #[test]
    fn strict_rejects_unknown_fields() {
        let v = serde_json::json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "x"}, "spec": {"containers": [{"name": "c", "image": "i", "imagee": "typo"}]}});
        let err = decode_object::<Pod>(v.clone(), "Pod", FieldValidation::Strict)
            .err()
            .map(|e| e.to_string());
        assert_eq!(
            err.as_deref(),
            Some(
                "Pod in version \"v1\" cannot be handled as a Pod: strict decoding error: unknown field \"spec.containers[0].imagee\""
            )
        );
        let (_, warnings) = decode_object::<Pod>(v, "Pod", FieldValidation::Warn).expect("warn");
        assert_eq!(warnings.len(), 1);
    }

    #[test]
    fn yaml_and_json_bodies() {
        let mut h = HeaderMap::new();
        h.insert(
            header::CONTENT_TYPE,
            "application/yaml".parse().expect("header"),
        );
        assert!(parse_value(&h, b"kind: Pod\nmetadata: {name: a}\n").is_ok());
        assert!(parse_value(&h, b"kind: [unclosed").is_err());
        h.insert(
            header::CONTENT_TYPE,
            "application/xml".parse().expect("header"),
        );
        assert!(matches!(
            parse_value(&h, b"<pod/>"),
            Err(Error::UnsupportedMediaType { .. })
        ));
        let empty = HeaderMap::new();
        assert!(parse_value(&empty, b"{\"kind\":\"Pod\"}").is_ok());
        assert!(parse_value(&empty, b"kind: Pod").is_ok());
    }
}
