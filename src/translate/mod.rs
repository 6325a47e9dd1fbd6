//! Pod → VM: one pure function from a (defaulted, validated) pod and the settings to the
//! Compute Engine instance body that runs it, or the reasons it cannot run (422 causes).
//! No I/O: the catalog of machine types and prices is in code ([`crate::gce::catalog`]).
//!
//! The parts: [`placement`] reads `nodeSelector` and required node affinity (zone, Spot,
//! accelerator, machine type); [`sizing`] computes the effective request and the cheapest fit;
//! [`machine`] chooses the machine type and says why; [`instance`] builds the guest's metadata,
//! network, disk and scheduling parts; this module adds identity, deadline,
//! disk size, labels and hardening. Independent problems are reported
//! together, as the Kubernetes API server does.
//!
//! The mapping table users read is docs/pod-to-vm.md; `k8sless render -f pod.yaml` prints
//! what this module produces, with no cloud call.

mod cheapest;
pub(crate) mod instance;
pub(crate) mod machine;
pub(crate) mod names;
pub(crate) mod placement;
pub(crate) mod sizing;
#[cfg(test)]
mod tests;

use std::collections::BTreeMap;
use std::time::Duration;

use k8s_openapi::api::core::v1::{Pod, PodSpec};

use crate::error::Cause;
use crate::gce::catalog::{self, MachineType};
use crate::gce::types::{
    AcceleratorConfig, Instance, Metadata, ServiceAccount, ShieldedInstanceConfig,
};
pub(crate) use instance::add_kubelet_tls;
use instance::{boot_disk, check_metadata_size, metadata_items, network_interface, scheduling};
use machine::Choice;
use placement::Placement;
use sizing::Request;

/// Annotation naming the machine type.
pub(crate) const ANNOTATION_MACHINE_TYPE: &str = "k8sless.dev/machine-type";
/// Annotation with why the machine type was chosen.
pub(crate) const ANNOTATION_MACHINE_REASON: &str = "k8sless.dev/machine-type-reason";
/// Annotation with the VM's path.
pub(crate) const ANNOTATION_INSTANCE: &str = "k8sless.dev/instance";
/// GKE's annotation naming the Google service account.
pub(crate) const ANNOTATION_SERVICE_ACCOUNT: &str = "iam.gke.io/gcp-service-account";
/// Metadata key carrying the machine type reason on the VM itself.
pub(crate) const METADATA_MACHINE_REASON: &str = "k8sless-machine-type-reason";
/// Smallest boot disk of the COS image, GB; the pod's ephemeral storage comes on top.
pub(crate) const IMAGE_MIN_DISK_GB: u64 = 10;
/// Largest boot disk Compute Engine makes, GB.
pub(crate) const MAX_DISK_GB: u64 = 65_536;
/// Compute Engine's bounds on `scheduling.maxRunDuration`, seconds.
pub(crate) const MIN_RUN_SECONDS: u64 = 30;
/// 120 days.
pub(crate) const MAX_RUN_SECONDS: u64 = 120 * 86_400;
/// OAuth scope of the VM's service account (IAM decides what it may do).
pub(crate) const SCOPE_CLOUD_PLATFORM: &str = "https://www.googleapis.com/auth/cloud-platform";
/// Every VM is a Shielded VM with all three protections (COS images support them; Compute
/// Engine's `shieldedInstanceConfig`).
const SHIELDED: ShieldedInstanceConfig = ShieldedInstanceConfig {
    enable_secure_boot: true,
    enable_vtpm: true,
    enable_integrity_monitoring: true,
};

/// Everything translation needs from the configuration.
#[derive(Debug, Clone)]
pub struct VmSettings {
    /// Project.
    pub project: String,
    /// Default zone.
    pub zone: String,
    /// Allowed zones, in fallback order.
    pub zones: Vec<String>,
    /// Families sizing chooses from.
    pub machine_families: Vec<String>,
    /// Machine type of pods that state no CPU or memory.
    pub default_machine_type: String,
    /// Whether custom shapes may be chosen.
    pub custom_machine_types: bool,
    /// Cap on `maxRunDuration`.
    pub max_runtime: Duration,
    /// Added to `activeDeadlineSeconds` for boot and image pull.
    pub boot_allowance: Duration,
    /// The VMs' default service account (`None`: the project's default compute account).
    pub guest_service_account: Option<String>,
    /// Other accounts pods may ask for.
    pub allowed_service_accounts: Vec<String>,
    /// Network.
    pub network: String,
    /// Subnetwork, if any.
    pub subnetwork: Option<String>,
    /// Ephemeral external IP.
    pub external_ip: bool,
    /// Boot image.
    pub image: String,
    /// Boot disk type.
    pub disk_type: String,
    /// Accelerator for GPU pods without a selector.
    pub default_accelerator: Option<String>,
    /// Pub/Sub topic of reports.
    pub topic: String,
    /// Bucket of records and logs.
    pub bucket: String,
    /// This deployment's id (`k8sless-deployment` label, VM name tag).
    pub deployment: String,
    /// The service's URL.
    pub service_url: String,
    /// How the guest's `user-data` travels.
    pub user_data_encoding: crate::guest::UserDataEncoding,
}

/// What a pod becomes.
#[derive(Debug, Clone)]
pub struct VmPlan {
    /// Instance name.
    pub name: String,
    /// First zone to try.
    pub zone: String,
    /// Zones to try, in order (`zone` first).
    pub zones: Vec<String>,
    /// The body for `instances.insert` in `zone`.
    pub instance: Instance,
    /// The machine type.
    pub machine: MachineType,
    /// Why this machine type.
    pub reason: String,
    /// Spot VM.
    pub spot: bool,
}

impl VmPlan {
    /// The instance body for another zone (zone-scoped URLs rewritten).
    pub fn instance_in(&self, zone: &str) -> Instance {
        let mut i = self.instance.clone();
        let swap = |s: &str| s.replace(&format!("zones/{}/", self.zone), &format!("zones/{zone}/"));
        i.machine_type = swap(&i.machine_type);
        for d in &mut i.disks {
            if let Some(p) = d.initialize_params.as_mut() {
                p.disk_type = p.disk_type.as_deref().map(swap);
            }
        }
        for a in &mut i.guest_accelerators {
            a.accelerator_type = swap(&a.accelerator_type);
        }
        i
    }
}

/// Translates a pod. The pod must have its name, namespace and uid set.
pub fn translate(pod: &Pod, s: &VmSettings) -> Result<VmPlan, Vec<Cause>> {
    let Some(spec) = pod.spec.as_ref() else {
        return Err(vec![Cause::required("spec")]);
    };
    let no_annotations = BTreeMap::new();
    let annotations = pod.metadata.annotations.as_ref().unwrap_or(&no_annotations);
    let request = sizing::effective_request(spec);
    let mut causes = Vec::new();

    let placement = placement::place(spec, s);
    let choice = placement.as_ref().ok().map(|p| {
        let explicit = annotations
            .get(ANNOTATION_MACHINE_TYPE)
            .map(|t| {
                (
                    t.clone(),
                    format!("metadata.annotations[{ANNOTATION_MACHINE_TYPE}]"),
                )
            })
            .or_else(|| p.instance_type.clone());
        machine::choose(spec, &request, p, explicit, s)
    });
    let account = service_account(annotations, s);
    let disk_gb = disk_size(spec, &request);
    if let Err(c) = &placement {
        causes.extend(c.iter().cloned());
    }
    if let Some(Err(c)) = &choice {
        causes.extend(c.iter().cloned());
    }
    if let Err(c) = &account {
        causes.push(c.clone());
    }
    if let Err(c) = &disk_gb {
        causes.push(c.clone());
    }
    match (placement, choice, account, disk_gb) {
        (Ok(p), Some(Ok(c)), Ok(account), Ok(disk_gb)) if causes.is_empty() => {
            let zones = zones_offering(&p, &c, spec, s)?;
            let plan = plan(
                pod,
                s,
                Parts {
                    max_run: max_run_seconds(spec, s),
                    spot: p.spot,
                    zones,
                    choice: c,
                    account,
                    disk_gb,
                },
            );
            check_metadata_size(&plan.instance)?;
            Ok(plan)
        }
        _ => Err(causes),
    }
}

/// The pod's zones that offer its GPUs, or why none does.
fn zones_offering(
    p: &Placement,
    c: &Choice,
    spec: &PodSpec,
    s: &VmSettings,
) -> Result<Vec<String>, Vec<Cause>> {
    let Some(a) = c.accelerator else {
        return Ok(p.zones.clone());
    };
    let zones: Vec<String> = p
        .zones
        .iter()
        .filter(|z| catalog::offered_in(a.name, z))
        .cloned()
        .collect();
    if !zones.is_empty() {
        return Ok(zones);
    }
    let mut allowed = vec![s.zone.clone()];
    allowed.extend(s.zones.iter().filter(|z| **z != s.zone).cloned());
    let offering: Vec<String> = allowed
        .into_iter()
        .filter(|z| catalog::offered_in(a.name, z))
        .collect();
    let field = p
        .zone_field
        .clone()
        .or_else(|| p.accelerator.as_ref().map(|(_, f)| f.clone()))
        .unwrap_or_else(|| sizing::gpu_field(spec));
    Err(vec![Cause::invalid(
        field,
        format!(
            "{}: {} is not offered there; the allowed zones offering it: {}",
            placement::quoted(&p.zones),
            a.name,
            if offering.is_empty() {
                "none".to_string()
            } else {
                placement::quoted(&offering)
            }
        ),
    )])
}

/// The VM's service account: the pod's when allow-listed, else the configured one.
fn service_account(
    annotations: &BTreeMap<String, String>,
    s: &VmSettings,
) -> Result<String, Cause> {
    match annotations
        .get(ANNOTATION_SERVICE_ACCOUNT)
        .filter(|a| !a.is_empty())
    {
        Some(sa)
            if s.allowed_service_accounts.contains(sa)
                || s.guest_service_account.as_deref() == Some(sa.as_str()) =>
        {
            Ok(sa.clone())
        }
        Some(sa) => Err(Cause::forbidden(
            format!("metadata.annotations[{ANNOTATION_SERVICE_ACCOUNT}]"),
            format!(
                "{sa:?} is not on this k8sless' allow-list of VM service accounts (--allowed-service-accounts)"
            ),
        )),
        None => Ok(s
            .guest_service_account
            .clone()
            .unwrap_or_else(|| "default".into())),
    }
}

/// Boot disk GB: the image's minimum plus the pod's ephemeral storage (GiB, rounded up).
fn disk_size(spec: &PodSpec, r: &Request) -> Result<u64, Cause> {
    let gb = IMAGE_MIN_DISK_GB.saturating_add(r.ephemeral.div_ceil(1 << 30));
    if gb > MAX_DISK_GB {
        return Err(Cause::invalid(
            sizing::resource_field(spec, "ephemeral-storage", "requests"),
            format!(
                "\"{}Gi\": a boot disk holds at most {} GB ({IMAGE_MIN_DISK_GB} GB of it for the OS and images)",
                r.ephemeral.div_ceil(1 << 30),
                MAX_DISK_GB
            ),
        ));
    }
    Ok(gb)
}

/// `scheduling.maxRunDuration`: the deadline plus the boot allowance, at least 30 s, capped by
/// the configured maximum; the maximum for pods without a deadline.
fn max_run_seconds(spec: &PodSpec, s: &VmSettings) -> u64 {
    let cap = s
        .max_runtime
        .as_secs()
        .clamp(MIN_RUN_SECONDS, MAX_RUN_SECONDS);
    match spec.active_deadline_seconds.filter(|d| *d > 0) {
        Some(d) => (d as u64)
            .saturating_add(s.boot_allowance.as_secs())
            .min(cap)
            .max(MIN_RUN_SECONDS),
        None => cap,
    }
}

/// What [`plan`] assembles.
struct Parts {
    max_run: u64,
    spot: bool,
    zones: Vec<String>,
    choice: Choice,
    account: String,
    disk_gb: u64,
}

fn plan(pod: &Pod, s: &VmSettings, parts: Parts) -> VmPlan {
    let Parts {
        max_run,
        spot,
        zones,
        choice: c,
        account,
        disk_gb,
    } = parts;
    let meta = &pod.metadata;
    let namespace = meta.namespace.as_deref().unwrap_or("default");
    let name = meta.name.as_deref().unwrap_or("");
    let uid = meta.uid.as_deref().unwrap_or("");
    let zone = zones.first().cloned().unwrap_or_else(|| s.zone.clone());
    let mut reason = c.reason;
    let (disk_type, swapped) = catalog::boot_disk_type(c.machine.family, &s.disk_type);
    if swapped {
        reason.push_str(&format!(
            "; boot disk {disk_type}, as {} does not take {}",
            c.machine.family, s.disk_type
        ));
    }
    let gpus = c.accelerator.is_some();
    let items = metadata_items(pod, s, gpus, &reason);
    let vm_name = names::vm_name(&s.deployment, namespace, name);
    let instance = Instance {
        name: vm_name.clone(),
        description: Some(format!("k8sless pod {namespace}/{name}")),
        machine_type: format!("zones/{zone}/machineTypes/{}", c.machine.name),
        labels: names::vm_labels(&s.deployment, namespace, name, uid, meta.labels.as_ref()),
        metadata: Some(Metadata {
            kind: None,
            fingerprint: None,
            items,
        }),
        disks: vec![boot_disk(s, &zone, &disk_type, disk_gb)],
        network_interfaces: vec![network_interface(s)],
        service_accounts: vec![ServiceAccount {
            email: account,
            scopes: vec![SCOPE_CLOUD_PLATFORM.into()],
        }],
        scheduling: Some(scheduling(spot, gpus, max_run)),
        guest_accelerators: c
            .attach
            .map(|(a, n)| {
                vec![AcceleratorConfig {
                    accelerator_type: format!("zones/{zone}/acceleratorTypes/{}", a.name),
                    accelerator_count: i32::try_from(n).unwrap_or(i32::MAX),
                }]
            })
            .unwrap_or_default(),
        shielded_instance_config: Some(SHIELDED),
        ..Default::default()
    };
    VmPlan {
        name: vm_name,
        zone,
        zones,
        instance,
        machine: c.machine,
        reason,
        spot,
    }
}
