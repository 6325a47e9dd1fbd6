//! The Cloud Storage record store against fake-gcs-server (started once by scripts/test and
//! shared: K8SLESS_TEST_GCS_ENDPOINT), including two service instances sharing one bucket.

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use k8sless::testing::GcsStore;
use k8sless::testing::TokenSource;
use k8sless::testing::{RecordStore, StoreError};
use k8sless::testing::{StackBuilder, default_args};

use crate::common;

async fn bucket(endpoint: &str) -> String {
    let name = format!("k8sless-test-{}", uuid::Uuid::new_v4().simple());
    let r = common::http()
        .post(format!("{endpoint}/storage/v1/b?project=test"))
        .json(&serde_json::json!({ "name": name }))
        .send()
        .await
        .expect("create bucket");
    assert!(r.status().is_success(), "create bucket: {}", r.status());
    name
}

async fn store() -> Option<Arc<dyn RecordStore>> {
    let endpoint = common::peer("K8SLESS_TEST_GCS_ENDPOINT", "fake-gcs-server")?;
    common::init();
    let b = bucket(&endpoint).await;
    Some(Arc::new(
        GcsStore::new(
            &endpoint,
            &b,
            TokenSource::Anonymous,
            Duration::from_secs(10),
        )
        .expect("store"),
    ))
}

#[tokio::test]
async fn gcs_store_semantics() {
    let Some(s) = store().await else { return };
    s.ready().await.expect("bucket answers");
    let g1 = s
        .create("pods/a/x.json", Bytes::from_static(b"{\"v\":1}"))
        .await
        .expect("create");
    assert!(matches!(
        s.create("pods/a/x.json", Bytes::from_static(b"{}")).await,
        Err(StoreError::AlreadyExists { .. })
    ));
    let r = s.get("pods/a/x.json").await.expect("get");
    assert_eq!((r.data.as_ref(), r.generation), (&b"{\"v\":1}"[..], g1));
    let g2 = s
        .update("pods/a/x.json", Bytes::from_static(b"{\"v\":2}"), g1)
        .await
        .expect("update");
    assert_ne!(g1, g2);
    assert!(matches!(
        s.update("pods/a/x.json", Bytes::from_static(b"{}"), g1)
            .await,
        Err(StoreError::Conflict { .. })
    ));
    assert_eq!(
        s.get("pods/a/x.json").await.expect("get").data.as_ref(),
        b"{\"v\":2}"
    );
    for i in 0..12 {
        s.create(&format!("pods/b/{i:02}.json"), Bytes::from(format!("{i}")))
            .await
            .expect("create");
    }
    let p1 = s.list("pods/b/", None, 5).await.expect("list");
    assert_eq!(p1.records.len(), 5);
    let p2 = s
        .list("pods/b/", p1.next.as_deref(), 5)
        .await
        .expect("list");
    let p3 = s
        .list("pods/b/", p2.next.as_deref(), 5)
        .await
        .expect("list");
    assert_eq!(p3.records.len(), 2);
    assert!(p3.next.is_none());
    let all: Vec<String> = p1
        .records
        .iter()
        .chain(&p2.records)
        .chain(&p3.records)
        .map(|r| r.key.clone())
        .collect();
    assert_eq!(all.len(), 12);
    assert_eq!(all.first().map(String::as_str), Some("pods/b/00.json"));
    assert_eq!(
        s.list("pods/", None, 100)
            .await
            .expect("list")
            .records
            .len(),
        13
    );
    // fake-gcs-server does not check ifGenerationMatch on deletes (Cloud Storage does; the
    // memory store's tests cover the conflict), so only the matching delete is asserted here.
    s.delete("pods/a/x.json", Some(g2)).await.expect("delete");
    assert!(matches!(
        s.get("pods/a/x.json").await,
        Err(StoreError::NotFound { .. })
    ));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_instances_one_bucket_one_winner() {
    let Some(s) = store().await else { return };
    let mut a = StackBuilder::new(default_args());
    a.store = Some(s.clone());
    let first = a.start().await.expect("first");
    let mut b = StackBuilder::new(default_args());
    b.store = Some(s.clone());
    let second = b.start().await.expect("second");
    let bases = [first.base.clone(), second.base.clone()];
    let tasks: Vec<_> = (0..50)
        .map(|i| {
            let base = bases[i % 2].clone();
            tokio::spawn(async move {
                common::http()
                    .post(format!("{base}/api/v1/namespaces/default/pods"))
                    .json(&common::labelled_pod("race"))
                    .send()
                    .await
                    .map(|r| r.status().as_u16())
                    .unwrap_or(0)
            })
        })
        .collect();
    common::assert_one_created(tasks).await;
    assert_eq!(
        first.sim.instances().len() + second.sim.instances().len(),
        1
    );
    // Both instances read the same record.
    for base in &bases {
        let r = common::http()
            .get(format!("{base}/api/v1/namespaces/default/pods/race"))
            .send()
            .await
            .expect("get");
        assert_eq!(r.status().as_u16(), 200);
    }
}
