//! Bounded decoding: JSON or YAML text into a `serde_json::Value` whose size in memory is
//! charged while it is built, so no body can decode to more than [`decoded_limit`] of it.
//!
//! serde_yaml_ng bounds how many alias jumps a document may make (100 × its events), not how
//! much they expand to: a 9 KB body of nested aliases decoded to hundreds of megabytes. Here
//! every value the deserializer produces, an alias's expansion included, is charged against a
//! budget before it is kept, and decoding stops at the first value past it. The charge
//! approximates the heap a `serde_json::Value` takes ([`VALUE_COST`] per value, the bytes of
//! every string and key, [`MAP_COST`] per map for its first B-tree node), so the budget is a
//! bound on memory, not on text. Nesting depth is bounded by both parsers (128 levels).

use std::cell::Cell;
use std::fmt;

use serde::de::{self, DeserializeSeed, MapAccess, SeqAccess, Visitor};
use serde_json::{Map, Number, Value};

/// Charged per value (the size of a `serde_json::Value`, doubled for a growing `Vec` or map
/// entry).
pub(crate) const VALUE_COST: usize = 64;
/// Charged per object: the first B-tree leaf of a `serde_json::Map` (11 entries of key and
/// value), allocated by the first insert.
pub(crate) const MAP_COST: usize = 640;
/// The decoded document may take this many times the body's length in memory. A Pod takes
/// some 25 times its JSON as a `Value` (examples/hello.yaml: 338 bytes of JSON, 7,970
/// charged; a pod of 1,000 environment variables: 39 KB, 989 KB charged): one B-tree leaf
/// per object, however small.
pub(crate) const DECODE_FACTOR: usize = 32;
/// Small bodies get at least this budget.
pub(crate) const DECODE_FLOOR: usize = 64 * 1024;
/// No body decodes to more than this: four times the default body limit (3 MiB). A body of
/// strings (a 3 MiB annotation) takes about its own size; only a body of more than some
/// 400 KB of small objects reaches it, and etcd would refuse such an object (1.5 MiB).
pub(crate) const DECODE_CAP: usize = 12 * 1024 * 1024;

/// The most memory (by the charge above) a body of `len` bytes may decode to.
pub(crate) fn decoded_limit(len: usize) -> usize {
    len.saturating_mul(DECODE_FACTOR)
        .clamp(DECODE_FLOOR, DECODE_CAP)
}

/// The charge of an existing value (as decoding would charge it), counted up to `stop`
/// (past it, some number above `stop`): the work is bounded by `stop`, not by the value.
pub(crate) fn cost(value: &Value, stop: usize) -> usize {
    let mut total = 0usize;
    let mut pending = vec![value];
    while let Some(v) = pending.pop() {
        total = total.saturating_add(VALUE_COST);
        match v {
            Value::String(s) => total = total.saturating_add(s.len()),
            Value::Array(a) => pending.extend(a.iter()),
            Value::Object(m) => {
                if !m.is_empty() {
                    total = total.saturating_add(MAP_COST);
                }
                for (k, v) in m {
                    total = total.saturating_add(VALUE_COST + k.len());
                    pending.push(v);
                }
            }
            _ => {}
        }
        if total > stop {
            break;
        }
    }
    total
}

/// Why bounded decoding failed.
#[derive(Debug)]
pub(crate) enum BoundedError {
    /// The document decodes to more than the budget.
    TooLarge,
    /// The parser's own error (syntax, depth).
    Syntax(String),
}

/// Parses JSON into a `Value` of at most `limit` charged bytes.
pub(crate) fn json(text: &str, limit: usize) -> Result<Value, BoundedError> {
    let budget = Cell::new(limit);
    let mut de = serde_json::Deserializer::from_str(text);
    let value = Bounded(&budget, false)
        .deserialize(&mut de)
        .and_then(|v| de.end().map(|()| v));
    finish(value, &budget)
}

/// Parses YAML (one document) into a `Value` of at most `limit` charged bytes, aliases
/// expanded. Keys that are not strings are rendered as JSON text, as the API server does.
pub(crate) fn yaml(text: &str, limit: usize) -> Result<Value, BoundedError> {
    let budget = Cell::new(limit);
    let de = serde_yaml_ng::Deserializer::from_str(text);
    finish(Bounded(&budget, true).deserialize(de), &budget)
}

fn finish<E: fmt::Display>(
    result: Result<Value, E>,
    budget: &Cell<usize>,
) -> Result<Value, BoundedError> {
    result.map_err(|e| {
        if budget.get() == usize::MAX {
            BoundedError::TooLarge
        } else {
            BoundedError::Syntax(e.to_string())
        }
    })
}

/// A seed that builds a `Value` and charges it to the budget; `usize::MAX` in the cell marks
/// an exhausted budget (so the caller can tell it from a syntax error). The flag refuses
/// duplicate keys, as YAML mappings do (JSON objects keep the last, as serde_json does).
#[derive(Clone, Copy)]
struct Bounded<'a>(&'a Cell<usize>, bool);

impl Bounded<'_> {
    fn charge<E: de::Error>(self, cost: usize) -> Result<(), E> {
        let left = self.0.get();
        if left == usize::MAX || cost > left {
            self.0.set(usize::MAX);
            return Err(E::custom("the decoded document is too large"));
        }
        self.0.set(left - cost);
        Ok(())
    }
}

impl<'de> DeserializeSeed<'de> for Bounded<'_> {
    type Value = Value;

    fn deserialize<D: de::Deserializer<'de>>(self, d: D) -> Result<Value, D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Bounded<'_> {
    type Value = Value;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any JSON value")
    }

    fn visit_bool<E: de::Error>(self, v: bool) -> Result<Value, E> {
        self.charge(VALUE_COST)?;
        Ok(Value::Bool(v))
    }

    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Value, E> {
        self.charge(VALUE_COST)?;
        Ok(Value::Number(v.into()))
    }

    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Value, E> {
        self.charge(VALUE_COST)?;
        Ok(Value::Number(v.into()))
    }

    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Value, E> {
        self.charge(VALUE_COST)?;
        // YAML's .inf and .nan have no JSON form: null, as serde_json renders them.
        Ok(Number::from_f64(v).map_or(Value::Null, Value::Number))
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<Value, E> {
        self.charge(VALUE_COST.saturating_add(v.len()))?;
        Ok(Value::String(v.to_owned()))
    }

    fn visit_string<E: de::Error>(self, v: String) -> Result<Value, E> {
        self.charge(VALUE_COST.saturating_add(v.len()))?;
        Ok(Value::String(v))
    }

    fn visit_unit<E: de::Error>(self) -> Result<Value, E> {
        self.charge(VALUE_COST)?;
        Ok(Value::Null)
    }

    fn visit_none<E: de::Error>(self) -> Result<Value, E> {
        self.visit_unit()
    }

    fn visit_some<D: de::Deserializer<'de>>(self, d: D) -> Result<Value, D::Error> {
        self.deserialize(d)
    }

    fn visit_newtype_struct<D: de::Deserializer<'de>>(self, d: D) -> Result<Value, D::Error> {
        self.deserialize(d)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        self.charge(VALUE_COST)?;
        let mut out = Vec::new();
        while let Some(v) = seq.next_element_seed(self)? {
            out.push(v);
        }
        Ok(Value::Array(out))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Value, A::Error> {
        self.charge(VALUE_COST)?;
        let mut out = Map::new();
        while let Some(key) = map.next_key_seed(self)? {
            if out.is_empty() {
                self.charge(MAP_COST)?;
            }
            let key = match key {
                Value::String(s) => s,
                other => other.to_string(),
            };
            if self.1 && out.contains_key(&key) {
                return Err(de::Error::custom(format_args!(
                    "duplicate entry with key {key:?}"
                )));
            }
            let value = map.next_value_seed(self)?;
            out.insert(key, value);
        }
        Ok(Value::Object(out))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Nested aliases, each level nine of the one below: 9^8 strings of 3 bytes.
    fn laughs() -> String {
        let mut s = String::from("a0: &a0 lol\n");
        for i in 1..9 {
            let refs = vec![format!("*a{}", i - 1); 9].join(",");
            s.push_str(&format!("a{i}: &a{i} [{refs}]\n"));
        }
        s
    }

    #[test]
    fn alias_expansion_is_bounded() {
        // serde_yaml_ng's own jump limit stops the classic shape...
        let body = laughs();
        assert!(body.len() < 1000);
        assert!(yaml(&body, decoded_limit(body.len())).is_err());
        // ...not a long string aliased within it: 100 KB × 2,000 would be 200 MB.
        let body = format!(
            "a: &a {}\nb: [{}]\n",
            "x".repeat(100_000),
            vec!["*a"; 2000].join(",")
        );
        assert!(matches!(
            yaml(&body, decoded_limit(body.len())),
            Err(BoundedError::TooLarge)
        ));
        // A few legitimate aliases decode.
        let ok = "a: &x {k: v}\nb: *x\nc: [*x, *x]\n";
        let v = yaml(ok, decoded_limit(ok.len())).expect("decodes");
        assert_eq!(v["c"][1]["k"], "v");
    }

    #[test]
    fn small_values_are_charged_as_memory() {
        // 7 bytes of text, one map each: far more as a Value.
        let body = format!("[{}]", vec![r#"{"":0}"#; 200_000].join(","));
        assert!(matches!(
            json(&body, decoded_limit(body.len())),
            Err(BoundedError::TooLarge)
        ));
        let deep = format!("{}{}", "[".repeat(200), "]".repeat(200));
        assert!(matches!(json(&deep, 1 << 20), Err(BoundedError::Syntax(_))));
        let deep = "[".repeat(200);
        assert!(matches!(yaml(&deep, 1 << 20), Err(BoundedError::Syntax(_))));
    }

    #[test]
    fn values_match_serde() {
        let text = r#"{"a": [1, -2, 3.5, true, null, "x"], "b": {"c": {}}}"#;
        let want: Value = serde_json::from_str(text).expect("json");
        assert_eq!(json(text, 1 << 20).expect("bounded"), want);
        assert_eq!(yaml(text, 1 << 20).expect("yaml"), want);
        assert!(matches!(
            json("[1] x", 1 << 20),
            Err(BoundedError::Syntax(_))
        ));
        let keys = yaml("1: a\ntrue: b\n", 1 << 20).expect("yaml keys");
        assert_eq!(keys["1"], "a");
        assert_eq!(keys["true"], "b");
        assert!(
            matches!(yaml("a: 1\na: 2\n", 1 << 20), Err(BoundedError::Syntax(m)) if m.contains("duplicate entry"))
        );
        assert_eq!(json(r#"{"a":1,"a":2}"#, 1 << 20).expect("json")["a"], 2);
    }
}
