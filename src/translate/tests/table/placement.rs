//! Table rows: GPUs, Spot and zones.

use super::*;

/// The rows, in groups of a readable size.
pub(super) const GROUPS: [fn() -> Vec<Row>; 6] = [rows_1, rows_2, rows_3, rows_4, rows_5, rows_6];

fn rows_1() -> Vec<Row> {
    vec![
        // GPUs.
        r(
            "1 x L4: g2-standard-4",
            gpus("1", Some("nvidia-l4")),
            Want::Vm(Vm {
                reason: Some(
                    "g2-standard-4: the cheapest type carrying 1 x nvidia-l4 with 200m CPU / 640 MiB (the pod's 0m / 0 MiB + 200m / 640 MiB for the OS, kubelet and logging agent): 4 vCPU, 16384 MiB at $0.7068/h on demand (GPUs included)",
                ),
                ..gpu_vm("g2-standard-4", &ABC)
            }),
        ),
        r(
            "1 x T4: guest accelerator on N1",
            gpus("1", Some("nvidia-tesla-t4")),
            Want::Vm(Vm {
                attach: Some(("nvidia-tesla-t4", 1)),
                ..gpu_vm("n1-standard-1", &ALL)
            }),
        ),
        r(
            "2 x T4 with 8 CPUs: n1-standard-16",
            with(
                gpus("2", Some("nvidia-tesla-t4")),
                "spec.containers.0.resources.requests",
                json!({"cpu": "8", "memory": "30Gi"}),
            ),
            Want::Vm(Vm {
                attach: Some(("nvidia-tesla-t4", 2)),
                ..gpu_vm("n1-standard-16", &ALL)
            }),
        ),
        r(
            "1 x A100 80GB: a2-ultragpu-1g",
            gpus("1", Some("nvidia-a100-80gb")),
            Want::Vm(gpu_vm(
                "a2-ultragpu-1g",
                &["us-central1-a", "us-central1-c"],
            )),
        ),
        r(
            "8 x H100: a3-highgpu-8g",
            gpus("8", Some("nvidia-h100-80gb")),
            Want::Vm(gpu_vm("a3-highgpu-8g", &ABC)),
        ),
        r(
            "accelerator by node affinity",
            affinity(
                gpus("1", None),
                &[term(
                    "cloud.google.com/gke-accelerator",
                    "In",
                    &["nvidia-l4"],
                )],
            ),
            Want::Vm(gpu_vm("g2-standard-4", &ABC)),
        ),
        rt(
            "default accelerator for a GPU pod without selector",
            gpus("1", None),
            |s| s.default_accelerator = Some("nvidia-tesla-t4".into()),
            Want::Vm(Vm {
                attach: Some(("nvidia-tesla-t4", 1)),
                ..gpu_vm("n1-standard-1", &ALL)
            }),
        ),
    ]
}

fn rows_2() -> Vec<Row> {
    vec![
        r(
            "explicit N1 type with T4s",
            machine_type(gpus("2", Some("nvidia-tesla-t4")), "n1-standard-8"),
            Want::Vm(Vm {
                attach: Some(("nvidia-tesla-t4", 2)),
                ..gpu_vm("n1-standard-8", &ALL)
            }),
        ),
        r(
            "explicit g2 type implies its L4",
            machine_type(gpus("1", None), "g2-standard-8"),
            Want::Vm(gpu_vm("g2-standard-8", &ABC)),
        ),
        r(
            "422: GPU without selector or default",
            gpus("1", None),
            cause(
                "FieldValueRequired",
                "spec.nodeSelector[cloud.google.com/gke-accelerator]",
                "a GPU request needs nodeSelector cloud.google.com/gke-accelerator naming the GPU (nvidia-tesla-t4, nvidia-tesla-p4, nvidia-tesla-v100, nvidia-tesla-p100, nvidia-l4, nvidia-tesla-a100, nvidia-a100-80gb, nvidia-h100-80gb), and no default accelerator is configured (--default-accelerator)",
            ),
        ),
        r(
            "422: unknown accelerator",
            gpus("1", Some("nvidia-rtx-9090")),
            cause(
                UNSUPPORTED,
                "spec.nodeSelector[cloud.google.com/gke-accelerator]",
                "\"nvidia-rtx-9090\": supported values: \"nvidia-tesla-t4\", \"nvidia-tesla-p4\", \"nvidia-tesla-v100\", \"nvidia-tesla-p100\", \"nvidia-l4\", \"nvidia-tesla-a100\", \"nvidia-a100-80gb\", \"nvidia-h100-80gb\"",
            ),
        ),
        r(
            "422: 8 x T4 (N1 takes 1, 2 or 4)",
            gpus("8", Some("nvidia-tesla-t4")),
            cause(
                INV,
                GPU_FIELD,
                "\"8\": no machine type offers 8 x nvidia-tesla-t4: N1 VMs take 1, 2 or 4 of them",
            ),
        ),
        r(
            "422: 3 x L4",
            gpus("3", Some("nvidia-l4")),
            cause(
                INV,
                GPU_FIELD,
                "\"3\": no machine type offers 3 x nvidia-l4: its machine types carry 1, 2, 4 or 8",
            ),
        ),
        r(
            "422: 1 x V100 caps N1 at 12 vCPUs",
            with(
                gpus("1", Some("nvidia-tesla-v100")),
                "spec.containers.0.resources.requests",
                json!({"cpu": "16"}),
            ),
            cause(
                INV,
                GPU_FIELD,
                "\"1\": no N1 machine type with 1 x nvidia-tesla-v100 has 16200m CPU / 640 MiB (the pod's 16000m / 0 MiB + 200m / 640 MiB for the OS, kubelet and logging agent): N1 VMs with 1 x nvidia-tesla-v100 have at most 12 vCPUs and 78 GiB",
            ),
        ),
    ]
}

fn rows_3() -> Vec<Row> {
    vec![
        r(
            "422: accelerator selector without a GPU limit",
            selector(
                small(),
                json!({"cloud.google.com/gke-accelerator": "nvidia-l4"}),
            ),
            cause(
                "FieldValueRequired",
                GPU_FIELD,
                "spec.nodeSelector[cloud.google.com/gke-accelerator] asks for nvidia-l4 GPUs, but no container limits nvidia.com/gpu: set resources.limits[nvidia.com/gpu] on the container that uses them",
            ),
        ),
        r(
            "422: L4 in a zone without L4s",
            selector(
                gpus("1", None),
                json!({"cloud.google.com/gke-accelerator": "nvidia-l4", "topology.kubernetes.io/zone": "us-central1-f"}),
            ),
            cause(
                INV,
                "spec.nodeSelector[topology.kubernetes.io/zone]",
                "\"us-central1-f\": nvidia-l4 is not offered there; the allowed zones offering it: \"us-central1-a\", \"us-central1-b\", \"us-central1-c\"",
            ),
        ),
        r(
            "422: an e2 type carries no GPU",
            machine_type(gpus("1", Some("nvidia-l4")), "e2-standard-4"),
            cause(
                INV,
                ANNOTATION,
                "\"e2-standard-4\": does not carry 1 x nvidia-l4; nvidia-l4 comes with g2-standard-4, g2-standard-8, g2-standard-12, g2-standard-16, g2-standard-24, g2-standard-32, g2-standard-48, g2-standard-96",
            ),
        ),
        // Spot.
        r(
            "Spot by nodeSelector",
            selector(small(), json!({"cloud.google.com/gke-spot": "true"})),
            medium(|v| {
                v.spot = true;
                v.reason = Some(
                    "e2-medium: the cheapest of e2, n2d, n2, c3, c4 with 700m CPU / 1664 MiB (the pod's 500m / 1024 MiB + 200m / 640 MiB for the OS, kubelet and logging agent): 2 shared vCPU (1000m sustained), 4096 MiB at $0.0104/h Spot; next cheapest n2d-highcpu-2 at $0.0137/h Spot",
                );
            }),
        ),
        r(
            "Spot by node affinity, with GKE's toleration",
            spot_toleration(affinity(
                small(),
                &[term("cloud.google.com/gke-spot", "In", &["true"])],
            )),
            medium(|v| v.spot = true),
        ),
    ]
}

fn rows_4() -> Vec<Row> {
    vec![
        r(
            "Spot by gke-provisioning",
            selector(
                small(),
                json!({"cloud.google.com/gke-provisioning": "spot"}),
            ),
            medium(|v| v.spot = true),
        ),
        r(
            "GKE's spot toleration alone: accepted, standard VM",
            spot_toleration(small()),
            Want::Vm(vm("e2-medium")),
        ),
        r(
            "gke-spot false: standard VM",
            selector(small(), json!({"cloud.google.com/gke-spot": "false"})),
            Want::Vm(vm("e2-medium")),
        ),
        r(
            "Spot GPU VM",
            selector(
                gpus("1", None),
                json!({"cloud.google.com/gke-accelerator": "nvidia-tesla-t4", "cloud.google.com/gke-spot": "true"}),
            ),
            Want::Vm(Vm {
                spot: true,
                attach: Some(("nvidia-tesla-t4", 1)),
                ..gpu_vm("n1-standard-1", &ALL)
            }),
        ),
        r(
            "422: gke-spot yes",
            selector(small(), json!({"cloud.google.com/gke-spot": "yes"})),
            cause(
                UNSUPPORTED,
                "spec.nodeSelector[cloud.google.com/gke-spot]",
                "\"yes\": supported values: \"true\", \"false\"",
            ),
        ),
        // Zones.
        r(
            "zone by nodeSelector",
            selector(
                small(),
                json!({"topology.kubernetes.io/zone": "us-central1-b"}),
            ),
            medium(|v| v.zones = vec!["us-central1-b"]),
        ),
    ]
}

fn rows_5() -> Vec<Row> {
    vec![
        r(
            "zones by affinity, in fallback order",
            affinity(
                small(),
                &[term(ZONE, "In", &["us-central1-c", "us-central1-b"])],
            ),
            medium(|v| v.zones = vec!["us-central1-b", "us-central1-c"]),
        ),
        r(
            "zone NotIn",
            affinity(small(), &[term(ZONE, "NotIn", &["us-central1-a"])]),
            medium(|v| v.zones = vec!["us-central1-b", "us-central1-c", "us-central1-f"]),
        ),
        r(
            "the first satisfiable affinity term wins",
            affinity(
                small(),
                &[
                    term(ZONE, "In", &["europe-west1-b"]),
                    term(ZONE, "In", &["us-central1-c"]),
                ],
            ),
            medium(|v| v.zones = vec!["us-central1-c"]),
        ),
        rt(
            "configured zones and default",
            small(),
            |s| {
                s.zone = "us-central1-c".into();
                s.zones = vec!["us-central1-b".into(), "us-central1-c".into()];
            },
            medium(|v| v.zones = vec!["us-central1-c", "us-central1-b"]),
        ),
        r(
            "linux/amd64 selectors are fine",
            selector(
                small(),
                json!({"kubernetes.io/os": "linux", "kubernetes.io/arch": "amd64", "cloud.google.com/gke-nodepool": "pool-1"}),
            ),
            Want::Vm(vm("e2-medium")),
        ),
    ]
}

fn rows_6() -> Vec<Row> {
    vec![
        r(
            "422: zone outside the allowed ones",
            selector(
                small(),
                json!({"topology.kubernetes.io/zone": "europe-west1-b"}),
            ),
            cause(
                UNSUPPORTED,
                "spec.nodeSelector[topology.kubernetes.io/zone]",
                "\"europe-west1-b\": supported values: \"us-central1-a\", \"us-central1-b\", \"us-central1-c\", \"us-central1-f\"",
            ),
        ),
        r(
            "422: arm64",
            selector(small(), json!({"kubernetes.io/arch": "arm64"})),
            cause(
                UNSUPPORTED,
                "spec.nodeSelector[kubernetes.io/arch]",
                "\"arm64\": supported values: \"amd64\"",
            ),
        ),
    ]
}
