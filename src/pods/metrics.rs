//! `kubectl top pod`: the `metrics.k8s.io/v1beta1` `PodMetrics` of a pod, read from its
//! kubelet's Summary API (`/stats/summary`) at the moment of the request. metrics-server
//! scrapes kubelets every 15 s and needs two scrapes before a pod has CPU; reading kubelet's
//! own `usageNanoCores` directly gives a pod metrics from its first seconds.
//!
//! The shape and the quantities are metrics-server's (pkg/api/pod.go, pkg/storage): CPU as
//! nanocores (`123456n`), memory as the working set in bytes, in binary units when exact
//! (`1234Ki`). A pod with no metrics (not running, kubelet unreachable) is 404
//! `pods.metrics.k8s.io "ns/name" not found`, as metrics-server words it; a list leaves such
//! pods out.

use futures_util::StreamExt as _;
use serde_json::{Value, json};

use crate::error::{Error, Result};
use crate::kubelet::summary::Summary;
use crate::pods::Pods;
use crate::pods::crud::read::ListOptions;
use crate::pods::record::{self, PodRecord};

/// Largest Summary answer read (a one-pod VM's is a few KiB).
const SUMMARY_MAX: usize = 1 << 20;
/// Pods whose kubelets a list asks at once.
const LIST_CONCURRENCY: usize = 16;
/// Pods a list reports at most (each costs a record read, an instance get and a kubelet call).
const LIST_MAX: usize = 500;
/// The window metrics-server reports for kubelet's rates (kubelet's CPU rate is over its last
/// stats interval; metrics-server reports its own scrape interval, 15 s by default).
const WINDOW: &str = "15s";

/// The resource kubectl names in errors.
const RESOURCE: &str = "pods.metrics.k8s.io";

fn not_found(namespace: &str, name: &str) -> Error {
    Error::NotFound {
        kind: RESOURCE,
        name: format!("{namespace}/{name}"),
    }
}

/// A CPU quantity from nanocores, as metrics-server writes it (`resource.NewScaledQuantity(n,
/// resource.Nano)`, canonicalized).
pub(crate) fn cpu_quantity(nanocores: u64) -> String {
    if nanocores == 0 {
        return "0".into();
    }
    for (div, suffix) in [(1_000_000_000u64, ""), (1_000_000, "m"), (1_000, "u")] {
        if nanocores % div == 0 {
            return format!("{}{suffix}", nanocores / div);
        }
    }
    format!("{nanocores}n")
}

/// A memory quantity from bytes, in binary units when exact (`BinarySI`).
pub(crate) fn memory_quantity(bytes: u64) -> String {
    if bytes == 0 {
        return "0".into();
    }
    let mut value = bytes;
    let mut suffix = "";
    for s in ["Ki", "Mi", "Gi", "Ti"] {
        if value % 1024 != 0 {
            break;
        }
        value /= 1024;
        suffix = s;
    }
    format!("{value}{suffix}")
}

/// The `PodMetrics` object of `rec` from its kubelet's `summary`.
pub(crate) fn pod_metrics(rec: &PodRecord, summary: &Summary) -> Option<Value> {
    let meta = &rec.pod.metadata;
    let (namespace, name) = (meta.namespace.as_deref()?, meta.name.as_deref()?);
    let stats = summary
        .pods
        .iter()
        .find(|p| p.pod_ref.namespace == namespace && p.pod_ref.name == name)?;
    let mut timestamp = None;
    let containers: Vec<Value> = stats
        .containers
        .iter()
        .filter_map(|c| {
            let cpu = c.cpu.as_ref()?;
            let memory = c.memory.as_ref()?;
            timestamp.get_or_insert_with(|| cpu.time.clone());
            Some(json!({
                "name": c.name,
                "usage": {
                    "cpu": cpu_quantity(cpu.usage_nano_cores.unwrap_or(0)),
                    "memory": memory_quantity(memory.working_set_bytes.unwrap_or(0)),
                },
            }))
        })
        .collect();
    if containers.is_empty() {
        return None;
    }
    let now = jiff::Timestamp::now();
    Some(json!({
        "kind": "PodMetrics",
        "apiVersion": "metrics.k8s.io/v1beta1",
        "metadata": {
            "name": name,
            "namespace": namespace,
            "creationTimestamp": crate::pods::k8s_time(now),
            "labels": meta.labels.clone().unwrap_or_default(),
        },
        "timestamp": timestamp.unwrap_or_else(|| now.to_string()),
        "window": WINDOW,
        "containers": containers,
    }))
}

impl Pods {
    /// `GET .../namespaces/{ns}/pods/{name}` of `metrics.k8s.io/v1beta1`.
    ///
    /// # Errors
    /// 405 when this deployment does not reach kubelets; 404 `pods "ns/name"` for no such pod
    /// and `pods.metrics.k8s.io "ns/name"` for a pod without metrics.
    pub(crate) async fn pod_metrics(&self, namespace: &str, name: &str) -> Result<Value> {
        self.require_kubelet("top")?;
        let rec = match record::load(&self.store, namespace, name).await {
            Ok(r) => r,
            Err(Error::NotFound { .. }) => {
                return Err(Error::NotFound {
                    kind: "pods",
                    name: format!("{namespace}/{name}"),
                });
            }
            Err(e) => return Err(e),
        };
        match self.metrics_of(&rec).await {
            Ok(Some(m)) => Ok(m),
            Ok(None) => Err(not_found(namespace, name)),
            Err(e) => {
                tracing::info!(pod = %format!("{namespace}/{name}"), error = %e.chain(), "no metrics from kubelet");
                Err(not_found(namespace, name))
            }
        }
    }

    /// `PodMetricsList` of the pods matching `opts` (all namespaces when `None`).
    pub(crate) async fn pod_metrics_list(
        &self,
        namespace: Option<&str>,
        opts: &ListOptions,
    ) -> Result<Value> {
        self.require_kubelet("top")?;
        let page = self.list(namespace, opts).await?;
        let running: Vec<(String, String)> = page
            .items
            .iter()
            .filter(|r| !r.is_finished())
            .filter_map(|r| {
                Some((
                    r.pod.metadata.namespace.clone()?,
                    r.pod.metadata.name.clone()?,
                ))
            })
            .take(LIST_MAX)
            .collect();
        let items: Vec<Value> = futures_util::stream::iter(running)
            .map(|(ns, name)| async move {
                let rec = record::load(&self.store, &ns, &name).await.ok()?;
                self.metrics_of(&rec).await.ok().flatten()
            })
            .buffered(LIST_CONCURRENCY)
            .filter_map(|m| async move { m })
            .collect()
            .await;
        Ok(json!({
            "kind": "PodMetricsList",
            "apiVersion": "metrics.k8s.io/v1beta1",
            "metadata": {},
            "items": items,
        }))
    }

    /// 405 with what is missing when this deployment does not reach kubelets.
    pub(crate) fn require_kubelet(&self, verb: &str) -> Result<()> {
        if self.kubelet.enabled() {
            Ok(())
        } else {
            Err(Error::MethodNotAllowed {
                message: crate::kubelet::not_configured(verb),
            })
        }
    }

    /// A record's metrics from its kubelet (`None`: a finished pod, or no container stats).
    async fn metrics_of(&self, rec: &PodRecord) -> Result<Option<Value>> {
        if rec.is_finished() || rec.kubelet_pki.is_none() {
            return Ok(None);
        }
        let client = self.kubelet_of(rec).await?;
        let body = client.get_bytes("/stats/summary", SUMMARY_MAX).await?;
        let summary: Summary = serde_json::from_slice(&body)
            .map_err(|e| Error::unavailable_from("kubelet's stats did not parse", e))?;
        Ok(pod_metrics(rec, &summary))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quantities_are_canonical_as_metrics_server_writes_them() {
        assert_eq!(cpu_quantity(0), "0");
        assert_eq!(cpu_quantity(1_234_567), "1234567n");
        assert_eq!(cpu_quantity(5_000_000), "5m");
        assert_eq!(cpu_quantity(2_000_000_000), "2");
        assert_eq!(memory_quantity(1_048_576), "1Mi");
        assert_eq!(memory_quantity(1_536 * 1024), "1536Ki");
        assert_eq!(memory_quantity(1_000), "1000");
    }
}
