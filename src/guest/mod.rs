//! The VM guest (placeholder until the guest module lands): metadata items that carry the pod
//! manifest and the guest configuration. The full cloud-init and reporter come with the guest
//! issue; this keeps the same public API.

use serde::{Deserialize, Serialize};

/// Where kubelet comes from when the image has none.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct KubeletSource {
    /// Version.
    pub version: String,
    /// Download URL.
    pub url: String,
    /// SHA-256 of the binary.
    pub sha256: String,
}

/// What the VM needs to know.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct GuestConfig {
    /// Project.
    pub project: String,
    /// `projects/P/topics/T`.
    pub topic: String,
    /// Bucket for logs.
    pub bucket: String,
    /// Audience of the identity token.
    pub service_url: String,
    /// Pod namespace.
    pub namespace: String,
    /// Pod name.
    pub name: String,
    /// Pod uid.
    pub uid: String,
    /// Install GPU drivers first.
    pub install_gpu_driver: bool,
    /// kubelet download.
    pub kubelet: KubeletSource,
    /// Poll interval.
    pub report_interval_seconds: u32,
}

impl GuestConfig {
    /// Defaults for the rest.
    pub fn new(
        project: &str,
        topic: &str,
        bucket: &str,
        service_url: &str,
        namespace: &str,
        name: &str,
        uid: &str,
    ) -> Self {
        GuestConfig {
            project: project.into(),
            topic: topic.into(),
            bucket: bucket.into(),
            service_url: service_url.into(),
            namespace: namespace.into(),
            name: name.into(),
            uid: uid.into(),
            install_gpu_driver: false,
            kubelet: KubeletSource {
                version: String::new(),
                url: String::new(),
                sha256: String::new(),
            },
            report_interval_seconds: 2,
        }
    }
}

/// The `#cloud-config` document.
pub fn user_data(_cfg: &GuestConfig) -> String {
    "#cloud-config\n".to_string()
}

/// Metadata items, sorted by key.
pub fn metadata_items(cfg: &GuestConfig, pod_manifest_json: &str) -> Vec<(String, String)> {
    let mut items = vec![
        ("block-project-ssh-keys".to_string(), "true".to_string()),
        ("enable-oslogin".to_string(), "TRUE".to_string()),
        ("google-logging-enabled".to_string(), "true".to_string()),
        (
            "k8sless-config".to_string(),
            serde_json::to_string(cfg).unwrap_or_default(),
        ),
        (
            "k8sless-manifest".to_string(),
            pod_manifest_json.to_string(),
        ),
        ("user-data".to_string(), user_data(cfg)),
    ];
    items.sort();
    items
}
