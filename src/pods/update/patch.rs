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
//! Bounded work: `copy` may add at most [`MAX_COPY_BYTES`] in all (the API server's
//! `JSONPatchMaxCopyBytes`, 3 MiB, with its message; counted here in memory, not text), no operation may nest the document deeper
//! than [`MAX_DEPTH`], and every patch's result (JSON, merge or strategic) is refused past
//! [`MAX_PATCHED_BYTES`] ([`check_result`]): without them a 2 KB patch of doubling copies
//! took a dev server past 3 GB.
//!
//! A patch yields a new Pod JSON; the caller decodes it, then checks it against the stored pod
//! with [`super::rules::validate_pod_update`], exactly as for a `PUT`. Errors say whether the
//! patch itself is malformed (400) or cannot apply to this object (422), never how to render.

use json_patch::{PatchOperation, TestOperation};
use serde_json::Value;

/// The most operations a JSON patch may hold (the Kubernetes API server's limit).
pub(crate) const MAX_JSON_PATCH_OPERATIONS: usize = 10_000;

/// Bytes that the `copy` operations of one patch may add in all, charged as decoding charges
/// a body ([`crate::codec::bounded::cost`]: memory, not text, so a copy of many small values
/// costs what it takes).
pub(crate) const MAX_COPY_BYTES: usize = 3 * 1024 * 1024;
/// Nesting depth a patched document may reach (a Pod's schema nests some 12 levels; the JSON
/// and YAML parsers stop at 128).
pub(crate) const MAX_DEPTH: usize = 128;
/// Largest patched document, as JSON (the default body limit: what a `PUT` could send).
pub(crate) const MAX_PATCHED_BYTES: usize = 3 * 1024 * 1024;
/// Values a patch's depth checks may visit in all (`move` to a deeper path walks the value).
const MAX_WORK: usize = 4 * 1024 * 1024;

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
    /// The patched document is larger than [`MAX_PATCHED_BYTES`] (413).
    #[error("the patched object is larger than {limit} bytes")]
    TooLarge {
        /// The limit.
        limit: usize,
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
    let mut copied = 0usize;
    let mut work = 0usize;
    for (index, op) in ops.iter().enumerate() {
        let op: PatchOperation = serde_json::from_value(op.clone())
            .map_err(|e| PatchError::malformed(format!("operation {index}: {e}")))?;
        bound_operation(&doc, &op, &mut copied, &mut work).map_err(|message| {
            PatchError::unprocessable(format!("operation {index}: {message}"))
        })?;
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

/// Refuses an operation that would copy past [`MAX_COPY_BYTES`] in all, nest past
/// [`MAX_DEPTH`], or make the depth checks visit more than [`MAX_WORK`] values in all. Runs
/// before the operation, so nothing is built that the bound refuses.
fn bound_operation(
    doc: &Value,
    op: &PatchOperation,
    copied: &mut usize,
    work: &mut usize,
) -> Result<(), String> {
    let segments = |p: &str| p.matches('/').count();
    let (value, path, from) = match op {
        PatchOperation::Add(o) => (Some(&o.value), o.path.as_str(), None),
        PatchOperation::Replace(o) => (Some(&o.value), o.path.as_str(), None),
        PatchOperation::Copy(o) => (
            doc.pointer(o.from.as_str()),
            o.path.as_str(),
            Some(o.from.as_str()),
        ),
        PatchOperation::Move(o) => {
            // A move no deeper than where it was cannot deepen the document.
            if segments(o.path.as_str()) <= segments(o.from.as_str()) {
                return Ok(());
            }
            (doc.pointer(o.from.as_str()), o.path.as_str(), None)
        }
        PatchOperation::Remove(_) | PatchOperation::Test(_) => return Ok(()),
    };
    // A missing `from` is the operation's own error, reported when it runs.
    let Some(value) = value else { return Ok(()) };
    if let PatchOperation::Copy(_) = op {
        let left = MAX_COPY_BYTES.saturating_sub(*copied);
        let size = crate::codec::bounded::cost(value, left.saturating_add(1));
        if size > left {
            return Err(format!(
                "Unable to complete the copy, the accumulated size increase of copy is {}, exceeding the limit {MAX_COPY_BYTES}",
                copied.saturating_add(size)
            ));
        }
        *copied += size;
    }
    let room = MAX_DEPTH.saturating_sub(segments(path));
    if depth_over(value, room, work) {
        if *work > MAX_WORK {
            return Err(format!(
                "the patch is too expensive: its operations visit more than {MAX_WORK} values"
            ));
        }
        return Err(format!(
            "the result would nest deeper than {MAX_DEPTH} levels (at {path:?}{})",
            from.map(|f| format!(", copied from {f:?}"))
                .unwrap_or_default()
        ));
    }
    Ok(())
}

/// Whether `value` nests deeper than `room` levels; counts the values visited in `work` and
/// answers `true` once it passes [`MAX_WORK`].
fn depth_over(value: &Value, room: usize, work: &mut usize) -> bool {
    *work += 1;
    if *work > MAX_WORK {
        return true;
    }
    let children: Box<dyn Iterator<Item = &Value>> = match value {
        Value::Array(a) => Box::new(a.iter()),
        Value::Object(m) => Box::new(m.values()),
        _ => return false,
    };
    let mut children = children.peekable();
    if children.peek().is_none() {
        return false;
    }
    if room == 0 {
        return true;
    }
    children.any(|c| depth_over(c, room - 1, work))
}

/// The size of `value` as JSON, counted up to `stop` (past it, some number above `stop`).
pub(crate) fn json_size(value: &Value, stop: usize) -> usize {
    struct Count {
        n: usize,
        stop: usize,
    }
    impl std::io::Write for Count {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.n += buf.len();
            if self.n > self.stop {
                return Err(std::io::Error::other("over"));
            }
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }
    let mut count = Count { n: 0, stop };
    let _ = serde_json::to_writer(&mut count, value);
    count.n
}

/// Refuses a patched document past [`MAX_PATCHED_BYTES`] (as JSON); the work is bounded by
/// the limit, not by the document.
pub(crate) fn check_result(doc: &Value) -> Result<(), PatchError> {
    if json_size(doc, MAX_PATCHED_BYTES) > MAX_PATCHED_BYTES {
        return Err(PatchError::TooLarge {
            limit: MAX_PATCHED_BYTES,
        });
    }
    Ok(())
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
        let malformed = [
            json!({"op": "add"}),
            json!([{"op": "frobnicate", "path": "/a"}]),
            json!([{"op": "add", "path": "a", "value": 1}]),
            json!([{"op": "add", "path": "/a/-"}]),
            json!([{"path": "/a"}]),
        ];
        // Which of the two errors each patch is (422 or 400 to the client).
        let cases = unprocessable
            .iter()
            .map(|p| (p, true))
            .chain(malformed.iter().map(|p| (p, false)));
        for (patch, unprocessable) in cases {
            let got = apply_json_patch(&doc, patch);
            let kind_is_right = match &got {
                Err(PatchError::Unprocessable { .. }) => unprocessable,
                Err(PatchError::Malformed { .. }) => !unprocessable,
                _ => false,
            };
            assert!(kind_is_right, "{patch}: {got:?}");
        }
    }

    #[test]
    fn json_patch_work_is_bounded() {
        let doc = json!({"a": [1, 2], "b": {}});
        let many = Value::Array(vec![
            json!({"op": "test", "path": "/b", "value": {}});
            MAX_JSON_PATCH_OPERATIONS + 1
        ]);
        assert!(matches!(
            apply_json_patch(&doc, &many),
            Err(PatchError::TooManyOperations { .. })
        ));
        // Doubling copies stop at the copy limit, with the API server's message (422).
        let mut doubling = vec![json!({"op": "add", "path": "/s", "value": ["x".repeat(1000)]})];
        doubling.extend((0..30).map(|_| json!({"op": "copy", "from": "/s", "path": "/s/-"})));
        let err = apply_json_patch(&doc, &Value::Array(doubling));
        assert!(
            matches!(&err, Err(PatchError::Unprocessable { message }) if message.contains("accumulated size increase of copy")),
            "{err:?}"
        );
        // Copying a value into itself grows it each time: stopped by the copy limit; a value
        // that would nest past the depth limit is refused before it is added.
        let nesting: Vec<Value> = (0..200)
            .map(|_| json!({"op": "copy", "from": "/b", "path": "/b/b"}))
            .collect();
        let err = apply_json_patch(&json!({"b": {"k": 1}}), &Value::Array(nesting));
        assert!(
            matches!(err, Err(PatchError::Unprocessable { .. })),
            "{err:?}"
        );
        let mut deep = json!(1);
        for _ in 0..127 {
            deep = json!([deep]);
        }
        let err = apply_json_patch(
            &json!({"b": {}}),
            &json!([{"op": "add", "path": "/b/c", "value": deep}]),
        );
        assert!(
            matches!(&err, Err(PatchError::Unprocessable { message }) if message.contains("deeper than")),
            "{err:?}"
        );
        assert!(check_result(&json!({"a": "x".repeat(MAX_PATCHED_BYTES)})).is_err());
        assert!(check_result(&doc).is_ok());
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
