//! Table rows: deadlines, disks, identity, labels and network.

use super::*;

/// Every row, in groups of a readable size.
pub(super) fn rows() -> Vec<Row> {
    [rows_1(), rows_2(), rows_3()]
        .into_iter()
        .flatten()
        .collect()
}

fn rows_1() -> Vec<Row> {
    vec![
        // Deadlines.
        r(
            "deadline plus boot allowance",
            with(small(), "spec.activeDeadlineSeconds", 600.into()),
            Want::Vm(Vm {
                max_run: 900,
                ..vm("e2-medium")
            }),
        ),
        r(
            "deadline capped by the maximum",
            with(small(), "spec.activeDeadlineSeconds", 36_000.into()),
            Want::Vm(Vm {
                max_run: 14_400,
                ..vm("e2-medium")
            }),
        ),
        rt(
            "at least 30 s",
            with(small(), "spec.activeDeadlineSeconds", 1.into()),
            |s| s.boot_allowance = Duration::ZERO,
            Want::Vm(Vm {
                max_run: 30,
                ..vm("e2-medium")
            }),
        ),
        rt(
            "no deadline: the configured maximum",
            small(),
            |s| s.max_runtime = Duration::from_secs(3600),
            Want::Vm(Vm {
                max_run: 3600,
                ..vm("e2-medium")
            }),
        ),
        // Disks.
        r(
            "ephemeral storage sizes the boot disk",
            one(json!({"requests": {"cpu": "500m", "memory": "1Gi", "ephemeral-storage": "20Gi"}})),
            Want::Vm(Vm {
                disk_gb: 30,
                ..vm("e2-medium")
            }),
        ),
        r(
            "init containers' ephemeral storage by max",
            json!({"spec": {"initContainers": [ctr("fetch", json!({"requests": {"ephemeral-storage": "100Gi"}}))], "containers": [ctr("app", json!({"requests": {"cpu": "500m", "memory": "1Gi", "ephemeral-storage": "5G"}}))]}}),
            Want::Vm(Vm {
                disk_gb: 110,
                ..vm("e2-medium")
            }),
        ),
        rt(
            "configured disk type",
            small(),
            |s| s.disk_type = "pd-ssd".into(),
            Want::Vm(Vm {
                disk_type: "pd-ssd",
                ..vm("e2-medium")
            }),
        ),
        r(
            "422: ephemeral storage beyond a disk",
            one(json!({"requests": {"ephemeral-storage": "70000Gi"}})),
            cause(
                INV,
                "spec.containers[0].resources.requests[ephemeral-storage]",
                "\"70000Gi\": a boot disk holds at most 65536 GB (10 GB of it for the OS and images)",
            ),
        ),
    ]
}

fn rows_2() -> Vec<Row> {
    vec![
        // Identity.
        r(
            "allow-listed service account",
            with(
                small(),
                "metadata.annotations",
                json!({"iam.gke.io/gcp-service-account": "batch@proj.iam.gserviceaccount.com"}),
            ),
            Want::Vm(Vm {
                account: "batch@proj.iam.gserviceaccount.com",
                ..vm("e2-medium")
            }),
        ),
        rt(
            "no guest account: the project's default",
            small(),
            |s| s.guest_service_account = None,
            Want::Vm(Vm {
                account: "default",
                ..vm("e2-medium")
            }),
        ),
        r(
            "422: service account not allow-listed",
            with(
                small(),
                "metadata.annotations",
                json!({"iam.gke.io/gcp-service-account": "owner@proj.iam.gserviceaccount.com"}),
            ),
            cause(
                "FieldValueForbidden",
                "metadata.annotations[iam.gke.io/gcp-service-account]",
                "\"owner@proj.iam.gserviceaccount.com\" is not on this k8sless' allow-list of VM service accounts (--allowed-service-accounts)",
            ),
        ),
        r(
            "422: every independent problem at once",
            with(
                with(
                    small(),
                    "metadata.annotations",
                    json!({"iam.gke.io/gcp-service-account": "owner@proj.iam.gserviceaccount.com"}),
                ),
                "spec.nodeSelector",
                json!({"topology.kubernetes.io/zone": "europe-west1-b"}),
            ),
            causes(vec![
                (
                    UNSUPPORTED,
                    "spec.nodeSelector[topology.kubernetes.io/zone]",
                    "\"europe-west1-b\": supported values: \"us-central1-a\", \"us-central1-b\", \"us-central1-c\", \"us-central1-f\"",
                ),
                (
                    "FieldValueForbidden",
                    "metadata.annotations[iam.gke.io/gcp-service-account]",
                    "\"owner@proj.iam.gserviceaccount.com\" is not on this k8sless' allow-list of VM service accounts (--allowed-service-accounts)",
                ),
            ]),
        ),
    ]
}

fn rows_3() -> Vec<Row> {
    vec![
        // Labels and network.
        r(
            "pod labels, sanitized, reserved keys kept",
            with(
                small(),
                "metadata.labels",
                json!({"app.kubernetes.io/name": "Web.Frontend", "team": "payments", "k8sless-uid": "spoof"}),
            ),
            Want::Vm(Vm {
                labels: vec![("name", "web_frontend"), ("team", "payments")],
                ..vm("e2-medium")
            }),
        ),
        rt(
            "Cloud NAT: no external IP, a subnetwork",
            small(),
            |s| {
                s.external_ip = false;
                s.subnetwork = Some("regions/us-central1/subnetworks/vms".into());
            },
            Want::Vm(Vm {
                external_ip: false,
                subnetwork: Some("regions/us-central1/subnetworks/vms"),
                ..vm("e2-medium")
            }),
        ),
    ]
}
