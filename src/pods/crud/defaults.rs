//! The defaults the Kubernetes API server applies to a new pod (its defaulting functions and
//! the default admission plugins that matter without a cluster), plus k8sless' own:
//! `hostNetwork: true`, since the pod owns its VM's network.

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::{Container, Pod, PodSpec};

/// Fills in defaults, in place. Idempotent.
pub fn apply(pod: &mut Pod) {
    let spec = pod.spec.get_or_insert_with(PodSpec::default);
    spec.restart_policy.get_or_insert_with(|| "Always".into());
    spec.termination_grace_period_seconds.get_or_insert(30);
    spec.dns_policy.get_or_insert_with(|| "ClusterFirst".into());
    spec.scheduler_name
        .get_or_insert_with(|| "default-scheduler".into());
    spec.security_context.get_or_insert_with(Default::default);
    spec.enable_service_links.get_or_insert(true);
    spec.preemption_policy
        .get_or_insert_with(|| "PreemptLowerPriority".into());
    spec.priority.get_or_insert(0);
    spec.host_network.get_or_insert(true);
    for c in spec.init_containers.iter_mut().flatten() {
        container(c);
    }
    for c in &mut spec.containers {
        container(c);
    }
    for v in spec.volumes.iter_mut().flatten() {
        if let Some(d) = v.downward_api.as_mut() {
            d.default_mode.get_or_insert(0o644);
        }
    }
}

fn container(c: &mut Container) {
    if c.image_pull_policy.is_none() {
        c.image_pull_policy = Some(pull_policy(c.image.as_deref().unwrap_or("")).into());
    }
    c.termination_message_path
        .get_or_insert_with(|| "/dev/termination-log".into());
    c.termination_message_policy
        .get_or_insert_with(|| "File".into());
    let resources = c.resources.get_or_insert_with(Default::default);
    // Requests default to limits for every resource that has a limit but no request.
    if let Some(limits) = &resources.limits {
        let requests = resources.requests.get_or_insert_with(BTreeMap::new);
        for (name, q) in limits {
            requests.entry(name.clone()).or_insert_with(|| q.clone());
        }
    }
    for p in c.ports.iter_mut().flatten() {
        p.protocol.get_or_insert_with(|| "TCP".into());
        // With hostNetwork, Kubernetes defaults hostPort to containerPort.
        if p.host_port.is_none() {
            p.host_port = Some(p.container_port);
        }
    }
    for e in c.env.iter_mut().flatten() {
        if let Some(f) = e.value_from.as_mut().and_then(|v| v.field_ref.as_mut()) {
            f.api_version.get_or_insert_with(|| "v1".into());
        }
    }
}

/// `Always` for `:latest` or no tag (and no digest), else `IfNotPresent`.
pub(crate) fn pull_policy(image: &str) -> &'static str {
    if image.contains('@') {
        return "IfNotPresent";
    }
    let last = image.rsplit('/').next().unwrap_or(image);
    match last.split_once(':') {
        None => "Always",
        Some((_, "latest")) => "Always",
        Some(_) => "IfNotPresent",
    }
}

/// The pod's QoS class, as Kubernetes computes it.
pub(crate) fn qos_class(spec: &PodSpec) -> &'static str {
    let all = spec
        .init_containers
        .iter()
        .flatten()
        .chain(spec.containers.iter());
    let mut any = false;
    let mut guaranteed = true;
    for c in all {
        let r = c.resources.as_ref();
        let requests = r.and_then(|r| r.requests.as_ref());
        let limits = r.and_then(|r| r.limits.as_ref());
        for res in ["cpu", "memory"] {
            let req = requests.and_then(|m| m.get(res));
            let lim = limits.and_then(|m| m.get(res));
            if req.is_some() || lim.is_some() {
                any = true;
            }
            match (req, lim) {
                (Some(a), Some(b)) if a == b => {}
                _ => guaranteed = false,
            }
        }
    }
    if !any {
        "BestEffort"
    } else if guaranteed {
        "Guaranteed"
    } else {
        "Burstable"
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pull_policies() {
        assert_eq!(pull_policy("busybox"), "Always");
        assert_eq!(pull_policy("busybox:latest"), "Always");
        assert_eq!(pull_policy("busybox:1.36"), "IfNotPresent");
        assert_eq!(pull_policy("localhost:5000/busybox"), "Always");
        assert_eq!(pull_policy("gcr.io/x/y@sha256:abc"), "IfNotPresent");
    }

    #[test]
    fn defaults_are_idempotent() {
        let mut pod: Pod = serde_json::from_value(serde_json::json!({
            "metadata": {"name": "x"},
            "spec": {"containers": [{"name": "c", "image": "busybox", "resources": {"limits": {"cpu": "1"}}}]}
        }))
        .expect("pod");
        apply(&mut pod);
        let once = serde_json::to_value(&pod).expect("json");
        apply(&mut pod);
        assert_eq!(once, serde_json::to_value(&pod).expect("json"));
        let spec = pod.spec.as_ref().expect("spec");
        assert_eq!(spec.host_network, Some(true));
        assert_eq!(
            spec.containers[0]
                .resources
                .as_ref()
                .and_then(|r| r.requests.as_ref())
                .map(|r| r.len()),
            Some(1)
        );
        assert_eq!(qos_class(spec), "Burstable");
    }
}
