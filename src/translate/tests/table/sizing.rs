//! Table rows: sizing and explicit machine types.

use super::*;

/// The rows, in groups of a readable size.
pub(super) const GROUPS: [fn() -> Vec<Row>; 3] = [rows_1, rows_2, rows_3];

fn rows_1() -> Vec<Row> {
    vec![
        // Sizing: requests vs limits, init containers, sidecars, overhead.
        r(
            "no resources: the default type",
            json!({"spec": {"containers": [ctr("app", json!({}))]}}),
            Want::Vm(Vm {
                reason: Some(
                    "e2-standard-2: the pod requests no CPU or memory, so the default machine type (--default-machine-type): 2 vCPU, 8192 MiB at $0.0670/h on demand",
                ),
                ..vm("e2-standard-2")
            }),
        ),
        r(
            "500m / 1Gi requests: e2-medium",
            small(),
            medium(|v| {
                v.reason = Some(
                    "e2-medium: the cheapest of e2, n2d, n2, c3, c4 with 700m CPU / 1664 MiB (the pod's 500m / 1024 MiB + 200m / 640 MiB for the OS, kubelet and logging agent): 2 shared vCPU (1000m sustained), 4096 MiB at $0.0335/h on demand; next cheapest e2-highcpu-2 at $0.0495/h on demand",
                )
            }),
        ),
        r(
            "tiny request: e2-micro",
            one(req("50m", "64Mi")),
            Want::Vm(vm("e2-micro")),
        ),
        r(
            "limits only count as requests",
            one(json!({"limits": {"cpu": "1", "memory": "2Gi"}})),
            Want::Vm(vm("e2-standard-2")),
        ),
        r(
            "requests win over larger limits",
            one(
                json!({"requests": {"cpu": "250m", "memory": "256Mi"}, "limits": {"cpu": "2", "memory": "4Gi"}}),
            ),
            Want::Vm(vm("e2-small")),
        ),
        r(
            "app containers add up",
            json!({"spec": {"containers": [ctr("a", req("1", "2Gi")), ctr("b", req("1", "2Gi"))]}}),
            Want::Vm(vm("e2-standard-4")),
        ),
        r(
            "a large init container dominates",
            json!({"spec": {"initContainers": [ctr("init", req("2", "1Gi"))], "containers": [ctr("app", req("500m", "256Mi"))]}}),
            Want::Vm(vm("e2-highcpu-4")),
        ),
        r(
            "a sidecar adds to the app containers",
            json!({"spec": {"initContainers": [with(ctr("log", req("500m", "512Mi")), "restartPolicy", "Always".into())], "containers": [ctr("app", req("500m", "512Mi"))]}}),
            Want::Vm(vm("e2-highcpu-2")),
        ),
        r(
            "an init container after a sidecar counts both",
            json!({"spec": {"initContainers": [with(ctr("proxy", req("1", "256Mi")), "restartPolicy", "Always".into()), ctr("migrate", req("1500m", "256Mi"))], "containers": [ctr("app", req("100m", "128Mi"))]}}),
            Want::Vm(vm("e2-highcpu-4")),
        ),
        r(
            "pod overhead is added",
            with(small(), "spec.overhead", json!({"cpu": "500m"})),
            Want::Vm(vm("e2-highcpu-2")),
        ),
    ]
}

fn rows_2() -> Vec<Row> {
    vec![
        r(
            "pod-level resources replace the containers' sum",
            with(
                one(req("4", "8Gi")),
                "spec.resources",
                json!({"requests": {"cpu": "1", "memory": "1Gi"}}),
            ),
            Want::Vm(vm("e2-highcpu-2")),
        ),
        r(
            "memory-heavy: e2-highmem-2",
            one(req("1", "12Gi")),
            Want::Vm(vm("e2-highmem-2")),
        ),
        r(
            "30 CPUs: e2-standard-32",
            one(req("30", "100Gi")),
            Want::Vm(vm("e2-standard-32")),
        ),
        r(
            "beyond e2: n2d-highcpu-48",
            one(req("40", "40Gi")),
            Want::Vm(vm("n2d-highcpu-48")),
        ),
        rt(
            "c4 only: smallest c4 on Hyperdisk",
            small(),
            |s| s.machine_families = vec!["c4".into()],
            Want::Vm(Vm {
                disk_type: "hyperdisk-balanced",
                ..vm("c4-highcpu-2")
            }),
        ),
        rt(
            "c3 only: c3 starts at 4 vCPUs",
            small(),
            |s| s.machine_families = vec!["c3".into()],
            Want::Vm(vm("c3-highcpu-4")),
        ),
        rt(
            "custom type when cheaper",
            one(req("2800m", "6Gi")),
            |s| s.custom_machine_types = true,
            Want::Vm(Vm {
                reason: Some(
                    "e2-custom-4-6912: the cheapest of e2, n2d, n2, c3, c4 with 3000m CPU / 6784 MiB (the pod's 2800m / 6144 MiB + 200m / 640 MiB for the OS, kubelet and logging agent): 4 vCPU, 6912 MiB at $0.1124/h on demand; a custom type, cheaper than the cheapest predefined type e2-standard-4 at $0.1340/h on demand",
                ),
                ..vm("e2-custom-4-6912")
            }),
        ),
        rt(
            "no custom type when a predefined one is as cheap",
            small(),
            |s| s.custom_machine_types = true,
            Want::Vm(vm("e2-medium")),
        ),
        r(
            "nothing fits 500 CPUs",
            one(json!({"requests": {"cpu": "500"}})),
            cause(
                INV,
                "spec.containers",
                "no machine type of the families e2, n2d, n2, c3, c4 has 500200m CPU / 640 MiB (the pod's 500000m / 0 MiB + 200m / 640 MiB for the OS, kubelet and logging agent)",
            ),
        ),
    ]
}

fn rows_3() -> Vec<Row> {
    vec![
        // Explicit machine types.
        r(
            "annotation names the type",
            machine_type(small(), "n2-standard-8"),
            Want::Vm(vm("n2-standard-8")),
        ),
        r(
            "nodeSelector instance-type names the type",
            selector(
                small(),
                json!({"node.kubernetes.io/instance-type": "c4-standard-4"}),
            ),
            Want::Vm(Vm {
                disk_type: "hyperdisk-balanced",
                ..vm("c4-standard-4")
            }),
        ),
        r(
            "the annotation wins over the nodeSelector",
            machine_type(
                selector(
                    small(),
                    json!({"node.kubernetes.io/instance-type": "c4-standard-4"}),
                ),
                "e2-standard-4",
            ),
            Want::Vm(vm("e2-standard-4")),
        ),
        r(
            "an explicit custom type",
            machine_type(small(), "e2-custom-4-8192"),
            Want::Vm(vm("e2-custom-4-8192")),
        ),
        r(
            "422: unknown type",
            machine_type(small(), "e2-standard-3"),
            cause(
                INV,
                ANNOTATION,
                "\"e2-standard-3\": not a machine type k8sless knows (e2, n2, n2d, c3, c4, n1, g2, a2 and a3 types, and e2/n2/n2d custom types such as e2-custom-2-4096)",
            ),
        ),
        r(
            "422: unknown type by nodeSelector",
            selector(
                small(),
                json!({"node.kubernetes.io/instance-type": "m9-huge"}),
            ),
            cause(
                INV,
                "spec.nodeSelector[node.kubernetes.io/instance-type]",
                "\"m9-huge\": not a machine type k8sless knows (e2, n2, n2d, c3, c4, n1, g2, a2 and a3 types, and e2/n2/n2d custom types such as e2-custom-2-4096)",
            ),
        ),
        r(
            "422: named type too small",
            machine_type(one(req("1", "1Gi")), "e2-small"),
            cause(
                INV,
                ANNOTATION,
                "\"e2-small\": too small for the pod: it has 500m CPU and 2048 MiB, the pod needs 1200m CPU / 1664 MiB (the pod's 1000m / 1024 MiB + 200m / 640 MiB for the OS, kubelet and logging agent)",
            ),
        ),
    ]
}
