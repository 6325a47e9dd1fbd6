//! The shared poller and the stream diff, on the memory store (which counts its listings).

use std::sync::Arc;
use std::time::Duration;

use serde_json::json;
use tokio::sync::mpsc;

use super::*;
use crate::pods::record::{self, PodRecord};
use crate::pods::selector::LabelSelector;
use crate::store::MemoryStore;
use crate::testing::offline_pods;

/// Writes `default/<name>` with `labels` (no VM, so a delete calls no Compute Engine).
async fn put_pod(pods: &Pods, name: &str, labels: serde_json::Value) -> i64 {
    let pod = serde_json::from_value(json!({
        "metadata": {"name": name, "namespace": "default", "uid": name, "labels": labels},
        "spec": {"containers": [{"name": "c", "image": "busybox"}]}
    }))
    .expect("pod");
    let data = PodRecord::new(pod, Default::default())
        .encode()
        .expect("encode");
    let key = record::key("default", name);
    match pods.store().get(&key).await {
        Ok(old) => pods.store().update(&key, data, old.generation).await,
        Err(_) => pods.store().create(&key, data).await,
    }
    .expect("write")
}

fn query(resource_version: Option<i64>) -> WatchQuery {
    WatchQuery {
        namespace: Some("default".into()),
        opts: ListOptions::default(),
        resource_version,
        timeout: Duration::from_secs(600),
        bookmarks: false,
    }
}

/// The next change, within two poll periods.
async fn next(rx: &mut mpsc::Receiver<WatchItem>) -> PodChange {
    tokio::time::timeout(POLL * 2, rx.recv())
        .await
        .expect("a change within two polls")
        .expect("open")
        .expect("no error")
}

fn name(c: &PodChange) -> (&'static str, String) {
    let (kind, pod) = match c {
        PodChange::Added(p) => ("ADDED", p),
        PodChange::Modified(p) => ("MODIFIED", p),
        PodChange::Deleted(p) => ("DELETED", p),
        PodChange::Bookmark { .. } => return ("BOOKMARK", String::new()),
    };
    (kind, pod.metadata.name.clone().unwrap_or_default())
}

#[tokio::test(start_paused = true)]
async fn watches_share_one_poll_and_it_stops_without_them() {
    let store = Arc::new(MemoryStore::new());
    let pods = offline_pods(store.clone());
    put_pod(&pods, "a", json!({})).await;
    let mut streams: Vec<_> = (0..20).map(|_| pods.watch(query(None))).collect();
    for rx in &mut streams {
        assert_eq!(name(&next(rx).await), ("ADDED", "a".into()));
    }
    let before = store.lists();
    tokio::time::sleep(POLL * 3).await;
    let idle = store.lists() - before;
    assert!(
        idle <= 4,
        "{idle} list calls in 3 polls for 20 idle watches"
    );
    assert_eq!(pods.watches.feeds(), 1);

    put_pod(&pods, "a", json!({"x": "1"})).await;
    for rx in &mut streams {
        assert_eq!(name(&next(rx).await), ("MODIFIED", "a".into()));
    }
    // A new watch on the warm instance: its list from the snapshot, no store call.
    let before = store.lists();
    let mut late = pods.watch(query(None));
    assert_eq!(name(&next(&mut late).await), ("ADDED", "a".into()));
    assert!(store.lists() - before <= 1);

    drop(streams);
    drop(late);
    tokio::time::sleep(POLL * 2).await;
    assert_eq!(pods.watches.feeds(), 0, "no subscriber, no poller");
    let stopped = store.lists();
    tokio::time::sleep(POLL * 2).await;
    assert_eq!(store.lists(), stopped);
}

#[tokio::test(start_paused = true)]
async fn a_resumed_watch_sees_deletions_and_nothing_at_or_below_its_version() {
    let store = Arc::new(MemoryStore::new());
    let pods = offline_pods(store.clone());
    // A warm feed, so the resumed watch must not start from its (older) snapshot.
    let _warm = pods.watch(query(None));
    put_pod(&pods, "a", json!({})).await;
    let rv = put_pod(&pods, "b", json!({})).await;
    put_pod(&pods, "c", json!({})).await;
    pods.delete("default", "a", None, crate::pods::DryRun::No)
        .await
        .expect("delete");
    let mut rx = pods.watch(query(Some(rv)));
    let mut seen = vec![name(&next(&mut rx).await), name(&next(&mut rx).await)];
    seen.sort();
    // c was written after the resume point: MODIFIED, as for any change after it.
    assert_eq!(
        seen,
        [("DELETED", "a".to_string()), ("MODIFIED", "c".to_string())]
    );
    assert!(
        tokio::time::timeout(POLL * 3, rx.recv()).await.is_err(),
        "b (at the resume point) is not repeated"
    );
}

#[tokio::test(start_paused = true)]
async fn a_pod_that_stops_matching_is_deleted_as_it_is_now() {
    let store = Arc::new(MemoryStore::new());
    let pods = offline_pods(store.clone());
    put_pod(&pods, "a", json!({"app": "web"})).await;
    let mut q = query(None);
    q.opts.labels = LabelSelector::parse("app=web").expect("selector");
    let mut rx = pods.watch(q);
    assert_eq!(name(&next(&mut rx).await), ("ADDED", "a".into()));
    let rv = put_pod(&pods, "a", json!({"app": "db"})).await;
    match next(&mut rx).await {
        PodChange::Deleted(p) => {
            assert_eq!(p.metadata.resource_version, Some(rv.to_string()));
        }
        other => panic!("{other:?}"),
    }
}

#[tokio::test(start_paused = true)]
async fn a_deletion_reaches_a_running_watch_with_its_tombstone() {
    let store = Arc::new(MemoryStore::new());
    let pods = offline_pods(store.clone());
    put_pod(&pods, "a", json!({})).await;
    let mut rx = pods.watch(query(None));
    assert_eq!(name(&next(&mut rx).await), ("ADDED", "a".into()));
    pods.delete("default", "a", None, crate::pods::DryRun::No)
        .await
        .expect("delete");
    match next(&mut rx).await {
        PodChange::Deleted(p) => assert!(p.metadata.deletion_timestamp.is_some(), "{p:?}"),
        other => panic!("{other:?}"),
    }
}

#[tokio::test(start_paused = true)]
async fn a_failed_first_poll_ends_the_stream_with_the_error() {
    let store = Arc::new(MemoryStore::new());
    let pods = offline_pods(store.clone());
    store.fail_next(1);
    let mut rx = pods.watch(query(None));
    let item = tokio::time::timeout(POLL * 2, rx.recv())
        .await
        .expect("an answer")
        .expect("an item");
    let e = item.expect_err("the poll failed");
    assert!(e.retryable(), "{e}");
    assert!(rx.recv().await.is_none(), "the error ends the stream");
}
