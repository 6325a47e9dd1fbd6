//! JSON patch and merge patch of `PATCH /api/v1/namespaces/{ns}/pods/{name}`, as pure functions on
//! `serde_json::Value`, through the `json-patch` crate.
//!
//! - `application/json-patch+json`: [`apply_json_patch`], RFC 6902 (add, remove, replace, move,
//!   copy, test), at most [`MAX_JSON_PATCH_OPERATIONS`] operations as in Kubernetes. `test`
//!   compares numbers by value (`1` equals `1.0`), as Kubernetes does and the crate does not, so
//!   it is evaluated here; every other operation is the crate's.
//! - `application/merge-patch+json`: [`apply_merge_patch`], RFC 7386 (`null` deletes, objects
//!   merge, everything else replaces).
//! - `application/strategic-merge-patch+json`: [`super::strategic`], what `kubectl apply` and
//!   `kubectl edit` send.
//!
//! A patch yields a new Pod JSON; the caller decodes it, then checks it against the stored pod
//! with [`super::rules::validate_pod_update`], exactly as for a `PUT`. Errors say whether the
//! patch itself is malformed (400) or cannot apply to this object (422), never how to render.

use json_patch::{PatchOperation, TestOperation};
use serde_json::Value;

/// The most operations a JSON patch may hold (the Kubernetes API server's limit).
pub(crate) const MAX_JSON_PATCH_OPERATIONS: usize = 10_000;

/// Why a patch could not be applied.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub(crate) enum PatchError {
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

/// Applies an RFC 7386 JSON merge patch: object members merge recursively, `null` removes a
/// member, any other value (arrays included) replaces. A non-object patch replaces the document.
pub(crate) fn apply_merge_patch(target: &Value, patch: &Value) -> Value {
    let mut doc = target.clone();
    json_patch::merge(&mut doc, patch);
    doc
}

/// Applies an RFC 6902 JSON patch (an array of operations) to `target`, all or nothing.
///
/// # Errors
///
/// [`PatchError::Malformed`] for a patch that is not an array of well-formed operations,
/// [`PatchError::TooManyOperations`] past the limit, and [`PatchError::Unprocessable`] when an
/// operation fails (missing path, failed `test`); its message names the operation's index.
pub(crate) fn apply_json_patch(target: &Value, patch: &Value) -> Result<Value, PatchError> {
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
    // Operations apply to a copy, so a failing one leaves `target` as it was.
    let mut doc = target.clone();
    for (index, op) in ops.iter().enumerate() {
        let op: PatchOperation = serde_json::from_value(op.clone())
            .map_err(|e| PatchError::malformed(format!("operation {index}: {e}")))?;
        match &op {
            PatchOperation::Test(test) => numeric_test(&doc, test).map_err(|message| {
                PatchError::unprocessable(format!("operation {index}: {message}"))
            })?,
            _ => json_patch::patch_unsafe(&mut doc, std::slice::from_ref(&op)).map_err(|e| {
                PatchError::unprocessable(format!("operation {index}: {op}: {}", e.kind))
            })?,
        }
    }
    Ok(doc)
}

/// RFC 6902 `test` with numbers compared by value.
fn numeric_test(doc: &Value, test: &TestOperation) -> Result<(), String> {
    match doc.pointer(test.path.as_str()) {
        Some(actual) if json_equal(actual, &test.value) => Ok(()),
        _ => Err(format!(
            "test failed: the value at {:?} does not match",
            test.path.as_str()
        )),
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
