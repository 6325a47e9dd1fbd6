//! The one Compute Engine client. Every other module goes through it; nothing else builds
//! Compute URLs or JSON.
//!
//! # Guarantees
//! - Every call has a timeout and a tracing span with method, zone and instance.
//! - Transient failures (429, 403 rateLimitExceeded, 500/502/503/504, timeouts, connection
//!   errors) are retried with jittered exponential backoff until the policy's deadline;
//!   400, 404, 409 and 412 never are.
//! - Mutations pass a client-side rate limiter first, so bursts queue instead of failing.
//! - `insert` carries a `requestId`: retries of one logical insert are deduplicated by Compute
//!   Engine itself, and an `alreadyExists` for a VM owned by the same pod counts as success.
//! - An operation that ends with `error` set is a failure, even when its HTTP call was 200.

use std::collections::BTreeMap;
use std::time::Duration;

use reqwest::Method;
use serde::Serialize;
use serde::de::DeserializeOwned;
use tracing::Instrument;
use uuid::Uuid;

use super::error::GceError;
use super::request::{ListFilter, Urls};
use super::types::{
    GoogleErrorEnvelope, Instance, InstanceList, InstancesSetLabelsRequest, Metadata, Operation,
    OperationStatus,
};
use crate::auth::TokenSource;
use crate::retry::{RateLimiter, RetryPolicy};

/// Settings of a [`Client`].
#[derive(Debug, Clone)]
pub struct ClientConfig {
    /// API base, e.g. `https://compute.googleapis.com/compute/v1`.
    pub endpoint: String,
    /// Project.
    pub project: String,
    /// Zones `list_all` covers (the configured region's).
    pub zones: Vec<String>,
    /// Mutations per second (0: unlimited).
    pub mutations_per_second: f64,
    /// Timeout of one HTTP attempt.
    pub timeout: Duration,
    /// Retry policy.
    pub retry: RetryPolicy,
}

/// What an idempotent insert found.
#[derive(Debug, Clone, PartialEq)]
pub enum Inserted {
    /// Compute Engine accepted the insert (or deduplicated a retry of it).
    Started(Box<Operation>),
    /// The VM already exists and belongs to the same pod.
    AlreadyOwned,
}

/// The Compute Engine client.
#[derive(Debug)]
pub struct Client {
    http: reqwest::Client,
    urls: Urls,
    zones: Vec<String>,
    auth: TokenSource,
    limiter: RateLimiter,
    retry: RetryPolicy,
    timeout: Duration,
}

impl Client {
    /// A client; `auth` is usually [`TokenSource::for_endpoint`].
    pub fn new(config: ClientConfig, auth: TokenSource) -> Result<Self, String> {
        let http = crate::http::client("http client", |b| b.pool_max_idle_per_host(64))?;
        Ok(Client {
            http,
            urls: Urls::new(&config.endpoint, &config.project),
            zones: config.zones,
            auth,
            limiter: RateLimiter::new(config.mutations_per_second, 1),
            retry: config.retry,
            timeout: config.timeout,
        })
    }

    /// The project.
    pub fn project(&self) -> &str {
        self.urls.project()
    }

    /// The zones `list_all` covers.
    pub fn zones(&self) -> &[String] {
        &self.zones
    }

    /// `instances.insert` with a `requestId`. Returns the operation (not waited for).
    pub async fn insert(
        &self,
        zone: &str,
        instance: &Instance,
        request_id: Uuid,
    ) -> Result<Operation, GceError> {
        let url = self.urls.instances(zone);
        let query = [("requestId", request_id.to_string())];
        self.mutate(
            Call::new("instances.insert", Method::POST, &url, zone, &instance.name)
                .mutation()
                .query(query),
            Some(instance),
        )
        .await
    }

    /// Insert that treats "already exists, owned by the same pod" as success. `owner` is a
    /// label `(key, value)` that identifies the pod (its uid); a VM with the same name but
    /// another owner is a real conflict.
    pub async fn insert_idempotent(
        &self,
        zone: &str,
        instance: &Instance,
        request_id: Uuid,
        owner: (&str, &str),
    ) -> Result<Inserted, GceError> {
        match self.insert(zone, instance, request_id).await {
            Ok(op) => Ok(Inserted::Started(Box::new(op))),
            Err(err @ GceError::AlreadyExists { .. }) => {
                let existing = self.get(zone, &instance.name).await?;
                if existing.labels.get(owner.0).map(String::as_str) == Some(owner.1) {
                    Ok(Inserted::AlreadyOwned)
                } else {
                    Err(err)
                }
            }
            Err(other) => Err(other),
        }
    }

    /// `instances.get`.
    pub async fn get(&self, zone: &str, name: &str) -> Result<Instance, GceError> {
        let url = self.urls.instance(zone, name);
        self.call(
            Call::new("instances.get", Method::GET, &url, zone, name),
            NO_BODY,
        )
        .await
    }

    /// `instances.list`, one page.
    pub async fn list(
        &self,
        zone: &str,
        filter: &ListFilter,
        max_results: u32,
        page_token: Option<&str>,
    ) -> Result<InstanceList, GceError> {
        let url = self.urls.instances(zone);
        let mut query = vec![("maxResults", max_results.to_string())];
        if let Some(expr) = filter.expression() {
            query.push(("filter", expr));
        }
        if let Some(token) = page_token {
            query.push(("pageToken", token.to_string()));
        }
        if let Some(fields) = filter.fields_param() {
            query.push(("fields", fields.to_string()));
        }
        self.call(
            Call::new("instances.list", Method::GET, &url, zone, "").query(query),
            NO_BODY,
        )
        .await
    }

    /// Every instance matching `filter` in every configured zone, all pages.
    pub async fn list_all(&self, filter: &ListFilter) -> Result<Vec<Instance>, GceError> {
        let lists = futures_util::future::join_all(
            self.zones.iter().map(|zone| self.list_zone(zone, filter)),
        )
        .await;
        let mut all = Vec::new();
        for list in lists {
            all.extend(list?);
        }
        Ok(all)
    }

    /// Every instance matching `filter` in one zone, all pages.
    pub async fn list_zone(
        &self,
        zone: &str,
        filter: &ListFilter,
    ) -> Result<Vec<Instance>, GceError> {
        let mut all = Vec::new();
        let mut token: Option<String> = None;
        loop {
            let page = self.list(zone, filter, 500, token.as_deref()).await?;
            all.extend(page.items);
            match page.next_page_token {
                Some(next) if !next.is_empty() => token = Some(next),
                _ => return Ok(all),
            }
        }
    }

    /// `instances.delete`. A missing instance is [`GceError::NotFound`].
    pub async fn delete(&self, zone: &str, name: &str) -> Result<Operation, GceError> {
        let url = self.urls.instance(zone, name);
        let query = [("requestId", Uuid::new_v4().to_string())];
        self.mutate(
            Call::new("instances.delete", Method::DELETE, &url, zone, name)
                .mutation()
                .query(query),
            NO_BODY,
        )
        .await
    }

    /// `instances.stop`.
    pub async fn stop(&self, zone: &str, name: &str) -> Result<Operation, GceError> {
        self.instance_action(zone, name, "instances.stop", "stop", NO_BODY)
            .await
    }

    /// `instances.setLabels`; a stale fingerprint is [`GceError::Conflict`].
    pub async fn set_labels(
        &self,
        zone: &str,
        name: &str,
        labels: BTreeMap<String, String>,
        fingerprint: &str,
    ) -> Result<Operation, GceError> {
        let body = InstancesSetLabelsRequest {
            labels,
            label_fingerprint: Some(fingerprint.to_string()),
        };
        self.instance_action(zone, name, "instances.setLabels", "setLabels", Some(&body))
            .await
    }

    /// `instances.setMetadata`; `metadata.fingerprint` must be the one read; stale is a conflict.
    pub async fn set_metadata(
        &self,
        zone: &str,
        name: &str,
        metadata: &Metadata,
    ) -> Result<Operation, GceError> {
        self.instance_action(
            zone,
            name,
            "instances.setMetadata",
            "setMetadata",
            Some(metadata),
        )
        .await
    }

    /// `zoneOperations.get`.
    pub async fn get_operation(&self, zone: &str, operation: &str) -> Result<Operation, GceError> {
        let url = self.urls.operation(zone, operation);
        self.call(
            Call::new("zoneOperations.get", Method::GET, &url, zone, ""),
            NO_BODY,
        )
        .await
    }

    /// Waits until the operation is `DONE` (each `zoneOperations.wait` blocks up to about two
    /// minutes server-side) or `deadline` passes; a `DONE` operation with `error` is an error.
    pub async fn wait_operation(
        &self,
        zone: &str,
        operation: &str,
        deadline: Duration,
    ) -> Result<Operation, GceError> {
        let url = self.urls.operation_wait(zone, operation);
        let until = tokio::time::Instant::now() + deadline;
        loop {
            let op: Operation = self
                .call(
                    Call::new("zoneOperations.wait", Method::POST, &url, zone, ""),
                    NO_BODY,
                )
                .await?;
            if op.status == OperationStatus::Done {
                return check_operation("zoneOperations.wait", zone, op);
            }
            if tokio::time::Instant::now() >= until {
                return Err(GceError::Transient {
                    method: "zoneOperations.wait",
                    message: format!("operation {operation} not done after {deadline:?}"),
                    source: None,
                });
            }
        }
    }

    /// `POST`s `body` to the instance's `action` (`method` names it in spans and errors).
    async fn instance_action<B: Serialize>(
        &self,
        zone: &str,
        name: &str,
        method: &'static str,
        action: &str,
        body: Option<&B>,
    ) -> Result<Operation, GceError> {
        let url = self.urls.instance_action(zone, name, action);
        self.mutate(
            Call::new(method, Method::POST, &url, zone, name).mutation(),
            body,
        )
        .await
    }

    /// A call that starts an operation; an operation already failed is the call's failure.
    async fn mutate<B: Serialize>(
        &self,
        call: Call<'_>,
        body: Option<&B>,
    ) -> Result<Operation, GceError> {
        let (method, zone) = (call.method, call.zone);
        let op = self.call(call, body).await?;
        check_operation(method, zone, op)
    }

    /// One logical call: rate limit (mutations), attempts with timeout, retries, span.
    async fn call<B: Serialize, T: DeserializeOwned>(
        &self,
        call: Call<'_>,
        body: Option<&B>,
    ) -> Result<T, GceError> {
        let span = tracing::debug_span!(
            "gce",
            method = call.method,
            zone = call.zone,
            instance = call.instance
        );
        self.retry
            .run(
                |_| async {
                    if call.mutation {
                        self.limiter.acquire().await;
                    }
                    self.attempt(&call, body).await
                },
                GceError::is_transient,
            )
            .instrument(span)
            .await
    }

    async fn attempt<B: Serialize, T: DeserializeOwned>(
        &self,
        call: &Call<'_>,
        body: Option<&B>,
    ) -> Result<T, GceError> {
        let method = call.method;
        let mut request = self
            .http
            .request(call.verb.clone(), call.url)
            .timeout(self.timeout)
            .query(&call.query);
        request = (self.auth.authorize(request).await)
            .map_err(|e| GceError::transport(method, "credentials", e))?;
        if let Some(body) = body {
            request = request.json(body);
        }
        let response = request
            .send()
            .await
            .map_err(|e| GceError::transport(method, "sending the request", e))?;
        let status = response.status();
        let bytes = response
            .bytes()
            .await
            .map_err(|e| GceError::transport(method, "reading the answer", e))?;
        if status.is_success() {
            return serde_json::from_slice(&bytes).map_err(|e| GceError::undecodable(method, e));
        }
        let envelope: Option<GoogleErrorEnvelope> = serde_json::from_slice(&bytes).ok();
        Err(GceError::from_http(
            method,
            call.zone,
            status.as_u16(),
            envelope.as_ref().map(|e| &e.error),
        ))
    }
}

/// The body of a call that sends none.
const NO_BODY: Option<&()> = None;

/// One logical Compute Engine call: the API method (for spans and errors), the zone and
/// instance it concerns, the HTTP request, and whether it is a mutation (rate-limited).
#[derive(Debug)]
struct Call<'a> {
    method: &'static str,
    verb: Method,
    url: &'a str,
    zone: &'a str,
    instance: &'a str,
    query: Vec<(&'static str, String)>,
    mutation: bool,
}

impl<'a> Call<'a> {
    /// A call that changes nothing (reads, and waiting on an operation), unless made a
    /// [`mutation`](Call::mutation).
    fn new(
        method: &'static str,
        verb: Method,
        url: &'a str,
        zone: &'a str,
        instance: &'a str,
    ) -> Self {
        Call {
            method,
            verb,
            url,
            zone,
            instance,
            query: Vec::new(),
            mutation: false,
        }
    }

    /// The call as a mutation: it passes the rate limiter first.
    fn mutation(self) -> Self {
        Call {
            mutation: true,
            ..self
        }
    }

    fn query(mut self, query: impl IntoIterator<Item = (&'static str, String)>) -> Self {
        self.query.extend(query);
        self
    }
}

/// An operation already `DONE` with `error` set is the call's failure.
fn check_operation(method: &'static str, zone: &str, op: Operation) -> Result<Operation, GceError> {
    match (&op.status, &op.error) {
        (OperationStatus::Done, Some(error)) if !error.errors.is_empty() => {
            Err(GceError::from_operation(method, zone, error))
        }
        _ => Ok(op),
    }
}
