//! One container (init or regular): its name, image, pull policy, ports, env, volume mounts,
//! resources and restart policy, with kube-apiserver's messages, and what k8sless cannot give
//! a container (Secrets, ConfigMaps) with what to do instead.

use std::collections::{BTreeMap, HashSet};

use k8s_openapi::api::core::v1::{Container, ContainerPort, EnvVar, VolumeMount};
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;

use crate::error::Cause;
use crate::pods::{crud::names, quantity};

/// Checks container `c` at field path `path`. `seen` holds the container names so far (init
/// and regular containers share one namespace); `volumes` the pod's volume names.
pub(super) fn container(
    c: &Container,
    path: &str,
    seen: &mut HashSet<String>,
    volumes: &HashSet<String>,
    init: bool,
    causes: &mut Vec<Cause>,
) {
    name(c, path, seen, causes);
    image(c, path, causes);
    ports(c.ports.as_deref().unwrap_or(&[]), path, causes);
    env(c.env.as_deref().unwrap_or(&[]), path, causes);
    if c.env_from.as_ref().is_some_and(|e| !e.is_empty()) {
        causes.push(Cause::forbidden(format!("{path}.envFrom"), "envFrom needs ConfigMaps or Secrets, which k8sless does not have; list the variables in env"));
    }
    volume_mounts(
        c.volume_mounts.as_deref().unwrap_or(&[]),
        volumes,
        path,
        causes,
    );
    if let Some(r) = &c.resources {
        let requests = r.requests.clone().unwrap_or_default();
        let limits = r.limits.clone().unwrap_or_default();
        container_resources(&requests, &limits, path, causes);
    }
    restart_policy(c, path, init, causes);
}

/// A DNS-1123 label, unique in the pod.
fn name(c: &Container, path: &str, seen: &mut HashSet<String>, causes: &mut Vec<Cause>) {
    match names::dns1123_label(&c.name) {
        Err(_) if c.name.is_empty() => {
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
}

/// Required, without surrounding whitespace; a known pull policy.
fn image(c: &Container, path: &str, causes: &mut Vec<Cause>) {
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
}

/// Port numbers in range, hostPort equal to containerPort (the pod has the VM's network),
/// a known protocol, and unique IANA service names.
fn ports(ports: &[ContainerPort], path: &str, causes: &mut Vec<Cause>) {
    let mut port_names = HashSet::new();
    for (i, p) in ports.iter().enumerate() {
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
}

/// Named variables without `=`; no values from Secrets or ConfigMaps.
fn env(env: &[EnvVar], path: &str, causes: &mut Vec<Cause>) {
    for (i, e) in env.iter().enumerate() {
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
}

/// Each mount names a volume of the pod and has a path.
fn volume_mounts(
    mounts: &[VolumeMount],
    volumes: &HashSet<String>,
    path: &str,
    causes: &mut Vec<Cause>,
) {
    for (i, m) in mounts.iter().enumerate() {
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
}

/// Requests and limits parse and are known; requests at most limits; GPUs need a limit.
fn container_resources(
    requests: &BTreeMap<String, Quantity>,
    limits: &BTreeMap<String, Quantity>,
    path: &str,
    causes: &mut Vec<Cause>,
) {
    resources(requests, &format!("{path}.resources.requests"), causes);
    resources(limits, &format!("{path}.resources.limits"), causes);
    for (name, req) in requests {
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

/// Regular containers have none; init containers only `Always` (sidecars), and probes only
/// as sidecars.
fn restart_policy(c: &Container, path: &str, init: bool, causes: &mut Vec<Cause>) {
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

/// Each quantity parses and names a resource k8sless understands; GPUs are whole.
fn resources(map: &BTreeMap<String, Quantity>, path: &str, causes: &mut Vec<Cause>) {
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
#[cfg(test)]
mod tests {
    use serde_json::{Value, json};

    use super::super::tests::{LABEL, check_rules, merge, with};

    /// The base pod's one container with `extra` merged in.
    fn c(extra: Value) -> Value {
        let mut container = json!({ "name": "c", "image": "busybox" });
        merge(&mut container, extra);
        json!({ "spec": { "containers": [container] } })
    }

    /// An init container with `extra`, beside the base container.
    fn init(extra: Value) -> Value {
        let mut container = json!({ "name": "i", "image": "busybox" });
        merge(&mut container, extra);
        json!({ "spec": { "initContainers": [container] } })
    }

    const C: &str = "spec.containers[0]";

    #[test]
    fn name_and_image() {
        check_rules(vec![
            (
                c(json!({ "name": "main-1" })),
                c(json!({ "name": "" })),
                "spec.containers[0].name: Required value",
            ),
            (
                c(json!({ "name": "main-1" })),
                c(json!({ "name": "Main" })),
                &format!("{C}.name: Invalid value: \"Main\": {LABEL}"),
            ),
            (
                c(json!({ "image": "busybox:1" })),
                c(json!({ "image": "" })),
                "spec.containers[0].image: Required value",
            ),
            (
                c(json!({ "image": "busybox:1" })),
                c(json!({ "image": " busybox" })),
                "spec.containers[0].image: Invalid value: \" busybox\": must not have leading or trailing whitespace",
            ),
            (
                c(json!({ "imagePullPolicy": "IfNotPresent" })),
                c(json!({ "imagePullPolicy": "Sometimes" })),
                "spec.containers[0].imagePullPolicy: Unsupported value: \"Sometimes\": supported values: \"Always\", \"IfNotPresent\", \"Never\"",
            ),
        ]);
    }

    #[test]
    fn container_names_are_unique_across_init_and_regular() {
        let mut pod = init(json!({ "name": "c" }));
        merge(
            &mut pod,
            json!({ "spec": { "containers": [{ "name": "c", "image": "busybox" }] } }),
        );
        assert_eq!(
            with(pod),
            vec!["spec.containers[0].name: Duplicate value: \"c\""]
        );
    }

    #[test]
    fn ports() {
        let port = |p: Value| c(json!({ "ports": [p] }));
        check_rules(vec![
            (
                port(json!({ "containerPort": 65535 })),
                port(json!({ "containerPort": 0 })),
                "spec.containers[0].ports[0].containerPort: Invalid value: 0: must be between 1 and 65535, inclusive",
            ),
            (
                port(json!({ "containerPort": 80, "hostPort": 0 })),
                port(json!({ "containerPort": 80, "hostPort": 70000 })),
                "spec.containers[0].ports[0].hostPort: Invalid value: 70000: must be between 0 and 65535, inclusive",
            ),
            (
                port(json!({ "containerPort": 80, "hostPort": 80 })),
                port(json!({ "containerPort": 80, "hostPort": 81 })),
                "spec.containers[0].ports[0].hostPort: Invalid value: 81: must match `containerPort` when `hostNetwork` is true",
            ),
            (
                port(json!({ "containerPort": 80, "protocol": "SCTP" })),
                port(json!({ "containerPort": 80, "protocol": "HTTP" })),
                "spec.containers[0].ports[0].protocol: Unsupported value: \"HTTP\": supported values: \"SCTP\", \"TCP\", \"UDP\"",
            ),
            (
                port(json!({ "containerPort": 80, "name": "http-2" })),
                port(json!({ "containerPort": 80, "name": "http--2" })),
                "spec.containers[0].ports[0].name: Invalid value: \"http--2\": must contain only alpha-numeric characters (a-z, 0-9), and hyphens (-), at least one letter, no consecutive hyphens, and not start or end with a hyphen",
            ),
            (
                c(
                    json!({ "ports": [{ "containerPort": 80, "name": "a" }, { "containerPort": 81, "name": "b" }] }),
                ),
                c(
                    json!({ "ports": [{ "containerPort": 80, "name": "a" }, { "containerPort": 81, "name": "a" }] }),
                ),
                "spec.containers[0].ports[1].name: Duplicate value: \"a\"",
            ),
        ]);
    }

    #[test]
    fn env() {
        let env = |e: Value| c(json!({ "env": [e] }));
        check_rules(vec![
            (
                env(json!({ "name": "A", "value": "1" })),
                env(json!({ "name": "" })),
                "spec.containers[0].env[0].name: Required value",
            ),
            (
                env(json!({ "name": "A.b-c", "value": "1" })),
                env(json!({ "name": "A=B" })),
                "spec.containers[0].env[0].name: Invalid value: \"A=B\": a valid environment variable name must consist only of printable ASCII characters other than '='",
            ),
            (
                env(
                    json!({ "name": "A", "valueFrom": { "fieldRef": { "fieldPath": "metadata.name" } } }),
                ),
                env(
                    json!({ "name": "A", "valueFrom": { "secretKeyRef": { "name": "s", "key": "k" } } }),
                ),
                "spec.containers[0].env[0].valueFrom.secretKeyRef: Forbidden: Kubernetes Secrets do not exist in k8sless; read the secret from Secret Manager in the container, or pass the value directly",
            ),
            (
                env(
                    json!({ "name": "A", "valueFrom": { "resourceFieldRef": { "resource": "limits.cpu" } } }),
                ),
                env(
                    json!({ "name": "A", "valueFrom": { "configMapKeyRef": { "name": "m", "key": "k" } } }),
                ),
                "spec.containers[0].env[0].valueFrom.configMapKeyRef: Forbidden: ConfigMaps do not exist in k8sless; set the value directly in env",
            ),
            (
                c(json!({ "envFrom": [] })),
                c(json!({ "envFrom": [{ "configMapRef": { "name": "m" } }] })),
                "spec.containers[0].envFrom: Forbidden: envFrom needs ConfigMaps or Secrets, which k8sless does not have; list the variables in env",
            ),
        ]);
    }

    #[test]
    fn volume_mounts() {
        let mounted = |m: Value| {
            let mut pod = c(json!({ "volumeMounts": [m] }));
            merge(
                &mut pod,
                json!({ "spec": { "volumes": [{ "name": "data", "emptyDir": {} }] } }),
            );
            pod
        };
        check_rules(vec![
            (
                mounted(json!({ "name": "data", "mountPath": "/data" })),
                mounted(json!({ "name": "data", "mountPath": "" })),
                "spec.containers[0].volumeMounts[0].mountPath: Required value",
            ),
            (
                mounted(json!({ "name": "data", "mountPath": "/data" })),
                mounted(json!({ "name": "other", "mountPath": "/data" })),
                // FieldValueNotFound: kube-apiserver renders `Not found: "other"`; Cause::render
                // (error.rs) has no case for it yet and writes `Invalid value`.
                "spec.containers[0].volumeMounts[0].name: Invalid value: \"other\"",
            ),
        ]);
    }

    #[test]
    fn resources() {
        let res = |r: Value| c(json!({ "resources": r }));
        check_rules(vec![
            (
                res(json!({ "requests": { "cpu": "500m" } })),
                res(json!({ "requests": { "cpu": "lots" } })),
                "spec.containers[0].resources.requests[cpu]: Invalid value: \"lots\": quantities must match the regular expression '^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$'",
            ),
            (
                res(
                    json!({ "limits": { "memory": "1Gi", "ephemeral-storage": "10Gi", "hugepages-2Mi": "0" } }),
                ),
                res(json!({ "limits": { "example.com/foo": "1" } })),
                "spec.containers[0].resources.limits[example.com/foo]: Unsupported value: \"example.com/foo\": k8sless understands cpu, memory, ephemeral-storage and nvidia.com/gpu",
            ),
            (
                res(json!({ "limits": { "nvidia.com/gpu": "2" } })),
                res(json!({ "limits": { "nvidia.com/gpu": "500m" } })),
                "spec.containers[0].resources.limits[nvidia.com/gpu]: Invalid value: \"500m\": must be an integer",
            ),
            (
                res(json!({ "requests": { "cpu": "1" }, "limits": { "cpu": "1" } })),
                res(json!({ "requests": { "cpu": "2" }, "limits": { "cpu": "1" } })),
                "spec.containers[0].resources.requests: Invalid value: \"2\": must be less than or equal to cpu limit of 1",
            ),
            (
                res(
                    json!({ "requests": { "nvidia.com/gpu": "1" }, "limits": { "nvidia.com/gpu": "1" } }),
                ),
                res(json!({ "requests": { "nvidia.com/gpu": "1" } })),
                "spec.containers[0].resources.limits[nvidia.com/gpu]: Required value",
            ),
        ]);
    }

    #[test]
    fn restart_policy_and_probes() {
        let probe = json!({ "exec": { "command": ["true"] } });
        check_rules(vec![
            (
                c(json!({})),
                c(json!({ "restartPolicy": "Always" })),
                "spec.containers[0].restartPolicy: Forbidden: may not be set for non-init containers",
            ),
            (
                init(json!({ "restartPolicy": "Always" })),
                init(json!({ "restartPolicy": "Never" })),
                "spec.initContainers[0].restartPolicy: Unsupported value: supported values: \"Always\"",
            ),
            (
                init(json!({ "restartPolicy": "Always", "readinessProbe": probe })),
                init(json!({ "livenessProbe": probe })),
                "spec.initContainers[0].readinessProbe: Forbidden: may not be set for init containers without restartPolicy=Always",
            ),
        ]);
    }
}
