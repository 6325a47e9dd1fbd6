//! Decoding bodies: JSON or YAML bytes into a `serde_json::Value` by media type
//! ([`parse_value`]), and a `Value` into a typed object with `fieldValidation` applied
//! ([`decode_object`]). Every failure is an [`Error`], so it renders as a `Status`.

use serde::de::DeserializeOwned;
use serde_json::Value;

use super::bounded::{self, BoundedError};
use super::strict;
use crate::error::{Error, Result};

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

/// Parses a JSON or YAML body into a `serde_json::Value` by media type (`content_type` without
/// parameters, lowercase; sniffing when the client sent none or a form type, as
/// `curl --data-binary` does).
pub(crate) fn parse_value(content_type: &str, body: &[u8]) -> Result<Value> {
    if content_type == super::protobuf::CONTENT_TYPE {
        return super::protobuf::decode(body);
    }
    // The media type first, as kube-apiserver picks its decoder before it reads a byte: a
    // type it does not read is a 415 whatever the body holds.
    let yaml = match content_type {
        "application/json"
        | "application/merge-patch+json"
        | "application/strategic-merge-patch+json"
        | "application/json-patch+json" => Some(false),
        "application/yaml"
        | "application/x-yaml"
        | "text/yaml"
        | "text/x-yaml"
        | "application/apply-patch+yaml" => Some(true),
        "" | "application/x-www-form-urlencoded" | "text/plain" | "application/octet-stream" => {
            None
        }
        other => {
            return Err(Error::UnsupportedMediaType {
                content_type: other.to_string(),
            });
        }
    };
    let text = std::str::from_utf8(body)
        .map_err(|_| Error::bad_request("the request body is not valid UTF-8"))?;
    if text.trim().is_empty() {
        return Err(Error::bad_request(
            "the request body is empty; send a Pod as JSON or YAML",
        ));
    }
    let yaml = yaml.unwrap_or_else(|| !text.trim_start().starts_with(['{', '[']));
    if yaml {
        parse_yaml(text)
    } else {
        bounded::json(text, bounded::decoded_limit(text.len())).map_err(|e| match e {
            BoundedError::TooLarge => too_large(text.len()),
            BoundedError::Syntax(e) => {
                Error::bad_request(format!("the request body is not valid JSON: {e}"))
            }
        })
    }
}

/// A body whose decoded form passes [`bounded::decoded_limit`]: 413, as the API server
/// answers a body over its limit.
fn too_large(len: usize) -> Error {
    Error::TooLarge {
        limit: bounded::decoded_limit(len),
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
        strict::unknown_fields(&format!("io.k8s.api.core.v1.{expect_kind}"), &value)
    };
    match validation {
        FieldValidation::Strict if !unknown.is_empty() => Err(Error::bad_request(
            strict::strict_decoding_message(expect_kind, &unknown),
        )),
        FieldValidation::Warn => Ok((
            object,
            unknown
                .iter()
                .map(|f| strict::unknown_field_warning(f))
                .collect(),
        )),
        _ => Ok((object, Vec::new())),
    }
}

/// Parses YAML text into JSON, as the API server converts YAML bodies; aliases expand within
/// [`bounded::decoded_limit`] (past it, the API server's own words for a YAML bomb, 400).
pub(crate) fn parse_yaml(text: &str) -> Result<Value> {
    bounded::yaml(text, bounded::decoded_limit(text.len())).map_err(|e| match e {
        BoundedError::TooLarge => Error::bad_request(
            "error converting YAML to JSON: yaml: document contains excessive aliasing",
        ),
        BoundedError::Syntax(e) => {
            Error::bad_request(format!("error converting YAML to JSON: {e}"))
        }
    })
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
        let yaml = "application/yaml";
        assert!(parse_value(yaml, b"kind: Pod\nmetadata: {name: a}\n").is_ok());
        assert!(parse_value(yaml, b"kind: [unclosed").is_err());
        assert!(matches!(
            parse_value("application/xml", b"<pod/>"),
            Err(Error::UnsupportedMediaType { .. })
        ));
        assert!(parse_value("", b"{\"kind\":\"Pod\"}").is_ok());
        assert!(parse_value("", b"kind: Pod").is_ok());
    }

    #[test]
    fn media_type_is_judged_before_the_bytes() {
        let not_utf8 = b"\xff\xfe{}";
        assert!(matches!(
            parse_value("application/xml", not_utf8),
            Err(Error::UnsupportedMediaType { .. })
        ));
        let err = parse_value("application/json", not_utf8).expect_err("not UTF-8");
        assert_eq!(err.code(), 400);
    }
}
