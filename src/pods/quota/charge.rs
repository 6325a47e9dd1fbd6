//! What a pod costs a namespace's quota: its `pods` count, its requests and limits (as
//! Kubernetes' pod evaluator sums them: the containers' sum or the largest init container,
//! whichever is more), its GPUs, and k8sless' own resource, the hourly on-demand price of its
//! VM ([`HOURLY_PRICE`], from the machine catalog). Amounts are integers in thousandths of
//! the unit (milli-CPU, milli-bytes, milli-USD), formatted back as Kubernetes quantities.

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::{Container, Pod};

use crate::gce::catalog;
use crate::pods::quantity::parse_milli;
use crate::translate::VmPlan;

/// k8sless' quota resource: USD per hour of the namespace's VMs at on-demand prices.
pub(crate) const HOURLY_PRICE: &str = "k8sless.dev/hourly-price";

/// The resources a ResourceQuota may limit, and what each counts (aliases as Kubernetes has
/// them: `cpu` is `requests.cpu`, `count/pods` is `pods`).
pub(crate) const SUPPORTED: &[(&str, &str)] = &[
    ("pods", "pods"),
    ("count/pods", "pods"),
    ("cpu", "requests.cpu"),
    ("memory", "requests.memory"),
    ("requests.cpu", "requests.cpu"),
    ("requests.memory", "requests.memory"),
    ("limits.cpu", "limits.cpu"),
    ("limits.memory", "limits.memory"),
    ("requests.nvidia.com/gpu", "requests.nvidia.com/gpu"),
    (HOURLY_PRICE, HOURLY_PRICE),
];

/// What a hard resource name counts (`None`: not one k8sless tracks).
pub(crate) fn canonical(resource: &str) -> Option<&'static str> {
    SUPPORTED
        .iter()
        .find(|(name, _)| *name == resource)
        .map(|(_, c)| *c)
}

/// Amounts by canonical resource, in thousandths.
pub(crate) type Amounts = BTreeMap<String, u64>;

#[derive(Clone, Copy)]
enum Side {
    Requests,
    Limits,
}

/// A container's amount of `resource`: its request (or, as Kubernetes defaults it, its
/// limit), or its limit.
fn container_amount(c: &Container, side: Side, resource: &str) -> Option<u64> {
    let r = c.resources.as_ref()?;
    let q = match side {
        Side::Requests => r
            .requests
            .as_ref()
            .and_then(|m| m.get(resource))
            .or_else(|| r.limits.as_ref().and_then(|m| m.get(resource))),
        Side::Limits => r.limits.as_ref().and_then(|m| m.get(resource)),
    }?;
    parse_milli(&q.0)
        .ok()
        .map(|v| u64::try_from(v).unwrap_or(u64::MAX))
}

fn pod_amount(pod: &Pod, side: Side, resource: &str) -> u64 {
    let Some(spec) = &pod.spec else { return 0 };
    let sum = spec
        .containers
        .iter()
        .filter_map(|c| container_amount(c, side, resource))
        .fold(0u64, u64::saturating_add);
    let init = spec
        .init_containers
        .iter()
        .flatten()
        .filter_map(|c| container_amount(c, side, resource))
        .max()
        .unwrap_or(0);
    sum.max(init)
}

/// The VM's hourly on-demand price in thousandths of a USD, rounded up: the machine type's
/// price plus its attached GPUs'.
pub(crate) fn price_milli(machine: &catalog::MachineType, attached: &[(String, u32)]) -> u64 {
    let gpus: f64 = attached
        .iter()
        .filter_map(|(name, n)| catalog::accelerator(name).map(|a| a.price_hour * f64::from(*n)))
        .sum();
    ((machine.price_hour + gpus) * 1000.0).ceil().max(0.0) as u64
}

/// The charge of `pod` as `plan` runs it.
pub(crate) fn of(pod: &Pod, plan: &VmPlan) -> Amounts {
    let attached: Vec<(String, u32)> = plan
        .instance
        .guest_accelerators
        .iter()
        .map(|a| {
            let name = a
                .accelerator_type
                .rsplit('/')
                .next()
                .unwrap_or("")
                .to_string();
            (name, u32::try_from(a.accelerator_count).unwrap_or(0))
        })
        .collect();
    of_pod(pod, price_milli(&plan.machine, &attached))
}

/// The charge of `pod` on a VM of hourly price `price` (thousandths of a USD).
pub(crate) fn of_pod(pod: &Pod, price: u64) -> Amounts {
    let mut a = Amounts::new();
    a.insert("pods".into(), 1000);
    for (name, side, resource) in [
        ("requests.cpu", Side::Requests, "cpu"),
        ("requests.memory", Side::Requests, "memory"),
        ("limits.cpu", Side::Limits, "cpu"),
        ("limits.memory", Side::Limits, "memory"),
        ("requests.nvidia.com/gpu", Side::Requests, "nvidia.com/gpu"),
    ] {
        a.insert(name.into(), pod_amount(pod, side, resource));
    }
    a.insert(HOURLY_PRICE.into(), price);
    a
}

/// Containers that do not state what a quota on `resource` needs them to (Kubernetes'
/// "must specify": every container must request, or limit, the CPU and memory a quota counts).
pub(crate) fn unspecified(pod: &Pod, canonical: &str) -> Vec<String> {
    let (side, resource) = match canonical {
        "requests.cpu" => (Side::Requests, "cpu"),
        "requests.memory" => (Side::Requests, "memory"),
        "limits.cpu" => (Side::Limits, "cpu"),
        "limits.memory" => (Side::Limits, "memory"),
        _ => return Vec::new(),
    };
    let Some(spec) = &pod.spec else {
        return Vec::new();
    };
    let mut names: Vec<String> = spec
        .containers
        .iter()
        .chain(spec.init_containers.iter().flatten())
        .filter(|c| container_amount(c, side, resource).is_none())
        .map(|c| c.name.clone())
        .collect();
    names.sort();
    names
}

/// An amount as a Kubernetes quantity: `2`, `1500m`, `4Gi`; the price in USD (`0.19`).
pub(crate) fn format(canonical: &str, milli: u64) -> String {
    if canonical == HOURLY_PRICE {
        let whole = milli / 1000;
        let frac = milli % 1000;
        return if frac == 0 {
            whole.to_string()
        } else {
            format!("{whole}.{}", format!("{frac:03}").trim_end_matches('0'))
        };
    }
    if canonical.ends_with("memory") && milli % 1000 == 0 {
        let bytes = milli / 1000;
        for (suffix, unit) in [("Gi", 1u64 << 30), ("Mi", 1 << 20), ("Ki", 1 << 10)] {
            if bytes != 0 && bytes % unit == 0 {
                return format!("{}{suffix}", bytes / unit);
            }
        }
        return bytes.to_string();
    }
    if milli % 1000 == 0 {
        (milli / 1000).to_string()
    } else {
        format!("{milli}m")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn pod(v: serde_json::Value) -> Pod {
        serde_json::from_value(v).expect("pod")
    }

    #[test]
    fn sums_containers_and_takes_the_largest_init_container() {
        let p = pod(json!({"spec": {
            "containers": [
                {"name": "a", "resources": {"requests": {"cpu": "500m", "memory": "1Gi"}}},
                {"name": "b", "resources": {"limits": {"cpu": "1", "memory": "1Gi", "nvidia.com/gpu": "1"}}}
            ],
            "initContainers": [{"name": "i", "resources": {"requests": {"cpu": "2"}}}]
        }}));
        let a = of_pod(&p, 95);
        assert_eq!(a["pods"], 1000);
        assert_eq!(a["requests.cpu"], 2000, "init container 2 > 0.5 + 1");
        assert_eq!(a["requests.memory"], 2 * 1000 * (1 << 30));
        assert_eq!(a["limits.cpu"], 1000);
        assert_eq!(
            a["requests.nvidia.com/gpu"], 1000,
            "requests default to limits"
        );
        assert_eq!(a[HOURLY_PRICE], 95);
        assert_eq!(unspecified(&p, "limits.cpu"), ["a", "i"]);
        assert!(unspecified(&p, "requests.cpu").is_empty());
    }

    #[test]
    fn amounts_format_as_quantities() {
        assert_eq!(format("pods", 2000), "2");
        assert_eq!(format("requests.cpu", 1500), "1500m");
        assert_eq!(format("requests.memory", 4 * 1000 * (1 << 30)), "4Gi");
        assert_eq!(format("limits.memory", 1000 * 1000), "1000");
        assert_eq!(format(HOURLY_PRICE, 190), "0.19");
        assert_eq!(format(HOURLY_PRICE, 1000), "1");
        assert_eq!(canonical("cpu"), Some("requests.cpu"));
        assert_eq!(canonical("services"), None);
    }
}
