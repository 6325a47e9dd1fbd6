//! The three patch formats of `PATCH /api/v1/namespaces/{ns}/pods/{name}`, as pure functions on
//! `serde_json::Value`, and the rules for what an update may change.
//!
//! - `application/json-patch+json`: [`apply_json_patch`], RFC 6902 (add, remove, replace, move,
//!   copy, test), at most [`MAX_JSON_PATCH_OPERATIONS`] operations as in Kubernetes.
//! - `application/merge-patch+json`: [`apply_merge_patch`], RFC 7386 (`null` deletes, objects
//!   merge, everything else replaces).
//! - `application/strategic-merge-patch+json`: [`apply_strategic_merge_patch`] (in
//!   `strategic.rs`), what `kubectl apply` and `kubectl edit` send.
//!
//! A patch yields a new Pod JSON; the caller decodes it, then checks it against the stored pod
//! with [`validate_pod_update`] (in `update.rs`), exactly as for a `PUT`. Errors say whether the
//! patch itself is malformed (400) or cannot apply to this object (422), never how to render.

use serde_json::{Map, Value};

pub use super::patch_meta::{ListPatchMeta, POD_PATCH_META};
pub use super::strategic::apply_strategic_merge_patch;
pub use super::update::{
    FieldCause, UPDATABLE_POD_SPEC_FIELDS, prepare_pod_update, validate_pod_update,
};

/// The most operations a JSON patch may hold (the Kubernetes API server's limit).
pub const MAX_JSON_PATCH_OPERATIONS: usize = 10_000;

/// Why a patch could not be applied.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum PatchError {
    /// The patch document is malformed: not the expected JSON shape, an unknown operation or
    /// directive, a bad JSON pointer. Kubernetes answers 400 BadRequest.
    #[error("malformed patch: {message}")]
    Malformed {
        /// What is wrong with the patch.
        message: String,
    },
    /// The patch is well formed but cannot apply to this object: a `test` that fails, a path
    /// that does not exist, a list element without its merge key. Kubernetes answers 422.
    #[error("{message}")]
    Unprocessable {
        /// Why it does not apply.
        message: String,
    },
    /// A JSON patch with more than [`MAX_JSON_PATCH_OPERATIONS`] operations (413 in Kubernetes).
    #[error("the allowed maximum operations in a JSON patch is {max}, got {count}")]
    TooManyOperations {
        /// Operations in the patch.
        count: usize,
        /// The limit.
        max: usize,
    },
}

/// Applies an RFC 7386 JSON merge patch: object members merge recursively, `null` removes a
/// member, any other value (arrays included) replaces. A non-object patch replaces the document.
pub fn apply_merge_patch(target: &Value, patch: &Value) -> Value {
    let Value::Object(patch) = patch else {
        return patch.clone();
    };
    let mut result = match target {
        Value::Object(map) => map.clone(),
        _ => Map::new(),
    };
    for (key, value) in patch {
        if value.is_null() {
            result.remove(key);
        } else {
            let merged = apply_merge_patch(result.get(key).unwrap_or(&Value::Null), value);
            result.insert(key.clone(), merged);
        }
    }
    Value::Object(result)
}

/// Applies an RFC 6902 JSON patch (an array of operations) to `target`, all or nothing.
///
/// # Errors
///
/// [`PatchError::Malformed`] for a patch that is not an array of well-formed operations,
/// [`PatchError::TooManyOperations`] past the limit, and [`PatchError::Unprocessable`] when an
/// operation fails (missing path, failed `test`); its message names the operation's index.
pub fn apply_json_patch(target: &Value, patch: &Value) -> Result<Value, PatchError> {
    let Value::Array(ops) = patch else {
        return Err(PatchError::malformed(
            "a JSON patch must be an array of operations",
        ));
    };
    if ops.len() > MAX_JSON_PATCH_OPERATIONS {
        return Err(PatchError::TooManyOperations {
            count: ops.len(),
            max: MAX_JSON_PATCH_OPERATIONS,
        });
    }
    let mut doc = target.clone();
    for (index, op) in ops.iter().enumerate() {
        apply_operation(&mut doc, op).map_err(|e| match e {
            PatchError::Unprocessable { message } => PatchError::Unprocessable {
                message: format!("operation {index}: {message}"),
            },
            PatchError::Malformed { message } => PatchError::Malformed {
                message: format!("operation {index}: {message}"),
            },
            other => other,
        })?;
    }
    Ok(doc)
}

impl PatchError {
    pub(crate) fn malformed(message: impl Into<String>) -> Self {
        Self::Malformed {
            message: message.into(),
        }
    }

    pub(crate) fn unprocessable(message: impl Into<String>) -> Self {
        Self::Unprocessable {
            message: message.into(),
        }
    }
}

fn apply_operation(doc: &mut Value, op: &Value) -> Result<(), PatchError> {
    let member = |name: &str| {
        op.get(name)
            .and_then(Value::as_str)
            .ok_or_else(|| PatchError::malformed(format!("missing or non-string {name:?}")))
    };
    let value = || {
        op.get("value")
            .cloned()
            .ok_or_else(|| PatchError::malformed("missing \"value\""))
    };
    let path = parse_pointer(member("path")?)?;
    match member("op")? {
        "add" => add(doc, &path, value()?),
        "remove" => remove(doc, &path).map(drop),
        "replace" => {
            let slot = lookup_mut(doc, &path).ok_or_else(|| {
                PatchError::unprocessable(format!(
                    "replace: path {:?} does not exist",
                    member("path").unwrap_or_default()
                ))
            })?;
            *slot = value()?;
            Ok(())
        }
        "move" => {
            let from = parse_pointer(member("from")?)?;
            if path.len() > from.len() && path.starts_with(&from) {
                return Err(PatchError::unprocessable(
                    "move: a value cannot be moved into one of its children",
                ));
            }
            let moved = remove(doc, &from)?;
            add(doc, &path, moved)
        }
        "copy" => {
            let from = parse_pointer(member("from")?)?;
            let copied = lookup(doc, &from)
                .cloned()
                .ok_or_else(|| PatchError::unprocessable("copy: \"from\" path does not exist"))?;
            add(doc, &path, copied)
        }
        "test" => match lookup(doc, &path) {
            Some(actual) if json_equal(actual, &value()?) => Ok(()),
            _ => Err(PatchError::unprocessable(format!(
                "test failed: the value at {:?} does not match",
                member("path").unwrap_or_default()
            ))),
        },
        other => Err(PatchError::malformed(format!(
            "unknown operation {other:?}"
        ))),
    }
}

/// Splits an RFC 6901 JSON pointer into unescaped tokens (`""` is the whole document).
fn parse_pointer(pointer: &str) -> Result<Vec<String>, PatchError> {
    if pointer.is_empty() {
        return Ok(Vec::new());
    }
    let Some(rest) = pointer.strip_prefix('/') else {
        return Err(PatchError::malformed(format!(
            "JSON pointer {pointer:?} must start with '/'"
        )));
    };
    Ok(rest
        .split('/')
        .map(|t| t.replace("~1", "/").replace("~0", "~"))
        .collect())
}

fn array_index(token: &str, len: usize, allow_end: bool) -> Result<usize, PatchError> {
    if allow_end && token == "-" {
        return Ok(len);
    }
    let valid = !token.is_empty()
        && token.bytes().all(|b| b.is_ascii_digit())
        && (token == "0" || !token.starts_with('0'));
    let index = token
        .parse::<usize>()
        .ok()
        .filter(|_| valid)
        .ok_or_else(|| PatchError::unprocessable(format!("invalid array index {token:?}")))?;
    let max = if allow_end {
        len
    } else {
        len.saturating_sub(1)
    };
    if index > max || (!allow_end && len == 0) {
        return Err(PatchError::unprocessable(format!(
            "array index {index} out of bounds"
        )));
    }
    Ok(index)
}

fn lookup<'a>(doc: &'a Value, path: &[String]) -> Option<&'a Value> {
    path.iter().try_fold(doc, |node, token| match node {
        Value::Object(map) => map.get(token),
        Value::Array(items) => array_index(token, items.len(), false)
            .ok()
            .and_then(|i| items.get(i)),
        _ => None,
    })
}

fn lookup_mut<'a>(doc: &'a mut Value, path: &[String]) -> Option<&'a mut Value> {
    path.iter().try_fold(doc, |node, token| match node {
        Value::Object(map) => map.get_mut(token),
        Value::Array(items) => {
            let i = array_index(token, items.len(), false).ok()?;
            items.get_mut(i)
        }
        _ => None,
    })
}

fn add(doc: &mut Value, path: &[String], value: Value) -> Result<(), PatchError> {
    let Some((last, parent_path)) = path.split_last() else {
        *doc = value;
        return Ok(());
    };
    match lookup_mut(doc, parent_path) {
        Some(Value::Object(map)) => {
            map.insert(last.clone(), value);
            Ok(())
        }
        Some(Value::Array(items)) => {
            let index = array_index(last, items.len(), true)?;
            items.insert(index, value);
            Ok(())
        }
        _ => Err(PatchError::unprocessable(format!(
            "add: the parent of /{} does not exist",
            path.join("/")
        ))),
    }
}

fn remove(doc: &mut Value, path: &[String]) -> Result<Value, PatchError> {
    let Some((last, parent_path)) = path.split_last() else {
        return Err(PatchError::unprocessable(
            "remove: cannot remove the whole document",
        ));
    };
    let missing =
        || PatchError::unprocessable(format!("remove: path /{} does not exist", path.join("/")));
    match lookup_mut(doc, parent_path) {
        Some(Value::Object(map)) => map.remove(last).ok_or_else(missing),
        Some(Value::Array(items)) => {
            let index = array_index(last, items.len(), false)?;
            Ok(items.remove(index))
        }
        _ => Err(missing()),
    }
}

/// JSON equality where numbers compare by value (`1` equals `1.0`), as RFC 6902 `test` requires.
fn json_equal(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => x == y || x.as_f64() == y.as_f64(),
        (Value::Array(x), Value::Array(y)) => {
            x.len() == y.len() && x.iter().zip(y).all(|(a, b)| json_equal(a, b))
        }
        (Value::Object(x), Value::Object(y)) => {
            x.len() == y.len()
                && x.iter()
                    .all(|(k, v)| y.get(k).is_some_and(|w| json_equal(v, w)))
        }
        _ => a == b,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn merge_patch_follows_rfc_7386() {
        // The examples of RFC 7386 section 3.
        let cases = [
            (json!({"a": "b"}), json!({"a": "c"}), json!({"a": "c"})),
            (
                json!({"a": "b"}),
                json!({"b": "c"}),
                json!({"a": "b", "b": "c"}),
            ),
            (json!({"a": "b"}), json!({"a": null}), json!({})),
            (
                json!({"a": [{"b": "c"}]}),
                json!({"a": [1]}),
                json!({"a": [1]}),
            ),
            (json!(["a", "b"]), json!(["c", "d"]), json!(["c", "d"])),
            (json!({"a": "foo"}), json!(null), json!(null)),
            (
                json!({"e": null}),
                json!({"a": 1}),
                json!({"e": null, "a": 1}),
            ),
            (
                json!({}),
                json!({"a": {"bb": {"ccc": null}}}),
                json!({"a": {"bb": {}}}),
            ),
            (
                json!({"metadata": {"labels": {"a": "1", "b": "2"}}}),
                json!({"metadata": {"labels": {"b": null, "c": "3"}}}),
                json!({"metadata": {"labels": {"a": "1", "c": "3"}}}),
            ),
        ];
        for (target, patch, want) in cases {
            assert_eq!(apply_merge_patch(&target, &patch), want, "{patch}");
        }
    }

    #[test]
    fn json_patch_operations() {
        let doc = json!({"metadata": {"labels": {"a": "1"}}, "spec": {"containers": [{"name": "c", "image": "x"}], "tolerations": []}});
        let patch = json!([
            {"op": "test", "path": "/spec/containers/0/name", "value": "c"},
            {"op": "replace", "path": "/spec/containers/0/image", "value": "y"},
            {"op": "add", "path": "/metadata/labels/b~1c", "value": "2"},
            {"op": "add", "path": "/spec/tolerations/-", "value": {"key": "k"}},
            {"op": "add", "path": "/spec/tolerations/0", "value": {"key": "first"}},
            {"op": "copy", "from": "/metadata/labels/a", "path": "/metadata/labels/copied"},
            {"op": "move", "from": "/metadata/labels/a", "path": "/metadata/labels/moved"},
            {"op": "remove", "path": "/spec/tolerations/1"},
            {"op": "test", "path": "/spec/tolerations", "value": [{"key": "first"}]},
        ]);
        let out = apply_json_patch(&doc, &patch).expect("applies");
        assert_eq!(out["spec"]["containers"][0]["image"], "y");
        assert_eq!(
            out["metadata"]["labels"],
            json!({"b/c": "2", "copied": "1", "moved": "1"})
        );
        assert_eq!(out["spec"]["tolerations"], json!([{"key": "first"}]));
        assert_eq!(
            apply_json_patch(
                &json!({"n": 1}),
                &json!([{"op": "test", "path": "/n", "value": 1.0}])
            ),
            Ok(json!({"n": 1}))
        );
        assert_eq!(
            apply_json_patch(&doc, &json!([{"op": "replace", "path": "", "value": 5}])),
            Ok(json!(5))
        );
    }

    #[test]
    fn json_patch_errors() {
        let doc = json!({"a": [1, 2], "b": {}});
        let unprocessable = [
            json!([{"op": "test", "path": "/a/0", "value": 2}]),
            json!([{"op": "replace", "path": "/missing", "value": 1}]),
            json!([{"op": "remove", "path": "/b/x"}]),
            json!([{"op": "add", "path": "/a/5", "value": 1}]),
            json!([{"op": "add", "path": "/x/y", "value": 1}]),
            json!([{"op": "move", "from": "/b", "path": "/b/c"}]),
            json!([{"op": "remove", "path": "/a/01"}]),
        ];
        for patch in unprocessable {
            assert!(
                matches!(
                    apply_json_patch(&doc, &patch),
                    Err(PatchError::Unprocessable { .. })
                ),
                "{patch}"
            );
        }
        let malformed = [
            json!({"op": "add"}),
            json!([{"op": "frobnicate", "path": "/a"}]),
            json!([{"op": "add", "path": "a", "value": 1}]),
            json!([{"op": "add", "path": "/a/-"}]),
            json!([{"path": "/a"}]),
        ];
        for patch in malformed {
            assert!(
                matches!(
                    apply_json_patch(&doc, &patch),
                    Err(PatchError::Malformed { .. })
                ),
                "{patch}"
            );
        }
        let many = Value::Array(vec![
            json!({"op": "test", "path": "/b", "value": {}});
            MAX_JSON_PATCH_OPERATIONS + 1
        ]);
        assert!(matches!(
            apply_json_patch(&doc, &many),
            Err(PatchError::TooManyOperations { .. })
        ));
        // All or nothing: the failing second operation leaves no trace.
        let err = apply_json_patch(
            &doc,
            &json!([{"op": "add", "path": "/c", "value": 1}, {"op": "remove", "path": "/zz"}]),
        );
        assert!(
            matches!(err, Err(PatchError::Unprocessable { message }) if message.starts_with("operation 1"))
        );
    }
}
