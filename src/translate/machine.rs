//! The machine type: named by the pod, sized for its GPUs, the configured default for pods that
//! state no CPU or memory, or the cheapest type that fits. Each choice comes with the sentence
//! users read in the `k8sless.dev/machine-type-reason` annotation and the Scheduled event.
//!
//! # GPUs
//! N1 takes T4, P4, V100 and P100 GPUs as guest accelerators, in the counts Compute Engine
//! allows per model and with its cap on the N1 shape per count; L4, A100 and H100 come built
//! into accelerator-optimized types (g2, a2, a3), and the type carrying exactly the pod's GPU
//! count is chosen. The configured families do not restrict GPU pods.

use k8s_openapi::api::core::v1::PodSpec;

use super::VmSettings;
use super::placement::{ACCELERATOR_KEY, Placement};
use super::sizing::{self, Request};
use crate::error::Cause;
use crate::gce::catalog::{self, Accelerator, MachineType};

/// What runs the pod.
#[derive(Debug, Clone)]
pub(crate) struct Choice {
    /// The machine type.
    pub machine: MachineType,
    /// Why, for people.
    pub reason: String,
    /// GPUs attached to an N1 VM as guest accelerators: model and count.
    pub attach: Option<(&'static Accelerator, u32)>,
    /// The GPU model on the VM, attached or built in.
    pub accelerator: Option<&'static Accelerator>,
}

impl Choice {
    /// `machine` for `reason`, without GPUs.
    pub(super) fn plain(machine: MachineType, reason: String) -> Choice {
        Choice {
            machine,
            reason,
            attach: None,
            accelerator: None,
        }
    }
}

/// A machine type's shape and price, as reasons state it: `<shape> at <price>`.
fn offer_text(m: &MachineType, spot: bool) -> String {
    format!("{} at {}", shape_text(m), price_text(m, spot))
}

fn price_text(m: &MachineType, spot: bool) -> String {
    format!(
        "${:.4}/h {}",
        m.price(spot),
        if spot { "Spot" } else { "on demand" }
    )
}

fn shape_text(m: &MachineType) -> String {
    if m.shared_core {
        format!(
            "{} shared vCPU ({}m sustained), {} MiB",
            m.vcpus,
            m.millicpu(),
            m.memory_mib
        )
    } else {
        format!("{} vCPU, {} MiB", m.vcpus, m.memory_mib)
    }
}

/// Chooses the machine type. `explicit` is the type the pod names, with its field.
pub(crate) fn choose(
    spec: &PodSpec,
    r: &Request,
    p: &Placement,
    explicit: Option<(String, String)>,
    s: &VmSettings,
) -> Result<Choice, Vec<Cause>> {
    let gpu_field = sizing::gpu_field(spec);
    let named = match explicit {
        Some((name, field)) => Some(lookup_named(&name, field)?),
        None => None,
    };
    let acc = accelerator(r, p, named.as_ref().map(|(m, _)| m), &gpu_field, s)?;
    if let Some((m, field)) = named {
        return named_choice(m, field, acc, r, p.spot, &gpu_field);
    }
    if let Some(a) = acc {
        return if a.attachable_to_n1 {
            n1_with_gpus(a, r, p.spot, &gpu_field)
        } else {
            built_in_gpus(a, r, p.spot, &gpu_field)
        };
    }
    if !r.stated {
        return default_choice(s, p.spot);
    }
    cheapest_choice(r, p.spot, s)
}

/// The machine type the pod names, with the field that names it.
fn lookup_named(name: &str, field: String) -> Result<(MachineType, String), Vec<Cause>> {
    match catalog::lookup(name) {
        Some(m) => Ok((m, field)),
        None => Err(vec![Cause::invalid(
            field,
            format!(
                "{name:?}: not a machine type k8sless knows (e2, n2, n2d, c3, c4, n1, g2, a2 and a3 types, and e2/n2/n2d custom types such as e2-custom-2-4096)"
            ),
        )]),
    }
}

/// The type the pod names, if it fits the pod and carries (or can take) its GPUs.
fn named_choice(
    m: MachineType,
    field: String,
    acc: Option<&'static Accelerator>,
    r: &Request,
    spot: bool,
    gpu_field: &str,
) -> Result<Choice, Vec<Cause>> {
    let need = r.describe();
    if !sizing::fits(&m, r) {
        return Err(vec![Cause::invalid(
            field,
            format!(
                "{:?}: too small for the pod: it has {}m CPU and {} MiB, the pod needs {need}",
                m.name,
                m.millicpu(),
                m.memory_mib
            ),
        )]);
    }
    let attach = named_attach(&m, &field, acc, r, gpu_field)?;
    let gpus = match attach {
        Some((a, n)) => format!(" with {n} x {}", a.name),
        None => String::new(),
    };
    let reason = format!(
        "{}{gpus}: named by {field}; it fits {need}: {}",
        m.name,
        offer_text(&m, spot)
    );
    let accelerator = acc.or_else(|| {
        m.accelerator
            .and_then(|(model, _)| catalog::accelerator(model))
    });
    Ok(Choice {
        machine: m,
        reason,
        attach,
        accelerator,
    })
}

/// The GPUs to attach to a named type: none when it has them built in, the pod's on an N1
/// within the N1 shape cap, an error otherwise.
fn named_attach(
    m: &MachineType,
    field: &str,
    acc: Option<&'static Accelerator>,
    r: &Request,
    gpu_field: &str,
) -> Result<Option<(&'static Accelerator, u32)>, Vec<Cause>> {
    match (acc, m.accelerator) {
        (None, _) => Ok(None),
        (Some(a), Some((model, n))) if a.name == model && n >= r.gpus => Ok(None),
        (Some(a), None) if a.attachable_to_n1 && m.family == "n1" => {
            let (cpus, mib) = n1_limits(a, r.gpus, gpu_field)?;
            if m.vcpus <= cpus && m.memory_mib <= mib {
                Ok(Some((a, r.gpus)))
            } else {
                Err(vec![Cause::invalid(
                    field,
                    format!(
                        "{:?}: N1 VMs with {} x {} have at most {cpus} vCPUs and {} GiB",
                        m.name,
                        r.gpus,
                        a.name,
                        mib / 1024
                    ),
                )])
            }
        }
        (Some(a), _) => Err(vec![Cause::invalid(
            field,
            format!(
                "{:?}: does not carry {} x {}; {}",
                m.name,
                r.gpus,
                a.name,
                carrier_hint(a)
            ),
        )]),
    }
}

/// The configured default, for pods that request no CPU or memory.
fn default_choice(s: &VmSettings, spot: bool) -> Result<Choice, Vec<Cause>> {
    let m = catalog::lookup(&s.default_machine_type).ok_or_else(|| {
        vec![Cause::invalid(
            "spec.containers",
            format!(
                "the configured default machine type {:?} is unknown",
                s.default_machine_type
            ),
        )]
    })?;
    let reason = format!(
        "{}: the pod requests no CPU or memory, so the default machine type (--default-machine-type): {}",
        m.name,
        offer_text(&m, spot)
    );
    Ok(Choice::plain(m, reason))
}

/// The cheapest type of the configured families that fits, and the runner-up in the reason.
fn cheapest_choice(r: &Request, spot: bool, s: &VmSettings) -> Result<Choice, Vec<Cause>> {
    super::cheapest::CHOICES.choice(r, spot, &s.machine_families, s.custom_machine_types, || {
        rank_cheapest(r, spot, s)
    })
}

/// [`cheapest_choice`], ranked.
fn rank_cheapest(r: &Request, spot: bool, s: &VmSettings) -> Result<Choice, Vec<Cause>> {
    let need = r.describe();
    let families = s.machine_families.join(", ");
    let ranked = sizing::ranked(&s.machine_families, r, spot, s.custom_machine_types);
    let Some(m) = ranked.first().map(|m| m.clone().into_owned()) else {
        return Err(vec![Cause::invalid(
            "spec.containers",
            format!("no machine type of the families {families} has {need}"),
        )]);
    };
    let mut reason = format!(
        "{}: the cheapest of {families} with {need}: {}",
        m.name,
        offer_text(&m, spot)
    );
    if m.is_custom() {
        if let Some(pre) = ranked.iter().find(|c| !c.is_custom()) {
            reason.push_str(&format!(
                "; a custom type, cheaper than the cheapest predefined type {} at {}",
                pre.name,
                price_text(pre, spot)
            ));
        }
    } else if let Some(next) = ranked.get(1) {
        reason.push_str(&format!(
            "; next cheapest {} at {}",
            next.name,
            price_text(next, spot)
        ));
    }
    Ok(Choice::plain(m, reason))
}

/// The GPU model the pod needs, if any.
fn accelerator(
    r: &Request,
    p: &Placement,
    named: Option<&MachineType>,
    gpu_field: &str,
    s: &VmSettings,
) -> Result<Option<&'static Accelerator>, Vec<Cause>> {
    if r.gpus == 0 {
        return match &p.accelerator {
            Some((name, field)) => Err(vec![Cause::required(gpu_field).with_message(format!(
                "{field} asks for {name} GPUs, but no container limits nvidia.com/gpu: set resources.limits[nvidia.com/gpu] on the container that uses them"
            ))]),
            None => Ok(None),
        };
    }
    if let Some((name, field)) = &p.accelerator {
        return catalog::accelerator(name).map(Some).ok_or_else(|| {
            vec![Cause::not_supported(
                field.clone(),
                format!("{name:?}: not an accelerator k8sless knows"),
            )]
        });
    }
    if let Some(a) = named
        .and_then(|m| m.accelerator)
        .and_then(|(model, _)| catalog::accelerator(model))
    {
        return Ok(Some(a));
    }
    match &s.default_accelerator {
        Some(d) => catalog::accelerator(d).map(Some).ok_or_else(|| {
            vec![Cause::invalid(
                gpu_field,
                format!("the configured default accelerator {d:?} is unknown"),
            )]
        }),
        None => Err(vec![Cause::required(format!("spec.nodeSelector[{ACCELERATOR_KEY}]")).with_message(format!(
            "a GPU request needs nodeSelector {ACCELERATOR_KEY} naming the GPU ({}), and no default accelerator is configured (--default-accelerator)",
            catalog::ACCELERATORS.iter().map(|a| a.name).collect::<Vec<_>>().join(", ")
        ))]),
    }
}

/// The N1 shape limits for `count` GPUs of `a`, or the 422 for a count N1 does not take.
fn n1_limits(a: &Accelerator, count: u32, gpu_field: &str) -> Result<(u32, u64), Vec<Cause>> {
    a.n1_limits(count).ok_or_else(|| {
        let counts: Vec<u32> = a.n1_counts.iter().map(|(n, _, _)| *n).collect();
        vec![Cause::invalid(
            gpu_field,
            format!(
                "\"{count}\": no machine type offers {count} x {}: N1 VMs take {} of them",
                a.name,
                or_list(&counts)
            ),
        )]
    })
}

/// `1, 2 or 4`.
fn or_list(counts: &[u32]) -> String {
    match counts.split_last() {
        None => String::new(),
        Some((last, [])) => last.to_string(),
        Some((last, rest)) => {
            let head: Vec<String> = rest.iter().map(u32::to_string).collect();
            format!("{} or {last}", head.join(", "))
        }
    }
}

/// The machine types with `a` built in.
fn carriers(a: &Accelerator) -> impl Iterator<Item = &'static MachineType> + '_ {
    catalog::all()
        .iter()
        .filter(move |m| m.accelerator.is_some_and(|(model, _)| model == a.name))
}

/// The cheapest of `candidates` that fits `r`.
fn cheapest_fit<'a>(
    candidates: impl Iterator<Item = &'a MachineType>,
    r: &Request,
    spot: bool,
) -> Option<MachineType> {
    candidates
        .filter(|m| sizing::fits(m, r))
        .min_by(|x, y| sizing::cheaper(x, y, spot))
        .cloned()
}

fn carrier_hint(a: &Accelerator) -> String {
    if a.attachable_to_n1 {
        return format!("{} attaches to N1 machine types only", a.name);
    }
    let carriers: Vec<&str> = carriers(a).map(|m| m.name.as_str()).collect();
    format!("{} comes with {}", a.name, carriers.join(", "))
}

fn n1_with_gpus(
    a: &'static Accelerator,
    r: &Request,
    spot: bool,
    gpu_field: &str,
) -> Result<Choice, Vec<Cause>> {
    let (cpus, mib) = n1_limits(a, r.gpus, gpu_field)?;
    let need = r.describe();
    let m = cheapest_fit(
        catalog::all()
            .iter()
            .filter(|m| m.family == "n1" && m.vcpus <= cpus && m.memory_mib <= mib),
        r,
        spot,
    )
    .ok_or_else(|| {
            vec![Cause::invalid(
                gpu_field,
                format!(
                    "\"{}\": no N1 machine type with {} x {} has {need}: N1 VMs with {} x {} have at most {cpus} vCPUs and {} GiB",
                    r.gpus,
                    r.gpus,
                    a.name,
                    r.gpus,
                    a.name,
                    mib / 1024
                ),
            )]
        })?;
    let reason = format!(
        "{} with {} x {}: the cheapest N1 type with {need} that takes {} GPUs: {} plus ${:.4}/h per GPU on demand",
        m.name,
        r.gpus,
        a.name,
        r.gpus,
        offer_text(&m, spot),
        a.price_hour
    );
    Ok(Choice {
        machine: m,
        reason,
        attach: Some((a, r.gpus)),
        accelerator: Some(a),
    })
}

fn built_in_gpus(
    a: &'static Accelerator,
    r: &Request,
    spot: bool,
    gpu_field: &str,
) -> Result<Choice, Vec<Cause>> {
    let carriers: Vec<&MachineType> = carriers(a).collect();
    let mut counts: Vec<u32> = carriers
        .iter()
        .filter_map(|m| m.accelerator.map(|(_, n)| n))
        .collect();
    counts.sort_unstable();
    counts.dedup();
    if !counts.contains(&r.gpus) {
        return Err(vec![Cause::invalid(
            gpu_field,
            format!(
                "\"{}\": no machine type offers {} x {}: its machine types carry {}",
                r.gpus,
                r.gpus,
                a.name,
                or_list(&counts)
            ),
        )]);
    }
    let need = r.describe();
    let m = cheapest_fit(
        carriers
            .into_iter()
            .filter(|m| m.accelerator.is_some_and(|(_, n)| n == r.gpus)),
        r,
        spot,
    )
    .ok_or_else(|| {
        vec![Cause::invalid(
            gpu_field,
            format!(
                "\"{}\": no machine type with {} x {} has {need}",
                r.gpus, r.gpus, a.name
            ),
        )]
    })?;
    let reason = format!(
        "{}: the cheapest type carrying {} x {} with {need}: {} (GPUs included)",
        m.name,
        r.gpus,
        a.name,
        offer_text(&m, spot)
    );
    Ok(Choice {
        accelerator: Some(a),
        ..Choice::plain(m, reason)
    })
}
