//! What every [`RecordStore`] must do, written once and run on both stores: the memory store
//! in its unit tests (`src/store/memory.rs`), the Cloud Storage store against fake-gcs-server
//! (`tests/e2e/gcs.rs`). Each function panics on the first broken promise; the keys it
//! writes are its own (`pods/contract-*`), so it may share a bucket with other records.

use bytes::Bytes;

use crate::store::{RecordStore, StoreError};

/// Create, read, compare-and-swap update and delete of one record.
pub async fn compare_and_swap(s: &dyn RecordStore) {
    let key = "pods/contract-cas/x.json";
    let g1 = s
        .create(key, Bytes::from_static(b"{\"v\":1}"))
        .await
        .expect("create");
    assert!(matches!(
        s.create(key, Bytes::from_static(b"{}")).await,
        Err(StoreError::AlreadyExists { .. })
    ));
    let r = s.get(key).await.expect("get");
    assert_eq!((r.data.as_ref(), r.generation), (&b"{\"v\":1}"[..], g1));
    let g2 = s
        .update(key, Bytes::from_static(b"{\"v\":2}"), g1)
        .await
        .expect("update");
    assert_ne!(g1, g2, "an update makes a new generation");
    assert!(matches!(
        s.update(key, Bytes::from_static(b"{}"), g1).await,
        Err(StoreError::Conflict { .. })
    ));
    let r = s.get(key).await.expect("get");
    assert_eq!((r.data.as_ref(), r.generation), (&b"{\"v\":2}"[..], g2));
    s.delete(key, Some(g2)).await.expect("delete");
    assert!(matches!(s.get(key).await, Err(StoreError::NotFound { .. })));
}

/// Twelve records under a prefix, listed five at a time: every one once, in key order, and
/// the last page says no more follow. A prefix is a string prefix, not a folder: without its
/// slash it also lists the folder whose name merely starts the same. Key ranges as
/// `store::walk` bounds them (after a key, up to and including another: the end bound is
/// exclusive, so that key + NUL) list exactly their keys.
pub async fn lists_a_prefix_in_pages(s: &dyn RecordStore) {
    let prefix = "pods/contract-pages/";
    let want: Vec<String> = (0..12).map(|i| format!("{prefix}{i:02}.json")).collect();
    for (i, key) in want.iter().enumerate() {
        s.create(key, Bytes::from(format!("{i}")))
            .await
            .expect("create");
    }
    s.create("pods/contract-pages-not/0.json", Bytes::new())
        .await
        .expect("create");
    let mut keys = Vec::new();
    let mut sizes = Vec::new();
    let mut after: Option<String> = None;
    loop {
        let page = s.list(prefix, after.as_deref(), 5).await.expect("list");
        sizes.push(page.records.len());
        keys.extend(page.records.into_iter().map(|r| r.key));
        match page.next {
            Some(next) if sizes.len() < 10 => after = Some(next),
            Some(_) => panic!("paging does not end: pages of {sizes:?}"),
            None => break,
        }
    }
    assert_eq!(sizes, [5, 5, 2]);
    assert_eq!(keys, want, "every record once, in key order");
    let wider = s
        .list("pods/contract-pages", None, 100)
        .await
        .expect("list");
    assert_eq!(wider.records.len(), 13);
    let up_to = |i: usize| format!("{}\u{0}", want[i]);
    for (after, end, keys) in [
        (None, Some(up_to(2)), &want[..3]),
        (Some(3), Some(up_to(7)), &want[4..8]),
        (Some(9), None, &want[10..]),
    ] {
        let after = after.map(|i: usize| want[i].as_str());
        let got = s
            .list_range_entries(prefix, after, end.as_deref())
            .await
            .expect("range");
        let got: Vec<String> = got.entries.into_iter().map(|e| e.key).collect();
        assert_eq!(got, keys, "after {after:?}, before {end:?}");
    }
}
