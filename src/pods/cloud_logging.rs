//! A running pod's container log from Cloud Logging (`entries:list`).
//!
//! The guest writes each container's lines to the VM's journal with the identifier
//! `NAMESPACE/POD/CONTAINER` (`src/guest/files/k8sless-logship.sh`); COS's logging agent ships
//! the journal with the VM as the entry's resource. So one container's lines are the entries of
//! resource `gce_instance` with the pod's current instance id (from the pod record) and that
//! `jsonPayload.SYSLOG_IDENTIFIER`, since a little before the VM was inserted.

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use serde::Deserialize;
use serde_json::{Value, json};

use crate::auth::TokenSource;
use crate::error::{Error, Result};
use crate::pods::logs::{LogLine, LogSource};
use crate::pods::record;
use crate::store::RecordStore;

/// The public Cloud Logging API.
pub const DEFAULT_ENDPOINT: &str = "https://logging.googleapis.com";

/// How long before the VM's insert the window starts (clock skew, early boot).
const WINDOW_SLACK: Duration = Duration::from_secs(300);

/// Reads containers' lines from Cloud Logging.
#[derive(Debug, Clone)]
pub struct CloudLogging {
    /// HTTP client.
    pub http: reqwest::Client,
    /// API base, without `/v2`.
    pub endpoint: String,
    /// Project whose logs hold the VMs' entries.
    pub project: String,
    /// Credentials.
    pub auth: TokenSource,
    /// Pod records (for the VM's instance id and insert time).
    pub store: Arc<dyn RecordStore>,
    /// Entries per page (the service allows at most 1000).
    pub page_size: usize,
    /// Pages per call; a longer log is read newest first and the newest lines kept.
    pub max_pages: usize,
}

impl CloudLogging {
    /// A source with the production page sizes (1000 × 10).
    pub fn new(
        endpoint: &str,
        project: &str,
        auth: TokenSource,
        store: Arc<dyn RecordStore>,
    ) -> std::result::Result<Self, String> {
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(20))
            .build()
            .map_err(|e| format!("logging client: {e}"))?;
        Ok(CloudLogging {
            http,
            endpoint: endpoint.trim_end_matches('/').to_string(),
            project: project.to_string(),
            auth,
            store,
            page_size: 1000,
            max_pages: 10,
        })
    }

    /// One page: the entries and the next page's token.
    async fn page(
        &self,
        filter: &str,
        order: &str,
        token: Option<&str>,
    ) -> Result<(Vec<Entry>, Option<String>)> {
        let mut body = json!({
            "resourceNames": [format!("projects/{}", self.project)],
            "filter": filter,
            "orderBy": order,
            "pageSize": self.page_size,
        });
        if let Some(t) = token {
            body["pageToken"] = Value::String(t.to_string());
        }
        let mut request = self
            .http
            .post(format!("{}/v2/entries:list", self.endpoint))
            .json(&body);
        if let Some(bearer) = self.auth.bearer().await.map_err(|e| Error::internal(e.detail()))? {
            request = request.bearer_auth(bearer);
        }
        let response = request.send().await.map_err(|e| {
            tracing::warn!(error = %e, "Cloud Logging unreachable");
            Error::unavailable("Cloud Logging is unreachable; retry shortly")
        })?;
        let status = response.status();
        if !status.is_success() {
            let text = response.text().await.unwrap_or_default();
            tracing::warn!(%status, body = %text, "Cloud Logging entries:list failed");
            return Err(if status.is_server_error() || status.as_u16() == 429 {
                Error::unavailable("Cloud Logging is unavailable; retry shortly")
            } else {
                Error::internal(format!(
                    "Cloud Logging entries:list answered {status}: {text}"
                ))
            });
        }
        let page: Page = response
            .json()
            .await
            .map_err(|e| Error::internal(format!("Cloud Logging entries:list: {e}")))?;
        Ok((page.entries, page.next_page_token.filter(|t| !t.is_empty())))
    }

    /// Up to `max_pages` pages in `order`, and whether more remained.
    async fn pages(&self, filter: &str, order: &str) -> Result<(Vec<Entry>, bool)> {
        let mut all = Vec::new();
        let mut token: Option<String> = None;
        for _ in 0..self.max_pages.max(1) {
            let (entries, next) = self.page(filter, order, token.as_deref()).await?;
            all.extend(entries);
            match next {
                Some(t) => token = Some(t),
                None => return Ok((all, false)),
            }
        }
        Ok((all, true))
    }
}

/// The filter for one container of one VM since `since`.
pub fn filter(
    instance_id: &str,
    namespace: &str,
    pod: &str,
    container: &str,
    since: Option<jiff::Timestamp>,
) -> String {
    let mut f = format!(
        "resource.type=\"gce_instance\" AND resource.labels.instance_id=\"{}\" AND jsonPayload.SYSLOG_IDENTIFIER=\"{}\"",
        quote(instance_id),
        quote(&format!("{namespace}/{pod}/{container}"))
    );
    if let Some(t) = since {
        f.push_str(&format!(" AND timestamp>=\"{t}\""));
    }
    f
}

fn quote(s: &str) -> String {
    s.replace('\\', "\\\\").replace('"', "\\\"")
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Page {
    #[serde(default)]
    entries: Vec<Entry>,
    #[serde(default)]
    next_page_token: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Entry {
    #[serde(default)]
    timestamp: Option<jiff::Timestamp>,
    #[serde(default)]
    text_payload: Option<String>,
    #[serde(default)]
    json_payload: Option<serde_json::Map<String, Value>>,
}

impl Entry {
    /// The line: `textPayload`, else the journal's `MESSAGE` (or `message`).
    fn line(self) -> LogLine {
        let text = self.text_payload.or_else(|| {
            self.json_payload.and_then(|p| {
                ["MESSAGE", "message"]
                    .iter()
                    .find_map(|k| p.get(*k).and_then(Value::as_str).map(str::to_string))
            })
        });
        LogLine {
            time: self.timestamp,
            text: text.unwrap_or_default().trim_end_matches('\n').to_string(),
        }
    }
}

#[async_trait]
impl LogSource for CloudLogging {
    async fn lines(
        &self,
        namespace: &str,
        pod: &str,
        container: &str,
    ) -> Result<Option<Vec<LogLine>>> {
        let rec = match record::load(&self.store, namespace, pod).await {
            Ok(r) => r,
            Err(Error::NotFound { .. }) => return Ok(None),
            Err(e) => return Err(e),
        };
        let Some(instance_id) = rec.vm.instance_id.as_deref().filter(|i| !i.is_empty()) else {
            return Ok(None);
        };
        let since = rec
            .vm
            .inserted_at
            .or_else(|| rec.pod.metadata.creation_timestamp.as_ref().map(|t| t.0))
            .and_then(|t| t.checked_sub(WINDOW_SLACK).ok());
        let f = filter(instance_id, namespace, pod, container, since);
        let (entries, more) = self.pages(&f, "timestamp asc").await?;
        let entries = if more {
            // Longer than one call reads: keep the newest lines (what tail and follow want).
            let (mut newest, _) = self.pages(&f, "timestamp desc").await?;
            newest.reverse();
            newest
        } else {
            entries
        };
        Ok(Some(entries.into_iter().map(Entry::line).collect()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn filter_names_vm_container_and_window() {
        let t: jiff::Timestamp = "2026-01-02T03:04:05Z".parse().unwrap();
        assert_eq!(
            filter("123", "default", "demo", "main", Some(t)),
            "resource.type=\"gce_instance\" AND resource.labels.instance_id=\"123\" AND jsonPayload.SYSLOG_IDENTIFIER=\"default/demo/main\" AND timestamp>=\"2026-01-02T03:04:05Z\""
        );
    }

    #[test]
    fn entry_text() {
        let e: Entry = serde_json::from_value(json!({
            "timestamp": "2026-01-02T03:04:05.5Z",
            "jsonPayload": {"MESSAGE": "hello\n", "SYSLOG_IDENTIFIER": "a/b/c"}
        }))
        .unwrap();
        let l = e.line();
        assert_eq!(l.text, "hello");
        assert!(l.time.is_some());
        let e: Entry = serde_json::from_value(json!({"textPayload": "x"})).unwrap();
        assert_eq!(e.line().text, "x");
    }
}
