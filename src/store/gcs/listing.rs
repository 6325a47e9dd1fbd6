//! Parsing one `objects.list` answer: names, generations and indexes, the prefixes and the next
//! page's token, and nothing else.
//!
//! A listing of 1,000 indexed records is ~2.3 MB of JSON (fake-gcs-server sends every object's
//! whole resource: it ignores `fields`), most of it the indexes, each a JSON document inside a
//! JSON string with every `"` escaped. Parsing them into owned maps of unescaped strings was
//! most of a warm `kubectl get pods -A`'s CPU on the service (docs/benchmarks.md, "Listings
//! parsed once, off the workers"). So the answer is parsed borrowing from its body: the
//! resource's other fields are skipped, and each index is kept as its JSON string literal,
//! copied but not unescaped ([`Index::literal`]; unescaped only when a reader decodes it). A
//! large answer is parsed on the blocking pool, so the listings of one walk, which arrive
//! together, are parsed on both cores instead of one after another in the walk's task.

use std::borrow::Cow;

use bytes::Bytes;
use serde::Deserialize;
use serde_json::value::RawValue;

use super::Listed;
use crate::store::{Index, StoreCause};

/// Answers at least this large are parsed on the blocking pool (a page of a few dozen indexed
/// records parses in well under a millisecond; handing it over costs more than that saves).
const OFF_THE_WORKERS: usize = 64 * 1024;

/// One listing call's answer.
#[derive(Debug, Default)]
pub(super) struct Listing {
    /// Names, generations and indexes, in the order listed.
    pub(super) names: Vec<Listed>,
    /// The prefixes (`delimiter=/`).
    pub(super) prefixes: Vec<String>,
    /// The next page's token, if any.
    pub(super) next_page_token: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Answer<'a> {
    #[serde(default, borrow)]
    items: Vec<Item<'a>>,
    #[serde(default)]
    next_page_token: Option<String>,
    #[serde(default)]
    prefixes: Vec<String>,
}

#[derive(Deserialize)]
struct Item<'a> {
    #[serde(borrow)]
    name: Cow<'a, str>,
    #[serde(default, borrow)]
    generation: Cow<'a, str>,
    #[serde(default, borrow)]
    metadata: Option<Metadata<'a>>,
}

/// The object's custom metadata: only the index is read (packed, or as older records carry
/// it); other keys are skipped.
#[derive(Deserialize)]
struct Metadata<'a> {
    #[serde(rename = "k8sless-ix1", borrow, default)]
    packed: Option<&'a RawValue>,
    #[serde(rename = "k8sless-index", borrow, default)]
    index: Option<&'a RawValue>,
}

impl Metadata<'_> {
    /// The packed index when there is one, else the escaped one; a value that is not a string
    /// is not an index this service wrote (the record is read from its body instead).
    fn index(&self) -> Option<Index> {
        if let Some(literal) = self.packed.map(RawValue::get)
            && literal.starts_with('"')
        {
            // Base64 has nothing a JSON encoder must escape, so the literal's inside is the
            // packed text; one that escapes some (`\/`) anyway is unescaped here. What does not
            // unpack is an error for its reader, as a corrupt escaped index is.
            let inside = &literal[1..literal.len() - 1];
            let packed = if inside.contains('\\') {
                serde_json::from_str::<String>(literal).ok()?.into()
            } else {
                Bytes::copy_from_slice(inside.as_bytes())
            };
            return Some(Index::packed(packed));
        }
        self.index
            .map(RawValue::get)
            .filter(|literal| literal.starts_with('"'))
            .map(|literal| Index::literal(Bytes::copy_from_slice(literal.as_bytes())))
    }
}

/// Parses a listing's `body`, on the blocking pool when it is large.
pub(super) async fn parse(body: Bytes) -> Result<Listing, StoreCause> {
    if body.len() < OFF_THE_WORKERS {
        return parse_now(&body);
    }
    tokio::task::spawn_blocking(move || parse_now(&body))
        .await
        .map_err(|source| StoreCause::Unfinished {
            what: "object list",
            source,
        })?
}

fn parse_now(body: &[u8]) -> Result<Listing, StoreCause> {
    let answer: Answer<'_> = serde_json::from_slice(body).map_err(|source| StoreCause::Decode {
        what: "object list",
        source,
    })?;
    let names = answer
        .items
        .into_iter()
        .map(|item| {
            let index = item.metadata.and_then(|m| m.index());
            let generation = item.generation.parse().unwrap_or(0);
            (item.name.into_owned(), generation, index)
        })
        .collect();
    Ok(Listing {
        names,
        prefixes: answer.prefixes,
        next_page_token: answer.next_page_token,
    })
}

#[cfg(test)]
mod tests {
    use super::super::{INDEX_KEY, PACKED_INDEX_KEY, packed};
    use super::*;

    #[tokio::test]
    async fn a_listing_keeps_names_generations_and_indexes_only() {
        let index = r#"{"pod":{"metadata":{"name":"a \"quoted\" name","labels":{"é":"✓"}}}}"#;
        let body = serde_json::json!({
            "kind": "storage#objects",
            "items": [
                {"kind": "storage#object", "name": "pods/ns/a.json", "generation": "17",
                 "acl": [{"entity": "x"}], "size": "5",
                 "metadata": {"other": "x", INDEX_KEY: index}},
                {"name": "pods/ns/b.json", "generation": "18", "metadata": {"other": "y"}},
                {"name": "pods/ns/c\u{e9}.json", "generation": "19", "metadata": {INDEX_KEY: 3}},
                {"name": "pods/ns/d.json", "generation": "20"},
                // Packed (preferred over an escaped one beside it), and packed with an escape.
                {"name": "pods/ns/e.json", "generation": "21",
                 "metadata": {INDEX_KEY: "{}", PACKED_INDEX_KEY: packed::pack(index)}},
                {"name": "pods/ns/f.json", "generation": "22",
                 "metadata": {PACKED_INDEX_KEY: "@escaped@"}},
                {"name": "pods/ns/g.json", "generation": "23", "metadata": {PACKED_INDEX_KEY: "!"}},
            ],
            "prefixes": ["pods/ns/"],
            "nextPageToken": "t",
        });
        // A packed value with an escape (`\u0041` for `A`): serde_json writes none, so it is
        // spliced in.
        let packed = packed::pack(index).expect("packed");
        let escaped = format!("\\u{:04x}{}", packed.as_bytes()[0], &packed[1..]);
        let encode = |body: &serde_json::Value| {
            serde_json::to_string(body)
                .expect("encode")
                .replace("@escaped@", &escaped)
                .into_bytes()
        };
        let text = encode(&body);
        // Small and large answers take the same parse (inline, or on the blocking pool).
        let mut large = serde_json::to_value(&body).expect("value");
        large["padding"] = "x".repeat(OFF_THE_WORKERS).into();
        for body in [text, encode(&large)] {
            let got = parse(Bytes::from(body)).await.expect("parse");
            let names: Vec<(&str, i64)> =
                got.names.iter().map(|(n, g, _)| (n.as_str(), *g)).collect();
            assert_eq!(
                names,
                [
                    ("pods/ns/a.json", 17),
                    ("pods/ns/b.json", 18),
                    ("pods/ns/c\u{e9}.json", 19),
                    ("pods/ns/d.json", 20),
                    ("pods/ns/e.json", 21),
                    ("pods/ns/f.json", 22),
                    ("pods/ns/g.json", 23),
                ]
            );
            let text = got.names[0]
                .2
                .as_ref()
                .expect("an index")
                .text()
                .expect("text");
            assert_eq!(text, index, "unescaped when read");
            assert!(got.names[1..4].iter().all(|n| n.2.is_none()), "no index");
            for packed in &got.names[4..6] {
                let text = packed.2.as_ref().expect("an index").text().expect("text");
                assert_eq!(text, index, "unpacked when read: {}", packed.0);
            }
            let bad = got.names[6].2.as_ref().expect("listed as an index");
            assert!(
                bad.text().is_err(),
                "a value that does not unpack is an error"
            );
            assert_eq!(got.prefixes, ["pods/ns/"]);
            assert_eq!(got.next_page_token.as_deref(), Some("t"));
        }
        assert!(matches!(
            parse(Bytes::from_static(b"{\"items\": 3}")).await,
            Err(StoreCause::Decode { .. })
        ));
    }
}
