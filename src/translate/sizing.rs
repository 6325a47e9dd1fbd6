//! Sizing: the pod's effective request as the Kubernetes scheduler computes it, plus an
//! allowance for what runs beside the pod on its VM, and the cheapest machine type that fits.
//!
//! # Effective request
//! Per resource, as `k8s.io/component-helpers/resource.PodRequests` computes it: the larger
//! of (the sum of the app containers plus the restartable init containers, i.e. sidecars)
//! and, for each ordinary init container, itself plus the sidecars started before it. Each
//! container counts its request, else its limit. Pod-level `spec.resources` (cpu, memory)
//! replaces the containers' sum where set, and `spec.overhead` is added, as the scheduler does.
//! GPUs come from `limits["nvidia.com/gpu"]` (extended resources are never overcommitted).
//!
//! # Allowance
//! Container-Optimized OS, kubelet, containerd and the logging agent use about 600 MiB and a
//! fraction of a core on an idle small VM; k8sless reserves 200m CPU and 640 MiB
//! ([`ALLOWANCE_MILLICPU`], [`ALLOWANCE_MEMORY_MIB`]) on top of the pod's request.
//!
//! # Cheapest fit
//! Among the predefined types of the configured families (accelerator-optimized types aside)
//! and, when enabled, the smallest valid e2/n2/n2d custom shape: the lowest hourly price (Spot
//! or on-demand, as the pod runs), ties to predefined shapes, then to the smaller one. A custom
//! shape therefore wins only when strictly cheaper.

use std::borrow::Cow;

use k8s_openapi::api::core::v1::{Container, PodSpec};

use crate::gce::catalog::{self, MachineType};
use crate::pods::quantity;

/// CPU reserved for the OS, kubelet and logging agent.
pub(crate) const ALLOWANCE_MILLICPU: u64 = 200;
/// Memory reserved for the OS, kubelet and logging agent.
pub(crate) const ALLOWANCE_MEMORY_MIB: u64 = 640;

/// What the pod needs.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct Request {
    /// Milli-CPUs.
    pub millicpu: u64,
    /// Bytes of memory.
    pub memory: u64,
    /// Bytes of ephemeral storage.
    pub ephemeral: u64,
    /// GPUs (from limits).
    pub gpus: u32,
    /// Whether any container (or the pod) states a CPU or memory request or limit.
    pub stated: bool,
}

impl Request {
    /// Memory in MiB, rounded up.
    pub(crate) fn memory_mib(&self) -> u64 {
        self.memory.div_ceil(1 << 20)
    }

    /// Milli-CPUs the VM must have: the request plus the allowance.
    pub(crate) fn need_millicpu(&self) -> u64 {
        self.millicpu.saturating_add(ALLOWANCE_MILLICPU)
    }

    /// MiB the VM must have: the request plus the allowance.
    pub(crate) fn need_memory_mib(&self) -> u64 {
        self.memory_mib().saturating_add(ALLOWANCE_MEMORY_MIB)
    }

    /// `"700m CPU / 1664 MiB (the pod's 500m / 1024 MiB + 200m / 640 MiB for the OS, kubelet
    /// and logging agent)"`.
    pub(crate) fn describe(&self) -> String {
        format!(
            "{}m CPU / {} MiB (the pod's {}m / {} MiB + {}m / {} MiB for the OS, kubelet and logging agent)",
            self.need_millicpu(),
            self.need_memory_mib(),
            self.millicpu,
            self.memory_mib(),
            ALLOWANCE_MILLICPU,
            ALLOWANCE_MEMORY_MIB
        )
    }
}

type Amounts =
    std::collections::BTreeMap<String, k8s_openapi::apimachinery::pkg::api::resource::Quantity>;

fn amounts_request(requests: Option<&Amounts>, limits: Option<&Amounts>) -> Request {
    // Requests, else limits (defaulting copies limits into requests already; this keeps
    // sizing right for pods that were not defaulted).
    let get = |name: &str| {
        requests
            .and_then(|m| m.get(name))
            .or_else(|| limits.and_then(|m| m.get(name)))
            .map(|q| q.0.as_str())
    };
    let milli = |name: &str| {
        get(name)
            .and_then(|q| quantity::parse_milli(q).ok())
            .map_or(0, |v| u64::try_from(v).unwrap_or(u64::MAX))
    };
    let units = |name: &str| {
        get(name)
            .and_then(|q| quantity::parse_units(q).ok())
            .map_or(0, |v| u64::try_from(v).unwrap_or(u64::MAX))
    };
    let gpus = limits
        .and_then(|l| l.get("nvidia.com/gpu"))
        .and_then(|q| quantity::parse_units(&q.0).ok())
        .map_or(0, |v| u32::try_from(v).unwrap_or(u32::MAX));
    Request {
        millicpu: milli("cpu"),
        memory: units("memory"),
        ephemeral: units("ephemeral-storage"),
        gpus,
        stated: get("cpu").is_some() || get("memory").is_some(),
    }
}

fn container_request(c: &Container) -> Request {
    let r = c.resources.as_ref();
    amounts_request(
        r.and_then(|r| r.requests.as_ref()),
        r.and_then(|r| r.limits.as_ref()),
    )
}

fn add(a: Request, b: Request) -> Request {
    Request {
        millicpu: a.millicpu.saturating_add(b.millicpu),
        memory: a.memory.saturating_add(b.memory),
        ephemeral: a.ephemeral.saturating_add(b.ephemeral),
        gpus: a.gpus.saturating_add(b.gpus),
        stated: a.stated || b.stated,
    }
}

fn max(a: Request, b: Request) -> Request {
    Request {
        millicpu: a.millicpu.max(b.millicpu),
        memory: a.memory.max(b.memory),
        ephemeral: a.ephemeral.max(b.ephemeral),
        gpus: a.gpus.max(b.gpus),
        stated: a.stated || b.stated,
    }
}

/// The effective request (see the module documentation).
pub(crate) fn effective_request(spec: &PodSpec) -> Request {
    let mut sidecars = Request::default();
    let mut init_peak = Request::default();
    for c in spec.init_containers.iter().flatten() {
        let r = container_request(c);
        if c.restart_policy.as_deref() == Some("Always") {
            sidecars = add(sidecars, r);
            init_peak = max(init_peak, sidecars);
        } else {
            init_peak = max(init_peak, add(r, sidecars));
        }
    }
    let apps = spec
        .containers
        .iter()
        .map(container_request)
        .fold(Request::default(), add);
    let mut total = max(add(apps, sidecars), init_peak);
    if let Some(pod) = spec.resources.as_ref() {
        let p = amounts_request(pod.requests.as_ref(), pod.limits.as_ref());
        let has = |name: &str| {
            [pod.requests.as_ref(), pod.limits.as_ref()]
                .iter()
                .flatten()
                .any(|m| m.contains_key(name))
        };
        if has("cpu") {
            total.millicpu = p.millicpu;
            total.stated = true;
        }
        if has("memory") {
            total.memory = p.memory;
            total.stated = true;
        }
    }
    if let Some(overhead) = spec.overhead.as_ref() {
        let o = amounts_request(Some(overhead), None);
        total = add(
            total,
            Request {
                stated: false,
                gpus: 0,
                ..o
            },
        );
    }
    total
}

/// The field path of the first container that states `resource` in `which` (`requests` or
/// `limits`; requests also match a limit), where causes about that resource point.
pub(crate) fn resource_field(spec: &PodSpec, resource: &str, which: &str) -> String {
    let has = |c: &Container| {
        c.resources.as_ref().is_some_and(|r| {
            let limits = r.limits.as_ref().is_some_and(|l| l.contains_key(resource));
            let requests = r
                .requests
                .as_ref()
                .is_some_and(|l| l.contains_key(resource));
            limits || (which == "requests" && requests)
        })
    };
    let path = spec
        .containers
        .iter()
        .position(has)
        .map(|i| format!("spec.containers[{i}]"))
        .or_else(|| {
            spec.init_containers
                .iter()
                .flatten()
                .position(has)
                .map(|i| format!("spec.initContainers[{i}]"))
        })
        .unwrap_or_else(|| "spec.containers[0]".into());
    format!("{path}.resources.{which}[{resource}]")
}

/// Where GPU causes point: the first container limiting `nvidia.com/gpu`.
pub(crate) fn gpu_field(spec: &PodSpec) -> String {
    resource_field(spec, "nvidia.com/gpu", "limits")
}

/// Whether a machine type fits the request plus the allowance.
pub(crate) fn fits(m: &MachineType, r: &Request) -> bool {
    m.millicpu() >= r.need_millicpu() && m.memory_mib >= r.need_memory_mib()
}

/// Orders candidates: price, then predefined before custom, then the smaller shape.
/// The tie-breakers are closures: evaluated eagerly (`then`), the name scans of `is_custom`
/// and the name comparison ran on every one of a create's few thousand comparisons and were
/// ~8% of a create's CPU in the service (docs/benchmarks.md, issue 18's seventh part).
pub(crate) fn cheaper(a: &MachineType, b: &MachineType, spot: bool) -> std::cmp::Ordering {
    a.price(spot)
        .total_cmp(&b.price(spot))
        .then_with(|| a.is_custom().cmp(&b.is_custom()))
        .then_with(|| a.vcpus.cmp(&b.vcpus))
        .then_with(|| a.memory_mib.cmp(&b.memory_mib))
        .then_with(|| a.name.cmp(&b.name))
}

/// Every type that fits, cheapest first: predefined types of `families` (no accelerator
/// types) and, when `custom` is on, the smallest custom shape of each of e2/n2/n2d among them.
/// The catalog's types are borrowed, not copied: a create ranks a few hundred of them, and
/// copying each (its name) was a sixth of a create's time in the service.
pub(crate) fn ranked(
    families: &[String],
    r: &Request,
    spot: bool,
    custom: bool,
) -> Vec<Cow<'static, MachineType>> {
    let mut candidates: Vec<Cow<'static, MachineType>> = catalog::all()
        .iter()
        .filter(|m| m.accelerator.is_none() && families.iter().any(|f| f == m.family) && fits(m, r))
        .map(Cow::Borrowed)
        .collect();
    if custom {
        candidates.extend(
            families
                .iter()
                .filter_map(|f| custom_shape(f, r))
                .map(Cow::Owned),
        );
    }
    candidates.sort_by(|a, b| cheaper(a, b, spot));
    candidates
}

/// The smallest valid custom shape of `family` that fits: the fewest valid vCPUs covering the
/// CPU and the memory (at most 8 GiB per vCPU), then the least memory (a multiple of 256 MiB,
/// at least 512 MiB per vCPU). Price grows with both, so it is also the cheapest custom fit.
pub(crate) fn custom_shape(family: &str, r: &Request) -> Option<MachineType> {
    let mib = r.need_memory_mib().div_ceil(256).checked_mul(256)?;
    let min_cpus = r.need_millicpu().div_ceil(1000).max(mib.div_ceil(8192));
    let cpus = (2..=96u32)
        .find(|&c| u64::from(c) >= min_cpus && catalog::custom_vcpus_valid(family, c))?;
    catalog::custom_of(family, cpus, mib.max(u64::from(cpus) * 512))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The cheapest type that fits (see [`ranked`]).
    fn cheapest(families: &[String], r: &Request, spot: bool, custom: bool) -> Option<MachineType> {
        ranked(families, r, spot, custom)
            .into_iter()
            .next()
            .map(Cow::into_owned)
    }

    fn spec(v: serde_json::Value) -> PodSpec {
        serde_json::from_value(v).expect("spec")
    }

    #[test]
    fn effective_request_follows_the_scheduler() {
        let s = spec(serde_json::json!({
            "initContainers": [
                {"name": "init", "resources": {"requests": {"cpu": "2", "memory": "1Gi"}}},
                {"name": "sidecar", "restartPolicy": "Always", "resources": {"requests": {"cpu": "100m", "memory": "64Mi"}}}
            ],
            "containers": [
                {"name": "a", "resources": {"requests": {"cpu": "500m", "memory": "256Mi"}}},
                {"name": "b", "resources": {"limits": {"cpu": "250m", "memory": "128Mi"}}}
            ]
        }));
        let r = effective_request(&s);
        assert_eq!(r.millicpu, 2000, "the init container dominates CPU");
        assert_eq!(r.memory, 1 << 30, "and memory");
        let s2 = spec(serde_json::json!({
            "containers": [
                {"name": "a", "resources": {"requests": {"cpu": "500m", "memory": "1Gi"}}},
                {"name": "b", "resources": {"requests": {"cpu": "500m", "memory": "1Gi"}}}
            ],
            "overhead": {"cpu": "250m", "memory": "120Mi"}
        }));
        assert_eq!(effective_request(&s2).millicpu, 1250);
        let s3 = spec(serde_json::json!({
            "containers": [{"name": "a", "resources": {"requests": {"cpu": "4"}}}],
            "resources": {"requests": {"cpu": "1"}, "limits": {"memory": "2Gi"}}
        }));
        let r3 = effective_request(&s3);
        assert_eq!(
            (r3.millicpu, r3.memory_mib()),
            (1000, 2048),
            "pod-level resources win"
        );
    }

    /// A request of `millicpu` and `memory` bytes, nothing else.
    fn cpu_mem(millicpu: u64, memory: u64) -> Request {
        Request {
            millicpu,
            memory,
            ..Default::default()
        }
    }

    #[test]
    fn cheapest_fits_and_custom_only_when_cheaper() {
        let fams: Vec<String> = ["e2", "n2d", "n2", "c3", "c4"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        let r = cpu_mem(500, 1 << 30);
        let m = cheapest(&fams, &r, false, false).expect("fits");
        assert_eq!(m.name, "e2-medium");
        assert_eq!(
            cheapest(&fams, &r, false, true).map(|m| m.name),
            Some("e2-medium".into())
        );
        let big = cpu_mem(2800, 6 << 30);
        let c = cheapest(&fams, &big, false, true).expect("fits");
        assert_eq!(c.name, "e2-custom-4-6912");
        assert_eq!(
            custom_shape("n2d", &cpu_mem(5000, 0)).map(|m| m.name),
            Some("n2d-custom-8-4096".into())
        );
    }
}
