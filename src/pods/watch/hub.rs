//! One poller per instance: every watch stream of this process on the same prefix shares one
//! store poll per [`POLL`], fanned out on a `tokio::sync::watch` channel.
//!
//! A [`Feed`] per watched prefix (a namespace's pods, or all pods) lists the records once a
//! second and publishes a [`Snapshot`]: every record under the prefix (unfiltered; each stream
//! applies its own selectors), the keys that changed or vanished since the previous snapshot,
//! and the tombstones. Store requests therefore grow with the prefixes watched, not with the
//! watchers: an idle feed costs one list call a second (one per 1,000 records with Cloud
//! Storage's page size, 500 here).
//!
//! Tombstones stay out of the hot path: a feed lists them only when a record vanished since the
//! last poll (a deletion to report) or when a resumed watch asked for them (its first changes
//! include deletions after its resourceVersion); a snapshot carries the last listing otherwise.
//! A feed whose last subscriber is gone stops polling and leaves the hub (an idle instance does
//! no work); the next watch starts a new one.
//!
//! # Guarantees
//! - A poll where nothing changed publishes nothing; streams wake only for changes.
//! - A snapshot's `changed` and `removed` are relative to the snapshot one `seq` before; a
//!   stream that skipped one (the channel keeps only the latest) diffs the whole snapshot.
//! - `polled_at` and `tombstones_at` are when the listings started, so a stream that needs a
//!   listing newer than some instant can wait for one.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use k8s_openapi::api::core::v1::Pod;
use tokio::sync::watch;
use tokio::time::{Instant, MissedTickBehavior};

use super::{POLL, Versioned, tombstone_expired};
use crate::error::{Error, Result};
use crate::pods::Pods;
use crate::pods::crud::read::ListOptions;
use crate::pods::record;
use crate::store::list_all;

/// The feeds of this process, by namespace (`None`: all namespaces).
#[derive(Default)]
pub(crate) struct WatchHub {
    feeds: Mutex<HashMap<Option<String>, Arc<Feed>>>,
}

impl std::fmt::Debug for WatchHub {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let feeds = self.lock();
        f.debug_struct("WatchHub")
            .field("feeds", &feeds.keys().collect::<Vec<_>>())
            .finish()
    }
}

/// One prefix's poller and its channel.
struct Feed {
    tx: watch::Sender<State>,
    /// A resumed watch wants the tombstones listed at the next poll.
    want_tombstones: AtomicBool,
}

/// What a feed publishes: the latest snapshot, and whether the latest poll failed.
#[derive(Clone, Default)]
pub(super) struct State {
    /// The latest snapshot (`None` until the first poll succeeds).
    pub(super) snap: Option<Arc<Snapshot>>,
    /// The latest poll's failure, cleared by the next success.
    pub(super) failed: Option<Arc<Error>>,
}

/// Every record and tombstone under a prefix at one poll.
pub(super) struct Snapshot {
    /// Increases by one with each published snapshot.
    pub(super) seq: u64,
    /// When the records were listed.
    pub(super) polled_at: Instant,
    /// Records by key (all of the prefix; streams filter).
    pub(super) pods: HashMap<String, Versioned>,
    /// Keys added or changed since the snapshot `seq - 1`.
    pub(super) changed: Vec<String>,
    /// Keys gone since the snapshot `seq - 1`.
    pub(super) removed: Vec<String>,
    /// Tombstones by their pod's record key, as last listed (unfiltered).
    pub(super) tombstones: Arc<HashMap<String, Versioned>>,
    /// When the tombstones were last listed (`None`: not yet).
    pub(super) tombstones_at: Option<Instant>,
}

impl WatchHub {
    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<Option<String>, Arc<Feed>>> {
        self.feeds.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Subscribes to `namespace`'s feed, starting its poller if none runs; `tombstones`: the
    /// next poll lists the tombstones too.
    pub(super) fn subscribe(
        &self,
        pods: &Pods,
        namespace: Option<String>,
        tombstones: bool,
    ) -> watch::Receiver<State> {
        let mut feeds = self.lock();
        let feed = feeds
            .entry(namespace.clone())
            .or_insert_with(|| {
                let feed = Arc::new(Feed {
                    tx: watch::Sender::new(State::default()),
                    want_tombstones: AtomicBool::new(false),
                });
                tokio::spawn(run(pods.clone(), namespace, feed.clone()));
                feed
            })
            .clone();
        if tombstones {
            feed.want_tombstones.store(true, Ordering::SeqCst);
        }
        feed.tx.subscribe()
    }

    /// Removes the feed if nobody listens; `true` if it did (its poller stops). Under the
    /// hub's lock, so a concurrent subscribe either keeps this feed alive or starts a new one.
    fn retire(&self, namespace: &Option<String>, feed: &Arc<Feed>) -> bool {
        let mut feeds = self.lock();
        if feed.tx.receiver_count() > 0 {
            return false;
        }
        if feeds.get(namespace).is_some_and(|f| Arc::ptr_eq(f, feed)) {
            feeds.remove(namespace);
        }
        true
    }

    /// How many feeds poll (tests).
    #[cfg(test)]
    pub(super) fn feeds(&self) -> usize {
        self.lock().len()
    }
}

/// The poller: one poll per [`POLL`] while anyone listens.
async fn run(pods: Pods, namespace: Option<String>, feed: Arc<Feed>) {
    let mut tick = tokio::time::interval(POLL);
    tick.set_missed_tick_behavior(MissedTickBehavior::Delay);
    let mut prev: Option<Arc<Snapshot>> = None;
    loop {
        tokio::select! {
            _ = tick.tick() => {}
            _ = feed.tx.closed() => {}
        }
        if pods.watches.retire(&namespace, &feed) {
            return;
        }
        match poll(&pods, namespace.as_deref(), prev.as_deref(), &feed).await {
            Ok(Some(snap)) => {
                let snap = Arc::new(snap);
                prev = Some(snap.clone());
                feed.tx.send_replace(State {
                    snap: Some(snap),
                    failed: None,
                });
            }
            Ok(None) => {
                feed.tx.send_if_modified(|s| s.failed.take().is_some());
            }
            // Streams keep the last snapshot and wait for the next poll; a stream still
            // waiting for its first one ends with the error.
            Err(e) => {
                tracing::warn!(error = %e, namespace = ?namespace, "watch poll failed");
                feed.tx.send_modify(|s| s.failed = Some(Arc::new(e)));
            }
        }
    }
}

/// One poll: the records, and the tombstones when needed. `None` when nothing changed.
async fn poll(
    pods: &Pods,
    namespace: Option<&str>,
    prev: Option<&Snapshot>,
    feed: &Feed,
) -> Result<Option<Snapshot>> {
    let asked = feed.want_tombstones.swap(false, Ordering::SeqCst);
    let polled_at = Instant::now();
    let page = match pods.list(namespace, &ListOptions::default()).await {
        Ok(p) => p,
        Err(e) => {
            if asked {
                feed.want_tombstones.store(true, Ordering::SeqCst);
            }
            return Err(e);
        }
    };
    let mut records = HashMap::with_capacity(page.items.len());
    let mut changed = Vec::new();
    for r in page.items {
        let key = r.key();
        let rv = r.generation();
        let v = match prev.and_then(|p| p.pods.get(&key)) {
            // Unchanged: share the previous snapshot's pod.
            Some(old) if old.rv == rv => old.clone(),
            _ => {
                changed.push(key.clone());
                Versioned {
                    rv,
                    pod: Arc::new(r.pod),
                }
            }
        };
        records.insert(key, v);
    }
    let removed: Vec<String> = prev
        .map(|p| {
            p.pods
                .keys()
                .filter(|k| !records.contains_key(*k))
                .cloned()
                .collect()
        })
        .unwrap_or_default();
    let relist = asked || !removed.is_empty();
    let (tombstones, tombstones_at) = if relist {
        let at = Instant::now();
        match tombstones(pods, namespace).await {
            Ok(t) => (Arc::new(t), Some(at)),
            Err(e) => {
                if asked {
                    feed.want_tombstones.store(true, Ordering::SeqCst);
                }
                return Err(e);
            }
        }
    } else {
        match prev {
            Some(p) => (p.tombstones.clone(), p.tombstones_at),
            None => (Arc::default(), None),
        }
    };
    if prev.is_some() && changed.is_empty() && removed.is_empty() && !relist {
        return Ok(None);
    }
    Ok(Some(Snapshot {
        seq: prev.map_or(1, |p| p.seq + 1),
        polled_at,
        pods: records,
        changed: if prev.is_some() { changed } else { Vec::new() },
        removed,
        tombstones,
        tombstones_at,
    }))
}

/// The tombstones under the prefix within the watch window, by their pod's record key.
async fn tombstones(pods: &Pods, namespace: Option<&str>) -> Result<HashMap<String, Versioned>> {
    let prefix = record::tombstone_prefix(namespace);
    let records = list_all(&**pods.store(), &prefix)
        .await
        .map_err(|e| Error::pod_store(e, ""))?;
    let oldest = super::window_start();
    let mut out = HashMap::new();
    for raw in records {
        let Ok(mut pod) = serde_json::from_slice::<Pod>(&raw.data) else {
            continue;
        };
        if tombstone_expired(&pod, raw.generation, oldest) {
            continue;
        }
        pod.metadata.resource_version = Some(raw.generation.to_string());
        let key = raw.key.replacen("tombstones/", "pods/", 1);
        out.insert(
            key,
            Versioned {
                rv: raw.generation,
                pod: Arc::new(pod),
            },
        );
    }
    Ok(out)
}
