//! Compute Engine REST resources, as the JSON API spells them (camelCase, int64 as strings).
//!
//! Only the fields k8sless reads or writes are modelled; every one of them exists in the
//! Compute Engine v1 discovery document (a test checks this against the fixture). Optional
//! fields are skipped when empty so request bodies carry no field Compute Engine would not
//! expect.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// `compute#instance`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Instance {
    /// Always `compute#instance` in responses.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kind: Option<String>,
    /// Server-assigned numeric id (uint64 as a string).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    /// RFC 3339.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub creation_timestamp: Option<String>,
    /// RFC 1035 name, at most 63 characters.
    pub name: String,
    /// Free text.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// Zone URL (responses).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub zone: Option<String>,
    /// `zones/ZONE/machineTypes/TYPE` (partial URL) or a full URL.
    pub machine_type: String,
    /// Lifecycle state (responses).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<InstanceStatus>,
    /// Why the status is what it is.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status_message: Option<String>,
    /// Full URL (responses).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub self_link: Option<String>,
    /// Labels.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub labels: BTreeMap<String, String>,
    /// Fingerprint for setLabels.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub label_fingerprint: Option<String>,
    /// Metadata items.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metadata: Option<Metadata>,
    /// Disks.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub disks: Vec<AttachedDisk>,
    /// NICs.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub network_interfaces: Vec<NetworkInterface>,
    /// At most one service account.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub service_accounts: Vec<ServiceAccount>,
    /// Scheduling options (Spot, maxRunDuration, host maintenance).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scheduling: Option<Scheduling>,
    /// GPUs on N1.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub guest_accelerators: Vec<AcceleratorConfig>,
    /// Shielded VM.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub shielded_instance_config: Option<ShieldedInstanceConfig>,
    /// Network tags (what VPC firewall rules target).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tags: Option<Tags>,
    /// RFC 3339 (responses).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_start_timestamp: Option<String>,
    /// RFC 3339 (responses).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_stop_timestamp: Option<String>,
}

impl Instance {
    /// The value of a metadata key, if set.
    pub fn metadata_value(&self, key: &str) -> Option<&str> {
        self.metadata
            .as_ref()?
            .items
            .iter()
            .find(|item| item.key == key)
            .and_then(|item| item.value.as_deref())
    }

    /// The zone's short name, from the zone URL.
    pub fn zone_name(&self) -> Option<&str> {
        self.zone.as_deref().map(last_segment)
    }
}

/// The last path segment of a Compute Engine URL (`.../zones/us-central1-a` → `us-central1-a`).
pub(crate) fn last_segment(url: &str) -> &str {
    url.rsplit('/').next().unwrap_or(url)
}

/// Instance lifecycle states.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum InstanceStatus {
    /// Resources are being allocated.
    Provisioning,
    /// Booting is about to start.
    Staging,
    /// Booted.
    Running,
    /// Being stopped.
    Stopping,
    /// Stopped (legacy value).
    Stopped,
    /// Being suspended.
    Suspending,
    /// Suspended.
    Suspended,
    /// Being repaired.
    Repairing,
    /// Stopped; can be deleted or started.
    Terminated,
}

impl InstanceStatus {
    /// Compute Engine's spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            InstanceStatus::Provisioning => "PROVISIONING",
            InstanceStatus::Staging => "STAGING",
            InstanceStatus::Running => "RUNNING",
            InstanceStatus::Stopping => "STOPPING",
            InstanceStatus::Stopped => "STOPPED",
            InstanceStatus::Suspending => "SUSPENDING",
            InstanceStatus::Suspended => "SUSPENDED",
            InstanceStatus::Repairing => "REPAIRING",
            InstanceStatus::Terminated => "TERMINATED",
        }
    }
}

/// `compute#metadata`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Metadata {
    /// Response kind.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kind: Option<String>,
    /// Fingerprint for setMetadata.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fingerprint: Option<String>,
    /// Key/value items.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub items: Vec<MetadataItem>,
}

/// One metadata entry.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MetadataItem {
    /// Key: `[a-zA-Z0-9-_]{1,128}`.
    pub key: String,
    /// Value, at most 256 KiB.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub value: Option<String>,
}

/// A disk attached at creation.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AttachedDisk {
    /// Boot disk.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub boot: Option<bool>,
    /// Delete with the instance.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub auto_delete: Option<bool>,
    /// `PERSISTENT`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[serde(rename = "type")]
    pub disk_type: Option<String>,
    /// Parameters of the new disk.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub initialize_params: Option<AttachedDiskInitializeParams>,
}

/// Parameters of a disk created with the instance.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AttachedDiskInitializeParams {
    /// e.g. `projects/cos-cloud/global/images/family/cos-121-lts`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source_image: Option<String>,
    /// int64 as a string.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub disk_size_gb: Option<String>,
    /// `zones/ZONE/diskTypes/pd-balanced`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub disk_type: Option<String>,
}

/// An instance's network tags.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Tags {
    /// The tags (RFC 1035 labels).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub items: Vec<String>,
    /// Fingerprint (responses).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fingerprint: Option<String>,
}

/// A NIC.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct NetworkInterface {
    /// Network URL.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub network: Option<String>,
    /// Subnetwork URL.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subnetwork: Option<String>,
    /// Internal IP (responses).
    #[serde(rename = "networkIP", default, skip_serializing_if = "Option::is_none")]
    pub network_ip: Option<String>,
    /// External access.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub access_configs: Vec<AccessConfig>,
}

/// External IP configuration.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AccessConfig {
    /// `ONE_TO_ONE_NAT`.
    #[serde(rename = "type", default, skip_serializing_if = "Option::is_none")]
    pub access_type: Option<String>,
    /// Display name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// External IP (responses).
    #[serde(rename = "natIP", default, skip_serializing_if = "Option::is_none")]
    pub nat_ip: Option<String>,
}

/// The VM's identity.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ServiceAccount {
    /// Email.
    pub email: String,
    /// OAuth scopes.
    #[serde(default)]
    pub scopes: Vec<String>,
}

/// Scheduling options.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Scheduling {
    /// `STANDARD` or `SPOT`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub provisioning_model: Option<String>,
    /// `DELETE` or `STOP` at the end of maxRunDuration or on preemption.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub instance_termination_action: Option<String>,
    /// `MIGRATE` or `TERMINATE`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub on_host_maintenance: Option<String>,
    /// Restart after a host error (false: one-time VMs never restart).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub automatic_restart: Option<bool>,
    /// Spot VMs are preemptible too.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub preemptible: Option<bool>,
    /// Hard limit on the VM's run time.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_run_duration: Option<Duration>,
}

/// `compute#duration`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Duration {
    /// int64 as a string.
    pub seconds: String,
}

/// GPUs attached to the VM.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AcceleratorConfig {
    /// `zones/ZONE/acceleratorTypes/nvidia-tesla-t4`.
    pub accelerator_type: String,
    /// How many.
    pub accelerator_count: i32,
}

/// Shielded VM options.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ShieldedInstanceConfig {
    /// Secure boot.
    pub enable_secure_boot: bool,
    /// vTPM.
    pub enable_vtpm: bool,
    /// Integrity monitoring.
    pub enable_integrity_monitoring: bool,
}

/// `compute#instanceList`.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct InstanceList {
    /// `compute#instanceList`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kind: Option<String>,
    /// Collection id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    /// One page.
    #[serde(default)]
    pub items: Vec<Instance>,
    /// Next page, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next_page_token: Option<String>,
    /// Collection URL.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub self_link: Option<String>,
}

/// Body of `setLabels`.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct InstancesSetLabelsRequest {
    /// The full new label set.
    #[serde(default)]
    pub labels: BTreeMap<String, String>,
    /// The fingerprint read with the labels.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub label_fingerprint: Option<String>,
}

/// `compute#operation`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Operation {
    /// `compute#operation`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kind: Option<String>,
    /// uint64 as a string.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    /// Operation name (used with zoneOperations).
    pub name: String,
    /// Zone URL.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub zone: Option<String>,
    /// `insert`, `delete`, `stop`, `setLabels`, `setMetadata`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub operation_type: Option<String>,
    /// The instance URL.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target_link: Option<String>,
    /// The instance id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target_id: Option<String>,
    /// `PENDING`, `RUNNING` or `DONE`.
    pub status: OperationStatus,
    /// 0..100.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub progress: Option<i32>,
    /// RFC 3339.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub insert_time: Option<String>,
    /// RFC 3339.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub start_time: Option<String>,
    /// RFC 3339.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub end_time: Option<String>,
    /// Set when the operation failed (the HTTP call that started it may still have been 200).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<OperationError>,
    /// HTTP status of a failed operation.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub http_error_status_code: Option<i32>,
    /// HTTP message of a failed operation.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub http_error_message: Option<String>,
    /// Full URL.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub self_link: Option<String>,
    /// Who started it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user: Option<String>,
}

/// Operation state.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum OperationStatus {
    /// Queued.
    #[default]
    Pending,
    /// In progress.
    Running,
    /// Finished, successfully or not (see `error`).
    Done,
}

/// The errors of a failed operation.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct OperationError {
    /// One or more.
    #[serde(default)]
    pub errors: Vec<OperationErrorItem>,
}

/// One error of a failed operation.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct OperationErrorItem {
    /// e.g. `ZONE_RESOURCE_POOL_EXHAUSTED`, `QUOTA_EXCEEDED`.
    pub code: String,
    /// Google's message.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    /// Which field, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub location: Option<String>,
}

/// Google's JSON error envelope: `{"error": {...}}`.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub(crate) struct GoogleErrorEnvelope {
    /// The error.
    pub error: GoogleError,
}

/// The body of a Google API error.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub(crate) struct GoogleError {
    /// HTTP status.
    pub code: u16,
    /// Message.
    #[serde(default)]
    pub message: String,
    /// Details with reasons (`notFound`, `alreadyExists`, `rateLimitExceeded`, ...).
    #[serde(default)]
    pub errors: Vec<GoogleErrorItem>,
    /// Canonical status (`NOT_FOUND`, ...).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<String>,
}

/// One detail of a Google API error.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub(crate) struct GoogleErrorItem {
    /// Message.
    #[serde(default)]
    pub message: String,
    /// Usually `global` or `usageLimits`.
    #[serde(default)]
    pub domain: String,
    /// Machine-readable reason.
    #[serde(default)]
    pub reason: String,
}
