//! Table rows: deadlines, disks, identity, labels and network.

use super::*;

/// The rows, in groups of a readable size.
pub(super) const GROUPS: [fn() -> Vec<Row>; 3] = [rows_1, rows_2, rows_3];

fn rows_1() -> Vec<Row> {
    vec![
        // Deadlines.
        r(
            "deadline plus boot allowance",
            with(small(), "spec.activeDeadlineSeconds", 600.into()),
            medium(|v| v.max_run = 900),
        ),
        r(
            "deadline capped by the maximum",
            with(small(), "spec.activeDeadlineSeconds", 36_000.into()),
            medium(|v| v.max_run = 14_400),
        ),
        rt(
            "at least 30 s",
            with(small(), "spec.activeDeadlineSeconds", 1.into()),
            |s| s.boot_allowance = Duration::ZERO,
            medium(|v| v.max_run = 30),
        ),
        rt(
            "no deadline: the configured maximum",
            small(),
            |s| s.max_runtime = Duration::from_secs(3600),
            medium(|v| v.max_run = 3600),
        ),
        // Disks.
        r(
            "ephemeral storage sizes the boot disk",
            one(json!({"requests": {"cpu": "500m", "memory": "1Gi", "ephemeral-storage": "20Gi"}})),
            medium(|v| v.disk_gb = 30),
        ),
        r(
            "init containers' ephemeral storage by max",
            json!({"spec": {"initContainers": [ctr("fetch", json!({"requests": {"ephemeral-storage": "100Gi"}}))], "containers": [ctr("app", json!({"requests": {"cpu": "500m", "memory": "1Gi", "ephemeral-storage": "5G"}}))]}}),
            medium(|v| v.disk_gb = 110),
        ),
        rt(
            "configured disk type",
            small(),
            |s| s.disk_type = "pd-ssd".into(),
            medium(|v| v.disk_type = "pd-ssd"),
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
            service_account(small(), "batch@proj.iam.gserviceaccount.com"),
            medium(|v| v.account = "batch@proj.iam.gserviceaccount.com"),
        ),
        rt(
            "no guest account: the project's default",
            small(),
            |s| s.guest_service_account = None,
            medium(|v| v.account = "default"),
        ),
        r(
            "422: service account not allow-listed",
            service_account(small(), "owner@proj.iam.gserviceaccount.com"),
            cause(
                "FieldValueForbidden",
                "metadata.annotations[iam.gke.io/gcp-service-account]",
                "\"owner@proj.iam.gserviceaccount.com\" is not on this k8sless' allow-list of VM service accounts (--allowed-service-accounts)",
            ),
        ),
        r(
            "422: every independent problem at once",
            with(
                service_account(small(), "owner@proj.iam.gserviceaccount.com"),
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
            medium(|v| v.labels = vec![("name", "web_frontend"), ("team", "payments")]),
        ),
        rt(
            "Cloud NAT: no external IP, a subnetwork",
            small(),
            |s| {
                s.external_ip = false;
                s.subnetwork = Some("regions/us-central1/subnetworks/vms".into());
            },
            medium(|v| {
                v.external_ip = false;
                v.subnetwork = Some("regions/us-central1/subnetworks/vms");
            }),
        ),
    ]
}
