//! Pod validation: Kubernetes' own rules for the fields k8sless accepts, and what a one-time VM
//! cannot run (ConfigMaps, Secrets, volumes claims, ...), each with a message that says what
//! to do instead. Returns every problem at once, as field causes for a 422.

use std::collections::{BTreeMap, HashSet};

use k8s_openapi::api::core::v1::{Container, Pod, PodSpec, Volume};

use super::names;
use super::quantity;
use crate::error::Cause;

/// Largest total size of a pod's annotations (Kubernetes: 256 KiB).
pub const ANNOTATIONS_MAX: usize = 256 * 1024;

/// The `Warning` a pod with `hostNetwork: false` is accepted with (docs/pod-to-vm.md#network).
pub const HOST_NETWORK_WARNING: &str = "spec.hostNetwork: false is kept as you sent it, but the pod runs on its VM's network (k8sless runs each pod on a VM of its own and gives it no separate network namespace): containers see the VM's interfaces and their ports are the VM's ports";

/// What an accepted pod runs differently from what it says: `Warning` headers for the create.
pub fn warnings(pod: &Pod) -> Vec<String> {
    let mut out = Vec::new();
    if pod.spec.as_ref().and_then(|s| s.host_network) == Some(false) {
        out.push(HOST_NETWORK_WARNING.to_string());
    }
    out
}

/// Validates a defaulted pod; `Ok` or every cause found.
pub fn validate(pod: &Pod) -> Result<(), Vec<Cause>> {
    let mut causes = Vec::new();
    metadata(pod, &mut causes);
    match &pod.spec {
        Some(spec) => self::spec(spec, &mut causes),
        None => causes.push(Cause::required("spec")),
    }
    if causes.is_empty() {
        Ok(())
    } else {
        Err(causes)
    }
}

fn metadata(pod: &Pod, causes: &mut Vec<Cause>) {
    let m = &pod.metadata;
    match m.name.as_deref() {
        None | Some("") => causes.push(Cause::new(
            "FieldValueRequired",
            "metadata.name",
            "name or generateName is required",
        )),
        Some(name) => {
            if let Err(e) = names::dns1123_subdomain(name) {
                causes.push(Cause::invalid("metadata.name", format!("{name:?}: {e}")));
            }
        }
    }
    if let Some(ns) = m.namespace.as_deref() {
        if let Err(e) = names::dns1123_label(ns) {
            causes.push(Cause::invalid("metadata.namespace", format!("{ns:?}: {e}")));
        }
    }
    if let Some(labels) = &m.labels {
        for (k, v) in labels {
            if let Err(e) = names::qualified_name(k) {
                causes.push(Cause::invalid("metadata.labels", format!("{k:?}: {e}")));
            }
            if let Err(e) = names::label_value(v) {
                causes.push(Cause::invalid(
                    format!("metadata.labels[{k}]"),
                    format!("{v:?}: {e}"),
                ));
            }
        }
    }
    if let Some(annotations) = &m.annotations {
        let mut total = 0;
        for (k, v) in annotations {
            total += k.len() + v.len();
            if let Err(e) = names::qualified_name(&k.to_ascii_lowercase()) {
                causes.push(Cause::invalid(
                    "metadata.annotations",
                    format!("{k:?}: {e}"),
                ));
            }
        }
        if total > ANNOTATIONS_MAX {
            causes.push(Cause::too_long(
                "metadata.annotations",
                "may not be more than 262144 bytes",
            ));
        }
    }
    if m.finalizers.as_ref().is_some_and(|f| !f.is_empty()) {
        causes.push(Cause::forbidden(
            "metadata.finalizers",
            "finalizers are not supported by k8sless: pods are deleted with their VM",
        ));
    }
    if m.owner_references.as_ref().is_some_and(|o| !o.is_empty()) {
        causes.push(Cause::forbidden(
            "metadata.ownerReferences",
            "k8sless has no controllers to own pods; remove ownerReferences",
        ));
    }
}

fn spec(spec: &PodSpec, causes: &mut Vec<Cause>) {
    if spec.containers.is_empty() {
        causes.push(Cause::required("spec.containers"));
    }
    let mut names_seen = HashSet::new();
    let volumes = volumes(spec.volumes.as_deref().unwrap_or(&[]), causes);
    let init = spec.init_containers.as_deref().unwrap_or(&[]);
    for (i, c) in init.iter().enumerate() {
        container(
            c,
            &format!("spec.initContainers[{i}]"),
            &mut names_seen,
            &volumes,
            true,
            causes,
        );
    }
    for (i, c) in spec.containers.iter().enumerate() {
        container(
            c,
            &format!("spec.containers[{i}]"),
            &mut names_seen,
            &volumes,
            false,
            causes,
        );
    }
    if spec
        .ephemeral_containers
        .as_ref()
        .is_some_and(|e| !e.is_empty())
    {
        causes.push(Cause::forbidden(
            "spec.ephemeralContainers",
            "ephemeral containers cannot be set on create",
        ));
    }
    if let Some(p) = spec.restart_policy.as_deref() {
        if !matches!(p, "Always" | "OnFailure" | "Never") {
            causes.push(Cause::not_supported(
                "spec.restartPolicy",
                format!("{p:?}: supported values: \"Always\", \"OnFailure\", \"Never\""),
            ));
        }
    }
    if let Some(p) = spec.dns_policy.as_deref() {
        if !matches!(
            p,
            "ClusterFirst" | "ClusterFirstWithHostNet" | "Default" | "None"
        ) {
            causes.push(Cause::not_supported(
                "spec.dnsPolicy",
                format!("{p:?}: supported values: \"ClusterFirstWithHostNet\", \"ClusterFirst\", \"Default\", \"None\""),
            ));
        }
    }
    if let Some(d) = spec.active_deadline_seconds {
        if d <= 0 {
            causes.push(Cause::invalid(
                "spec.activeDeadlineSeconds",
                format!("{d}: must be greater than 0"),
            ));
        }
    }
    if let Some(g) = spec.termination_grace_period_seconds {
        if g < 0 {
            causes.push(Cause::invalid(
                "spec.terminationGracePeriodSeconds",
                format!("{g}: must be greater than or equal to 0"),
            ));
        }
    }
    if spec.node_name.as_deref().is_some_and(|n| !n.is_empty()) {
        causes.push(Cause::forbidden(
            "spec.nodeName",
            "k8sless sets nodeName to the pod's VM; leave it empty",
        ));
    }
    if spec.host_pid == Some(true) || spec.host_ipc == Some(true) {
        // Allowed: the VM is the pod's alone, so host namespaces expose nothing of other pods.
    }
    if spec
        .service_account_name
        .as_deref()
        .is_some_and(|s| !s.is_empty() && s != "default")
    {
        causes.push(Cause::forbidden(
            "spec.serviceAccountName",
            "Kubernetes service accounts do not exist in k8sless; give the VM a Google service account with the annotation iam.gke.io/gcp-service-account",
        ));
    }
    if spec.automount_service_account_token == Some(true) {
        causes.push(Cause::forbidden(
            "spec.automountServiceAccountToken",
            "there is no Kubernetes API token to mount in k8sless",
        ));
    }
}

fn volumes(volumes: &[Volume], causes: &mut Vec<Cause>) -> HashSet<String> {
    let mut seen = HashSet::new();
    for (i, v) in volumes.iter().enumerate() {
        let path = format!("spec.volumes[{i}]");
        if let Err(e) = names::dns1123_label(&v.name) {
            causes.push(Cause::invalid(
                format!("{path}.name"),
                format!("{:?}: {e}", v.name),
            ));
        }
        if !seen.insert(v.name.clone()) {
            causes.push(Cause::duplicate(
                format!("{path}.name"),
                format!("{:?}", v.name),
            ));
        }
        let unsupported: Option<(&str, &str)> = if v.config_map.is_some() {
            Some((
                "configMap",
                "ConfigMaps do not exist in k8sless; bake the files into the image, pass them as env values, or fetch them at start (e.g. from Cloud Storage with the VM's service account)",
            ))
        } else if v.secret.is_some() {
            Some((
                "secret",
                "Kubernetes Secrets do not exist in k8sless; read secrets from Secret Manager in the container with the VM's service account (annotation iam.gke.io/gcp-service-account)",
            ))
        } else if v.persistent_volume_claim.is_some() {
            Some((
                "persistentVolumeClaim",
                "there are no PersistentVolumes in k8sless; use an emptyDir (the VM's boot disk, sized by the ephemeral-storage request) and copy results to Cloud Storage",
            ))
        } else if v.projected.is_some() {
            Some((
                "projected",
                "projected volumes need ConfigMaps, Secrets or service account tokens, which k8sless does not have; use downwardAPI or emptyDir",
            ))
        } else if v.host_path.is_some() {
            Some((
                "hostPath",
                "the VM's filesystem is Container-Optimized OS' and is not for pods; use an emptyDir",
            ))
        } else if v.ephemeral.is_some() {
            Some((
                "ephemeral",
                "generic ephemeral volumes need PersistentVolumeClaims; use an emptyDir sized with the ephemeral-storage request",
            ))
        } else if v.empty_dir.is_none() && v.downward_api.is_none() {
            Some((
                "volume",
                "only emptyDir and downwardAPI volumes are supported by k8sless",
            ))
        } else {
            None
        };
        if let Some((kind, what)) = unsupported {
            causes.push(Cause::forbidden(
                format!("{path}.{kind}"),
                format!("{kind} volumes are not supported: {what}"),
            ));
        }
    }
    seen
}

fn container(
    c: &Container,
    path: &str,
    seen: &mut HashSet<String>,
    volumes: &HashSet<String>,
    init: bool,
    causes: &mut Vec<Cause>,
) {
    match names::dns1123_label(&c.name) {
        Err(e) if c.name.is_empty() => {
            let _ = e;
            causes.push(Cause::required(format!("{path}.name")));
        }
        Err(e) => causes.push(Cause::invalid(
            format!("{path}.name"),
            format!("{:?}: {e}", c.name),
        )),
        Ok(()) => {
            if !seen.insert(c.name.clone()) {
                causes.push(Cause::duplicate(
                    format!("{path}.name"),
                    format!("{:?}", c.name),
                ));
            }
        }
    }
    match c.image.as_deref() {
        None | Some("") => causes.push(Cause::required(format!("{path}.image"))),
        Some(image) if image.trim() != image => causes.push(Cause::invalid(
            format!("{path}.image"),
            format!("{image:?}: must not have leading or trailing whitespace"),
        )),
        Some(_) => {}
    }
    if let Some(p) = c.image_pull_policy.as_deref() {
        if !matches!(p, "Always" | "IfNotPresent" | "Never") {
            causes.push(Cause::not_supported(
                format!("{path}.imagePullPolicy"),
                format!("{p:?}: supported values: \"Always\", \"IfNotPresent\", \"Never\""),
            ));
        }
    }
    let mut port_names = HashSet::new();
    for (i, p) in c.ports.as_deref().unwrap_or(&[]).iter().enumerate() {
        let pp = format!("{path}.ports[{i}]");
        if !(1..=65535).contains(&p.container_port) {
            causes.push(Cause::invalid(
                format!("{pp}.containerPort"),
                format!(
                    "{}: must be between 1 and 65535, inclusive",
                    p.container_port
                ),
            ));
        }
        if let Some(h) = p.host_port {
            if !(0..=65535).contains(&h) {
                causes.push(Cause::invalid(
                    format!("{pp}.hostPort"),
                    format!("{h}: must be between 0 and 65535, inclusive"),
                ));
            } else if h != 0 && h != p.container_port {
                causes.push(Cause::invalid(
                    format!("{pp}.hostPort"),
                    format!("{h}: must match `containerPort` when `hostNetwork` is true"),
                ));
            }
        }
        if let Some(proto) = p.protocol.as_deref() {
            if !matches!(proto, "TCP" | "UDP" | "SCTP") {
                causes.push(Cause::not_supported(
                    format!("{pp}.protocol"),
                    format!("{proto:?}: supported values: \"SCTP\", \"TCP\", \"UDP\""),
                ));
            }
        }
        if let Some(name) = p.name.as_deref() {
            if let Err(e) = names::port_name(name) {
                causes.push(Cause::invalid(
                    format!("{pp}.name"),
                    format!("{name:?}: {e}"),
                ));
            } else if !port_names.insert(name.to_string()) {
                causes.push(Cause::duplicate(format!("{pp}.name"), format!("{name:?}")));
            }
        }
    }
    for (i, e) in c.env.as_deref().unwrap_or(&[]).iter().enumerate() {
        let ep = format!("{path}.env[{i}]");
        if e.name.is_empty() {
            causes.push(Cause::required(format!("{ep}.name")));
        } else if e.name.contains('=') {
            causes.push(Cause::invalid(format!("{ep}.name"), format!("{:?}: a valid environment variable name must consist only of printable ASCII characters other than '='", e.name)));
        }
        if let Some(from) = &e.value_from {
            if from.secret_key_ref.is_some() {
                causes.push(Cause::forbidden(format!("{ep}.valueFrom.secretKeyRef"), "Kubernetes Secrets do not exist in k8sless; read the secret from Secret Manager in the container, or pass the value directly"));
            }
            if from.config_map_key_ref.is_some() {
                causes.push(Cause::forbidden(
                    format!("{ep}.valueFrom.configMapKeyRef"),
                    "ConfigMaps do not exist in k8sless; set the value directly in env",
                ));
            }
        }
    }
    if c.env_from.as_ref().is_some_and(|e| !e.is_empty()) {
        causes.push(Cause::forbidden(format!("{path}.envFrom"), "envFrom needs ConfigMaps or Secrets, which k8sless does not have; list the variables in env"));
    }
    for (i, m) in c.volume_mounts.as_deref().unwrap_or(&[]).iter().enumerate() {
        let mp = format!("{path}.volumeMounts[{i}]");
        if !volumes.contains(&m.name) {
            causes.push(Cause::new(
                "FieldValueNotFound",
                format!("{mp}.name"),
                format!("{:?}", m.name),
            ));
        }
        if m.mount_path.is_empty() {
            causes.push(Cause::required(format!("{mp}.mountPath")));
        }
    }
    if let Some(r) = &c.resources {
        let requests = r.requests.clone().unwrap_or_default();
        let limits = r.limits.clone().unwrap_or_default();
        resources(&requests, &format!("{path}.resources.requests"), causes);
        resources(&limits, &format!("{path}.resources.limits"), causes);
        for (name, req) in &requests {
            if let (Some(limit), Ok(rq)) = (limits.get(name), quantity::parse_milli(&req.0)) {
                if quantity::parse_milli(&limit.0).is_ok_and(|l| rq > l) {
                    causes.push(Cause::invalid(
                        format!("{path}.resources.requests"),
                        format!(
                            "\"{}\": must be less than or equal to {name} limit of {}",
                            req.0, limit.0
                        ),
                    ));
                }
            }
        }
        if requests.contains_key("nvidia.com/gpu") && !limits.contains_key("nvidia.com/gpu") {
            causes.push(Cause::required(format!(
                "{path}.resources.limits[nvidia.com/gpu]"
            )));
        }
    }
    if !init && c.restart_policy.is_some() {
        causes.push(Cause::forbidden(
            format!("{path}.restartPolicy"),
            "may not be set for non-init containers",
        ));
    }
    if init && c.restart_policy.as_deref().is_some_and(|p| p != "Always") {
        causes.push(Cause::not_supported(
            format!("{path}.restartPolicy"),
            "supported values: \"Always\"",
        ));
    }
    if init
        && c.restart_policy.is_none()
        && (c.liveness_probe.is_some() || c.readiness_probe.is_some() || c.startup_probe.is_some())
    {
        causes.push(Cause::forbidden(
            format!("{path}.readinessProbe"),
            "may not be set for init containers without restartPolicy=Always",
        ));
    }
}

fn resources(
    map: &BTreeMap<String, k8s_openapi::apimachinery::pkg::api::resource::Quantity>,
    path: &str,
    causes: &mut Vec<Cause>,
) {
    for (name, q) in map {
        if let Err(e) = quantity::parse_milli(&q.0) {
            causes.push(Cause::invalid(
                format!("{path}[{name}]"),
                format!("{:?}: {e}", q.0),
            ));
            continue;
        }
        let known = matches!(
            name.as_str(),
            "cpu" | "memory" | "ephemeral-storage" | "nvidia.com/gpu"
        ) || name.starts_with("hugepages-");
        if !known {
            causes.push(Cause::not_supported(
                format!("{path}[{name}]"),
                format!("{name:?}: k8sless understands cpu, memory, ephemeral-storage and nvidia.com/gpu"),
            ));
        }
        if name == "nvidia.com/gpu" && quantity::parse_milli(&q.0).is_ok_and(|m| m % 1000 != 0) {
            causes.push(Cause::invalid(
                format!("{path}[{name}]"),
                format!("{:?}: must be an integer", q.0),
            ));
        }
    }
}
