//! kubelet's Summary API (`GET /stats/summary`, k8s.io/kubelet pkg/apis/stats/v1alpha1
//! `Summary`), the parts `kubectl top pod` needs: per container, CPU in nanocores and the
//! memory working set, as metrics-server reads them. Unknown fields are ignored, so the real
//! kubelet's fuller answer parses too.

use serde::{Deserialize, Serialize};

/// The whole answer.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Summary {
    /// The node (the VM).
    #[serde(default)]
    pub(crate) node: NodeStats,
    /// Its pods (one, on a k8sless VM).
    #[serde(default)]
    pub(crate) pods: Vec<PodStats>,
}

/// The node's part.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct NodeStats {
    /// The node's name.
    #[serde(default)]
    pub(crate) node_name: String,
}

/// A pod reference.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct PodReference {
    /// Name.
    pub(crate) name: String,
    /// Namespace.
    pub(crate) namespace: String,
    /// Uid.
    #[serde(default)]
    pub(crate) uid: String,
}

/// One pod.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct PodStats {
    /// Which pod.
    pub(crate) pod_ref: PodReference,
    /// Its containers.
    #[serde(default)]
    pub(crate) containers: Vec<ContainerStats>,
}

/// One container.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct ContainerStats {
    /// Name.
    pub(crate) name: String,
    /// When it started.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) start_time: Option<String>,
    /// CPU.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) cpu: Option<CpuStats>,
    /// Memory.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) memory: Option<MemoryStats>,
}

/// CPU use.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct CpuStats {
    /// When sampled (RFC 3339).
    pub(crate) time: String,
    /// Cores in use, in billionths, averaged over the last sample window.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) usage_nano_cores: Option<u64>,
    /// Cumulative CPU time, core-nanoseconds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) usage_core_nano_seconds: Option<u64>,
}

/// Memory use.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct MemoryStats {
    /// When sampled (RFC 3339).
    pub(crate) time: String,
    /// The working set, bytes (what `kubectl top` shows).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) working_set_bytes: Option<u64>,
    /// Resident set, bytes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) rss_bytes: Option<u64>,
}
