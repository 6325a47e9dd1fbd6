//! Sizing: the pod's effective request as the Kubernetes scheduler computes it, plus an
//! allowance for what runs beside the pod on its VM, and the cheapest machine type that fits.
//!
//! # Allowance
//! Container-Optimized OS, kubelet, containerd and the logging agent use about 600 MiB and a
//! fraction of a core on an idle small VM; k8sless reserves 200m CPU and 640 MiB
//! ([`ALLOWANCE_MILLICPU`], [`ALLOWANCE_MEMORY_MIB`]).

use k8s_openapi::api::core::v1::{Container, PodSpec};

use crate::gce::catalog::{self, MachineType};
use crate::pods::quantity;

/// CPU reserved for the OS, kubelet and logging agent.
pub const ALLOWANCE_MILLICPU: u64 = 200;
/// Memory reserved for the OS, kubelet and logging agent.
pub const ALLOWANCE_MEMORY_MIB: u64 = 640;

/// What the pod needs.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Request {
    /// Milli-CPUs.
    pub millicpu: u64,
    /// Bytes of memory.
    pub memory: u64,
    /// Bytes of ephemeral storage.
    pub ephemeral: u64,
    /// GPUs (from limits).
    pub gpus: u32,
    /// Whether any container states a CPU or memory request or limit.
    pub stated: bool,
}

impl Request {
    /// Memory in MiB, rounded up.
    pub fn memory_mib(&self) -> u64 {
        self.memory.div_ceil(1 << 20)
    }
}

fn container_request(c: &Container) -> Request {
    let r = c.resources.as_ref();
    let get = |name: &str| {
        // Requests, else limits (defaulting copies limits into requests already; this keeps
        // sizing right for pods that were not defaulted, e.g. in `render`).
        r.and_then(|r| {
            r.requests
                .as_ref()
                .and_then(|m| m.get(name))
                .or_else(|| r.limits.as_ref().and_then(|m| m.get(name)))
        })
        .map(|q| q.0.clone())
    };
    let milli = |name: &str| {
        get(name)
            .and_then(|q| quantity::parse_milli(&q).ok())
            .unwrap_or(0) as u64
    };
    let units = |name: &str| {
        get(name)
            .and_then(|q| quantity::parse_units(&q).ok())
            .unwrap_or(0) as u64
    };
    let gpus = r
        .and_then(|r| r.limits.as_ref())
        .and_then(|l| l.get("nvidia.com/gpu"))
        .and_then(|q| quantity::parse_units(&q.0).ok())
        .unwrap_or(0) as u32;
    Request {
        millicpu: milli("cpu"),
        memory: units("memory"),
        ephemeral: units("ephemeral-storage"),
        gpus,
        stated: get("cpu").is_some() || get("memory").is_some(),
    }
}

fn add(a: Request, b: Request) -> Request {
    Request {
        millicpu: a.millicpu + b.millicpu,
        memory: a.memory + b.memory,
        ephemeral: a.ephemeral + b.ephemeral,
        gpus: a.gpus + b.gpus,
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

/// The effective request: the larger of (app containers + restartable init containers) and,
/// for each ordinary init container, itself plus the sidecars started before it.
pub fn effective_request(spec: &PodSpec) -> Request {
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
    max(add(apps, sidecars), init_peak)
}

/// Whether a machine type fits the request plus the allowance.
pub fn fits(m: &MachineType, r: &Request) -> bool {
    m.millicpu() >= r.millicpu + ALLOWANCE_MILLICPU
        && m.memory_mib >= r.memory_mib() + ALLOWANCE_MEMORY_MIB
}

/// The cheapest type of `families` (no accelerator types) that fits, including e2/n2/n2d
/// custom shapes when `custom` is on. Ties go to the smaller shape.
pub fn cheapest(families: &[String], r: &Request, spot: bool, custom: bool) -> Option<MachineType> {
    let price = |m: &MachineType| {
        if spot {
            m.spot_price_hour
        } else {
            m.price_hour
        }
    };
    let mut candidates: Vec<MachineType> = catalog::all()
        .iter()
        .filter(|m| m.accelerator.is_none() && families.iter().any(|f| f == m.family) && fits(m, r))
        .cloned()
        .collect();
    if custom {
        for family in families
            .iter()
            .filter(|f| matches!(f.as_str(), "e2" | "n2" | "n2d"))
        {
            if let Some(c) = custom_shape(family, r) {
                candidates.push(c);
            }
        }
    }
    candidates.into_iter().min_by(|a, b| {
        price(a)
            .total_cmp(&price(b))
            .then(a.vcpus.cmp(&b.vcpus))
            .then(a.memory_mib.cmp(&b.memory_mib))
    })
}

/// The smallest valid custom shape of `family` that fits.
fn custom_shape(family: &str, r: &Request) -> Option<MachineType> {
    let cpus = (r.millicpu + ALLOWANCE_MILLICPU).div_ceil(1000).max(2);
    let cpus = cpus + cpus % 2;
    let need_mib = r.memory_mib() + ALLOWANCE_MEMORY_MIB;
    let mib = need_mib.div_ceil(256) * 256;
    let mib = mib.max(cpus * 512);
    // Memory above 8 GiB per vCPU needs more vCPUs.
    let cpus = cpus.max(mib.div_ceil(8192));
    let cpus = cpus + cpus % 2;
    catalog::custom(&format!("{family}-custom-{cpus}-{}", mib.max(cpus * 512)))
}

#[cfg(test)]
mod tests {
    use super::*;

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
        assert_eq!(r.memory, (1 << 30) as u64, "and memory");
        let s2 = spec(serde_json::json!({
            "containers": [
                {"name": "a", "resources": {"requests": {"cpu": "500m", "memory": "1Gi"}}},
                {"name": "b", "resources": {"requests": {"cpu": "500m", "memory": "1Gi"}}}
            ]
        }));
        assert_eq!(effective_request(&s2).millicpu, 1000);
    }

    #[test]
    fn cheapest_fits() {
        let fams: Vec<String> = ["e2", "n2d", "n2", "c3", "c4"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        let r = Request {
            millicpu: 500,
            memory: 1 << 30,
            ..Default::default()
        };
        let m = cheapest(&fams, &r, false, false).expect("fits");
        assert!(m.name.starts_with("e2-"), "{}", m.name);
        assert!(fits(&m, &r));
    }
}
