//! Watching pods (`?watch=true` on pod lists): the changes a stream has not yet seen.
//!
//! Cloud Storage has no change feed, so watches poll; but not each on its own. Every stream of
//! this process on the same prefix (a namespace's pods, or all pods) subscribes to one shared
//! poller ([`hub`]): one listing per [`POLL`] whatever the number of watchers, fanned out as
//! snapshots; each stream filters them by its selectors and diffs against what it has sent.
//! The Cloud Storage store caches bodies by generation, so an idle poll costs one list call
//! and no downloads: 3,600 Class A operations per watched prefix and hour (about $0.018 at
//! $0.005 per 1,000), plus one download per change.
//!
//! # Guarantees
//! - With no `resourceVersion` (or `0`): ADDED for every matching pod, in resourceVersion order,
//!   then changes. A warm instance answers this from the shared snapshot, without a store call.
//! - With `resourceVersion=N`: MODIFIED for pods changed after N, DELETED for pods deleted after
//!   N (from tombstones), then changes; no event at or below N is repeated. The first changes
//!   come from a poll (records and tombstones) that started after the watch did, so nothing
//!   the client listed before is missed.
//! - N older than [`WINDOW`] is answered with an error (`Error::Gone`, 410 Expired), as the API
//!   server does once its watch cache has moved on; the client lists again.
//! - A pod that stops matching the selectors is reported DELETED (the object as it is now), as
//!   Kubernetes does.
//! - A change reaches every stream within one poll period plus the listing's time.
//!
//! # Caveats
//! Intermediate states between two polls are not seen; each change carries the latest state.

pub(crate) mod hub;
#[cfg(test)]
mod tests;

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::Duration;

use k8s_openapi::api::core::v1::Pod;
use tokio::sync::{mpsc, watch};
use tokio::time::Instant;

use super::Pods;
use super::crud::read::ListOptions;
use crate::error::{Error, Result};
use hub::{Snapshot, State};

/// How often the shared poller lists the store.
pub(crate) const POLL: Duration = Duration::from_secs(1);
/// How far back a watch may resume (tombstones are kept at least this long, and listed no
/// longer).
pub(crate) const WINDOW: Duration = Duration::from_secs(15 * 60);
const BOOKMARK_EVERY: Duration = Duration::from_secs(10);

/// What to watch.
#[derive(Debug, Clone)]
pub(crate) struct WatchQuery {
    /// Namespace, or all.
    pub(crate) namespace: Option<String>,
    /// Selectors.
    pub(crate) opts: ListOptions,
    /// Resume point (`None` or 0: from the start).
    pub(crate) resource_version: Option<i64>,
    /// When the stream ends.
    pub(crate) timeout: Duration,
    /// Send bookmarks.
    pub(crate) bookmarks: bool,
}

/// One change a watch reports.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum PodChange {
    /// A pod appeared (or started matching).
    Added(Pod),
    /// A pod changed.
    Modified(Pod),
    /// A pod was deleted (or stopped matching).
    Deleted(Pod),
    /// Everything up to this resourceVersion was sent.
    Bookmark {
        /// The resourceVersion.
        resource_version: i64,
    },
}

/// What a watch stream receives: changes, then at most one error, which ends it.
pub(crate) type WatchItem = Result<PodChange>;

/// A pod at a resourceVersion, shared between the snapshot and the streams.
#[derive(Debug, Clone)]
pub(super) struct Versioned {
    rv: i64,
    pod: Arc<Pod>,
}

/// One change, before it is sent.
struct Change {
    kind: Kind,
    rv: i64,
    pod: Arc<Pod>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Added,
    Modified,
    Deleted,
}

impl Change {
    fn new(kind: Kind, v: &Versioned) -> Self {
        Change {
            kind,
            rv: v.rv,
            pod: v.pod.clone(),
        }
    }

    fn into_pod_change(self) -> PodChange {
        let pod = Arc::unwrap_or_clone(self.pod);
        match self.kind {
            Kind::Added => PodChange::Added(pod),
            Kind::Modified => PodChange::Modified(pod),
            Kind::Deleted => PodChange::Deleted(pod),
        }
    }
}

/// One stream's view: its selectors and what it has sent.
struct Stream<'q> {
    opts: &'q ListOptions,
    /// The matching pods the client knows, by record key.
    known: HashMap<String, Versioned>,
    /// The highest resourceVersion sent (or resumed from).
    max_rv: i64,
    /// Changes at or below this were seen by the client already (its resume point).
    floor: i64,
    /// The snapshot last diffed.
    seq: u64,
}

impl Pods {
    /// Starts watching: changes arrive on the receiver until the timeout, an error (sent
    /// last), or the receiver is dropped.
    pub(crate) fn watch(&self, q: WatchQuery) -> mpsc::Receiver<WatchItem> {
        let (tx, rx) = mpsc::channel::<WatchItem>(64);
        let pods = self.clone();
        tokio::spawn(async move {
            if let Err(e) = pods.watch_run(&q, &tx).await {
                let _ = tx.send(Err(e)).await;
            }
        });
        rx
    }

    async fn watch_run(&self, q: &WatchQuery, tx: &mpsc::Sender<WatchItem>) -> Result<()> {
        let deadline = Instant::now() + q.timeout;
        let resume = q.resource_version.filter(|n| *n > 0);
        if let Some(n) = resume {
            check_window(n)?;
        }
        let namespace = q.namespace.clone().or_else(|| {
            q.opts
                .fields
                .pinned("metadata.namespace")
                .map(str::to_string)
        });
        let started = Instant::now();
        let mut rx = self.watches.subscribe(self, namespace, resume.is_some());
        // A resumed stream needs records and tombstones listed after it started; any other
        // takes the snapshot at hand.
        let fresh = resume.map(|_| started);
        let first = tokio::select! {
            first = first_snapshot(&mut rx, fresh) => first?,
            _ = tokio::time::sleep_until(deadline) => return Ok(()),
            _ = tx.closed() => return Ok(()),
        };
        let mut stream = Stream {
            opts: &q.opts,
            known: HashMap::new(),
            max_rv: 0,
            floor: 0,
            seq: first.seq,
        };
        let initial = stream.initial(&first, resume);
        if !send_all(initial, &mut stream, tx).await {
            return Ok(());
        }
        let mut bookmarks =
            tokio::time::interval_at(Instant::now() + BOOKMARK_EVERY, BOOKMARK_EVERY);
        loop {
            tokio::select! {
                _ = tokio::time::sleep_until(deadline) => return Ok(()),
                _ = tx.closed() => return Ok(()),
                changed = rx.changed() => {
                    if changed.is_err() {
                        return Ok(());
                    }
                    let snap = rx.borrow_and_update().snap.clone();
                    let Some(snap) = snap.filter(|s| s.seq != stream.seq) else {
                        continue;
                    };
                    let changes = stream.next(&snap);
                    if !send_all(changes, &mut stream, tx).await {
                        return Ok(());
                    }
                }
                _ = bookmarks.tick(), if q.bookmarks => {
                    let bookmark = PodChange::Bookmark {
                        resource_version: stream.max_rv,
                    };
                    if tx.send(Ok(bookmark)).await.is_err() {
                        return Ok(());
                    }
                }
            }
        }
    }
}

/// The first snapshot a stream may start from: any (`fresh` is `None`), or one whose records
/// and tombstones were both listed after `fresh`. A failed poll before it ends the stream.
async fn first_snapshot(
    rx: &mut watch::Receiver<State>,
    fresh: Option<Instant>,
) -> Result<Arc<Snapshot>> {
    loop {
        let state = rx.borrow_and_update().clone();
        if let Some(snap) = state.snap {
            let ok = match fresh {
                None => true,
                Some(t) => snap.polled_at >= t && snap.tombstones_at.is_some_and(|a| a >= t),
            };
            if ok {
                return Ok(snap);
            }
        }
        if let Some(e) = state.failed {
            return Err(retell(&e));
        }
        if rx.changed().await.is_err() {
            return Err(Error::unavailable("the watch poller stopped"));
        }
    }
}

/// A shared poll's failure, as each waiting stream's own error.
fn retell(e: &Error) -> Error {
    if e.retryable() {
        Error::unavailable(e.external_message())
    } else {
        Error::internal(e.chain())
    }
}

impl Stream<'_> {
    fn matches(&self, pod: &Pod) -> bool {
        self.opts.labels.matches(pod.metadata.labels.as_ref()) && self.opts.fields.matches(pod)
    }

    /// The first changes: every matching pod (no resume point), or what changed after
    /// `resume`.
    fn initial(&mut self, first: &Snapshot, resume: Option<i64>) -> Vec<Change> {
        let mut initial = Vec::new();
        for (key, v) in &first.pods {
            if !self.matches(&v.pod) {
                continue;
            }
            match resume {
                None => initial.push(Change::new(Kind::Added, v)),
                Some(n) if v.rv > n => initial.push(Change::new(Kind::Modified, v)),
                Some(_) => {}
            }
            self.known.insert(key.clone(), v.clone());
        }
        if let Some(n) = resume {
            let oldest = window_start();
            for (key, t) in first.tombstones.iter() {
                if t.rv > n
                    && !self.known.contains_key(key)
                    && !tombstone_expired(&t.pod, t.rv, oldest)
                    && self.matches(&t.pod)
                {
                    initial.push(Change::new(Kind::Deleted, t));
                }
            }
            self.max_rv = n;
            self.floor = n;
        }
        initial
    }

    /// What changed since the last snapshot diffed: from its `changed` and `removed` when
    /// `snap` follows it, else over every key.
    fn next(&mut self, snap: &Snapshot) -> Vec<Change> {
        let keys: Vec<String> = if snap.seq == self.seq + 1 {
            snap.changed.iter().chain(&snap.removed).cloned().collect()
        } else {
            let all: HashSet<&String> = snap.pods.keys().chain(self.known.keys()).collect();
            all.into_iter().cloned().collect()
        };
        self.seq = snap.seq;
        keys.iter().filter_map(|k| self.change(k, snap)).collect()
    }

    /// The change of one key, updating what the client knows; `None`: nothing to send.
    fn change(&mut self, key: &str, snap: &Snapshot) -> Option<Change> {
        let now = snap.pods.get(key);
        let matching = now.filter(|v| self.matches(&v.pod));
        let change = match (matching, self.known.get(key)) {
            (Some(v), None) => Change::new(Kind::Added, v),
            (Some(v), Some(last)) if last.rv != v.rv => Change::new(Kind::Modified, v),
            (Some(_), Some(_)) | (None, None) => return None,
            (None, Some(last)) => match (now, snap.tombstones.get(key)) {
                // Still there but no longer matching: the object as it is now.
                (Some(v), _) => Change::new(Kind::Deleted, v),
                (None, Some(t)) if t.rv > last.rv => Change::new(Kind::Deleted, t),
                // Deleted without a (newer) tombstone: the last state the client saw.
                (None, _) => {
                    let gone = Versioned {
                        rv: self.max_rv.max(last.rv),
                        pod: last.pod.clone(),
                    };
                    self.known.remove(key);
                    return Some(Change::new(Kind::Deleted, &gone));
                }
            },
        };
        match change.kind {
            Kind::Deleted => self.known.remove(key),
            _ => self.known.insert(
                key.to_string(),
                Versioned {
                    rv: change.rv,
                    pod: change.pod.clone(),
                },
            ),
        };
        // The client listed this state before it resumed.
        (change.rv > self.floor).then_some(change)
    }
}

/// The start of the watch window, in microseconds (a resourceVersion's unit).
fn window_start() -> i64 {
    jiff::Timestamp::now().as_microsecond() - WINDOW.as_micros() as i64
}

/// Whether a tombstone written at `generation` (a write time in microseconds) for `pod` is
/// older than the watch window starting at `oldest`: no resumable watch can need it, so it
/// is not listed even before the bucket's lifecycle rule deletes it (terraform: `tombstones/`
/// objects are deleted after a day). The deletion time the tombstone carries counts too.
fn tombstone_expired(pod: &Pod, generation: i64, oldest: i64) -> bool {
    let deleted = pod
        .metadata
        .deletion_timestamp
        .as_ref()
        .map(|t| t.0.as_microsecond());
    generation < oldest || deleted.is_some_and(|d| d < oldest)
}

/// A resume point older than [`WINDOW`] is gone.
fn check_window(n: i64) -> Result<()> {
    let oldest = window_start();
    if n < oldest {
        return Err(Error::Gone {
            message: format!("too old resource version: {n} ({oldest})"),
            continue_token: None,
        });
    }
    Ok(())
}

/// Sends `changes` in resourceVersion order; `false` once the receiver is gone.
async fn send_all(
    mut changes: Vec<Change>,
    stream: &mut Stream<'_>,
    tx: &mpsc::Sender<WatchItem>,
) -> bool {
    changes.sort_by_key(|c| c.rv);
    for change in changes {
        stream.max_rv = stream.max_rv.max(change.rv);
        if tx.send(Ok(change.into_pod_change())).await.is_err() {
            return false;
        }
    }
    true
}
