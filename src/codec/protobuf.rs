//! Request bodies in Kubernetes' protobuf encoding (`application/vnd.kubernetes.protobuf`),
//! decoded into the JSON the rest of k8sless reads. kubectl's typed clients send it for the
//! built-in kinds (`kubectl create namespace`, `create quota`, `create rolebinding`, `auth
//! can-i`) and do not fall back to JSON, so the API must read it.
//!
//! The envelope is apimachinery's protobuf serializer's: the magic `k8s\0`, then a
//! `runtime.Unknown` (`typeMeta` = 1 {`apiVersion` = 1, `kind` = 2}, `raw` = 2, `contentEncoding` = 3,
//! `contentType` = 4), whose `raw` is the object. Objects are read by the field tables below,
//! transcribed from the field numbers of k8s.io/api's and k8s.io/apimachinery's
//! `generated.proto` (core/v1, rbac/v1, authorization/v1, authentication/v1, meta/v1) for
//! the kinds k8sless accepts this way; fields not in a table are skipped, a kind not listed is
//! 415 as before. Bounded: the body is already within the request limit, and nesting is as deep
//! as the tables (at most four levels).

use serde_json::{Map, Value};

use crate::error::{Error, Result};

/// The content type of Kubernetes' protobuf encoding.
pub(crate) const CONTENT_TYPE: &str = "application/vnd.kubernetes.protobuf";

const MAGIC: &[u8] = b"k8s\0";

/// What a field holds.
#[derive(Clone, Copy)]
enum Ty {
    Str,
    Int,
    Bool,
    /// `Time` {seconds = 1, nanos = 2}, as RFC 3339.
    Time,
    Msg(&'static [Field]),
    /// `map<string, string>`.
    MapStr,
    /// `map<string, Quantity>`.
    MapQuantity,
}

/// One field of a message: number, JSON name, type, repeated.
#[derive(Clone, Copy)]
struct Field(u32, &'static str, Ty, bool);

const OBJECT_META: &[Field] = &[
    Field(1, "name", Ty::Str, false),
    Field(2, "generateName", Ty::Str, false),
    Field(3, "namespace", Ty::Str, false),
    Field(5, "uid", Ty::Str, false),
    Field(6, "resourceVersion", Ty::Str, false),
    Field(7, "generation", Ty::Int, false),
    Field(8, "creationTimestamp", Ty::Time, false),
    Field(9, "deletionTimestamp", Ty::Time, false),
    Field(10, "deletionGracePeriodSeconds", Ty::Int, false),
    Field(11, "labels", Ty::MapStr, false),
    Field(12, "annotations", Ty::MapStr, false),
    Field(14, "finalizers", Ty::Str, true),
];
const NAMESPACE: &[Field] = &[
    Field(1, "metadata", Ty::Msg(OBJECT_META), false),
    Field(
        2,
        "spec",
        Ty::Msg(&[Field(1, "finalizers", Ty::Str, true)]),
        false,
    ),
];
const RESOURCE_QUOTA: &[Field] = &[
    Field(1, "metadata", Ty::Msg(OBJECT_META), false),
    Field(
        2,
        "spec",
        Ty::Msg(&[
            Field(1, "hard", Ty::MapQuantity, false),
            Field(2, "scopes", Ty::Str, true),
        ]),
        false,
    ),
];
const POLICY_RULE: &[Field] = &[
    Field(1, "verbs", Ty::Str, true),
    Field(2, "apiGroups", Ty::Str, true),
    Field(3, "resources", Ty::Str, true),
    Field(4, "resourceNames", Ty::Str, true),
    Field(5, "nonResourceURLs", Ty::Str, true),
];
const ROLE: &[Field] = &[
    Field(1, "metadata", Ty::Msg(OBJECT_META), false),
    Field(2, "rules", Ty::Msg(POLICY_RULE), true),
];
const SUBJECT: &[Field] = &[
    Field(1, "kind", Ty::Str, false),
    Field(2, "apiGroup", Ty::Str, false),
    Field(3, "name", Ty::Str, false),
    Field(4, "namespace", Ty::Str, false),
];
const ROLE_REF: &[Field] = &[
    Field(1, "apiGroup", Ty::Str, false),
    Field(2, "kind", Ty::Str, false),
    Field(3, "name", Ty::Str, false),
];
const ROLE_BINDING: &[Field] = &[
    Field(1, "metadata", Ty::Msg(OBJECT_META), false),
    Field(2, "subjects", Ty::Msg(SUBJECT), true),
    Field(3, "roleRef", Ty::Msg(ROLE_REF), false),
];
const RESOURCE_ATTRIBUTES: &[Field] = &[
    Field(1, "namespace", Ty::Str, false),
    Field(2, "verb", Ty::Str, false),
    Field(3, "group", Ty::Str, false),
    Field(4, "version", Ty::Str, false),
    Field(5, "resource", Ty::Str, false),
    Field(6, "subresource", Ty::Str, false),
    Field(7, "name", Ty::Str, false),
];
const SELF_SUBJECT_ACCESS_REVIEW: &[Field] = &[
    Field(1, "metadata", Ty::Msg(OBJECT_META), false),
    Field(
        2,
        "spec",
        Ty::Msg(&[
            Field(1, "resourceAttributes", Ty::Msg(RESOURCE_ATTRIBUTES), false),
            Field(
                2,
                "nonResourceAttributes",
                Ty::Msg(&[
                    Field(1, "path", Ty::Str, false),
                    Field(2, "verb", Ty::Str, false),
                ]),
                false,
            ),
        ]),
        false,
    ),
];
const SELF_SUBJECT_REVIEW: &[Field] = &[Field(1, "metadata", Ty::Msg(OBJECT_META), false)];
const DELETE_OPTIONS: &[Field] = &[
    Field(1, "gracePeriodSeconds", Ty::Int, false),
    Field(
        2,
        "preconditions",
        Ty::Msg(&[
            Field(1, "uid", Ty::Str, false),
            Field(2, "resourceVersion", Ty::Str, false),
        ]),
        false,
    ),
    Field(3, "orphanDependents", Ty::Bool, false),
    Field(4, "propagationPolicy", Ty::Str, false),
    Field(5, "dryRun", Ty::Str, true),
];

/// `SelfSubjectRulesReview` (`kubectl auth can-i --list`): spec = 2 {namespace = 1}.
const SELF_SUBJECT_RULES_REVIEW: &[Field] = &[
    Field(1, "metadata", Ty::Msg(OBJECT_META), false),
    Field(
        2,
        "spec",
        Ty::Msg(&[Field(1, "namespace", Ty::Str, false)]),
        false,
    ),
];

/// The kinds read from protobuf, by `kind`.
const KINDS: &[(&str, &[Field])] = &[
    ("Namespace", NAMESPACE),
    ("ResourceQuota", RESOURCE_QUOTA),
    ("Role", ROLE),
    ("ClusterRole", ROLE),
    ("RoleBinding", ROLE_BINDING),
    ("ClusterRoleBinding", ROLE_BINDING),
    ("SelfSubjectAccessReview", SELF_SUBJECT_ACCESS_REVIEW),
    ("SelfSubjectReview", SELF_SUBJECT_REVIEW),
    ("SelfSubjectRulesReview", SELF_SUBJECT_RULES_REVIEW),
    ("DeleteOptions", DELETE_OPTIONS),
];

fn malformed(what: &str) -> Error {
    Error::bad_request(format!("the protobuf body is malformed: {what}"))
}

/// A protobuf wire reader over one message's bytes.
struct Reader<'a> {
    buf: &'a [u8],
}

enum Wire<'a> {
    Varint(u64),
    Bytes(&'a [u8]),
}

impl<'a> Reader<'a> {
    fn varint(&mut self) -> Result<u64> {
        let mut value = 0u64;
        for shift in (0..64).step_by(7) {
            let (&b, rest) = self
                .buf
                .split_first()
                .ok_or_else(|| malformed("truncated varint"))?;
            self.buf = rest;
            value |= u64::from(b & 0x7f) << shift;
            if b & 0x80 == 0 {
                return Ok(value);
            }
        }
        Err(malformed("varint too long"))
    }

    /// The next field: number and value; `None` at the end.
    fn next(&mut self) -> Result<Option<(u32, Wire<'a>)>> {
        if self.buf.is_empty() {
            return Ok(None);
        }
        let tag = self.varint()?;
        let number = u32::try_from(tag >> 3).map_err(|_| malformed("field number"))?;
        let wire = match tag & 7 {
            0 => Wire::Varint(self.varint()?),
            1 | 5 => {
                let n = if tag & 7 == 1 { 8 } else { 4 };
                let (_, rest) = self.take(n)?;
                self.buf = rest;
                return self.next();
            }
            2 => {
                let len = usize::try_from(self.varint()?).map_err(|_| malformed("length"))?;
                let (bytes, rest) = self.take(len)?;
                self.buf = rest;
                Wire::Bytes(bytes)
            }
            _ => return Err(malformed("unsupported wire type")),
        };
        Ok(Some((number, wire)))
    }

    fn take(&self, n: usize) -> Result<(&'a [u8], &'a [u8])> {
        if self.buf.len() < n {
            return Err(malformed("truncated field"));
        }
        Ok(self.buf.split_at(n))
    }
}

fn text(bytes: &[u8]) -> Result<String> {
    String::from_utf8(bytes.to_vec()).map_err(|_| malformed("a string is not UTF-8"))
}

/// The string field 1 of a small message (a Quantity), or `(key, value)` of a map entry.
fn entry(bytes: &[u8], value_is_quantity: bool) -> Result<(String, String)> {
    let mut r = Reader { buf: bytes };
    let (mut key, mut value) = (String::new(), String::new());
    while let Some((n, w)) = r.next()? {
        match (n, w) {
            (1, Wire::Bytes(b)) => key = text(b)?,
            (2, Wire::Bytes(b)) if value_is_quantity => value = quantity(b)?,
            (2, Wire::Bytes(b)) => value = text(b)?,
            _ => {}
        }
    }
    Ok((key, value))
}

fn quantity(bytes: &[u8]) -> Result<String> {
    let mut r = Reader { buf: bytes };
    let mut out = String::new();
    while let Some((n, w)) = r.next()? {
        if let (1, Wire::Bytes(b)) = (n, w) {
            out = text(b)?;
        }
    }
    Ok(out)
}

/// Go's zero `time.Time` in seconds: what gogo-protobuf writes for an unset `Time`.
const GO_ZERO_TIME: i64 = -62_135_596_800;

/// A `Time`, or `None` for Go's zero time (an unset timestamp).
fn time(bytes: &[u8]) -> Result<Option<Value>> {
    let mut r = Reader { buf: bytes };
    let mut seconds = 0i64;
    while let Some((n, w)) = r.next()? {
        if let (1, Wire::Varint(v)) = (n, w) {
            seconds = v as i64;
        }
    }
    if seconds == GO_ZERO_TIME {
        return Ok(None);
    }
    let t =
        jiff::Timestamp::from_second(seconds).map_err(|_| malformed("a time is out of range"))?;
    Ok(Some(Value::String(t.to_string())))
}

/// A field's value; `None` for what Go's encoder writes for an unset field (an empty
/// string, the zero time), so the JSON reads as kubectl's JSON body would.
fn value(ty: Ty, wire: Wire<'_>) -> Result<Option<Value>> {
    Ok(Some(match (ty, wire) {
        (Ty::Str, Wire::Bytes([])) => return Ok(None),
        (Ty::Str, Wire::Bytes(b)) => Value::String(text(b)?),
        (Ty::Int, Wire::Varint(v)) => Value::from(v as i64),
        (Ty::Bool, Wire::Varint(v)) => Value::Bool(v != 0),
        (Ty::Time, Wire::Bytes(b)) => return time(b),
        (Ty::Msg(fields), Wire::Bytes(b)) => message(b, fields)?,
        _ => return Ok(None),
    }))
}

fn message(bytes: &[u8], fields: &[Field]) -> Result<Value> {
    let mut out = Map::new();
    let mut r = Reader { buf: bytes };
    while let Some((number, wire)) = r.next()? {
        let Some(&Field(_, name, ty, repeated)) = fields.iter().find(|f| f.0 == number) else {
            continue;
        };
        match (ty, wire) {
            (Ty::MapStr | Ty::MapQuantity, Wire::Bytes(b)) => {
                let (k, v) = entry(b, matches!(ty, Ty::MapQuantity))?;
                let map = out.entry(name).or_insert_with(|| Value::Object(Map::new()));
                if let Value::Object(m) = map {
                    m.insert(k, Value::String(v));
                }
            }
            (ty, wire) => {
                let Some(v) = value(ty, wire)? else { continue };
                if repeated {
                    let list = out.entry(name).or_insert_with(|| Value::Array(Vec::new()));
                    if let Value::Array(items) = list {
                        items.push(v);
                    }
                } else {
                    out.insert(name.to_string(), v);
                }
            }
        }
    }
    Ok(Value::Object(out))
}

/// Decodes a protobuf body into the object's JSON, with its `apiVersion` and `kind`.
///
/// # Errors
/// 400 for a malformed body; 415 for a kind k8sless does not read as protobuf.
pub(crate) fn decode(body: &[u8]) -> Result<Value> {
    let unsupported = || Error::UnsupportedMediaType {
        content_type: CONTENT_TYPE.to_string(),
    };
    let envelope = body
        .strip_prefix(MAGIC)
        .ok_or_else(|| malformed("no k8s magic"))?;
    let mut r = Reader { buf: envelope };
    let (mut api_version, mut kind, mut raw) = (String::new(), String::new(), &[][..]);
    while let Some((n, w)) = r.next()? {
        match (n, w) {
            (1, Wire::Bytes(b)) => {
                let meta = message(
                    b,
                    &[
                        Field(1, "apiVersion", Ty::Str, false),
                        Field(2, "kind", Ty::Str, false),
                    ],
                )?;
                api_version = meta["apiVersion"].as_str().unwrap_or("").to_string();
                kind = meta["kind"].as_str().unwrap_or("").to_string();
            }
            (2, Wire::Bytes(b)) => raw = b,
            (3, Wire::Bytes(b)) if !b.is_empty() => return Err(unsupported()),
            _ => {}
        }
    }
    let fields = KINDS
        .iter()
        .find(|(k, _)| *k == kind)
        .map(|(_, f)| *f)
        .ok_or_else(unsupported)?;
    let mut object = message(raw, fields)?;
    if let Value::Object(m) = &mut object {
        m.insert("apiVersion".into(), Value::String(api_version));
        m.insert("kind".into(), Value::String(kind));
    }
    Ok(object)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn field(n: u32, bytes: &[u8]) -> Vec<u8> {
        let mut out = vec![((n << 3) | 2) as u8, bytes.len() as u8];
        out.extend_from_slice(bytes);
        out
    }

    #[test]
    fn decodes_what_kubectl_create_quota_sends() {
        let quantity = field(1, b"2");
        let entry = [field(1, b"pods"), field(2, &quantity)].concat();
        let spec = field(1, &entry);
        let meta = [
            field(1, b"q"),
            field(11, &[field(1, b"a"), field(2, b"b")].concat()),
        ]
        .concat();
        let raw = [field(1, &meta), field(2, &spec)].concat();
        let type_meta = [field(1, b"v1"), field(2, b"ResourceQuota")].concat();
        let body = [MAGIC.to_vec(), field(1, &type_meta), field(2, &raw)].concat();
        let v = decode(&body).expect("decodes");
        assert_eq!(
            v,
            serde_json::json!({"apiVersion": "v1", "kind": "ResourceQuota",
                "metadata": {"name": "q", "labels": {"a": "b"}},
                "spec": {"hard": {"pods": "2"}}})
        );
    }

    #[test]
    fn refuses_what_it_cannot_read() {
        assert_eq!(decode(b"nope").expect_err("magic").code(), 400);
        let type_meta = [field(1, b"v1"), field(2, b"Pod")].concat();
        let body = [MAGIC.to_vec(), field(1, &type_meta)].concat();
        assert_eq!(decode(&body).expect_err("kind").code(), 415);
        let truncated = [MAGIC.to_vec(), vec![0x0a, 0x7f]].concat();
        assert_eq!(decode(&truncated).expect_err("short").code(), 400);
    }
}
