//! A namespace's quota usage: one object, `quota-usage/<namespace>.json`, holding the charge of
//! every pod that counts (by uid), changed only by compare-and-swap on its generation. That one
//! object is what makes enforcement atomic across any number of service instances: two creates
//! that both read room for one more pod cannot both write, the loser reads again and sees none.
//!
//! A charge is taken before the pod's record is written ([`super::Pods::reserve_quota`]),
//! dropped when the record is deleted (its VM's deletion accepted) and recomputed by every
//! collection pass from the records and the VMs listed ([`super::repair`]), which also drops
//! the charges of pods whose VM collection deleted.

use std::collections::BTreeMap;
use std::time::Duration;

use bytes::Bytes;
use jiff::Timestamp;
use serde::{Deserialize, Serialize};

use super::charge::Amounts;
use crate::error::{Error, Result};
use crate::pods::Pods;
use crate::store::{Pager, RecordStore, StoreError};

/// Attempts of one usage read-change-swap: every concurrent create in the namespace writes
/// this one object, so a burst of N creates needs up to N rounds.
const USAGE_TRIES: usize = 64;

/// One pod's charge.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Charge {
    /// The pod's name (for people reading the object).
    pub(crate) pod: String,
    /// When the charge was taken.
    pub(crate) at: Timestamp,
    /// What it counts, in thousandths.
    pub(crate) amounts: Amounts,
}

/// The stored usage of a namespace.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Usage {
    /// Charges by pod uid.
    #[serde(default)]
    pub(crate) pods: BTreeMap<String, Charge>,
}

impl Usage {
    /// The sum of every charge, by resource.
    pub(crate) fn totals(&self) -> Amounts {
        let mut out = Amounts::new();
        for c in self.pods.values() {
            for (k, v) in &c.amounts {
                let e = out.entry(k.clone()).or_default();
                *e = e.saturating_add(*v);
            }
        }
        out
    }
}

/// Where the usage objects are.
const PREFIX: &str = "quota-usage/";

/// Object name of a namespace's usage.
pub(crate) fn key(namespace: &str) -> String {
    format!("{PREFIX}{namespace}.json")
}

/// Every usage object: its namespace and generation.
///
/// # Errors
/// The store's.
pub(crate) async fn list(store: &dyn RecordStore) -> Result<Vec<(String, i64)>> {
    let mut pages = Pager::new(store, PREFIX, 1000);
    let mut out = Vec::new();
    while let Some(page) = pages
        .next_page()
        .await
        .map_err(|e| store_error(e, "(all)"))?
    {
        out.extend(page.records.into_iter().filter_map(|r| {
            let namespace = r.key.strip_prefix(PREFIX)?.strip_suffix(".json")?;
            Some((namespace.to_string(), r.generation))
        }));
    }
    Ok(out)
}

fn store_error(e: StoreError, namespace: &str) -> Error {
    match e {
        e @ StoreError::Unavailable { .. } => Error::unavailable_from(
            "the record store (Cloud Storage) is unavailable; retry shortly",
            e,
        ),
        e => Error::internal_from(format!("quota usage of namespace {namespace}"), e),
    }
}

/// A short random pause after a lost swap, growing with the attempt, so a burst of creates
/// spreads out instead of colliding again in lockstep.
async fn back_off(attempt: usize) {
    let cap = 5 + 5 * attempt.min(20) as u64;
    let ms = rand::random_range(0..cap);
    tokio::time::sleep(Duration::from_millis(ms)).await;
}

impl Pods {
    /// Reads a namespace's usage (empty when it has none).
    pub(crate) async fn usage(&self, namespace: &str) -> Result<Usage> {
        match self.store.get(&key(namespace)).await {
            Ok(r) => decode(&r.data, namespace),
            Err(StoreError::NotFound { .. }) => Ok(Usage::default()),
            Err(e) => Err(store_error(e, namespace)),
        }
    }

    /// Read, change, compare-and-swap the usage of `namespace` (created when absent); on a
    /// lost swap read again and change again. `change` returns false to write nothing.
    ///
    /// # Errors
    /// What `change` returns; the store's; 503 after [`USAGE_TRIES`] lost swaps.
    pub(crate) async fn modify_usage<F>(&self, namespace: &str, mut change: F) -> Result<Usage>
    where
        F: FnMut(&mut Usage) -> Result<bool>,
    {
        let key = key(namespace);
        for attempt in 0..USAGE_TRIES {
            let (mut usage, generation) = match self.store.get(&key).await {
                Ok(r) => (decode(&r.data, namespace)?, Some(r.generation)),
                Err(StoreError::NotFound { .. }) => (Usage::default(), None),
                Err(e) => return Err(store_error(e, namespace)),
            };
            if !change(&mut usage)? {
                return Ok(usage);
            }
            let data = serde_json::to_vec(&usage)
                .map(Bytes::from)
                .map_err(|e| Error::internal_from("encoding quota usage", e))?;
            let written = match generation {
                Some(g) => self.store.update(&key, data, g).await,
                None => self.store.create(&key, data).await,
            };
            match written {
                Ok(_) => return Ok(usage),
                // Another writer won, or the usage was deleted since it was read (a namespace's
                // cascade drops it): read again.
                Err(
                    StoreError::Conflict { .. }
                    | StoreError::AlreadyExists { .. }
                    | StoreError::NotFound { .. },
                ) => {
                    back_off(attempt).await;
                }
                Err(e) => return Err(store_error(e, namespace)),
            }
        }
        Err(Error::unavailable(format!(
            "the quota usage of namespace {namespace} is being changed concurrently; retry"
        )))
    }

    /// Drops the charge of pod `uid`, if any (best effort: collection repairs a miss).
    pub(crate) async fn release_quota(&self, namespace: &str, uid: &str) {
        if uid.is_empty() {
            return;
        }
        match self.store.get(&key(namespace)).await {
            Ok(_) => {}
            Err(StoreError::NotFound { .. }) => return,
            Err(e) => {
                tracing::warn!(namespace, error = %e, "quota usage unreadable; collection repairs it");
                return;
            }
        }
        let released = self
            .modify_usage(namespace, |u| Ok(u.pods.remove(uid).is_some()))
            .await;
        if let Err(e) = released {
            tracing::warn!(namespace, uid, error = %e.chain(), "could not release a quota charge; collection repairs it");
        }
    }

    /// Deletes a namespace's usage object (its last quota went), with `generation` only if it
    /// is still at that generation: a usage changed since is left (`Ok`).
    pub(crate) async fn delete_usage(
        &self,
        namespace: &str,
        generation: Option<i64>,
    ) -> Result<()> {
        match self.store.delete(&key(namespace), generation).await {
            Ok(()) | Err(StoreError::NotFound { .. } | StoreError::Conflict { .. }) => Ok(()),
            Err(e) => Err(store_error(e, namespace)),
        }
    }
}

fn decode(data: &[u8], namespace: &str) -> Result<Usage> {
    serde_json::from_slice(data).map_err(|e| {
        Error::internal_from(
            format!("the quota usage of namespace {namespace} is corrupt"),
            e,
        )
    })
}
