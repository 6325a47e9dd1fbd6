//! The `entries:list` client: one page, or up to `max_pages` pages in one order.

use std::sync::Arc;
use std::time::Duration;

use serde::Deserialize;
use serde_json::{Value, json};

use super::LoggingError;
use crate::auth::TokenSource;
use crate::store::RecordStore;

/// Reads containers' lines from Cloud Logging.
#[derive(Debug, Clone)]
pub struct CloudLogging {
    http: reqwest::Client,
    /// API base, without `/v2`.
    endpoint: String,
    /// Project whose logs hold the VMs' entries.
    project: String,
    auth: TokenSource,
    /// Pod records (for the VM's instance id and insert time).
    pub(crate) store: Arc<dyn RecordStore>,
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
    ) -> Result<Self, String> {
        let http = crate::http::client("logging client", |b| b.timeout(Duration::from_secs(20)))?;
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
    ) -> Result<(Vec<Entry>, Option<String>), LoggingError> {
        let mut body = json!({
            "resourceNames": [format!("projects/{}", self.project)],
            "filter": filter,
            "orderBy": order,
            "pageSize": self.page_size,
        });
        if let Some(t) = token {
            body["pageToken"] = Value::String(t.to_string());
        }
        let request = self
            .http
            .post(format!("{}/v2/entries:list", self.endpoint))
            .json(&body);
        let request = (self.auth.authorize(request).await)
            .map_err(|e| LoggingError::Credentials { source: e.into() })?;
        let response = request
            .send()
            .await
            .map_err(|source| LoggingError::Unreachable { source })?;
        let status = response.status();
        if !status.is_success() {
            return Err(LoggingError::Rejected {
                status: status.as_u16(),
                body: response.text().await.unwrap_or_default(),
            });
        }
        let page: Page = response
            .json()
            .await
            .map_err(|source| LoggingError::Undecodable { source })?;
        Ok((page.entries, page.next_page_token.filter(|t| !t.is_empty())))
    }

    /// The project whose logs are read.
    pub(crate) fn project(&self) -> &str {
        &self.project
    }

    /// The first page in `order` (a follower's poll: one call).
    pub(crate) async fn one_page(
        &self,
        filter: &str,
        order: &str,
    ) -> Result<Vec<Entry>, LoggingError> {
        Ok(self.page(filter, order, None).await?.0)
    }

    /// Up to `max_pages` pages in `order`, and whether more remained.
    pub(crate) async fn pages(
        &self,
        filter: &str,
        order: &str,
    ) -> Result<(Vec<Entry>, bool), LoggingError> {
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

/// The log the guest writes containers' lines to (`entries:write`, docs/guest.md).
pub(crate) const LOG_ID: &str = "k8sless-containers";

/// The filter for one container of one VM since `since`, in the guest's log of `project`.
pub(crate) fn filter(
    project: &str,
    instance_id: &str,
    namespace: &str,
    pod: &str,
    container: &str,
    since: Option<jiff::Timestamp>,
) -> String {
    let mut f = format!(
        "logName=\"projects/{}/logs/{LOG_ID}\" AND resource.type=\"gce_instance\" AND resource.labels.instance_id=\"{}\" AND jsonPayload.SYSLOG_IDENTIFIER=\"{}\"",
        quote(project),
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

/// One log entry, the fields a container line needs.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Entry {
    #[serde(default)]
    pub(crate) timestamp: Option<jiff::Timestamp>,
    #[serde(default)]
    text_payload: Option<String>,
    #[serde(default)]
    json_payload: Option<serde_json::Map<String, Value>>,
}

impl Entry {
    /// The line's text: `textPayload`, else the journal's `MESSAGE` (or `message`), without
    /// the trailing newline.
    pub(crate) fn text(self) -> String {
        let text = self.text_payload.or_else(|| {
            self.json_payload.and_then(|p| {
                ["MESSAGE", "message"]
                    .iter()
                    .find_map(|k| p.get(*k).and_then(Value::as_str).map(str::to_string))
            })
        });
        text.unwrap_or_default().trim_end_matches('\n').to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn filter_names_vm_container_and_window() {
        let t: jiff::Timestamp = "2026-01-02T03:04:05Z".parse().unwrap();
        assert_eq!(
            filter("p1", "123", "default", "demo", "main", Some(t)),
            "logName=\"projects/p1/logs/k8sless-containers\" AND resource.type=\"gce_instance\" AND resource.labels.instance_id=\"123\" AND jsonPayload.SYSLOG_IDENTIFIER=\"default/demo/main\" AND timestamp>=\"2026-01-02T03:04:05Z\""
        );
    }

    #[test]
    fn entry_text() {
        let e: Entry = serde_json::from_value(json!({
            "timestamp": "2026-01-02T03:04:05.5Z",
            "jsonPayload": {"MESSAGE": "hello\n", "SYSLOG_IDENTIFIER": "a/b/c"}
        }))
        .unwrap();
        assert!(e.timestamp.is_some());
        assert_eq!(e.text(), "hello");
        let e: Entry = serde_json::from_value(json!({"textPayload": "x"})).unwrap();
        assert_eq!(e.text(), "x");
    }
}
