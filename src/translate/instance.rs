//! The parts of the instance body that are not placement or sizing: the guest's metadata
//! (settings, static pod, cloud-init; kubelet's certificates when the deployment reaches
//! kubelets) and its size limits, the network interface, the boot disk and the scheduling.

use k8s_openapi::api::core::v1::Pod;

use super::{METADATA_MACHINE_REASON, VmPlan, VmSettings, names};
use crate::error::Cause;
use crate::gce::types::{
    AccessConfig, AttachedDisk, AttachedDiskInitializeParams, Instance, MetadataItem,
    NetworkInterface, Scheduling,
};
use crate::guest::{self, GuestConfig};

/// Opens the plan's kubelet to the service: the pod's client CA and kubelet's serving pair
/// ([`crate::kubelet::pki`]) and the source ranges its host firewall admits go into the VM's
/// metadata ([`guest::kubelet_tls_items`]), and the VM gets the deployment's network tag
/// ([`names::kubelet_network_tag`]), which the VPC firewall rule for tcp:10250 targets.
///
/// # Errors
/// 422 when the metadata no longer fits Compute Engine's limits.
pub(crate) fn add_kubelet_tls(
    plan: &mut VmPlan,
    tls: &crate::kubelet::GuestTls<'_>,
    source_ranges: &[String],
    deployment: &str,
) -> Result<(), Vec<Cause>> {
    let tag = names::kubelet_network_tag(deployment);
    let tags = plan.instance.tags.get_or_insert_with(Default::default);
    if !tags.items.contains(&tag) {
        tags.items.push(tag);
    }
    let metadata = plan.instance.metadata.get_or_insert_with(Default::default);
    for (key, value) in guest::kubelet_tls_items(tls, source_ranges) {
        metadata.items.retain(|i| i.key != key);
        metadata.items.push(MetadataItem {
            key,
            value: Some(value),
        });
    }
    metadata.items.sort_by(|a, b| a.key.cmp(&b.key));
    check_metadata_size(&plan.instance)
}

/// The guest's metadata (its settings, the static pod, cloud-init) and the machine-type
/// reason, sorted by key.
pub(super) fn metadata_items(
    pod: &Pod,
    s: &VmSettings,
    gpus: bool,
    reason: &str,
) -> Vec<MetadataItem> {
    let meta = &pod.metadata;
    let mut guest_cfg = GuestConfig::new(
        &s.project,
        &s.topic,
        &s.bucket,
        &s.service_url,
        meta.namespace.as_deref().unwrap_or("default"),
        meta.name.as_deref().unwrap_or(""),
        meta.uid.as_deref().unwrap_or(""),
    );
    guest_cfg.install_gpu_driver = gpus;
    guest_cfg.user_data_encoding = s.user_data_encoding;
    guest_metadata(&guest_cfg, pod, reason)
}

/// The items of `cfg` and `pod`'s static manifest, and the machine-type reason, sorted by key.
pub(super) fn guest_metadata(cfg: &GuestConfig, pod: &Pod, reason: &str) -> Vec<MetadataItem> {
    let mut items: Vec<MetadataItem> = guest::metadata_items_of(cfg, static_manifest(pod))
        .into_iter()
        .map(|(key, value)| MetadataItem {
            key,
            value: Some(value),
        })
        .collect();
    items.push(MetadataItem {
        key: METADATA_MACHINE_REASON.into(),
        value: Some(reason.to_string()),
    });
    items.sort_by(|a, b| a.key.cmp(&b.key));
    items
}

/// Compute Engine refuses an instance whose metadata is over its limits (256 KiB a value,
/// 512 KiB in all); a pod whose manifest would be, say from megabytes of `env` or `args`, is
/// refused at create with 422 rather than failing later at insert.
pub(super) fn check_metadata_size(instance: &Instance) -> Result<(), Vec<Cause>> {
    let items: Vec<(String, String)> = instance
        .metadata
        .iter()
        .flat_map(|m| m.items.iter())
        .map(|i| (i.key.clone(), i.value.clone().unwrap_or_default()))
        .collect();
    guest::check_metadata_limits(&items).map_err(|e| {
        vec![Cause::too_long(
            "spec",
            format!("the pod does not fit a Compute Engine VM's metadata: {e}"),
        )]
    })
}

/// The configured network, with an external IP when asked.
pub(super) fn network_interface(s: &VmSettings) -> NetworkInterface {
    let mut nic = NetworkInterface {
        network: Some(s.network.clone()),
        subnetwork: s.subnetwork.clone(),
        ..Default::default()
    };
    if s.external_ip {
        nic.access_configs.push(AccessConfig {
            access_type: Some("ONE_TO_ONE_NAT".into()),
            name: Some("External NAT".into()),
            nat_ip: None,
        });
    }
    nic
}

/// The boot disk: the configured image, deleted with the VM.
pub(super) fn boot_disk(s: &VmSettings, zone: &str, disk_type: &str, disk_gb: u64) -> AttachedDisk {
    AttachedDisk {
        boot: Some(true),
        auto_delete: Some(true),
        disk_type: Some("PERSISTENT".into()),
        initialize_params: Some(AttachedDiskInitializeParams {
            source_image: Some(s.image.clone()),
            disk_size_gb: Some(disk_gb.to_string()),
            disk_type: Some(format!("zones/{zone}/diskTypes/{disk_type}")),
        }),
    }
}

/// One run, never restarted, deleted when it ends or exceeds `max_run` seconds; Spot and GPU
/// VMs cannot live-migrate.
pub(super) fn scheduling(spot: bool, gpus: bool, max_run: u64) -> Scheduling {
    Scheduling {
        provisioning_model: Some(if spot { "SPOT" } else { "STANDARD" }.into()),
        instance_termination_action: Some("DELETE".into()),
        on_host_maintenance: Some(if spot || gpus { "TERMINATE" } else { "MIGRATE" }.into()),
        automatic_restart: Some(false),
        preemptible: None,
        max_run_duration: Some(crate::gce::types::Duration {
            seconds: max_run.to_string(),
        }),
    }
}

/// The static pod manifest kubelet runs: the pod's metadata and spec, without status, as the
/// tree `guest` edits. The pod is serialized once and what kubelet must not get is removed
/// from the tree: no copy of the pod, and no text parsed back (that round trip was ~5% of a
/// create); the text is what it was, a `Value`'s keys being sorted either way.
pub(crate) fn static_manifest(pod: &Pod) -> serde_json::Value {
    let mut v = serde_json::to_value(pod).unwrap_or_default();
    if let Some(o) = v.as_object_mut() {
        o.remove("status");
        o.insert("apiVersion".into(), "v1".into());
        o.insert("kind".into(), "Pod".into());
    }
    if let Some(meta) = v.get_mut("metadata").and_then(|m| m.as_object_mut()) {
        meta.remove("managedFields");
        meta.remove("resourceVersion");
    }
    if let Some(spec) = v.get_mut("spec").and_then(|m| m.as_object_mut()) {
        spec.remove("nodeName");
    }
    v
}
