//! A paged list's snapshot of many indexed records, for the measurement of a later page
//! (`api/table_bench.rs`).

use std::sync::Arc;

use k8s_openapi::api::core::v1::Pod;

use super::snapshot::{Snapshot, unix_now};
use crate::pods::Pods;
use crate::pods::index;
use crate::pods::record::{self, PodRecord, VmState};
use crate::store::{Entry, MemoryStore};

/// A running pod as the bench's seed leaves it: labels, an annotation, one container.
fn record(namespace: &str, name: &str) -> PodRecord {
    let pod: Pod = serde_json::from_value(serde_json::json!({
        "metadata": {"name": name, "namespace": namespace, "uid": uuid::Uuid::new_v4().to_string(),
                     "labels": {"app": "bench", "tier": "sleep"},
                     "annotations": {"k8sless.dev/instance": format!("k8sless-{name}")},
                     "creationTimestamp": "2026-12-01T10:00:00Z"},
        "spec": {"nodeName": format!("k8sless-{name}"), "restartPolicy": "Never",
                 "schedulerName": "default-scheduler", "serviceAccountName": "default",
                 "containers": [{"name": "main", "image": "busybox", "command": ["sleep", "3600"]}]},
        "status": {"phase": "Running", "startTime": "2026-12-01T10:00:05Z", "qosClass": "Burstable",
                   "hostIP": "10.128.0.7", "podIP": "10.128.0.7", "podIPs": [{"ip": "10.128.0.7"}],
                   "conditions": [
                       {"type": "PodScheduled", "status": "True", "lastTransitionTime": "2026-12-01T10:00:01Z"},
                       {"type": "Initialized", "status": "True", "lastTransitionTime": "2026-12-01T10:00:05Z"},
                       {"type": "ContainersReady", "status": "True", "lastTransitionTime": "2026-12-01T10:00:09Z"},
                       {"type": "Ready", "status": "True", "lastTransitionTime": "2026-12-01T10:00:09Z"}],
                   "containerStatuses": [{"name": "main", "ready": true, "started": true, "restartCount": 0,
                       "image": "docker.io/library/busybox:latest", "imageID": "sha256:x",
                       "state": {"running": {"startedAt": "2026-12-01T10:00:08Z"}}}]}
    }))
    .expect("pod");
    PodRecord::new(
        pod,
        VmState {
            name: format!("k8sless-{name}"),
            zone: "us-central1-a".into(),
            machine_type: "e2-small".into(),
            inserted: true,
            ..Default::default()
        },
    )
}

fn snapshot(pods: usize) -> Snapshot {
    let mut entries: Vec<Entry> = (0..pods)
        .map(|i| {
            let (ns, name) = (format!("ns-{}", i % 10), format!("sleeper-{i:05}"));
            Entry {
                key: record::key(&ns, &name),
                generation: 1_000 + i as i64,
                index: index::of(&record(&ns, &name)).map(Into::into),
                data: None,
            }
        })
        .collect();
    entries.sort_by(|a, b| a.key.cmp(&b.key));
    Snapshot {
        id: 7,
        prefix: record::prefix(None),
        resource_version: 1_000 + pods as i64,
        taken: unix_now(),
        entries,
        ahead: Default::default(),
        decoded: Default::default(),
    }
}

/// [`Pods`] on an empty memory store, holding a snapshot of `pods` indexed records in ten
/// namespaces, as a first page of a list of all namespaces leaves it.
pub(crate) fn pods_with_snapshot(pods: usize) -> (Pods, Arc<Snapshot>) {
    let service = crate::testing::offline_pods(Arc::new(MemoryStore::new()));
    let snap = Arc::new(snapshot(pods));
    service.keep_snapshot(snap.clone());
    (service, snap)
}
