//! Request bodies in Kubernetes' protobuf encoding (`application/vnd.kubernetes.protobuf`), for
//! the kinds clients send that way: kubectl's typed clients post RBAC objects (`kubectl create
//! rolebinding`), `SelfSubjectAccessReview` (`kubectl auth can-i`) and `SelfSubjectReview`
//! (`kubectl auth whoami`) and `SelfSubjectRulesReview` (`kubectl auth can-i --list`) as protobuf, and client-go does not fall back to JSON on a 415.
//!
//! The envelope (k8s.io/apimachinery/pkg/runtime/serializer/protobuf): the magic `k8s\0`, then a
//! `runtime.Unknown` message: 1 `typeMeta` {1 apiVersion, 2 kind}, 2 `raw` (the object's own
//! message), 3 contentEncoding, 4 contentType. The object is decoded by a field table per
//! message (the field numbers of k8s.io/api's `generated.proto`), into the JSON the rest of the
//! API reads; unknown fields are skipped, as protobuf readers do. Only the fields k8sless reads
//! are in the tables. Another kind is a 415, as before.
//!
//! Bounded: the body is already within the body limit, the tables nest a fixed depth, and
//! every length is checked against what remains.

use serde_json::{Map, Value};

use crate::error::{Error, Result};

/// The media type.
pub(crate) const PROTOBUF: &str = "application/vnd.kubernetes.protobuf";
const MAGIC: &[u8] = b"k8s\0";

/// How one field decodes.
#[derive(Clone, Copy)]
enum Field {
    Str(&'static str),
    Strs(&'static str),
    Msg(&'static str, &'static [(u64, Field)]),
    Msgs(&'static str, &'static [(u64, Field)]),
    Map(&'static str),
}

use Field::*;

const OBJECT_META: &[(u64, Field)] = &[
    (1, Str("name")),
    (2, Str("generateName")),
    (3, Str("namespace")),
    (5, Str("uid")),
    (6, Str("resourceVersion")),
    (11, Map("labels")),
    (12, Map("annotations")),
    (14, Strs("finalizers")),
];
const POLICY_RULE: &[(u64, Field)] = &[
    (1, Strs("verbs")),
    (2, Strs("apiGroups")),
    (3, Strs("resources")),
    (4, Strs("resourceNames")),
    (5, Strs("nonResourceURLs")),
];
const SUBJECT: &[(u64, Field)] = &[
    (1, Str("kind")),
    (2, Str("apiGroup")),
    (3, Str("name")),
    (4, Str("namespace")),
];
const ROLE_REF: &[(u64, Field)] = &[(1, Str("apiGroup")), (2, Str("kind")), (3, Str("name"))];
const BINDING: &[(u64, Field)] = &[
    (1, Msg("metadata", OBJECT_META)),
    (2, Msgs("subjects", SUBJECT)),
    (3, Msg("roleRef", ROLE_REF)),
];
const ROLE: &[(u64, Field)] = &[
    (1, Msg("metadata", OBJECT_META)),
    (2, Msgs("rules", POLICY_RULE)),
];
const RESOURCE_ATTRIBUTES: &[(u64, Field)] = &[
    (1, Str("namespace")),
    (2, Str("verb")),
    (3, Str("group")),
    (4, Str("version")),
    (5, Str("resource")),
    (6, Str("subresource")),
    (7, Str("name")),
];
const NON_RESOURCE_ATTRIBUTES: &[(u64, Field)] = &[(1, Str("path")), (2, Str("verb"))];
const SSAR_SPEC: &[(u64, Field)] = &[
    (1, Msg("resourceAttributes", RESOURCE_ATTRIBUTES)),
    (2, Msg("nonResourceAttributes", NON_RESOURCE_ATTRIBUTES)),
];
const SSAR: &[(u64, Field)] = &[
    (1, Msg("metadata", OBJECT_META)),
    (2, Msg("spec", SSAR_SPEC)),
];
const SSR: &[(u64, Field)] = &[(1, Msg("metadata", OBJECT_META))];
const SSRR_SPEC: &[(u64, Field)] = &[(1, Str("namespace"))];
const SSRR: &[(u64, Field)] = &[
    (1, Msg("metadata", OBJECT_META)),
    (2, Msg("spec", SSRR_SPEC)),
];
const TYPE_META: &[(u64, Field)] = &[(1, Str("apiVersion")), (2, Str("kind"))];

/// The table of a kind sent as protobuf.
fn table_of(kind: &str) -> Option<&'static [(u64, Field)]> {
    match kind {
        "RoleBinding" | "ClusterRoleBinding" => Some(BINDING),
        "Role" | "ClusterRole" => Some(ROLE),
        "SelfSubjectAccessReview" => Some(SSAR),
        "SelfSubjectReview" => Some(SSR),
        "SelfSubjectRulesReview" => Some(SSRR),
        _ => None,
    }
}

fn malformed(what: &str) -> Error {
    Error::bad_request(format!("the protobuf request body is malformed: {what}"))
}

/// Decodes a protobuf body into the object's JSON.
///
/// # Errors
/// 400 for a malformed body; 415 for a kind not sent as protobuf here.
pub(crate) fn to_value(body: &[u8]) -> Result<Value> {
    let unknown = body
        .strip_prefix(MAGIC)
        .ok_or_else(|| malformed("no k8s protobuf magic"))?;
    let mut type_meta = Map::new();
    let mut raw: &[u8] = &[];
    for item in Reader(unknown) {
        let (number, value) = item?;
        match (number, value) {
            (1, Wire::Len(b)) => type_meta = message(b, TYPE_META)?,
            (2, Wire::Len(b)) => raw = b,
            _ => {}
        }
    }
    let kind = type_meta.get("kind").and_then(Value::as_str).unwrap_or("");
    let Some(table) = table_of(kind) else {
        return Err(Error::UnsupportedMediaType {
            content_type: PROTOBUF.into(),
        });
    };
    let mut object = message(raw, table)?;
    object.insert("kind".into(), Value::String(kind.into()));
    if let Some(v) = type_meta.get("apiVersion") {
        object.insert("apiVersion".into(), v.clone());
    }
    Ok(Value::Object(object))
}

enum Wire<'a> {
    Varint,
    Len(&'a [u8]),
    Fixed,
}

/// The fields of one message, in order.
struct Reader<'a>(&'a [u8]);

impl<'a> Reader<'a> {
    fn varint(&mut self) -> Result<u64> {
        let mut out = 0u64;
        for shift in (0..64).step_by(7) {
            let (&b, rest) = self
                .0
                .split_first()
                .ok_or_else(|| malformed("truncated varint"))?;
            self.0 = rest;
            out |= u64::from(b & 0x7f) << shift;
            if b & 0x80 == 0 {
                return Ok(out);
            }
        }
        Err(malformed("varint too long"))
    }

    fn take(&mut self, n: usize) -> Result<&'a [u8]> {
        if n > self.0.len() {
            return Err(malformed("a length past the end"));
        }
        let (head, rest) = self.0.split_at(n);
        self.0 = rest;
        Ok(head)
    }
}

impl<'a> Iterator for Reader<'a> {
    type Item = Result<(u64, Wire<'a>)>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.0.is_empty() {
            return None;
        }
        let field = (|| {
            let key = self.varint()?;
            let wire = match key & 7 {
                0 => {
                    self.varint()?;
                    Wire::Varint
                }
                1 => {
                    self.take(8)?;
                    Wire::Fixed
                }
                2 => {
                    let n = usize::try_from(self.varint()?).map_err(|_| malformed("length"))?;
                    Wire::Len(self.take(n)?)
                }
                5 => {
                    self.take(4)?;
                    Wire::Fixed
                }
                _ => return Err(malformed("unsupported wire type")),
            };
            Ok((key >> 3, wire))
        })();
        if field.is_err() {
            self.0 = &[];
        }
        Some(field)
    }
}

fn text(b: &[u8]) -> Result<Value> {
    std::str::from_utf8(b)
        .map(|s| Value::String(s.to_string()))
        .map_err(|_| malformed("a string is not UTF-8"))
}

fn push(obj: &mut Map<String, Value>, name: &str, v: Value) {
    match obj
        .entry(name.to_string())
        .or_insert_with(|| Value::Array(Vec::new()))
    {
        Value::Array(items) => items.push(v),
        other => *other = Value::Array(vec![v]),
    }
}

/// One message by its table; empty strings are left out, as JSON's `omitempty` would.
fn message(bytes: &[u8], table: &[(u64, Field)]) -> Result<Map<String, Value>> {
    let mut obj = Map::new();
    for item in Reader(bytes) {
        let (number, wire) = item?;
        let Some((_, field)) = table.iter().find(|(n, _)| *n == number) else {
            continue;
        };
        match (*field, wire) {
            (Str(name), Wire::Len(b)) => {
                if !b.is_empty() {
                    obj.insert(name.into(), text(b)?);
                }
            }
            (Strs(name), Wire::Len(b)) => push(&mut obj, name, text(b)?),
            (Msg(name, t), Wire::Len(b)) => {
                obj.insert(name.into(), Value::Object(message(b, t)?));
            }
            (Msgs(name, t), Wire::Len(b)) => push(&mut obj, name, Value::Object(message(b, t)?)),
            (Map(name), Wire::Len(b)) => {
                let entry = message(b, &[(1, Str("k")), (2, Str("v"))])?;
                let key = entry
                    .get("k")
                    .and_then(Value::as_str)
                    .unwrap_or("")
                    .to_string();
                let value = entry
                    .get("v")
                    .cloned()
                    .unwrap_or(Value::String(String::new()));
                if let Value::Object(m) = obj
                    .entry(name.to_string())
                    .or_insert_with(|| Value::Object(Map::new()))
                {
                    m.insert(key, value);
                }
            }
            _ => return Err(malformed("a field of the wrong wire type")),
        }
    }
    Ok(obj)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// What kubectl 1.33 sends for `kubectl auth can-i create pods --subresource=log -n team-a`.
    const CAN_I: &[u8] = &[
        0x6b, 0x38, 0x73, 0x00, 0x0a, 0x32, 0x0a, 0x17, b'a', b'u', b't', b'h', b'o', b'r', b'i',
        b'z', b'a', b't', b'i', b'o', b'n', b'.', b'k', b'8', b's', b'.', b'i', b'o', b'/', b'v',
        b'1', 0x12, 0x17, b'S', b'e', b'l', b'f', b'S', b'u', b'b', b'j', b'e', b'c', b't', b'A',
        b'c', b'c', b'e', b's', b's', b'R', b'e', b'v', b'i', b'e', b'w', 0x12, 0x41, 0x0a, 0x10,
        0x0a, 0x00, 0x12, 0x00, 0x1a, 0x00, 0x22, 0x00, 0x2a, 0x00, 0x32, 0x00, 0x38, 0x00, 0x42,
        0x00, 0x12, 0x23, 0x0a, 0x21, 0x0a, 0x06, b't', b'e', b'a', b'm', b'-', b'a', 0x12, 0x06,
        b'c', b'r', b'e', b'a', b't', b'e', 0x1a, 0x00, 0x22, 0x00, 0x2a, 0x04, b'p', b'o', b'd',
        b's', 0x32, 0x03, b'l', b'o', b'g', 0x3a, 0x00, 0x1a, 0x08, 0x08, 0x00, 0x12, 0x00, 0x1a,
        0x00, 0x20, 0x00, 0x1a, 0x00, 0x22, 0x00,
    ];

    #[test]
    fn kubectl_can_i_decodes() {
        let v = to_value(CAN_I).expect("decodes");
        assert_eq!(v["kind"], "SelfSubjectAccessReview");
        assert_eq!(v["apiVersion"], "authorization.k8s.io/v1");
        let attrs = &v["spec"]["resourceAttributes"];
        assert_eq!(attrs["namespace"], "team-a");
        assert_eq!(attrs["verb"], "create");
        assert_eq!(attrs["resource"], "pods");
        assert_eq!(attrs["subresource"], "log");
        assert!(attrs.get("group").is_none());
    }

    #[test]
    fn truncated_or_foreign_bodies_are_refused() {
        assert_eq!(
            to_value(&CAN_I[..CAN_I.len() - 30])
                .err()
                .map(|e| e.code().as_u16()),
            Some(400)
        );
        assert_eq!(to_value(b"{}").err().map(|e| e.code().as_u16()), Some(400));
        // A Pod (kind "Pod") is not decoded from protobuf: 415, as before.
        let mut pod = b"k8s\0\x0a\x09\x0a\x02v1\x12\x03Pod".to_vec();
        pod.extend_from_slice(b"\x12\x00");
        assert_eq!(to_value(&pod).err().map(|e| e.code().as_u16()), Some(415));
    }
}
