//! Reading pods: one by name, or lists filtered by label and field selectors, paged with
//! `limit` and an opaque `continue` token.
//!
//! A paged list's first page lists the whole prefix once and serves every later page from that
//! listing ([`snapshot`](super::snapshot): consistent pages, one resourceVersion). Lists
//! without a `limit` (and tokens whose snapshot this instance does not hold) page over the
//! store in key order.
//!
//! # Caveats
//! Cloud Storage has no multi-object snapshot: a listing of several calls sees each record as
//! it was at some instant during the listing. Continued from the store (no snapshot here), a
//! page is not a snapshot of all pages, which Kubernetes' own inconsistent-continue mode also
//! allows; each pod appears at most once across pages, in name order.

use std::borrow::Borrow;
use std::collections::HashMap;
use std::sync::Arc;

use bytes::Bytes;

use k8s_openapi::List;
use k8s_openapi::api::core::v1::Pod;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ListMeta;

use super::ahead::{Ahead, matching};
use super::snapshot::{Snapshot, Token, new_id, unix_now};
use crate::error::{Error, Result};
use crate::pods::Pods;
use crate::pods::record::{self, PodRecord};
use crate::pods::selector::{FieldSelector, LabelSelector};
use crate::store::{ByGeneration, Entry, EntryPage, Pager, Record, StoreError, walk};

/// Pods kept serialized ([`Encoded`]).
const ENCODED_MAX: usize = 4096;

/// Pods as a `GET` answers them, serialized, by record key and generation: a `GET` of a pod
/// that did not change since the last one is served without decoding its record (a record
/// with its history is several times the pod; decoding it was most of a `GET`'s time).
pub(crate) type Encoded = ByGeneration<Bytes, ENCODED_MAX>;

/// Page size used against the store.
const STORE_PAGE: usize = 500;

/// List options from the query string.
#[derive(Debug, Clone, Default)]
pub struct ListOptions {
    /// Label selector.
    pub labels: LabelSelector,
    /// Field selector.
    pub fields: FieldSelector,
    /// Page size (0: everything).
    pub limit: usize,
    /// Continue token.
    pub continue_token: Option<String>,
    /// What the caller reads is in the records' index (a Table without objects): list the
    /// indexes instead of downloading the records (`pods::index`).
    pub index_only: bool,
}

/// A page of pods: records owned ([`Pods::list`]), or shared with the records decoded from
/// their index ([`Pods::list_shared`], `crud::decoded`).
#[derive(Debug, Clone)]
pub struct PodPage<R = PodRecord> {
    /// Matching records.
    pub items: Vec<R>,
    /// Token for the next page.
    pub continue_token: Option<String>,
    /// Highest resourceVersion seen while listing (the list's resourceVersion).
    pub resource_version: i64,
}

impl<R: Borrow<PodRecord>> PodPage<R> {
    /// The `PodList`.
    pub fn to_list(&self) -> List<Pod> {
        List {
            items: self.items.iter().map(|r| r.borrow().pod.clone()).collect(),
            metadata: ListMeta {
                resource_version: Some(self.resource_version.to_string()),
                continue_: self.continue_token.clone(),
                ..Default::default()
            },
        }
    }
}

impl Pods {
    /// One pod.
    pub async fn get(&self, namespace: &str, name: &str) -> Result<Pod> {
        Ok(self.get_record(namespace, name).await?.pod)
    }

    /// One pod as JSON (what `GET` answers), from [`Encoded`] when the record is unchanged.
    pub async fn get_json(&self, namespace: &str, name: &str) -> Result<Bytes> {
        let key = record::key(namespace, name);
        let raw = self
            .store()
            .get(&key)
            .await
            .map_err(|e| Error::pod_store(e, name))?;
        if let Some(json) = self.encoded.get(&key, raw.generation) {
            return Ok(json);
        }
        let rec = PodRecord::decode(&raw)?;
        let json = serde_json::to_vec(&rec.pod)
            .map(Bytes::from)
            .map_err(|e| Error::internal_from("encoding a pod", e))?;
        self.encoded.keep(key, raw.generation, json.clone());
        Ok(json)
    }

    /// One pod's record.
    pub async fn get_record(&self, namespace: &str, name: &str) -> Result<PodRecord> {
        record::load(&self.store, namespace, name).await
    }

    /// A page of pods in `namespace` (all namespaces when `None`).
    pub async fn list(&self, namespace: Option<&str>, opts: &ListOptions) -> Result<PodPage> {
        let page = self.list_shared(namespace, opts).await?;
        Ok(PodPage {
            items: page.items.into_iter().map(Arc::unwrap_or_clone).collect(),
            continue_token: page.continue_token,
            resource_version: page.resource_version,
        })
    }

    /// [`Pods::list`], the records shared with those decoded from their index (unchanged
    /// records are not decoded again, nor copied: what a Table of them reads).
    pub(crate) async fn list_shared(
        &self,
        namespace: Option<&str>,
        opts: &ListOptions,
    ) -> Result<PodPage<Arc<PodRecord>>> {
        let namespace = namespace.or(opts.fields.pinned("metadata.namespace"));
        let prefix = record::prefix(namespace);
        let token = match &opts.continue_token {
            Some(t) => Some(Token::decode(t, &prefix)?),
            None => None,
        };
        let limit = if opts.limit == 0 {
            usize::MAX
        } else {
            opts.limit
        };
        let Some(token) = token else {
            if opts.limit == 0 {
                return self.list_live(prefix, None, opts, limit).await;
            }
            let snap = Arc::new(self.take_snapshot(prefix, namespace.is_none()).await?);
            let page = self.page_of(&snap, None, opts, limit).await?;
            if page.continue_token.is_some() {
                self.snapshots.keep(snap);
            }
            return Ok(page);
        };
        match token
            .snapshot_id()
            .and_then(|id| self.snapshots.get(id, &prefix))
        {
            Some(snap) => {
                let page = self.page_of(&snap, Some(&token.start), opts, limit).await?;
                if page.continue_token.is_none() {
                    self.snapshots.drop_snapshot(snap.id);
                }
                Ok(page)
            }
            None if token.too_old() => Err(token.expired()),
            None => self.list_live(prefix, Some(token.start), opts, limit).await,
        }
    }

    /// Keeps `snap` as a first page would (`api/table_bench.rs`).
    #[cfg(test)]
    pub(crate) fn keep_snapshot(&self, snap: Arc<Snapshot>) {
        self.snapshots.keep(snap);
    }

    /// Lists all of `prefix` at once (`split`: one listing per namespace, concurrently).
    async fn take_snapshot(&self, prefix: String, split: bool) -> Result<Snapshot> {
        let known = split.then(|| self.snapshots.namespaces()).flatten();
        let listing = walk::entries(&**self.store(), &prefix, split, known.as_deref())
            .await
            .map_err(|e| Error::pod_store(e, ""))?;
        if split {
            // Past two pages, listing the namespaces at once saves round trips.
            let large = listing.entries.len() > 2 * walk::FIRST_PAGE;
            self.snapshots
                .set_namespaces(large.then(|| walk::layout(&prefix, &listing.entries)));
        }
        for u in &listing.unreadable {
            tracing::error!(key = %u.key, error = %u.error, "skipping an unreadable pod record");
        }
        Ok(Snapshot {
            id: new_id(),
            resource_version: listing
                .entries
                .iter()
                .map(|e| e.generation)
                .max()
                .unwrap_or(0),
            prefix,
            taken: unix_now(),
            entries: listing.entries,
            ahead: Ahead::default(),
            decoded: self.snapshots.decoded(),
        })
    }

    /// The page of `snap` after `start`: up to `limit` matching records, with a token when
    /// listed records follow the last one. The next page is cut ahead ([`Ahead`]).
    async fn page_of(
        &self,
        snap: &Arc<Snapshot>,
        start: Option<&str>,
        opts: &ListOptions,
        limit: usize,
    ) -> Result<PodPage<Arc<PodRecord>>> {
        let cut = Ahead::take_or_cut(snap, start, opts, limit).await;
        let last = cut.matched.last().map(|(i, _)| &snap.entries[*i].key);
        let continue_token = match last {
            Some(last) if cut.more => {
                Ahead::start(snap, last, opts, limit);
                Some(Token::of(snap, last).encode())
            }
            _ => None,
        };
        let items = if opts.index_only {
            cut.matched.into_iter().map(|(_, rec)| rec).collect()
        } else {
            let matched = cut
                .matched
                .into_iter()
                .map(|(i, rec)| (&snap.entries[i], rec))
                .collect();
            self.with_bodies(matched)
                .await?
                .into_iter()
                .map(Arc::new)
                .collect()
        };
        Ok(PodPage {
            items,
            continue_token,
            resource_version: snap.resource_version,
        })
    }

    /// Full records for listed entries that carry only their index: the body at the listed
    /// generation, or the record as it is now when that generation is gone (a pod deleted
    /// since is left out).
    async fn with_bodies(&self, matched: Vec<(&Entry, Arc<PodRecord>)>) -> Result<Vec<PodRecord>> {
        let wanted: Vec<(String, i64)> = matched
            .iter()
            .filter(|(e, _)| e.data.is_none())
            .map(|(e, _)| (e.key.clone(), e.generation))
            .collect();
        let (records, unreadable) = self
            .store()
            .bodies(&wanted)
            .await
            .map_err(|e| Error::pod_store(e, ""))?;
        for u in &unreadable {
            tracing::error!(key = %u.key, error = %u.error, "skipping an unreadable pod record");
        }
        let unreadable: Vec<&str> = unreadable.iter().map(|u| u.key.as_str()).collect();
        let mut bodies: HashMap<String, Record> =
            records.into_iter().map(|r| (r.key.clone(), r)).collect();
        let mut items = Vec::with_capacity(matched.len());
        for (entry, rec) in matched {
            if entry.data.is_some() {
                items.push(Arc::unwrap_or_clone(rec));
                continue;
            }
            if unreadable.contains(&entry.key.as_str()) {
                continue;
            }
            let body = match bodies.remove(&entry.key) {
                Some(b) => b,
                None => match self.store().get(&entry.key).await {
                    Ok(now) => now,
                    Err(StoreError::NotFound { .. }) => continue,
                    Err(e) => return Err(Error::pod_store(e, "")),
                },
            };
            match PodRecord::decode(&body) {
                Ok(full) => items.push(full),
                Err(e) => {
                    tracing::error!(key = %entry.key, error = %e, "skipping a corrupt pod record")
                }
            }
        }
        Ok(items)
    }

    /// A page from the store after `start`, in key order (no snapshot).
    async fn list_live(
        &self,
        prefix: String,
        start: Option<String>,
        opts: &ListOptions,
        limit: usize,
    ) -> Result<PodPage<Arc<PodRecord>>> {
        let decoded = self.snapshots.decoded();
        let mut items = Vec::new();
        let mut max_rv = 0i64;
        let mut pages = Pager::new(&**self.store(), prefix, STORE_PAGE).after(start);
        loop {
            let page = if opts.index_only {
                pages.next_entries().await
            } else {
                pages.next_page().await.map(|p| p.map(EntryPage::from))
            };
            let Some(page) = page.map_err(|e| Error::pod_store(e, ""))? else {
                break;
            };
            for u in &page.unreadable {
                tracing::error!(key = %u.key, error = %u.error, "skipping an unreadable pod record");
            }
            let count = page.entries.len();
            for (i, raw) in page.entries.iter().enumerate() {
                max_rv = max_rv.max(raw.generation);
                let Some(rec) = matching(&decoded, raw, opts) else {
                    continue;
                };
                items.push(rec);
                if items.len() == limit {
                    let more = i + 1 < count || page.next.is_some();
                    return Ok(PodPage {
                        items,
                        continue_token: more.then(|| Token::live(&raw.key).encode()),
                        resource_version: max_rv,
                    });
                }
            }
        }
        Ok(PodPage {
            items,
            continue_token: None,
            resource_version: max_rv,
        })
    }
}
