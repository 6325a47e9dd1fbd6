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
//! a single namespace larger than a page still pages in sequence.
//!
//! # Guarantees
//! - Entries in key order, each key once: the ranges are disjoint and cover the prefix (the
//!   first page, the rest of its namespace after it, then every later namespace whole).
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
/// Namespaces listed at once.
const CONCURRENCY: usize = 16;

/// Every entry under `prefix`; `split`: the prefix holds `<sub>/` levels (all namespaces) and
/// may be listed one sub-prefix per listing, concurrently; `known`: the sub-prefixes the last
/// walk of it found when it was more than two pages, in key order, listed at once (see
/// [`warm`]).
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
    let ranges: Vec<(String, Option<String>)> = match subs {
        Some(subs) => subs
            .into_iter()
            .map(|sub| {
                let start = after.starts_with(&sub).then(|| after.clone());
                (sub, start)
            })
            .collect(),
        None => vec![(prefix.to_string(), Some(after))],
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
    let ranges = known.iter().map(|sub| (sub.clone(), None)).collect();
    let (subs, mut all) = futures_util::future::try_join(
        store.list_prefixes(prefix, None),
        concurrently(store, EntryPage::default(), ranges),
    )
    .await?;
    let Some(subs) = subs else {
        return Ok(None);
    };
    let new: Vec<(String, Option<String>)> = subs
        .into_iter()
        .filter(|sub| known.binary_search(sub).is_err())
        .map(|sub| (sub, None))
        .collect();
    if !new.is_empty() {
        all = concurrently(store, all, new).await?;
        all.entries.sort_by(|a, b| a.key.cmp(&b.key));
    }
    Ok(Some(all))
}

/// The sub-prefixes (`pods/<namespace>/`) of `entries` under `prefix`, in order, each once.
pub(crate) fn sub_prefixes(prefix: &str, entries: &[super::Entry]) -> Vec<String> {
    let mut subs: Vec<String> = Vec::new();
    for e in entries {
        if let Some(sub) = sub_prefix(prefix, &e.key)
            && subs.last().is_none_or(|last| last != sub)
        {
            subs.push(sub.to_string());
        }
    }
    subs
}

/// `all` followed by the listings of `ranges` (a prefix, listed after an optional key), up to
/// [`CONCURRENCY`] at once, in order.
async fn concurrently(
    store: &dyn RecordStore,
    mut all: EntryPage,
    ranges: Vec<(String, Option<String>)>,
) -> Result<EntryPage, StoreError> {
    let pages: Vec<EntryPage> =
        futures_util::stream::iter(ranges)
            .map(|(sub, start)| async move {
                store.list_range_entries(&sub, start.as_deref(), None).await
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
        // Known from a last walk: all, some (one appeared since), one gone, none.
        let all = vec!["pods/a-b/".to_string(), "pods/a/".into(), "pods/z/".into()];
        let some = ["pods/a/".to_string(), "pods/gone/".into()];
        for known in [None, Some(&all[..]), Some(&some[..]), Some(&[][..])] {
            for split in [true, false] {
                let got = entries(&store, "pods/", split, known).await.expect("walk");
                let got: Vec<String> = got.entries.into_iter().map(|e| e.key).collect();
                assert_eq!(got, want, "split {split}, known {known:?}");
            }
        }
        let listed = entries(&store, "pods/", true, None).await.expect("walk");
        assert_eq!(super::sub_prefixes("pods/", &listed.entries), all);
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
        let known = super::sub_prefixes(
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
    fn sub_prefixes() {
        assert_eq!(sub_prefix("pods/", "pods/ns/p.json"), Some("pods/ns/"));
        assert_eq!(sub_prefix("pods/", "pods/p.json"), None);
        assert_eq!(sub_prefix("pods/", "other/ns/p"), None);
    }
}
