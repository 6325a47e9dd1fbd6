//! Test doubles around the production pieces: [`CountingStore`], the memory store behind a
//! request counter (and, for benchmarks, a latency), and [`offline_pods`], a [`Pods`] whose
//! Compute Engine client reaches nothing. Unit tests (`src/pods/watch/tests.rs`,
//! `src/pods/logs/follow.rs`) and suites (`tests/watch_scale.rs`) share them.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use async_trait::async_trait;
use bytes::Bytes;

use crate::pods::Pods;
use crate::store::{MemoryStore, Page, Record, RecordStore, StoreError};

/// The memory store, counting every request (and the listings apart) and answering each
/// `latency` late. Only the required methods are forwarded: the indexed writes and entry
/// listings reach it through the trait's defaults, so they are counted as the plain calls.
#[derive(Debug, Default)]
pub struct CountingStore {
    inner: MemoryStore,
    latency: Duration,
    calls: AtomicU64,
    lists: AtomicU64,
}

impl CountingStore {
    /// A counting store that answers each request `latency` late (zero: at once).
    pub fn with_latency(latency: Duration) -> Self {
        CountingStore {
            latency,
            ..Default::default()
        }
    }

    /// The store behind the counter (to inject faults).
    pub fn inner(&self) -> &MemoryStore {
        &self.inner
    }

    /// Requests made so far, of every kind.
    pub fn calls(&self) -> u64 {
        self.calls.load(Ordering::SeqCst)
    }

    /// Listings made so far.
    pub fn lists(&self) -> u64 {
        self.lists.load(Ordering::SeqCst)
    }

    async fn call(&self) {
        self.calls.fetch_add(1, Ordering::SeqCst);
        if !self.latency.is_zero() {
            tokio::time::sleep(self.latency).await;
        }
    }
}

#[async_trait]
impl RecordStore for CountingStore {
    async fn create(&self, key: &str, data: Bytes) -> Result<i64, StoreError> {
        self.call().await;
        self.inner.create(key, data).await
    }
    async fn get(&self, key: &str) -> Result<Record, StoreError> {
        self.call().await;
        self.inner.get(key).await
    }
    async fn update(&self, key: &str, data: Bytes, generation: i64) -> Result<i64, StoreError> {
        self.call().await;
        self.inner.update(key, data, generation).await
    }
    async fn put(&self, key: &str, data: Bytes, content_type: &str) -> Result<i64, StoreError> {
        self.call().await;
        self.inner.put(key, data, content_type).await
    }
    async fn delete(&self, key: &str, generation: Option<i64>) -> Result<(), StoreError> {
        self.call().await;
        self.inner.delete(key, generation).await
    }
    async fn list(
        &self,
        prefix: &str,
        start_after: Option<&str>,
        limit: usize,
    ) -> Result<Page, StoreError> {
        self.lists.fetch_add(1, Ordering::SeqCst);
        self.call().await;
        self.inner.list(prefix, start_after, limit).await
    }
    async fn ready(&self) -> Result<(), StoreError> {
        self.inner.ready().await
    }
}

/// [`Pods`] on `store` with the default settings and a Compute Engine client pointed at the
/// discard port (`127.0.0.1:9`): for tests of flows that never reach Compute Engine.
pub fn offline_pods(store: Arc<dyn RecordStore>) -> Pods {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let compute = crate::gce::Client::new(
        crate::gce::ClientConfig {
            endpoint: "http://127.0.0.1:9/compute/v1".into(),
            project: "p".into(),
            zones: vec![],
            mutations_per_second: 0.0,
            timeout: Duration::from_secs(1),
            retry: crate::retry::RetryPolicy::default(),
        },
        crate::auth::TokenSource::Anonymous,
    )
    .expect("client");
    let args = super::default_args();
    Pods::new(store, Arc::new(compute), Arc::new(args.vm_settings()))
}
