//! An in-process record store with the same semantics as the Cloud Storage one: dev mode,
//! tests and benchmarks. Faults can be injected to drill the callers' error paths; calls are
//! counted, and may be answered late, for the tests and figures that count store requests.
//! Generations are microsecond timestamps, as Cloud Storage's are, so a resourceVersion dates
//! a change.

use std::collections::BTreeMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::time::Duration;

use async_trait::async_trait;
use bytes::Bytes;

use super::{Page, Record, RecordStore, StoreCause, StoreError};

/// In-memory records.
#[derive(Debug, Default)]
pub struct MemoryStore {
    inner: Mutex<Inner>,
    /// Fail the next N calls with `Unavailable` (drills).
    fail_next: AtomicU32,
    /// Keys whose content cannot be read (as a download that keeps failing): `get` fails,
    /// listings report them as unreadable.
    unreadable: Mutex<std::collections::BTreeSet<String>>,
    /// Whether any key was made unreadable: until then a read takes no second lock (every
    /// `GET pod` of dev and the benchmarks reads here).
    any_unreadable: std::sync::atomic::AtomicBool,
    /// How late each call is answered (zero: at once).
    latency: Duration,
    /// Creates of keys under this prefix wait for a permit of its semaphore (drills that must
    /// land a write after another flow's step).
    held: std::sync::OnceLock<(String, std::sync::Arc<tokio::sync::Semaphore>)>,
    /// Creates waiting at that gate now.
    held_waiting: AtomicU64,
    /// Calls made, of every kind (`ready` aside), and the listings among them.
    calls: AtomicU64,
    lists: AtomicU64,
}

#[derive(Debug, Default)]
struct Inner {
    objects: BTreeMap<String, (Bytes, i64)>,
    generation: i64,
}

impl Inner {
    /// Like Cloud Storage: microseconds since the epoch, strictly increasing store-wide.
    fn next_generation(&mut self) -> i64 {
        let now = jiff::Timestamp::now().as_microsecond();
        self.generation = now.max(self.generation + 1);
        self.generation
    }
}

impl MemoryStore {
    /// Empty store.
    pub fn new() -> Self {
        Self::default()
    }

    /// Empty store that answers each call `latency` late (a benchmark's stand-in for Cloud
    /// Storage's round trips).
    pub fn with_latency(latency: Duration) -> Self {
        MemoryStore {
            latency,
            ..Self::default()
        }
    }

    /// Calls made so far, of every kind but `ready`.
    pub fn calls(&self) -> u64 {
        self.calls.load(Ordering::SeqCst)
    }

    /// Listings made so far.
    pub fn lists(&self) -> u64 {
        self.lists.load(Ordering::SeqCst)
    }

    /// From now on every create of a key under `prefix` waits for a permit of the semaphore
    /// returned (it has none: the drill adds one per create it lets through). Once per store:
    /// a later call returns the first gate, whatever its prefix; being set once, it costs
    /// every other store call one atomic load.
    pub fn hold_creates_under(&self, prefix: &str) -> std::sync::Arc<tokio::sync::Semaphore> {
        let (_, gate) = self.held.get_or_init(|| {
            (
                prefix.to_string(),
                std::sync::Arc::new(tokio::sync::Semaphore::new(0)),
            )
        });
        gate.clone()
    }

    /// Creates waiting at [`hold_creates_under`](Self::hold_creates_under)'s gate now.
    pub fn held_creates(&self) -> u64 {
        self.held_waiting.load(Ordering::SeqCst)
    }

    /// Every read of `key`'s content fails from now on, as a Cloud Storage download that keeps
    /// answering 5xx does: `get` is `Unavailable`, a listing reports the key as unreadable.
    pub fn fail_reads_of(&self, key: &str) {
        self.unreadable
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(key.to_string());
        self.any_unreadable.store(true, Ordering::Release);
    }

    fn readable(&self, key: &str) -> bool {
        !self.any_unreadable.load(Ordering::Acquire)
            || !self
                .unreadable
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .contains(key)
    }

    /// The next `n` calls fail with `Unavailable`.
    pub fn fail_next(&self, n: u32) {
        self.fail_next.store(n, Ordering::SeqCst);
    }

    /// Where every call starts: counted, answered `latency` late, failed if a fault is due.
    async fn begin(&self, operation: &'static str, key: &str) -> Result<(), StoreError> {
        self.calls.fetch_add(1, Ordering::SeqCst);
        if operation == "list" {
            self.lists.fetch_add(1, Ordering::SeqCst);
        }
        if !self.latency.is_zero() {
            tokio::time::sleep(self.latency).await;
        }
        let gate = match self.held.get() {
            Some((prefix, gate)) if operation == "create" && key.starts_with(prefix.as_str()) => {
                Some(gate.clone())
            }
            _ => None,
        };
        if let Some(gate) = gate {
            self.held_waiting.fetch_add(1, Ordering::SeqCst);
            if let Ok(permit) = gate.acquire().await {
                permit.forget();
            }
            self.held_waiting.fetch_sub(1, Ordering::SeqCst);
        }
        let injected = self
            .fail_next
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
            .is_ok();
        if injected {
            return Err(StoreError::Unavailable {
                operation,
                key: key.to_string(),
                source: StoreCause::Injected,
            });
        }
        Ok(())
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }
}

#[async_trait]
impl RecordStore for MemoryStore {
    async fn create(&self, key: &str, data: Bytes) -> Result<i64, StoreError> {
        self.begin("create", key).await?;
        let mut inner = self.lock();
        if inner.objects.contains_key(key) {
            return Err(StoreError::AlreadyExists {
                key: key.to_string(),
            });
        }
        let generation = inner.next_generation();
        inner.objects.insert(key.to_string(), (data, generation));
        Ok(generation)
    }

    async fn get(&self, key: &str) -> Result<Record, StoreError> {
        self.begin("get", key).await?;
        if !self.readable(key) {
            return Err(StoreError::Unavailable {
                operation: "get",
                key: key.to_string(),
                source: StoreCause::Injected,
            });
        }
        let inner = self.lock();
        inner
            .objects
            .get(key)
            .map(|(data, generation)| Record {
                key: key.to_string(),
                data: data.clone(),
                generation: *generation,
            })
            .ok_or_else(|| StoreError::NotFound {
                key: key.to_string(),
            })
    }

    async fn update(&self, key: &str, data: Bytes, generation: i64) -> Result<i64, StoreError> {
        self.begin("update", key).await?;
        let mut inner = self.lock();
        match inner.objects.get(key) {
            None => Err(StoreError::NotFound {
                key: key.to_string(),
            }),
            Some((_, current)) if *current != generation => Err(StoreError::Conflict {
                key: key.to_string(),
            }),
            Some(_) => {
                let next = inner.next_generation();
                inner.objects.insert(key.to_string(), (data, next));
                Ok(next)
            }
        }
    }

    async fn put(&self, key: &str, data: Bytes, _content_type: &str) -> Result<i64, StoreError> {
        self.begin("put", key).await?;
        let mut inner = self.lock();
        let generation = inner.next_generation();
        inner.objects.insert(key.to_string(), (data, generation));
        Ok(generation)
    }

    async fn delete(&self, key: &str, generation: Option<i64>) -> Result<(), StoreError> {
        self.begin("delete", key).await?;
        let mut inner = self.lock();
        match inner.objects.get(key) {
            None => Err(StoreError::NotFound {
                key: key.to_string(),
            }),
            Some((_, current)) if generation.is_some_and(|g| g != *current) => {
                Err(StoreError::Conflict {
                    key: key.to_string(),
                })
            }
            Some(_) => {
                inner.objects.remove(key);
                Ok(())
            }
        }
    }

    async fn list(
        &self,
        prefix: &str,
        start_after: Option<&str>,
        limit: usize,
    ) -> Result<Page, StoreError> {
        self.begin("list", prefix).await?;
        let inner = self.lock();
        let start = match start_after {
            Some(s) if s >= prefix => std::ops::Bound::Excluded(s.to_string()),
            _ => std::ops::Bound::Included(prefix.to_string()),
        };
        let mut records = Vec::new();
        let mut unreadable = Vec::new();
        let mut last_key = String::new();
        let mut next = None;
        for (key, (data, generation)) in inner.objects.range((start, std::ops::Bound::Unbounded)) {
            if !key.starts_with(prefix) {
                break;
            }
            if records.len() + unreadable.len() == limit {
                next = (!last_key.is_empty()).then(|| last_key.clone());
                break;
            }
            last_key = key.clone();
            if !self.readable(key) {
                unreadable.push(super::Unreadable {
                    key: key.clone(),
                    error: "record store unavailable: injected fault".into(),
                });
                continue;
            }
            records.push(Record {
                key: key.clone(),
                data: data.clone(),
                generation: *generation,
            });
        }
        Ok(Page {
            records,
            next,
            unreadable,
        })
    }

    async fn ready(&self) -> Result<(), StoreError> {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn keeps_the_store_contract() {
        let s = MemoryStore::new();
        crate::testing::store_contract::compare_and_swap(&s).await;
        crate::testing::store_contract::lists_a_prefix_in_pages(&s).await;
    }

    #[tokio::test]
    async fn a_delete_of_a_stale_generation_conflicts() {
        let s = MemoryStore::new();
        let g1 = s
            .create("pods/a/x.json", Bytes::from_static(b"1"))
            .await
            .expect("create");
        let g2 = s
            .update("pods/a/x.json", Bytes::from_static(b"2"), g1)
            .await
            .expect("update");
        assert!(g2 > g1);
        assert!(matches!(
            s.delete("pods/a/x.json", Some(g1)).await,
            Err(StoreError::Conflict { .. })
        ));
    }

    #[tokio::test]
    async fn unreadable_records_are_listed_apart_and_paged_over() {
        let s = MemoryStore::new();
        for i in 0..5 {
            s.create(&format!("pods/a/{i}.json"), Bytes::new())
                .await
                .expect("create");
        }
        s.fail_reads_of("pods/a/1.json");
        assert!(matches!(
            s.get("pods/a/1.json").await,
            Err(StoreError::Unavailable { .. })
        ));
        let p1 = s.list("pods/a/", None, 2).await.expect("list");
        assert_eq!(p1.records.len(), 1);
        assert_eq!(p1.unreadable.len(), 1);
        assert_eq!(p1.unreadable[0].key, "pods/a/1.json");
        assert_eq!(p1.next.as_deref(), Some("pods/a/1.json"));
        let p2 = s
            .list("pods/a/", p1.next.as_deref(), 10)
            .await
            .expect("list");
        assert_eq!(p2.records.len(), 3);
        assert!(p2.unreadable.is_empty() && p2.next.is_none());
    }
}
