//! The VM guest: what a pod's Compute Engine VM is told to do, rendered into
//! its metadata.
//!
//! Every pod runs on a one-time VM booted from Container-Optimized OS (COS).
//! The service never logs into the VM; everything the VM needs travels in its
//! instance metadata, produced here by pure functions (no I/O):
//!
//! - `user-data`: a `#cloud-config` document ([`user_data`]), gzip-compressed
//!   and base64-encoded, with `user-data-encoding: base64` beside it
//!   ([`encoding`]: the same for every pod, encoded once per variant). COS runs
//!   cloud-init at boot, which decodes it and writes the guest's scripts, kubelet's
//!   configuration and systemd units under `/etc` (a tmpfs on COS) and starts
//!   the units: `k8sless-setup` (kubelet binary, containerd's CRI, the
//!   manifest), `k8sless-gpu` for GPU pods (`cos-extensions install gpu`),
//!   `k8sless-kubelet` (standalone kubelet, the pod as a static manifest,
//!   ports on 127.0.0.1 only), `k8sless-reporter` (publishes status
//!   transitions to Pub/Sub, uploads logs, powers off),
//!   `k8sless-shutdown` (a "node lost" report when the VM stops early) and
//!   `k8sless-logship` (container logs to Cloud Logging with `entries:write`:
//!   COS's logging agent forwards only journal entries at WARNING and above).
//! - `k8sless-manifest`: the static pod JSON kubelet runs, adjusted for the
//!   VM ([`metadata_items`]: uid kept, host network, GPU wiring).
//! - `k8sless-config`: the [`GuestConfig`] as camelCase JSON, read by the
//!   scripts from the metadata server.
//! - COS switches: `google-logging-enabled`, `google-monitoring-enabled`,
//!   `block-project-ssh-keys`,
//!   `enable-oslogin`, `cos-update-strategy`.
//!
//! The scripts are bash, curl, coreutils and awk only, since that is what COS
//! has (no jq, no package manager); JSON is read by a small awk program
//! ([`SCRIPTS`] lists them all). They live in `src/guest/files/` and are
//! embedded with `include_str!`, so the binary carries exactly what it
//! renders, and tests run shellcheck and `cloud-init schema` on them.
//!
//! [`facts`] reads the node facts a VM sends with its first report and renders the
//! Event the service keeps of them.
//!
//! The reporter's wire format is docs/guest-protocol.md; the choices of COS
//! image family, kubelet version, images, logs and GPUs are docs/guest.md.

mod encoding;
pub(crate) mod facts;
mod manifest;
mod render;

#[cfg(test)]
mod cos_tests;
#[cfg(test)]
mod tests;
#[cfg(test)]
mod tool_tests;

use serde::{Deserialize, Serialize};

pub(crate) use encoding::{USER_DATA_ENCODING, USER_DATA_ENCODING_KEY};

/// Default COS image family: the milestone-121 long-term-support family, whose
/// containerd and kernel stay put for the milestone's support window (see
/// docs/guest.md for why an LTS family rather than `cos-stable`).
pub(crate) const COS_IMAGE_FAMILY: &str = "cos-121-lts";

/// Default kubelet release: the Kubernetes minor the service's API speaks
/// (k8s-openapi feature `v1_33`).
pub(crate) const DEFAULT_KUBELET_VERSION: &str = "v1.33.8";

/// Where the default kubelet release is downloaded from (linux/amd64).
pub(crate) const DEFAULT_KUBELET_URL: &str =
    "https://dl.k8s.io/release/v1.33.8/bin/linux/amd64/kubelet";

/// SHA-256 of the binary at [`DEFAULT_KUBELET_URL`].
pub(crate) const DEFAULT_KUBELET_SHA256: &str =
    "1caa69c5328cfa774218f75f0621a6f10a1b97e095af85015f468aeb8fdf956a";

/// Compute Engine's limit on one metadata value, in bytes.
pub(crate) const MAX_METADATA_VALUE_BYTES: usize = 256 * 1024;

/// Compute Engine's limit on all metadata values of an instance together, in bytes.
pub(crate) const MAX_METADATA_TOTAL_BYTES: usize = 512 * 1024;

/// Extended resource name under which pods ask for NVIDIA GPUs.
pub(crate) const GPU_RESOURCE: &str = "nvidia.com/gpu";

/// The guest's scripts and files as embedded in the binary: (file name, text).
///
/// The `.sh` entries are bash scripts (checked by shellcheck in the tests);
/// the service's dev mode may also run the reporter against local fakes.
#[cfg(test)]
pub(crate) const SCRIPTS: &[(&str, &str)] = &[
    ("k8sless-setup.sh", render::SETUP_SH),
    ("k8sless-reporter.sh", render::REPORTER_SH),
    ("k8sless-gpu.sh", render::GPU_SH),
    ("k8sless-gcr-credentials.sh", render::GCR_CREDENTIALS_SH),
    ("k8sless-logship.sh", render::LOGSHIP_SH),
    ("k8sless-node-facts.sh", render::NODE_FACTS_SH),
    ("k8sless-json.awk", render::JSON_AWK),
    ("k8sless-lib.sh", render::LIB_SH),
    ("k8sless-kubelet-access.sh", render::KUBELET_ACCESS_SH),
];

/// Where the VM gets kubelet when the image has none of the right version.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct KubeletSource {
    /// Release, as `v1.33.8`. The image's own `/usr/bin/kubelet` is used
    /// instead when it has the same minor version.
    pub version: String,
    /// HTTPS URL of the linux kubelet binary for the VM's architecture.
    pub url: String,
    /// Hex SHA-256 of that binary; the VM refuses any other.
    pub sha256: String,
}

impl Default for KubeletSource {
    fn default() -> Self {
        Self {
            version: DEFAULT_KUBELET_VERSION.to_owned(),
            url: DEFAULT_KUBELET_URL.to_owned(),
            sha256: DEFAULT_KUBELET_SHA256.to_owned(),
        }
    }
}

/// Everything the VM needs to know, serialized to the metadata key
/// `k8sless-config` as camelCase JSON.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct GuestConfig {
    /// Google Cloud project of the VM, the topic and the bucket.
    pub project: String,
    /// Pub/Sub topic the reporter publishes to, `projects/P/topics/T`.
    pub topic: String,
    /// Cloud Storage bucket that receives `logs/NAMESPACE/NAME/CONTAINER.log`.
    pub bucket: String,
    /// The service's URL: audience of the VM's instance identity token.
    pub service_url: String,
    /// The pod's namespace.
    pub namespace: String,
    /// The pod's name.
    pub name: String,
    /// The pod's uid (kept as the static pod's uid on the VM).
    pub uid: String,
    /// Install the NVIDIA driver with `cos-extensions` before kubelet starts.
    /// [`metadata_items`] also turns this on when the manifest asks for GPUs.
    pub install_gpu_driver: bool,
    /// Which kubelet to run.
    pub kubelet: KubeletSource,
    /// How often the reporter polls kubelet, in seconds (1 or 2 is right).
    pub report_interval_seconds: u32,
    /// How the `user-data` value travels (not part of `k8sless-config`).
    #[serde(skip)]
    pub user_data_encoding: UserDataEncoding,
}

/// How the `user-data` metadata value travels (`--user-data-encoding`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, clap::ValueEnum)]
pub enum UserDataEncoding {
    /// gzip, then base64, with `user-data-encoding: base64` beside it (a third of the size;
    /// [`encoding`]).
    #[default]
    GzipBase64,
    /// The `#cloud-config` text as it is, no `user-data-encoding` key: the form every
    /// cloud-init reads, kept as the way back should an image's cloud-init not decode the other.
    Plain,
}

impl GuestConfig {
    /// A configuration with the defaults: no GPU driver, the pinned kubelet
    /// ([`KubeletSource::default`]), a report interval of 1 s.
    #[must_use]
    pub(crate) fn new(
        project: impl Into<String>,
        topic: impl Into<String>,
        bucket: impl Into<String>,
        service_url: impl Into<String>,
        namespace: impl Into<String>,
        name: impl Into<String>,
        uid: impl Into<String>,
    ) -> Self {
        Self {
            project: project.into(),
            topic: topic.into(),
            bucket: bucket.into(),
            service_url: service_url.into(),
            namespace: namespace.into(),
            name: name.into(),
            uid: uid.into(),
            install_gpu_driver: false,
            kubelet: KubeletSource::default(),
            report_interval_seconds: 1,
            user_data_encoding: UserDataEncoding::default(),
        }
    }

    /// The configuration as it goes into the `k8sless-config` metadata value.
    #[must_use]
    pub(crate) fn to_json(&self) -> String {
        serde_json::to_string(self).unwrap_or_else(|_| "{}".to_owned())
    }
}

/// Why a pod's metadata cannot be given to a VM.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub(crate) enum GuestError {
    /// One metadata value is over Compute Engine's per-value limit.
    #[error("metadata value {key:?} is {size} bytes, over the limit of {limit} bytes")]
    MetadataValueTooLarge {
        /// The metadata key.
        key: String,
        /// Its value's size in bytes.
        size: usize,
        /// The limit in bytes.
        limit: usize,
    },
    /// All metadata values together are over Compute Engine's total limit.
    #[error("metadata values total {size} bytes, over the limit of {limit} bytes")]
    MetadataTooLarge {
        /// The total size in bytes.
        size: usize,
        /// The limit in bytes.
        limit: usize,
    },
    /// A `user-data` value that cloud-init could not turn back into a document.
    #[error("the user-data cannot be decoded: {reason}")]
    UserDataUndecodable {
        /// What was wrong (base64, gzip, size, UTF-8).
        reason: String,
    },
}

/// The `#cloud-config` user-data for the pod's VM, as cloud-init runs it (the metadata
/// value is this document encoded: [`metadata_items`]).
///
/// It writes the guest's files and starts its units; the pod manifest and
/// the configuration are read from metadata at boot, so this document
/// depends only on `cfg`'s GPU switch and kubelet source, never on the pod.
#[must_use]
pub(crate) fn user_data(cfg: &GuestConfig) -> String {
    render::user_data(cfg)
}

/// The document cloud-init runs for a `user-data` metadata value and its
/// `user-data-encoding` (base64, then gzip by its magic number, as cloud-init reads them).
///
/// # Errors
///
/// [`GuestError::UserDataUndecodable`] when the value is not base64, not gzip, too large or
/// not UTF-8.
pub(crate) fn decode_user_data(value: &str, encoding: Option<&str>) -> Result<String, GuestError> {
    encoding::decode(value, encoding)
}

/// The VM's metadata items for the pod, sorted by key.
///
/// Keys: `block-project-ssh-keys`, `cos-update-strategy`, `enable-oslogin`,
/// `google-logging-enabled`, `google-monitoring-enabled` (COS starts its Node
/// Problem Detector, which writes node metrics), `k8sless-config`, `k8sless-manifest`,
/// `user-data` (the [`user_data`] document, gzip and base64: cached per variant, the same
/// for every pod) and `user-data-encoding` (`base64`). The manifest is adjusted for the VM (see
/// docs/guest.md): its uid, namespace and name are the configuration's,
/// `hostNetwork` is set, and when a container asks for `nvidia.com/gpu` the
/// request is replaced by the driver's mounts and device access (kubelet
/// alone has no device plugin), and the GPU driver install is switched on.
/// A manifest that is not a JSON object is passed through unchanged.
/// Check the result with [`check_metadata_limits`].
#[must_use]
#[cfg(test)]
pub(crate) fn metadata_items(cfg: &GuestConfig, pod_manifest_json: &str) -> Vec<(String, String)> {
    items_for(cfg, manifest::for_vm(cfg, pod_manifest_json))
}

/// [`metadata_items`] of a manifest already parsed (the service's path: the pod serialized
/// to a tree once, never to text and back).
#[must_use]
pub(crate) fn metadata_items_of(
    cfg: &GuestConfig,
    pod_manifest: serde_json::Value,
) -> Vec<(String, String)> {
    items_for(cfg, manifest::for_vm_value(cfg, pod_manifest))
}

fn items_for(cfg: &GuestConfig, adjusted: manifest::VmManifest) -> Vec<(String, String)> {
    let mut cfg = cfg.clone();
    cfg.install_gpu_driver |= adjusted.wants_gpu;
    let mut items = vec![
        ("block-project-ssh-keys".to_owned(), "true".to_owned()),
        (
            "cos-update-strategy".to_owned(),
            "update_disabled".to_owned(),
        ),
        ("enable-oslogin".to_owned(), "TRUE".to_owned()),
        ("google-logging-enabled".to_owned(), "true".to_owned()),
        ("google-monitoring-enabled".to_owned(), "true".to_owned()),
        ("k8sless-config".to_owned(), cfg.to_json()),
        ("k8sless-manifest".to_owned(), adjusted.json),
    ];
    match cfg.user_data_encoding {
        UserDataEncoding::GzipBase64 => items.extend([
            ("user-data".to_owned(), encoding::encoded_user_data(&cfg)),
            (
                USER_DATA_ENCODING_KEY.to_owned(),
                USER_DATA_ENCODING.to_owned(),
            ),
        ]),
        UserDataEncoding::Plain => items.push(("user-data".to_owned(), user_data(&cfg))),
    }
    items.sort();
    items
}

/// Metadata key of kubelet's client CA (PEM): the pod's own CA (`authentication.x509.clientCAFile`).
pub(crate) const METADATA_KUBELET_CLIENT_CA: &str = "k8sless-kubelet-client-ca";
/// Metadata key of kubelet's serving certificate (PEM, `tlsCertFile`).
pub(crate) const METADATA_KUBELET_SERVING_CERT: &str = "k8sless-kubelet-serving-cert";
/// Metadata key of kubelet's serving key (PEM, `tlsPrivateKeyFile`).
pub(crate) const METADATA_KUBELET_SERVING_KEY: &str = "k8sless-kubelet-serving-key";
/// Metadata key of the source ranges (comma-separated CIDRs) the host firewall admits to
/// kubelet's port 10250: the service's Direct VPC egress range.
pub(crate) const METADATA_KUBELET_SOURCE_RANGES: &str = "k8sless-kubelet-source-ranges";

/// The metadata items that open kubelet's authenticated port to the service: the pod's
/// client CA, kubelet's serving pair, and the source ranges. Without them (a deployment that
/// does not reach kubelets) the guest keeps kubelet on loopback. The setup script writes the
/// three PEMs under `/etc/k8sless/pki` (the key 0600) and the firewall rule (docs/guest.md).
#[must_use]
pub(crate) fn kubelet_tls_items(
    tls: &crate::kubelet::GuestTls<'_>,
    source_ranges: &[String],
) -> Vec<(String, String)> {
    let ranges: Vec<String> = source_ranges
        .iter()
        .filter(|r| is_cidr(r))
        .cloned()
        .collect();
    vec![
        (
            METADATA_KUBELET_CLIENT_CA.to_owned(),
            tls.client_ca.to_owned(),
        ),
        (
            METADATA_KUBELET_SERVING_CERT.to_owned(),
            tls.serving_cert.to_owned(),
        ),
        (
            METADATA_KUBELET_SERVING_KEY.to_owned(),
            tls.serving_key.to_owned(),
        ),
        (METADATA_KUBELET_SOURCE_RANGES.to_owned(), ranges.join(",")),
    ]
}

/// An IPv4 or IPv6 CIDR (`10.8.0.0/28`), never `0.0.0.0/0` or `::/0`: the host firewall rule
/// is built from these, and a range that admits everyone is dropped.
pub(crate) fn is_cidr(range: &str) -> bool {
    let Some((ip, bits)) = range.split_once('/') else {
        return false;
    };
    let Ok(bits) = bits.parse::<u8>() else {
        return false;
    };
    match ip.parse::<std::net::IpAddr>() {
        Ok(std::net::IpAddr::V4(_)) => (1..=32).contains(&bits),
        Ok(std::net::IpAddr::V6(_)) => (1..=128).contains(&bits),
        Err(_) => false,
    }
}

/// Checks metadata items against Compute Engine's limits: each value under
/// [`MAX_METADATA_VALUE_BYTES`], all of them under [`MAX_METADATA_TOTAL_BYTES`].
///
/// # Errors
///
/// [`GuestError::MetadataValueTooLarge`] names the first value over the
/// limit; [`GuestError::MetadataTooLarge`] reports the total.
pub(crate) fn check_metadata_limits(items: &[(String, String)]) -> Result<(), GuestError> {
    let mut total = 0;
    for (key, value) in items {
        if value.len() > MAX_METADATA_VALUE_BYTES {
            return Err(GuestError::MetadataValueTooLarge {
                key: key.clone(),
                size: value.len(),
                limit: MAX_METADATA_VALUE_BYTES,
            });
        }
        total += key.len() + value.len();
    }
    if total > MAX_METADATA_TOTAL_BYTES {
        return Err(GuestError::MetadataTooLarge {
            size: total,
            limit: MAX_METADATA_TOTAL_BYTES,
        });
    }
    Ok(())
}

/// Whether a pod manifest (JSON) asks for NVIDIA GPUs in any container's
/// limits or requests.
#[cfg(test)]
#[must_use]
pub(crate) fn pod_requests_gpus(pod_manifest_json: &str) -> bool {
    manifest::requests_gpus(pod_manifest_json)
}
