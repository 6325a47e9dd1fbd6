//! Continue snapshots: the pages of one paged list served from the listing taken at its
//! first page, as kube-apiserver serves every chunk of a list from one resourceVersion
//! (https://kubernetes.io/docs/reference/using-api/api-concepts/#retrieving-large-results-sets-in-chunks).
//!
//! A first page with a `limit` lists the whole prefix once (`store::walk`, concurrently by
//! namespace), answers its page from that listing, and keeps the listing here when more pages
//! follow; the `continue` token names the snapshot, where the next page starts, the list's
//! resourceVersion and when the snapshot was taken. Later pages are cut from the snapshot: no
//! store call for a Table, bodies at their listed generations for JSON. `kubectl get pods -A`
//! over 10,000 pods is then three listing round trips, not twenty pages in sequence.
//!
//! # Guarantees
//! - Every page of one list shows the records as one listing saw them: a pod created, changed
//!   or deleted after the first page does not appear, move, or vanish on later pages, and
//!   every page carries the list's resourceVersion.
//! - A token whose snapshot is gone and which is older than [`TTL`] is answered 410 Expired,
//!   worded as kube-apiserver words it, with a token in the Status that continues the list
//!   inconsistently (from the store, after the last key sent).
//! - Bounded: at most [`MAX_ENTRIES`] listed records kept across snapshots (the oldest go
//!   first), none past [`TTL`]; a snapshot whose last page was sent is dropped.
//!
//! # Caveats
//! Snapshots live in the instance that took them. A token brought to another instance (Cloud
//! Run routes each request on its own) or after its snapshot was evicted, while younger than
//! [`TTL`], continues from the store after its last key, as before snapshots: each pod at most
//! once, in name order, in its current state. Under `-o json` a record changed since the first
//! page whose listed generation can no longer be downloaded (Cloud Storage keeps only the
//! latest) is shown as it is now.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::{Deserialize, Serialize};

use super::ahead::Ahead;
use super::decoded::Decoded;
use crate::error::{Error, Result};
use crate::store::Entry;

/// How long a snapshot may serve pages: kube-apiserver's continue tokens last until etcd
/// compacts their revision, every 5 minutes by default.
pub(crate) const TTL: Duration = Duration::from_secs(5 * 60);
/// Listed records kept across all snapshots (about 2 KB each with an index).
pub(crate) const MAX_ENTRIES: usize = 60_000;

/// One list's listing, in key order.
#[derive(Debug)]
pub(crate) struct Snapshot {
    /// Names it in tokens.
    pub(crate) id: u64,
    /// The prefix listed (a namespace's pods, or all).
    pub(crate) prefix: String,
    /// The list's resourceVersion: the highest generation listed.
    pub(crate) resource_version: i64,
    /// Unix seconds when it was taken.
    pub(crate) taken: u64,
    /// Entries in key order.
    pub(crate) entries: Vec<Entry>,
    /// The next page, cut while the client reads this one.
    pub(crate) ahead: Ahead,
    /// The records decoded from the entries' indexes, shared by this instance's lists.
    pub(crate) decoded: Arc<Decoded>,
}

/// The snapshots of this instance, oldest first.
#[derive(Debug, Default)]
pub(crate) struct Snapshots {
    kept: Mutex<VecDeque<Arc<Snapshot>>>,
    /// The namespaces (`pods/<namespace>/`) of the last listing of all namespaces, when it was
    /// more than two pages: the next walk lists them at once (`store::walk`).
    namespaces: Mutex<Option<Arc<[String]>>>,
    /// The records decoded from the indexes lists read ([`Decoded`]).
    decoded: Arc<Decoded>,
}

impl Snapshots {
    fn lock(&self) -> std::sync::MutexGuard<'_, VecDeque<Arc<Snapshot>>> {
        self.kept.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Keeps `snap` for its later pages, dropping expired and, past [`MAX_ENTRIES`], the
    /// oldest snapshots.
    pub(crate) fn keep(&self, snap: Arc<Snapshot>) {
        let mut kept = self.lock();
        let now = unix_now();
        kept.retain(|s| now.saturating_sub(s.taken) < TTL.as_secs());
        kept.push_back(snap);
        let mut total: usize = kept.iter().map(|s| s.entries.len()).sum();
        while total > MAX_ENTRIES && kept.len() > 1 {
            if let Some(old) = kept.pop_front() {
                total -= old.entries.len();
            }
        }
    }

    /// The snapshot `id` of `prefix`, if this instance still has it.
    pub(crate) fn get(&self, id: u64, prefix: &str) -> Option<Arc<Snapshot>> {
        let now = unix_now();
        self.lock()
            .iter()
            .find(|s| {
                s.id == id && s.prefix == prefix && now.saturating_sub(s.taken) < TTL.as_secs()
            })
            .cloned()
    }

    /// The layout of the last listing of all namespaces (its namespaces and, in one larger
    /// than a page, split keys: `store::walk::layout`), if it was more than two pages.
    pub(crate) fn namespaces(&self) -> Option<Arc<[String]>> {
        self.namespaces
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    /// Records the layout of the listing of all namespaces just taken (`None`: it was two
    /// pages or less, and walks it from its first page).
    pub(crate) fn set_namespaces(&self, namespaces: Option<Vec<String>>) {
        *self.namespaces.lock().unwrap_or_else(|p| p.into_inner()) = namespaces.map(Arc::from);
    }

    /// The records decoded from indexes, shared by every list of this instance.
    pub(crate) fn decoded(&self) -> Arc<Decoded> {
        self.decoded.clone()
    }

    /// Drops snapshot `id` (its last page was sent).
    pub(crate) fn drop_snapshot(&self, id: u64) {
        self.lock().retain(|s| s.id != id);
    }

    /// How many are kept (tests).
    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.lock().len()
    }
}

/// Seconds since the epoch.
pub(crate) fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// A fresh snapshot id.
pub(crate) fn new_id() -> u64 {
    let (hi, _) = uuid::Uuid::new_v4().as_u64_pair();
    hi
}

/// What a continue token carries. Version 1 tokens (`start` only) continue from the store.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct Token {
    /// 1: from the store; 2: from a snapshot.
    pub(crate) v: u8,
    /// The last key sent: the next page starts after it.
    pub(crate) start: String,
    /// The snapshot (v2).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) snap: Option<SnapRef>,
}

/// A token's snapshot.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct SnapRef {
    /// The snapshot's id, in hex.
    pub(crate) id: String,
    /// The list's resourceVersion.
    pub(crate) rv: i64,
    /// Unix seconds when it was taken.
    pub(crate) at: u64,
}

impl Token {
    /// A token that continues from the store after `start`.
    pub(crate) fn live(start: &str) -> Self {
        Token {
            v: 1,
            start: start.to_string(),
            snap: None,
        }
    }

    /// A token that continues `snap` after `start`.
    pub(crate) fn of(snap: &Snapshot, start: &str) -> Self {
        Token {
            v: 2,
            start: start.to_string(),
            snap: Some(SnapRef {
                id: format!("{:016x}", snap.id),
                rv: snap.resource_version,
                at: snap.taken,
            }),
        }
    }

    /// The opaque form.
    pub(crate) fn encode(&self) -> String {
        URL_SAFE_NO_PAD.encode(serde_json::to_vec(self).unwrap_or_default())
    }

    /// Decodes a client's token, checking that it continues a list of `prefix`.
    pub(crate) fn decode(token: &str, prefix: &str) -> Result<Token> {
        let bad = || Error::bad_request(format!("continue key is not valid: {token:?}"));
        let bytes = URL_SAFE_NO_PAD.decode(token).map_err(|_| bad())?;
        let t: Token = serde_json::from_slice(&bytes).map_err(|_| bad())?;
        if !t.start.starts_with(prefix) || !matches!(t.v, 1 | 2) {
            return Err(bad());
        }
        Ok(t)
    }

    /// The snapshot id, if the token names one.
    pub(crate) fn snapshot_id(&self) -> Option<u64> {
        let snap = self.snap.as_ref()?;
        u64::from_str_radix(&snap.id, 16).ok()
    }

    /// 410 Expired for a token whose snapshot is gone and which is past [`TTL`], carrying a
    /// token that continues inconsistently; kube-apiserver's words and shape
    /// (k8s.io/apiserver/pkg/storage/etcd3/errors.go, a compacted continue while paging).
    pub(crate) fn expired(&self) -> Error {
        Error::Gone {
            message: "The provided continue parameter is too old to display a consistent list \
                      result. You can start a new list without the continue parameter, or use \
                      the continue token in this response to retrieve the remainder of the \
                      results. Continuing with the provided token results in an inconsistent \
                      list - objects that were created, modified, or deleted between the time \
                      the first chunk was returned and now may show up in the list."
                .to_string(),
            continue_token: Some(Token::live(&self.start).encode()),
        }
    }

    /// Whether the token is past [`TTL`].
    pub(crate) fn too_old(&self) -> bool {
        self.snap
            .as_ref()
            .is_some_and(|s| unix_now().saturating_sub(s.at) >= TTL.as_secs())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn snap(id: u64, n: usize, taken: u64) -> Arc<Snapshot> {
        Arc::new(Snapshot {
            id,
            prefix: "pods/".into(),
            resource_version: 9,
            taken,
            entries: (0..n)
                .map(|i| Entry {
                    key: format!("pods/ns/{i}"),
                    generation: 1,
                    index: None,
                    data: None,
                })
                .collect(),
            ahead: Ahead::default(),
            decoded: Arc::default(),
        })
    }

    #[test]
    fn tokens_round_trip_and_are_checked() {
        let s = snap(0xabc, 0, 5);
        let t = Token::of(&s, "pods/default/a.json");
        let back = Token::decode(&t.encode(), "pods/").expect("decode");
        assert_eq!(back, t);
        assert_eq!(back.snapshot_id(), Some(0xabc));
        assert!(back.too_old(), "taken at second 5");
        assert!(Token::decode(&t.encode(), "pods/other/").is_err());
        assert!(Token::decode("!!", "pods/").is_err());
        let old = URL_SAFE_NO_PAD.encode(br#"{"v":1,"start":"pods/default/a.json"}"#);
        let v1 = Token::decode(&old, "pods/default/").expect("a v1 token");
        assert_eq!(v1.snapshot_id(), None);
        assert!(!v1.too_old());
    }

    #[test]
    fn an_expired_token_answers_410_with_an_inconsistent_continue() {
        let t = Token::of(&snap(1, 0, 5), "pods/ns/b.json");
        let e = t.expired();
        let status = e.status();
        assert_eq!(status.code, Some(410));
        assert_eq!(status.reason.as_deref(), Some("Expired"));
        let next = status.metadata.continue_.expect("a token in the Status");
        let next = Token::decode(&next, "pods/").expect("decodes");
        assert_eq!(next, Token::live("pods/ns/b.json"));
    }

    #[test]
    fn snapshots_are_bounded_and_found_by_id_and_prefix() {
        let now = unix_now();
        let kept = Snapshots::default();
        kept.keep(snap(1, MAX_ENTRIES / 2, now));
        kept.keep(snap(2, MAX_ENTRIES / 2, now));
        assert!(kept.get(1, "pods/").is_some());
        assert!(kept.get(1, "pods/ns/").is_none(), "another prefix");
        kept.keep(snap(3, 10, now));
        assert!(
            kept.get(1, "pods/").is_none(),
            "the oldest went past the bound"
        );
        assert!(kept.get(3, "pods/").is_some());
        kept.keep(snap(4, 1, now - TTL.as_secs()));
        assert!(kept.get(4, "pods/").is_none(), "expired");
        kept.drop_snapshot(3);
        assert!(kept.get(3, "pods/").is_none());
        assert_eq!(kept.len(), 2);
    }
}
