//! Pod records: one object per pod, `pods/<namespace>/<name>.json`, with the object's
//! generation as the pod's `resourceVersion`.
//!
//! [`RecordStore`] is the whole contract: create-if-absent, compare-and-swap update and
//! delete on the generation, get, and ordered listing by prefix with paging. Two
//! implementations: [`GcsStore`] (Cloud Storage JSON API; fake-gcs-server in tests) and
//! [`MemoryStore`] (dev mode, tests, benchmarks). Generations are positive and increase with
//! every write, store-wide, as Cloud Storage's do.
//!
//! Callers that walk a prefix use [`Pager`] (page by page, stopping when they like),
//! [`list_all`], or [`walk::entries`] (a whole prefix at once, split into listings that run
//! concurrently); nobody else loops over [`RecordStore::list`]. Failures are a [`StoreError`]:
//! the answers callers act on, or `Unavailable`/`Internal` with a [`StoreCause`] as source.

mod by_generation;
pub(crate) mod gcs;
pub(crate) mod memory;
mod pager;
pub(crate) mod walk;

pub(crate) use by_generation::ByGeneration;
pub use gcs::GcsStore;
pub use memory::MemoryStore;
pub(crate) use pager::{Pager, list_all};

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
    /// Records listed whose content could not be read (their download failed after retries):
    /// one bad record never fails the listing of the others. Callers report and skip them.
    pub unreadable: Vec<Unreadable>,
}

/// A listed record without its body: name, generation, and its index (a short summary its
/// writer kept in the object's metadata, which a listing returns). Records written without an
/// index (before there was one) come with their body instead.
#[derive(Debug, Clone, PartialEq)]
pub struct Entry {
    /// Object name.
    pub key: String,
    /// Generation (> 0).
    pub generation: i64,
    /// The index its writer kept, if any.
    pub index: Option<Index>,
    /// The body, when there is no index.
    pub data: Option<Bytes>,
}

/// A listed record's index ([`Entry::index`]), kept as the listing carried it and read only
/// when a reader needs it.
///
/// A Cloud Storage listing carries each index in the object's metadata, packed
/// (`gcs::packed`: deflate and base64) or, as records written before the packing carry it, as
/// a JSON string with every `"` escaped. Unpacking or unescaping 10,000 of them is needless on
/// a warm instance, which has already decoded the records at the listed generation
/// (`pods::crud::decoded`), so the listing keeps the value as it came, and [`Index::text`]
/// unpacks or unescapes it for the readers that do need it.
#[derive(Debug, Clone, PartialEq)]
pub struct Index(IndexForm);

#[derive(Debug, Clone, PartialEq)]
enum IndexForm {
    /// The text itself.
    Text(String),
    /// A JSON string literal (quotes included) whose value is the text.
    Literal(Bytes),
    /// The text packed by `gcs::packed::pack`.
    Packed(Bytes),
}

impl Index {
    /// The index kept as a JSON string literal (`"..."`, escapes and quotes included), as a
    /// listing's body carries it.
    pub(crate) fn literal(literal: Bytes) -> Self {
        Index(IndexForm::Literal(literal))
    }

    /// The index packed by `gcs::packed::pack`, as a listing carries it.
    pub(crate) fn packed(packed: Bytes) -> Self {
        Index(IndexForm::Packed(packed))
    }

    /// The text of the index (unescaped from its literal or unpacked, when it was listed so).
    pub(crate) fn text(&self) -> Result<std::borrow::Cow<'_, str>, serde_json::Error> {
        match &self.0 {
            IndexForm::Text(text) => Ok(std::borrow::Cow::Borrowed(text)),
            IndexForm::Literal(literal) => {
                serde_json::from_slice::<String>(literal).map(Into::into)
            }
            // One error type for every reader: a packed index that does not unpack is as
            // corrupt as an escaped one that does not parse.
            IndexForm::Packed(packed) => gcs::packed::unpack(packed)
                .map(Into::into)
                .map_err(<serde_json::Error as serde::de::Error>::custom),
        }
    }
}

impl From<String> for Index {
    fn from(text: String) -> Self {
        Index(IndexForm::Text(text))
    }
}

/// One page of [`RecordStore::list_entries`].
#[derive(Debug, Clone, Default)]
pub struct EntryPage {
    /// Entries in key order.
    pub entries: Vec<Entry>,
    /// Key to resume after, when more may follow.
    pub next: Option<String>,
    /// Records without an index whose body could not be read.
    pub unreadable: Vec<Unreadable>,
}

impl From<Page> for EntryPage {
    /// Bodies as entries without an index.
    fn from(page: Page) -> Self {
        EntryPage {
            entries: page
                .records
                .into_iter()
                .map(|r| Entry {
                    key: r.key,
                    generation: r.generation,
                    index: None,
                    data: Some(r.data),
                })
                .collect(),
            next: page.next,
            unreadable: page.unreadable,
        }
    }
}

/// A listed record whose content could not be read, and why.
#[derive(Debug, Clone, PartialEq)]
pub struct Unreadable {
    /// Object name.
    pub key: String,
    /// What failed (the store error, with its cause).
    pub error: String,
}

/// Why a store call failed.
///
/// The first three are answers callers act on; `Unavailable` (retry later) and `Internal` (an
/// answer the store should not give) carry what went wrong below as their `#[source]`.
#[derive(Debug, thiserror::Error)]
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
    #[error("record store unavailable: {operation} {key}")]
    Unavailable {
        /// The store call (`create`, `get`, `update`, `delete`, `list`, `ready`).
        operation: &'static str,
        /// Key, list prefix, or bucket.
        key: String,
        /// What failed.
        #[source]
        source: StoreCause,
    },
    /// An unexpected answer.
    #[error("record store: unexpected answer to {operation} {key}")]
    Internal {
        /// The store call.
        operation: &'static str,
        /// Key, list prefix, or bucket.
        key: String,
        /// What was wrong with it.
        #[source]
        source: StoreCause,
    },
}

/// What went wrong under a store call: the `#[source]` of [`StoreError::Unavailable`] and
/// [`StoreError::Internal`].
#[derive(Debug, thiserror::Error)]
pub enum StoreCause {
    /// An HTTP error answer.
    #[error("HTTP {status}: {body}")]
    Status {
        /// HTTP status.
        status: u16,
        /// The start of the answer's body.
        body: String,
    },
    /// The request failed below HTTP (connection, timeout), or its answer could not be read.
    #[error("{step}")]
    Transport {
        /// Sending the request or reading the answer.
        step: &'static str,
        /// The transport error.
        #[source]
        source: reqwest::Error,
    },
    /// No access token.
    #[error("credentials")]
    Credentials {
        /// The token source's error.
        #[source]
        source: crate::error::Source,
    },
    /// A successful answer that does not decode.
    #[error("decoding the {what}")]
    Decode {
        /// Which answer.
        what: &'static str,
        /// The decoding error.
        #[source]
        source: serde_json::Error,
    },
    /// Parsing an answer off the async workers did not finish (its task panicked or was
    /// cancelled).
    #[error("decoding the {what}: the task did not finish")]
    Unfinished {
        /// Which answer.
        what: &'static str,
        /// Why the task ended.
        #[source]
        source: tokio::task::JoinError,
    },
    /// A successful answer without the object's generation.
    #[error("the answer carries no generation")]
    NoGeneration,
    /// A fault injected by a drill ([`MemoryStore::fail_next`]).
    #[error("injected fault")]
    Injected,
}

impl StoreCause {
    /// [`StoreCause::Transport`] in `step`, for `map_err`.
    pub(crate) fn transport(step: &'static str) -> impl FnOnce(reqwest::Error) -> StoreCause {
        move |source| StoreCause::Transport { step, source }
    }
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
    /// Writes `key` whatever is there (no precondition): objects with one writer, such as a
    /// pod's archived logs. Not cached. Returns the new generation.
    async fn put(&self, key: &str, data: Bytes, content_type: &str) -> Result<i64, StoreError>;
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
    /// [`create`](Self::create), keeping `index` with the object where the store can (Cloud
    /// Storage: custom metadata). The default keeps no index.
    async fn create_indexed(
        &self,
        key: &str,
        data: Bytes,
        index: Option<String>,
    ) -> Result<i64, StoreError> {
        let _ = index;
        self.create(key, data).await
    }
    /// [`update`](Self::update), keeping `index` likewise; a write without an index drops the
    /// old one, so an index never outlives its body.
    async fn update_indexed(
        &self,
        key: &str,
        data: Bytes,
        index: Option<String>,
        generation: i64,
    ) -> Result<i64, StoreError> {
        let _ = index;
        self.update(key, data, generation).await
    }
    /// Like [`list`](Self::list), but each record's index where it has one, and its body only
    /// where it has none. The default (a store without indexes) returns bodies.
    async fn list_entries(
        &self,
        prefix: &str,
        start_after: Option<&str>,
        limit: usize,
    ) -> Result<EntryPage, StoreError> {
        Ok(self.list(prefix, start_after, limit).await?.into())
    }
    /// Every entry under `prefix` after `start_after` and before `end_before` (a key range),
    /// as [`list_entries`](Self::list_entries) would page them; `next` is `None`.
    async fn list_range_entries(
        &self,
        prefix: &str,
        start_after: Option<&str>,
        end_before: Option<&str>,
    ) -> Result<EntryPage, StoreError> {
        let mut pages = Pager::new(self, prefix, 1000).after(start_after.map(str::to_string));
        let past_end = |key: &str| end_before.is_some_and(|end| key >= end);
        let mut all = EntryPage::default();
        while let Some(page) = pages.next_entries().await? {
            let ended = page.entries.last().is_some_and(|e| past_end(&e.key));
            all.entries
                .extend(page.entries.into_iter().filter(|e| !past_end(&e.key)));
            all.unreadable
                .extend(page.unreadable.into_iter().filter(|u| !past_end(&u.key)));
            if ended {
                break;
            }
        }
        Ok(all)
    }
    /// The prefixes one level below `prefix`, up to the next `/` (`pods/` →
    /// `pods/<namespace>/`), at or after `from`, in key order: where a listing may be split.
    /// `None` when records sit directly under `prefix` (the prefixes would not cover them).
    async fn list_prefixes(
        &self,
        prefix: &str,
        from: Option<&str>,
    ) -> Result<Option<Vec<String>>, StoreError> {
        let mut pages = Pager::new(self, prefix, 1000);
        let mut prefixes: Vec<String> = Vec::new();
        while let Some(page) = pages.next_entries().await? {
            let keys = page.entries.iter().map(|e| &e.key);
            for key in keys.chain(page.unreadable.iter().map(|u| &u.key)) {
                let rest = &key[prefix.len()..];
                let Some(slash) = rest.find('/') else {
                    return Ok(None);
                };
                let sub = &key[..prefix.len() + slash + 1];
                if from.is_none_or(|f| sub >= f) && prefixes.last().is_none_or(|l| l != sub) {
                    prefixes.push(sub.to_string());
                }
            }
        }
        Ok(Some(prefixes))
    }
    /// The bodies of `listed` records at their listed generations; a record deleted or
    /// replaced since is left out, one that cannot be read is reported as unreadable.
    async fn bodies(
        &self,
        listed: &[(String, i64)],
    ) -> Result<(Vec<Record>, Vec<Unreadable>), StoreError> {
        let mut records = Vec::new();
        let mut unreadable = Vec::new();
        for (key, generation) in listed {
            match self.get(key).await {
                Ok(r) if r.generation == *generation => records.push(r),
                Ok(_) | Err(StoreError::NotFound { .. }) => {}
                Err(e) => unreadable.push(Unreadable {
                    key: key.clone(),
                    error: crate::error::chain_of(&e),
                }),
            }
        }
        Ok((records, unreadable))
    }
}
