//! Reading pods: one by name, or lists filtered by label and field selectors, paged with
//! `limit` and an opaque `continue` token.
//!
//! # Caveats
//! Lists page over the record store in key order; a page is not a snapshot of all pages (Cloud
//! Storage has no multi-object snapshot), which Kubernetes' own inconsistent-continue mode also
//! allows. Each pod appears at most once across pages, in name order.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use k8s_openapi::List;
use k8s_openapi::api::core::v1::Pod;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ListMeta;
use serde_json::{Value, json};

use crate::error::{Error, Result};
use crate::pods::Pods;
use crate::pods::index;
use crate::pods::record::{self, PodRecord};
use crate::pods::selector::{FieldSelector, LabelSelector};
use crate::store::{EntryPage, Pager};

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

/// A page of pods.
#[derive(Debug, Clone)]
pub struct PodPage {
    /// Matching records.
    pub items: Vec<PodRecord>,
    /// Token for the next page.
    pub continue_token: Option<String>,
    /// Highest resourceVersion seen while listing (the list's resourceVersion).
    pub resource_version: i64,
}

impl PodPage {
    /// The `PodList`.
    pub fn to_list(&self) -> List<Pod> {
        List {
            items: self.items.iter().map(|r| r.pod.clone()).collect(),
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

    /// One pod's record.
    pub async fn get_record(&self, namespace: &str, name: &str) -> Result<PodRecord> {
        record::load(&self.store, namespace, name).await
    }

    /// A page of pods in `namespace` (all namespaces when `None`).
    pub async fn list(&self, namespace: Option<&str>, opts: &ListOptions) -> Result<PodPage> {
        let namespace = namespace.or(opts.fields.pinned("metadata.namespace"));
        let prefix = record::prefix(namespace);
        let start = match &opts.continue_token {
            Some(t) => Some(decode_continue(t, &prefix)?),
            None => None,
        };
        let limit = if opts.limit == 0 {
            usize::MAX
        } else {
            opts.limit
        };
        let mut items = Vec::new();
        let mut max_rv = 0i64;
        let mut continue_token = None;
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
                let rec = match index::decode(raw) {
                    Ok(r) => r,
                    Err(e) => {
                        tracing::error!(key = %raw.key, error = %e, "skipping a corrupt pod record");
                        continue;
                    }
                };
                if opts.labels.matches(rec.pod.metadata.labels.as_ref())
                    && opts.fields.matches(&rec.pod)
                {
                    items.push(rec);
                    if items.len() == limit {
                        let more = i + 1 < count || page.next.is_some();
                        if more {
                            continue_token = Some(encode_continue(&raw.key));
                        }
                        return Ok(PodPage {
                            items,
                            continue_token,
                            resource_version: max_rv,
                        });
                    }
                }
            }
        }
        Ok(PodPage {
            items,
            continue_token,
            resource_version: max_rv,
        })
    }
}

fn encode_continue(key: &str) -> String {
    URL_SAFE_NO_PAD.encode(json!({ "v": 1, "start": key }).to_string().as_bytes())
}

fn decode_continue(token: &str, prefix: &str) -> Result<String> {
    let bad = || Error::bad_request(format!("continue key is not valid: {token:?}"));
    let bytes = URL_SAFE_NO_PAD.decode(token).map_err(|_| bad())?;
    let v: Value = serde_json::from_slice(&bytes).map_err(|_| bad())?;
    let start = v.get("start").and_then(Value::as_str).ok_or_else(bad)?;
    if !start.starts_with(prefix) {
        return Err(bad());
    }
    Ok(start.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn continue_tokens_round_trip_and_are_checked() {
        let t = encode_continue("pods/default/a.json");
        assert_eq!(
            decode_continue(&t, "pods/default/").ok().as_deref(),
            Some("pods/default/a.json")
        );
        assert!(decode_continue(&t, "pods/other/").is_err());
        assert!(decode_continue("!!", "pods/").is_err());
    }
}
