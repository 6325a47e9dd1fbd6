//! What a later page of a paged Table list costs on the server (issue 18): a 10,000-entry
//! snapshot of indexed records, pages of 500 cut from it and rendered as the route renders
//! them, the client taking `K8SLESS_BENCH_CLIENT_MS` (default 5) to read each page before it
//! asks for the next. Ignored (a measurement, not a check):
//! `cargo test --lib pods::crud::read::bench -- --ignored --nocapture`.

use std::sync::Arc;
use std::time::{Duration, Instant};

use k8s_openapi::api::core::v1::Pod;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ListMeta;

use super::{ListOptions, Snapshot, Token};
use crate::api::table::{self, IncludeObject};
use crate::pods::index;
use crate::pods::record::{self, PodRecord, VmState};
use crate::store::{Entry, MemoryStore};

const PODS: usize = 10_000;
const PAGE: usize = 500;

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

fn snapshot() -> Snapshot {
    let mut entries: Vec<Entry> = (0..PODS)
        .map(|i| {
            let (ns, name) = (format!("ns-{}", i % 10), format!("sleeper-{i:05}"));
            Entry {
                key: record::key(&ns, &name),
                generation: 1_000 + i as i64,
                index: index::of(&record(&ns, &name)),
                data: None,
            }
        })
        .collect();
    entries.sort_by(|a, b| a.key.cmp(&b.key));
    Snapshot {
        id: 7,
        prefix: record::prefix(None),
        resource_version: 1_000 + PODS as i64,
        taken: super::unix_now(),
        entries,
        ahead: Default::default(),
    }
}

#[tokio::test]
#[ignore = "a measurement: run with --ignored --nocapture"]
async fn a_later_table_page() {
    let pods = crate::testing::offline_pods(Arc::new(MemoryStore::new()));
    let snap = Arc::new(snapshot());
    let (mut listing, mut rendering, mut bytes) = (Duration::ZERO, Duration::ZERO, 0);
    let rounds = 5;
    let client = Duration::from_millis(
        std::env::var("K8SLESS_BENCH_CLIENT_MS")
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(5),
    );
    for _ in 0..rounds {
        pods.snapshots.keep(snap.clone());
        let mut token = Some(Token::of(&snap, &snap.entries[PAGE - 1].key).encode());
        while let Some(t) = token {
            let opts = ListOptions {
                limit: PAGE,
                continue_token: Some(t),
                index_only: true,
                ..Default::default()
            };
            let started = Instant::now();
            let page = pods.list(None, &opts).await.expect("page");
            let listed = Instant::now();
            let meta = ListMeta {
                resource_version: Some(page.resource_version.to_string()),
                continue_: page.continue_token.clone(),
                ..Default::default()
            };
            let items: Vec<Pod> = page.items.into_iter().map(|r| r.pod).collect();
            let body = table::pod_table_json(
                &items,
                IncludeObject::Metadata,
                true,
                jiff::Timestamp::now(),
                meta,
                "meta.k8s.io/v1",
            )
            .expect("table");
            listing += listed - started;
            rendering += listed.elapsed();
            bytes += body.len();
            token = page.continue_token;
            // The client reading the page before it asks for the next.
            std::thread::sleep(client);
        }
    }
    let pages = (rounds * (PODS / PAGE - 1)) as u32;
    println!(
        "later page of {PAGE} (mean of {pages}, client {client:?}): cut and decode {:?}, render {:?}, total {:?}, {} bytes",
        listing / pages,
        rendering / pages,
        (listing + rendering) / pages,
        bytes / pages as usize
    );
}
