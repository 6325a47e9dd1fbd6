//! A whole prefix listed at once, in as few sequential round trips as the store allows: the
//! listing a paged pod list takes at its first page (its snapshot, `pods::crud::snapshot`).
//!
//! Cloud Storage returns at most 1,000 objects a call, so listing 10,000 records one page after
//! another is ten round trips in a row. Record keys are `pods/<namespace>/<name>.json`, so the
//! listing of all namespaces splits naturally by namespace: one page first (a small listing
//! ends there, in one call), then the namespaces at and after where it stopped (one
//! `delimiter=/` call) listed concurrently, each its own key range. Three round trips for any
//! number of namespaces; one when the last walk of the prefix was over two pages and no
//! namespace appeared since (the namespaces it found are listed concurrently with the
//! `delimiter=/` call, and only a namespace that call names and they lack is listed after it);
//! a namespace that was larger than a page in the last walk is listed as key ranges of a page
//! each, split at every [`SPLIT_EVERY`]th key of that walk, all concurrently (`startOffset`/
//! `endOffset`), instead of paging through it in sequence.
//!
//! # Guarantees
//! - Entries in key order, each key once: the ranges are disjoint and cover the prefix (the
//!   first page, the rest of its namespace after it, then every later namespace whole; a split
//!   namespace's ranges are `(k[i-1], k[i]]` for its split keys, open below the first and above
//!   the last, so they tile it whether or not a split key still exists). A range that holds
//!   more than a page now (records created since) pages on its own.
//! - A record that exists for the whole walk is listed; one created or deleted during it may
//!   or may not be, as with any listing of several calls (Cloud Storage has no multi-object
//!   snapshot).
//! - Records sitting directly under the prefix (no `/` after it) are never skipped: the store
//!   says so and the rest is listed in sequence.

use futures_util::{StreamExt, TryStreamExt};

use super::{EntryPage, RecordStore, StoreError};

/// Names in the first call: one Cloud Storage page (`list_entries` asks for one more than its
/// limit to know whether more follow).
pub(crate) const FIRST_PAGE: usize = 999;
/// Namespaces (or ranges of one) listed at once.
const CONCURRENCY: usize = 16;
/// A namespace of more entries than this in the last walk is split into ranges of this many
/// (one Cloud Storage page each) in the next.
const SPLIT_EVERY: usize = 1000;

/// A listing of the walk: under a prefix, after a key and before another, when given.
type Range = (String, Option<String>, Option<String>);

/// Every entry under `prefix`; `split`: the prefix holds `<sub>/` levels (all namespaces) and
/// may be listed one sub-prefix per listing, concurrently; `known`: the last walk's [`layout`]
/// when it was more than two pages (its sub-prefixes and split keys, in key order), listed at
/// once (see [`warm`]).
pub(crate) async fn entries(
    store: &dyn RecordStore,
    prefix: &str,
    split: bool,
    known: Option<&[String]>,
) -> Result<EntryPage, StoreError> {
    if split
        && let Some(known) = known
        && let Some(all) = warm(store, prefix, known).await?
    {
        return Ok(all);
    }
    let mut all = store.list_entries(prefix, None, FIRST_PAGE).await?;
    let Some(after) = all.next.take() else {
        return Ok(all);
    };
    let sub_of_after = sub_prefix(prefix, &after);
    let subs = match (split, sub_of_after) {
        (true, Some(sub)) => store.list_prefixes(prefix, Some(sub)).await?,
        _ => None,
    };
    let ranges: Vec<Range> = match subs {
        Some(subs) => subs
            .into_iter()
            .map(|sub| {
                let start = after.starts_with(&sub).then(|| after.clone());
                (sub, start, None)
            })
            .collect(),
        None => vec![(prefix.to_string(), Some(after), None)],
    };
    concurrently(store, all, ranges).await
}

/// The walk of a prefix whose sub-prefixes were `known` from the last walk: those listed
/// concurrently with the `delimiter=/` call that says which exist now, then the ones it names
/// that were not known (a second round trip only then). `None` when records sit directly
/// under `prefix` (the caller lists it in sequence).
///
/// As fresh as listing the sub-prefixes after the `delimiter=/` call: every listing starts
/// after the walk did, and every sub-prefix that call names is listed (one known but gone
/// lists nothing).
async fn warm(
    store: &dyn RecordStore,
    prefix: &str,
    known: &[String],
) -> Result<Option<EntryPage>, StoreError> {
    let ranges = known_ranges(prefix, known);
    let (subs, mut all) = futures_util::future::try_join(
        store.list_prefixes(prefix, None),
        concurrently(store, EntryPage::default(), ranges),
    )
    .await?;
    let Some(subs) = subs else {
        return Ok(None);
    };
    let new: Vec<Range> = subs
        .into_iter()
        .filter(|sub| known.binary_search(sub).is_err())
        .map(|sub| (sub, None, None))
        .collect();
    if !new.is_empty() {
        all = concurrently(store, all, new).await?;
        all.entries.sort_by(|a, b| a.key.cmp(&b.key));
    }
    Ok(Some(all))
}

/// What the next walk of `prefix` lists at once, from this walk's `entries`: the sub-prefixes
/// (`pods/<namespace>/`) in order, each once, each followed by its split keys (every
/// [`SPLIT_EVERY`]th key of a sub-prefix with more entries than that). In key order: every key
/// under a sub-prefix sorts before the next sub-prefix.
pub(crate) fn layout(prefix: &str, entries: &[super::Entry]) -> Vec<String> {
    let mut layout: Vec<String> = Vec::new();
    let mut current: Option<&str> = None;
    let mut in_sub = 0;
    for (i, e) in entries.iter().enumerate() {
        let Some(sub) = sub_prefix(prefix, &e.key) else {
            continue;
        };
        if current != Some(sub) {
            layout.push(sub.to_string());
            current = Some(sub);
            in_sub = 0;
        }
        in_sub += 1;
        let more_follow = entries
            .get(i + 1)
            .is_some_and(|next| next.key.starts_with(sub));
        if in_sub % SPLIT_EVERY == 0 && more_follow {
            layout.push(e.key.clone());
        }
    }
    layout
}

/// The ranges of a [`layout`]: each sub-prefix whole, or, split at its keys `k`, as
/// `(k[i-1], k[i]]` (the end bound is exclusive, so `k[i]` + NUL), open below the first key and
/// above the last.
fn known_ranges(prefix: &str, known: &[String]) -> Vec<Range> {
    let mut ranges: Vec<Range> = Vec::new();
    for item in known {
        if sub_prefix(prefix, item) == Some(item.as_str()) {
            ranges.push((item.clone(), None, None));
        } else if let Some(open) = ranges.last_mut()
            && item.starts_with(&open.0)
        {
            // The open range ends at this key; the next starts after it.
            let sub = open.0.clone();
            open.2 = Some(format!("{item}\u{0}"));
            ranges.push((sub, Some(item.clone()), None));
        }
    }
    ranges
}

/// `all` followed by the listings of `ranges`, up to [`CONCURRENCY`] at once, in order.
async fn concurrently(
    store: &dyn RecordStore,
    mut all: EntryPage,
    ranges: Vec<Range>,
) -> Result<EntryPage, StoreError> {
    let pages: Vec<EntryPage> = futures_util::stream::iter(ranges)
        .map(|(sub, start, end)| async move {
            store
                .list_range_entries(&sub, start.as_deref(), end.as_deref())
                .await
        })
        .buffered(CONCURRENCY)
        .try_collect()
        .await?;
    for page in pages {
        all.entries.extend(page.entries);
        all.unreadable.extend(page.unreadable);
    }
    Ok(all)
}

/// `prefix` plus the next level of `key`, up to and including its `/`: `pods/ns/` of
/// `pods/ns/p.json` under `pods/`.
fn sub_prefix<'a>(prefix: &str, key: &'a str) -> Option<&'a str> {
    let rest = key.strip_prefix(prefix)?;
    let slash = rest.find('/')?;
    Some(&key[..prefix.len() + slash + 1])
}

#[cfg(test)]
mod tests {
    use bytes::Bytes;

    use super::*;
    use crate::store::MemoryStore;

    async fn store_of(keys: &[String]) -> MemoryStore {
        let store = MemoryStore::new();
        for k in keys {
            store.create(k, Bytes::new()).await.expect("create");
        }
        store
    }

    #[tokio::test]
    async fn a_split_walk_lists_every_key_once_in_order() {
        // Namespaces that sort around each other's prefixes ("a-b/" < "a/"), one larger
        // than the first page, one past it.
        let mut keys: Vec<String> = (0..1500).map(|i| format!("pods/a/{i:05}.json")).collect();
        keys.extend((0..3).map(|i| format!("pods/a-b/{i}.json")));
        keys.extend((0..1200).map(|i| format!("pods/z/{i:05}.json")));
        keys.push("other/x".into());
        let store = store_of(&keys).await;
        let mut want: Vec<String> = keys
            .iter()
            .filter(|k| k.starts_with("pods/"))
            .cloned()
            .collect();
        want.sort();
        // Known from a last walk: all (namespaces over a page split at every 1,000th key),
        // some (one appeared since), one gone, none; split keys that no longer exist, or split
        // a namespace now larger (a range of more than a page).
        let all: Vec<String> = ["pods/a-b/", "pods/a/", "pods/a/00999.json", "pods/z/"]
            .into_iter()
            .chain(["pods/z/00999.json"])
            .map(String::from)
            .collect();
        let some = ["pods/a/".to_string(), "pods/gone/".into()];
        let stale: Vec<String> = ["pods/a-b/", "pods/a/", "pods/a/00100.jsonx", "pods/a/1"]
            .into_iter()
            .chain(["pods/a/2", "pods/z/", "pods/z/00000.json", "pods/z/zzz"])
            .map(String::from)
            .collect();
        let known_of = [
            None,
            Some(&all[..]),
            Some(&some[..]),
            Some(&[][..]),
            Some(&stale[..]),
        ];
        for known in known_of {
            for split in [true, false] {
                let got = entries(&store, "pods/", split, known).await.expect("walk");
                let got: Vec<String> = got.entries.into_iter().map(|e| e.key).collect();
                assert_eq!(got, want, "split {split}, known {known:?}");
            }
        }
        let listed = entries(&store, "pods/", true, None).await.expect("walk");
        assert_eq!(super::layout("pods/", &listed.entries), all);
        let one = entries(&store, "pods/z/", false, None).await.expect("walk");
        assert_eq!(one.entries.len(), 1200);
    }

    #[tokio::test]
    async fn a_warm_walk_is_one_round_trip_and_a_new_namespace_one_more() {
        // Under one store page in all: the memory store's `delimiter=/` stand-in pages
        // through every key, where Cloud Storage answers it in one call.
        let latency = std::time::Duration::from_millis(100);
        let store = MemoryStore::with_latency(latency);
        let keys: Vec<String> = (0..900)
            .map(|i| format!("pods/ns{}/{i:05}.json", i % 3))
            .collect();
        let creates = keys.iter().map(|k| store.create(k, Bytes::new()));
        for created in futures_util::future::join_all(creates).await {
            created.expect("create");
        }
        let known = super::layout(
            "pods/",
            &entries(&store, "pods/", true, None)
                .await
                .expect("walk")
                .entries,
        );
        let timed = |known: Vec<String>| {
            let store = &store;
            async move {
                let t0 = std::time::Instant::now();
                let got = entries(store, "pods/", true, Some(&known))
                    .await
                    .expect("walk");
                (got.entries.len(), t0.elapsed())
            }
        };
        assert_eq!(known.len(), 3);
        let (n, warm) = timed(known.clone()).await;
        assert_eq!(n, 900);
        assert!(warm < 2 * latency, "one round trip: {warm:?}");
        let (n, one_new) = timed(known[1..].to_vec()).await;
        assert_eq!(n, 900);
        assert!(
            one_new >= 2 * latency && one_new < 3 * latency,
            "two: {one_new:?}"
        );
    }

    #[tokio::test]
    async fn records_directly_under_the_prefix_are_not_skipped() {
        let mut keys: Vec<String> = (0..1000).map(|i| format!("pods/{i:05}")).collect();
        keys.push("pods/zz/1.json".into());
        let store = store_of(&keys).await;
        let known = ["pods/zz/".to_string()];
        for known in [None, Some(&known[..])] {
            let got = entries(&store, "pods/", true, known).await.expect("walk");
            assert_eq!(got.entries.len(), 1001);
        }
    }

    #[test]
    fn sub_prefixes_and_ranges() {
        assert_eq!(sub_prefix("pods/", "pods/ns/p.json"), Some("pods/ns/"));
        assert_eq!(sub_prefix("pods/", "pods/p.json"), None);
        assert_eq!(sub_prefix("pods/", "other/ns/p"), None);
        let s = |k: &str| Some(k.to_string());
        let known: Vec<String> = ["pods/a/", "pods/a/k1", "pods/a/k2", "pods/b/", "pods/a/x"]
            .map(String::from)
            .into();
        // Each split key ends one range (inclusive: the end bound is exclusive) and starts the
        // next (exclusive); a key outside the namespace it follows is ignored.
        assert_eq!(
            known_ranges("pods/", &known),
            [
                ("pods/a/".to_string(), None, s("pods/a/k1\u{0}")),
                ("pods/a/".to_string(), s("pods/a/k1"), s("pods/a/k2\u{0}")),
                ("pods/a/".to_string(), s("pods/a/k2"), None),
                ("pods/b/".to_string(), None, None),
            ]
        );
        // A namespace of exactly a page is not split; one more key splits it at the page's last.
        let entries = |n: usize, ns: &str| -> Vec<super::super::Entry> {
            (0..n)
                .map(|i| super::super::Entry {
                    key: format!("pods/{ns}/{i:05}.json"),
                    generation: 1,
                    index: None,
                    data: None,
                })
                .collect()
        };
        let mut listed = entries(SPLIT_EVERY, "a");
        listed.extend(entries(SPLIT_EVERY + 1, "b"));
        assert_eq!(
            layout("pods/", &listed),
            ["pods/a/", "pods/b/", "pods/b/00999.json"]
        );
    }
}
