//! Pod records: one object per pod, `pods/<namespace>/<name>.json`, with the object's
//! generation as the pod's `resourceVersion`.
//!
//! [`RecordStore`] is the whole contract: create-if-absent, compare-and-swap update and
//! delete on the generation, get, and ordered listing by prefix with paging. Two
//! implementations: [`gcs::GcsStore`] (Cloud Storage JSON API; fake-gcs-server in tests) and
//! [`memory::MemoryStore`] (dev mode, tests, benchmarks). Generations are positive and
//! increase with every write, store-wide, as Cloud Storage's do.

pub mod gcs;
pub mod memory;

use async_trait::async_trait;
use bytes::Bytes;

/// A stored object.
#[derive(Debug, Clone, PartialEq)]
pub struct Record {
    /// Object name.
    pub key: String,
    /// Content.
    pub data: Bytes,
    /// Generation (> 0).
    pub generation: i64,
}

/// One page of a listing.
#[derive(Debug, Clone, Default)]
pub struct Page {
    /// Records in key order.
    pub records: Vec<Record>,
    /// Key to resume after, when more may follow.
    pub next: Option<String>,
}

/// Why a store call failed.
#[derive(Debug, Clone, thiserror::Error)]
pub enum StoreError {
    /// Create of a key that exists.
    #[error("record {key} already exists")]
    AlreadyExists {
        /// Key.
        key: String,
    },
    /// No such key.
    #[error("record {key} not found")]
    NotFound {
        /// Key.
        key: String,
    },
    /// Generation precondition failed (someone else wrote first).
    #[error("record {key} changed concurrently")]
    Conflict {
        /// Key.
        key: String,
    },
    /// The store is unreachable or failing; retrying later may work.
    #[error("record store unavailable: {message}")]
    Unavailable {
        /// What happened.
        message: String,
    },
    /// An unexpected answer.
    #[error("record store: {message}")]
    Internal {
        /// What happened.
        message: String,
    },
}

/// The record store contract.
#[async_trait]
pub trait RecordStore: Send + Sync + std::fmt::Debug {
    /// Creates `key` if absent (`ifGenerationMatch=0`); returns the new generation.
    async fn create(&self, key: &str, data: Bytes) -> Result<i64, StoreError>;
    /// Reads `key`.
    async fn get(&self, key: &str) -> Result<Record, StoreError>;
    /// Replaces `key` if its generation is still `generation`; returns the new one.
    async fn update(&self, key: &str, data: Bytes, generation: i64) -> Result<i64, StoreError>;
    /// Deletes `key`, if `generation` is given only at that generation.
    async fn delete(&self, key: &str, generation: Option<i64>) -> Result<(), StoreError>;
    /// Up to `limit` records with `prefix`, in key order, after `start_after`.
    async fn list(
        &self,
        prefix: &str,
        start_after: Option<&str>,
        limit: usize,
    ) -> Result<Page, StoreError>;
    /// Whether the store answers (readiness).
    async fn ready(&self) -> Result<(), StoreError>;
}
