//! Pod records in Cloud Storage through its JSON API (`storage/v1`), with reqwest.
//!
//! Why not the `google-cloud-storage` crate: listing objects exists there only on the gRPC
//! `StorageControl` API, which fake-gcs-server does not serve, so listing could not be tested
//! locally (see README, dependencies). The JSON API is small: five calls.
//!
//! Writes use multipart uploads with `ifGenerationMatch` (0 to create), because that is the
//! upload form on which fake-gcs-server also enforces preconditions. Listing returns names and
//! generations; contents are fetched concurrently and cached by `(name, generation)`, so a
//! repeated list (a watch poll) downloads only the records that changed.

use std::collections::HashMap;
use std::time::Duration;

use async_trait::async_trait;
use bytes::Bytes;
use serde::Deserialize;

mod list;
mod listing;
pub(crate) mod packed;

use super::{
    ByGeneration, Entry, EntryPage, Index, Page, Record, RecordStore, StoreCause, StoreError,
    Unreadable,
};
use crate::auth::TokenSource;
use crate::gce::request::encode;
use crate::retry::RetryPolicy;

/// Largest number of cached record bodies kept between lists.
const CACHE_MAX: usize = 50_000;
/// Content type of records and tombstones.
const JSON: &str = "application/json";
/// Concurrent downloads when a list page misses the cache.
const FETCH_CONCURRENCY: usize = 32;

/// Cloud Storage record store.
#[derive(Debug)]
pub struct GcsStore {
    http: reqwest::Client,
    endpoint: String,
    bucket: String,
    auth: TokenSource,
    retry: RetryPolicy,
    cache: ByGeneration<Bytes, CACHE_MAX>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct ObjectResource {
    #[serde(default)]
    generation: String,
}

/// The custom metadata key of a record's index ([`RecordStore::create_indexed`]) as records
/// written before [`PACKED_INDEX_KEY`] carry it: a JSON string. Still read (the listing's
/// `serde` rename spells it; its test writes this constant); no longer written.
#[cfg(test)]
const INDEX_KEY: &str = "k8sless-index";
/// The custom metadata key of a record's packed index ([`packed`]), format 1. A new key rather
/// than a new value under [`INDEX_KEY`]: an instance still running the code before it reads
/// `k8sless-index` as JSON, and finding none it reads the body, where a packed value there
/// would fail its list.
const PACKED_INDEX_KEY: &str = "k8sless-ix1";

/// A listed name, its generation and its index.
type Listed = (String, i64, Option<Index>);

impl StoreCause {
    /// 429, 5xx and failures below HTTP; 409 is not (multipart uploads answer 412).
    fn is_transient(&self) -> bool {
        match self {
            StoreCause::Status { status, .. } => *status == 429 || *status >= 500,
            StoreCause::Transport { .. } | StoreCause::Credentials { .. } => true,
            _ => false,
        }
    }

    fn status(&self) -> Option<u16> {
        match self {
            StoreCause::Status { status, .. } => Some(*status),
            _ => None,
        }
    }
}

fn decode<T: serde::de::DeserializeOwned>(
    what: &'static str,
    body: &[u8],
) -> Result<T, StoreCause> {
    serde_json::from_slice(body).map_err(|source| StoreCause::Decode { what, source })
}

fn generation(object: &ObjectResource) -> Result<i64, StoreCause> {
    object
        .generation
        .parse()
        .map_err(|_| StoreCause::NoGeneration)
}

impl GcsStore {
    /// A store on `bucket` at `endpoint` (`https://storage.googleapis.com`).
    pub fn new(
        endpoint: &str,
        bucket: &str,
        auth: TokenSource,
        timeout: Duration,
    ) -> Result<Self, String> {
        let http = crate::http::client("http client", |b| {
            b.timeout(timeout).pool_max_idle_per_host(64)
        })?;
        Ok(GcsStore {
            http,
            endpoint: endpoint.trim_end_matches('/').to_string(),
            bucket: bucket.to_string(),
            auth,
            retry: RetryPolicy {
                deadline: Duration::from_secs(10),
                ..RetryPolicy::default()
            },
            cache: ByGeneration::default(),
        })
    }

    fn object_url(&self, key: &str) -> String {
        format!(
            "{}/storage/v1/b/{}/o/{}",
            self.endpoint,
            self.bucket,
            encode(key)
        )
    }

    /// One request, retried (through [`RetryPolicy::run`]) on 429, 5xx and transport errors.
    async fn send(
        &self,
        build: impl Fn() -> reqwest::RequestBuilder,
    ) -> Result<(reqwest::header::HeaderMap, Bytes), StoreCause> {
        self.retry
            .run(|_| self.attempt(&build), StoreCause::is_transient)
            .await
    }

    async fn attempt(
        &self,
        build: &impl Fn() -> reqwest::RequestBuilder,
    ) -> Result<(reqwest::header::HeaderMap, Bytes), StoreCause> {
        let request = (self.auth.authorize(build()).await)
            .map_err(|e| StoreCause::Credentials { source: e.into() })?;
        let response = request
            .send()
            .await
            .map_err(StoreCause::transport("sending the request"))?;
        let status = response.status().as_u16();
        let headers = response.headers().clone();
        let body = response
            .bytes()
            .await
            .map_err(StoreCause::transport("reading the answer"))?;
        if !(200..300).contains(&status) {
            return Err(StoreCause::Status {
                status,
                body: String::from_utf8_lossy(&body).chars().take(300).collect(),
            });
        }
        Ok((headers, body))
    }

    /// Uploads `data` as `key` (`ifGenerationMatch` when `if_generation` is given) with
    /// `content_type`.
    async fn upload(
        &self,
        key: &str,
        data: Bytes,
        if_generation: Option<i64>,
        content_type: &str,
        index: Option<String>,
    ) -> Result<i64, StoreCause> {
        let boundary = format!("k8sless-{}", uuid::Uuid::new_v4().simple());
        let mut meta = serde_json::json!({ "name": key, "contentType": content_type });
        if let Some(packed) = index.as_deref().and_then(packed::pack) {
            meta["metadata"] = serde_json::json!({ PACKED_INDEX_KEY: packed });
        }
        let mut body = Vec::with_capacity(data.len() + 256);
        body.extend_from_slice(format!("--{boundary}\r\nContent-Type: application/json; charset=UTF-8\r\n\r\n{meta}\r\n--{boundary}\r\nContent-Type: {content_type}\r\n\r\n").as_bytes());
        body.extend_from_slice(&data);
        body.extend_from_slice(format!("\r\n--{boundary}--\r\n").as_bytes());
        let body = Bytes::from(body);
        let url = format!("{}/upload/storage/v1/b/{}/o", self.endpoint, self.bucket);
        let multipart = format!("multipart/related; boundary={boundary}");
        let mut query = vec![("uploadType", "multipart".to_string())];
        if let Some(g) = if_generation {
            query.push(("ifGenerationMatch", g.to_string()));
        }
        let (_, response) = self
            .send(|| {
                self.http
                    .post(&url)
                    .query(&query)
                    .header(reqwest::header::CONTENT_TYPE, &multipart)
                    .body(body.clone())
            })
            .await?;
        let generation = generation(&decode::<ObjectResource>("upload answer", &response)?)?;
        self.remember(key, generation, data);
        Ok(generation)
    }

    /// Keeps a record's body by generation; archived logs (up to 16 MiB each) are not kept.
    fn remember(&self, key: &str, generation: i64, data: Bytes) {
        if key.starts_with("logs/") {
            return;
        }
        self.cache.keep(key.to_string(), generation, data);
    }

    fn cached(&self, key: &str, generation: i64) -> Option<Bytes> {
        self.cache.get(key, generation)
    }

    async fn download(&self, key: &str, generation: Option<i64>) -> Result<Record, StoreCause> {
        let url = self.object_url(key);
        let mut query = vec![("alt", "media".to_string())];
        if let Some(g) = generation {
            query.push(("generation", g.to_string()));
        }
        let (headers, body) = self.send(|| self.http.get(&url).query(&query)).await?;
        let generation = match headers
            .get("x-goog-generation")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse().ok())
        {
            Some(g) => g,
            None => match generation {
                Some(g) => g,
                None => self.metadata_generation(key).await?,
            },
        };
        self.remember(key, generation, body.clone());
        Ok(Record {
            key: key.to_string(),
            data: body,
            generation,
        })
    }

    async fn metadata_generation(&self, key: &str) -> Result<i64, StoreCause> {
        let url = self.object_url(key);
        let (_, body) = self.send(|| self.http.get(&url)).await?;
        generation(&decode::<ObjectResource>("object metadata", &body)?)
    }
}

/// Maps a failed call on `key`; `precondition` is what a 412 means for this call.
fn classify(
    operation: &'static str,
    key: &str,
    cause: StoreCause,
    precondition: fn(String) -> StoreError,
) -> StoreError {
    let key = key.to_string();
    match cause.status() {
        Some(404) => StoreError::NotFound { key },
        Some(412) => precondition(key),
        Some(409) => StoreError::Conflict { key },
        _ if cause.is_transient() => StoreError::Unavailable {
            operation,
            key,
            source: cause,
        },
        _ => StoreError::Internal {
            operation,
            key,
            source: cause,
        },
    }
}

fn conflict(key: String) -> StoreError {
    StoreError::Conflict { key }
}

fn already_exists(key: String) -> StoreError {
    StoreError::AlreadyExists { key }
}

#[async_trait]
impl RecordStore for GcsStore {
    async fn create(&self, key: &str, data: Bytes) -> Result<i64, StoreError> {
        self.create_indexed(key, data, None).await
    }

    async fn create_indexed(
        &self,
        key: &str,
        data: Bytes,
        index: Option<String>,
    ) -> Result<i64, StoreError> {
        self.upload(key, data, Some(0), JSON, index)
            .await
            .map_err(|cause| classify("create", key, cause, already_exists))
    }

    async fn update_indexed(
        &self,
        key: &str,
        data: Bytes,
        index: Option<String>,
        generation: i64,
    ) -> Result<i64, StoreError> {
        if generation <= 0 {
            return Err(conflict(key.to_string()));
        }
        self.upload(key, data, Some(generation), JSON, index)
            .await
            .map_err(|cause| classify("update", key, cause, conflict))
    }

    /// One listing for the names, generations and indexes; bodies downloaded (or taken from
    /// the cache) only for records without an index.
    async fn list_entries(
        &self,
        prefix: &str,
        start_after: Option<&str>,
        limit: usize,
    ) -> Result<EntryPage, StoreError> {
        let (names, next) = self.list_page(prefix, start_after, limit).await?;
        self.entries(names, next).await
    }

    async fn list_range_entries(
        &self,
        prefix: &str,
        start_after: Option<&str>,
        end_before: Option<&str>,
    ) -> Result<EntryPage, StoreError> {
        let names = self
            .list_names(prefix, start_after, end_before, usize::MAX)
            .await?;
        self.entries(names, None).await
    }

    async fn list_prefixes(
        &self,
        prefix: &str,
        from: Option<&str>,
    ) -> Result<Option<Vec<String>>, StoreError> {
        self.delimited_prefixes(prefix, from).await
    }

    async fn bodies(
        &self,
        listed: &[(String, i64)],
    ) -> Result<(Vec<Record>, Vec<Unreadable>), StoreError> {
        let names: Vec<Listed> = listed.iter().map(|(k, g)| (k.clone(), *g, None)).collect();
        self.fetch_all(&names).await
    }

    async fn get(&self, key: &str) -> Result<Record, StoreError> {
        self.download(key, None)
            .await
            .map_err(|cause| classify("get", key, cause, conflict))
    }

    async fn update(&self, key: &str, data: Bytes, generation: i64) -> Result<i64, StoreError> {
        self.update_indexed(key, data, None, generation).await
    }

    async fn put(&self, key: &str, data: Bytes, content_type: &str) -> Result<i64, StoreError> {
        self.upload(key, data, None, content_type, None)
            .await
            .map_err(|cause| classify("put", key, cause, conflict))
    }

    async fn delete(&self, key: &str, generation: Option<i64>) -> Result<(), StoreError> {
        let url = self.object_url(key);
        let query: Vec<(&str, String)> = generation
            .map(|g| vec![("ifGenerationMatch", g.to_string())])
            .unwrap_or_default();
        self.send(|| self.http.delete(&url).query(&query))
            .await
            .map_err(|cause| classify("delete", key, cause, conflict))?;
        self.cache.forget(key);
        Ok(())
    }

    async fn list(
        &self,
        prefix: &str,
        start_after: Option<&str>,
        limit: usize,
    ) -> Result<Page, StoreError> {
        let (names, next) = self.list_page(prefix, start_after, limit).await?;
        let (records, unreadable) = self.fetch_all(&names).await?;
        Ok(Page {
            records,
            next,
            unreadable,
        })
    }

    /// Lists at most one record name (`storage.objects.list`, which `roles/storage.objectUser`
    /// holds; reading the bucket's metadata would need `storage.buckets.get`, which it does not).
    async fn ready(&self) -> Result<(), StoreError> {
        let url = format!("{}/storage/v1/b/{}/o", self.endpoint, self.bucket);
        let query = [
            ("prefix", "pods/"),
            ("maxResults", "1"),
            ("fields", "nextPageToken"),
        ];
        self.send(|| self.http.get(&url).query(&query))
            .await
            .map(|_| ())
            .map_err(|cause| classify("ready", &self.bucket, cause, conflict))
    }
}
