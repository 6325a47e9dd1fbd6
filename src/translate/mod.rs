//! Pod → VM: one pure function from a (defaulted, validated) pod and the settings to the
//! Compute Engine instance body that runs it, or the reasons it cannot run (422 causes).
//!
//! The mapping table users read is docs/pod-to-vm.md; `k8sless render -f pod.yaml` prints
//! what this module produces, with no cloud call.

pub mod names;
pub mod sizing;

use std::time::Duration;

use k8s_openapi::api::core::v1::{NodeSelectorRequirement, Pod};

use crate::error::Cause;
use crate::gce::catalog::{self, MachineType};
use crate::gce::types::{
    AcceleratorConfig, AccessConfig, AttachedDisk, AttachedDiskInitializeParams, Instance,
    Metadata, MetadataItem, NetworkInterface, Scheduling, ServiceAccount, ShieldedInstanceConfig,
};
use crate::guest::{self, GuestConfig};
use sizing::Request;

/// Annotation naming the machine type.
pub const ANNOTATION_MACHINE_TYPE: &str = "k8sless.dev/machine-type";
/// Annotation with why the machine type was chosen.
pub const ANNOTATION_MACHINE_REASON: &str = "k8sless.dev/machine-type-reason";
/// Annotation with the VM's path.
pub const ANNOTATION_INSTANCE: &str = "k8sless.dev/instance";
/// GKE's annotation naming the Google service account.
pub const ANNOTATION_SERVICE_ACCOUNT: &str = "iam.gke.io/gcp-service-account";
const SELECTOR_INSTANCE_TYPE: &str = "node.kubernetes.io/instance-type";
const SELECTOR_ZONE: &str = "topology.kubernetes.io/zone";
const SELECTOR_ZONE_LEGACY: &str = "failure-domain.beta.kubernetes.io/zone";
const SELECTOR_SPOT: &str = "cloud.google.com/gke-spot";
const SELECTOR_ACCELERATOR: &str = "cloud.google.com/gke-accelerator";
/// Smallest boot disk of the COS image, GB.
const MIN_DISK_GB: u64 = 10;

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
    /// The service's URL.
    pub service_url: String,
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
    let mut causes = Vec::new();
    let meta = &pod.metadata;
    let namespace = meta.namespace.as_deref().unwrap_or("default");
    let name = meta.name.as_deref().unwrap_or("");
    let uid = meta.uid.as_deref().unwrap_or("");
    let Some(spec) = pod.spec.as_ref() else {
        return Err(vec![Cause::required("spec")]);
    };
    let annotations = meta.annotations.clone().unwrap_or_default();
    let selector = spec.node_selector.clone().unwrap_or_default();
    let required = required_node_terms(pod);

    let want = |key: &str| -> Vec<String> {
        let mut v: Vec<String> = selector.get(key).cloned().into_iter().collect();
        for r in &required {
            if r.key == key && r.operator == "In" {
                v.extend(r.values.clone().unwrap_or_default());
            }
        }
        v
    };

    // Spot.
    let spot_values = want(SELECTOR_SPOT);
    let spot = spot_values.iter().any(|v| v == "true");

    // Zones.
    let mut asked: Vec<String> = want(SELECTOR_ZONE);
    asked.extend(want(SELECTOR_ZONE_LEGACY));
    let zones: Vec<String> = if asked.is_empty() {
        let mut z = vec![s.zone.clone()];
        z.extend(s.zones.iter().filter(|z| **z != s.zone).cloned());
        z
    } else {
        let allowed: Vec<String> = asked
            .iter()
            .filter(|z| s.zones.contains(z) || **z == s.zone)
            .cloned()
            .collect();
        if allowed.is_empty() {
            causes.push(Cause::not_supported(
                "spec.nodeSelector[topology.kubernetes.io/zone]",
                format!(
                    "{:?}: this k8sless allows zones {}",
                    asked.join(","),
                    s.zones.join(", ")
                ),
            ));
        }
        allowed
    };
    let zone = zones.first().cloned().unwrap_or_else(|| s.zone.clone());

    // Machine type.
    let request = sizing::effective_request(spec);
    let accelerator_names = want(SELECTOR_ACCELERATOR);
    let explicit = annotations
        .get(ANNOTATION_MACHINE_TYPE)
        .map(|t| {
            (
                t.clone(),
                format!("metadata.annotations[{ANNOTATION_MACHINE_TYPE}]"),
            )
        })
        .or_else(|| {
            selector.get(SELECTOR_INSTANCE_TYPE).map(|t| {
                (
                    t.clone(),
                    format!("spec.nodeSelector[{SELECTOR_INSTANCE_TYPE}]"),
                )
            })
        });
    let choice = choose_machine(
        &request,
        explicit,
        accelerator_names.first().cloned(),
        spot,
        s,
    );
    let (machine, reason, attach) = match choice {
        Ok(c) => c,
        Err(c) => {
            causes.extend(c);
            return Err(causes);
        }
    };

    // Service account.
    let account = match annotations.get(ANNOTATION_SERVICE_ACCOUNT) {
        Some(sa)
            if s.allowed_service_accounts.contains(sa)
                || s.guest_service_account.as_deref() == Some(sa.as_str()) =>
        {
            Some(sa.clone())
        }
        Some(sa) => {
            causes.push(Cause::forbidden(
                format!("metadata.annotations[{ANNOTATION_SERVICE_ACCOUNT}]"),
                format!("{sa:?} is not on this k8sless' allow-list of VM service accounts (--allowed-service-accounts)"),
            ));
            None
        }
        None => s.guest_service_account.clone(),
    };
    if !causes.is_empty() {
        return Err(causes);
    }

    // Deadline.
    let cap = s.max_runtime.as_secs();
    let max_run = match spec.active_deadline_seconds {
        Some(d) => (d as u64 + s.boot_allowance.as_secs()).max(30).min(cap),
        None => cap,
    };

    // Disk.
    let disk_gb = MIN_DISK_GB.max(request.ephemeral.div_ceil(1_000_000_000) + MIN_DISK_GB);

    let vm_name = names::vm_name(namespace, name);
    let gpus = machine.accelerator.map(|(_, n)| n).unwrap_or(0)
        + attach
            .as_ref()
            .map(|a| a.accelerator_count as u32)
            .unwrap_or(0);
    let mut guest_cfg = GuestConfig::new(
        &s.project,
        &s.topic,
        &s.bucket,
        &s.service_url,
        namespace,
        name,
        uid,
    );
    guest_cfg.install_gpu_driver = gpus > 0;
    let manifest = static_manifest(pod);
    let metadata = Metadata {
        kind: None,
        fingerprint: None,
        items: guest::metadata_items(&guest_cfg, &manifest)
            .into_iter()
            .map(|(key, value)| MetadataItem {
                key,
                value: Some(value),
            })
            .collect(),
    };
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
    let instance = Instance {
        name: vm_name.clone(),
        description: Some(format!("k8sless pod {namespace}/{name}")),
        machine_type: format!("zones/{zone}/machineTypes/{}", machine.name),
        labels: names::vm_labels(namespace, name, uid, meta.labels.as_ref()),
        metadata: Some(metadata),
        disks: vec![AttachedDisk {
            boot: Some(true),
            auto_delete: Some(true),
            disk_type: Some("PERSISTENT".into()),
            initialize_params: Some(AttachedDiskInitializeParams {
                source_image: Some(s.image.clone()),
                disk_size_gb: Some(disk_gb.to_string()),
                disk_type: Some(format!("zones/{zone}/diskTypes/{}", s.disk_type)),
            }),
        }],
        network_interfaces: vec![nic],
        service_accounts: account
            .map(|email| {
                vec![ServiceAccount {
                    email,
                    scopes: vec!["https://www.googleapis.com/auth/cloud-platform".into()],
                }]
            })
            .unwrap_or_else(|| {
                vec![ServiceAccount {
                    email: "default".into(),
                    scopes: vec!["https://www.googleapis.com/auth/cloud-platform".into()],
                }]
            }),
        scheduling: Some(Scheduling {
            provisioning_model: Some(if spot { "SPOT" } else { "STANDARD" }.into()),
            instance_termination_action: Some("DELETE".into()),
            on_host_maintenance: Some(
                if spot || gpus > 0 {
                    "TERMINATE"
                } else {
                    "MIGRATE"
                }
                .into(),
            ),
            automatic_restart: Some(false),
            preemptible: None,
            max_run_duration: Some(crate::gce::types::Duration {
                seconds: max_run.to_string(),
            }),
        }),
        guest_accelerators: attach
            .map(|mut a| {
                a.accelerator_type =
                    format!("zones/{zone}/acceleratorTypes/{}", a.accelerator_type);
                vec![a]
            })
            .unwrap_or_default(),
        shielded_instance_config: Some(ShieldedInstanceConfig {
            enable_secure_boot: true,
            enable_vtpm: true,
            enable_integrity_monitoring: true,
        }),
        ..Default::default()
    };
    Ok(VmPlan {
        name: vm_name,
        zone,
        zones,
        instance,
        machine,
        reason,
        spot,
    })
}

/// The machine type, why, and N1 guest accelerators if any.
fn choose_machine(
    r: &Request,
    explicit: Option<(String, String)>,
    accelerator: Option<String>,
    spot: bool,
    s: &VmSettings,
) -> Result<(MachineType, String, Option<AcceleratorConfig>), Vec<Cause>> {
    let gpu_field = "spec.containers[*].resources.limits[nvidia.com/gpu]";
    let accelerator = if r.gpus > 0 {
        match accelerator.or_else(|| s.default_accelerator.clone()) {
            Some(a) => match catalog::accelerator(&a) {
                Some(acc) => Some(acc),
                None => {
                    return Err(vec![Cause::not_supported(
                        format!("spec.nodeSelector[{SELECTOR_ACCELERATOR}]"),
                        format!(
                            "{a:?}: known accelerators: {}",
                            catalog::ACCELERATORS
                                .iter()
                                .map(|a| a.name)
                                .collect::<Vec<_>>()
                                .join(", ")
                        ),
                    )]);
                }
            },
            None => {
                return Err(vec![Cause::required(format!("spec.nodeSelector[{SELECTOR_ACCELERATOR}]"))
                    .with_message("a GPU request needs nodeSelector cloud.google.com/gke-accelerator (e.g. nvidia-l4), and no default accelerator is configured")]);
            }
        }
    } else {
        None
    };
    let need = format!(
        "{}m CPU / {} MiB (pod {}m / {} MiB + allowance {}m / {} MiB)",
        r.millicpu + sizing::ALLOWANCE_MILLICPU,
        r.memory_mib() + sizing::ALLOWANCE_MEMORY_MIB,
        r.millicpu,
        r.memory_mib(),
        sizing::ALLOWANCE_MILLICPU,
        sizing::ALLOWANCE_MEMORY_MIB
    );
    let price = |m: &MachineType| {
        if spot {
            m.spot_price_hour
        } else {
            m.price_hour
        }
    };
    if let Some((name, field)) = explicit {
        let Some(m) = catalog::lookup(&name) else {
            return Err(vec![Cause::not_supported(
                field,
                format!("{name:?}: not a Compute Engine machine type k8sless knows"),
            )]);
        };
        if r.stated && !sizing::fits(&m, r) {
            return Err(vec![Cause::invalid(
                field,
                format!(
                    "{name:?} ({} vCPU, {} MiB) is too small for {need}",
                    m.vcpus, m.memory_mib
                ),
            )]);
        }
        let attach = match (accelerator, m.accelerator) {
            (None, _) => None,
            (Some(acc), Some((model, n))) if acc.name == model && n >= r.gpus => None,
            (Some(acc), None) if acc.attachable_to_n1 && m.family == "n1" => {
                Some(AcceleratorConfig {
                    accelerator_type: acc.name.into(),
                    accelerator_count: gpu_count(r.gpus) as i32,
                })
            }
            (Some(acc), _) => {
                return Err(vec![Cause::invalid(
                    field,
                    format!("{name:?} does not carry {} x {}", r.gpus, acc.name),
                )]);
            }
        };
        let reason = format!(
            "{name} as requested by {field} (${:.4}/h{})",
            price(&m),
            if spot { " Spot" } else { "" }
        );
        return Ok((m, reason, attach));
    }
    if let Some(acc) = accelerator {
        if acc.attachable_to_n1 {
            if ![1, 2, 4, 8].contains(&gpu_count(r.gpus)) || r.gpus > 8 {
                return Err(vec![Cause::invalid(
                    gpu_field,
                    format!("{}: N1 VMs take 1, 2, 4 or 8 {}", r.gpus, acc.name),
                )]);
            }
            let fams = vec!["n1".to_string()];
            let m = sizing::cheapest(&fams, r, spot, false).ok_or_else(|| {
                vec![Cause::invalid(
                    "spec.containers[*].resources",
                    format!("no N1 machine type fits {need}"),
                )]
            })?;
            let attach = AcceleratorConfig {
                accelerator_type: acc.name.into(),
                accelerator_count: gpu_count(r.gpus) as i32,
            };
            let reason = format!(
                "cheapest N1 type fitting {need}, with {} x {} (${:.4}/h before GPUs)",
                gpu_count(r.gpus),
                acc.name,
                price(&m)
            );
            return Ok((m, reason, Some(attach)));
        }
        let m = catalog::all()
            .iter()
            .filter(|m| {
                m.accelerator
                    .is_some_and(|(model, n)| model == acc.name && n >= r.gpus)
                    && sizing::fits(m, r)
            })
            .min_by(|a, b| price(a).total_cmp(&price(b)))
            .cloned()
            .ok_or_else(|| {
                vec![Cause::invalid(
                    gpu_field,
                    format!(
                        "{}: no machine type offers {} x {} fitting {need}",
                        r.gpus, r.gpus, acc.name
                    ),
                )]
            })?;
        let reason = format!(
            "cheapest type carrying {} x {} and fitting {need}: {} (${:.4}/h)",
            r.gpus,
            acc.name,
            m.name,
            price(&m)
        );
        return Ok((m, reason, None));
    }
    if !r.stated {
        let m = catalog::lookup(&s.default_machine_type).ok_or_else(|| {
            vec![Cause::invalid(
                "spec",
                format!(
                    "the configured default machine type {:?} is unknown",
                    s.default_machine_type
                ),
            )]
        })?;
        let reason = format!(
            "the pod states no CPU or memory: the default machine type {} (${:.4}/h)",
            m.name,
            price(&m)
        );
        return Ok((m, reason, None));
    }
    let m = sizing::cheapest(&s.machine_families, r, spot, s.custom_machine_types).ok_or_else(
        || {
            vec![Cause::invalid(
                "spec.containers[*].resources.requests",
                format!(
                    "no machine type of families {} fits {need}",
                    s.machine_families.join(",")
                ),
            )]
        },
    )?;
    let reason = format!(
        "cheapest of {} fitting {need}: {} ({} vCPU, {} MiB) at ${:.4}/h{}",
        s.machine_families.join(","),
        m.name,
        m.vcpus,
        m.memory_mib,
        price(&m),
        if spot { " Spot" } else { "" }
    );
    Ok((m, reason, None))
}

/// GPUs attach to N1 in powers of two.
fn gpu_count(n: u32) -> u32 {
    n.next_power_of_two()
}

/// Required node affinity terms (the first term; Kubernetes ORs terms, k8sless honours the
/// first, which is what GKE users write).
fn required_node_terms(pod: &Pod) -> Vec<NodeSelectorRequirement> {
    pod.spec
        .as_ref()
        .and_then(|s| s.affinity.as_ref())
        .and_then(|a| a.node_affinity.as_ref())
        .and_then(|n| {
            n.required_during_scheduling_ignored_during_execution
                .as_ref()
        })
        .and_then(|r| r.node_selector_terms.first())
        .and_then(|t| t.match_expressions.clone())
        .unwrap_or_default()
}

/// The static pod manifest kubelet runs: the pod's metadata and spec, without status.
pub fn static_manifest(pod: &Pod) -> String {
    let mut p = pod.clone();
    p.status = None;
    p.metadata.managed_fields = None;
    p.metadata.resource_version = None;
    if let Some(spec) = p.spec.as_mut() {
        spec.node_name = None;
    }
    let mut v = serde_json::to_value(&p).unwrap_or_default();
    v["apiVersion"] = "v1".into();
    v["kind"] = "Pod".into();
    v.to_string()
}
