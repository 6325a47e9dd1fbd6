//! Hostile pods (issue 13): a pod's reports cannot bloat its record, and one record that
//! cannot be read does not stop lists or collection for the others.

use std::sync::Arc;

use k8sless::testing::record::{self, PodRecord};
use k8sless::testing::{MemoryStore, RecordStore};
use serde_json::json;

use crate::common::*;

/// The cap every write holds a record to (`pods/bounds.rs`, `RECORD_MAX`).
const RECORD_MAX: usize = 4 * 1024 * 1024;

/// 10 MB of messages in one report (Pub/Sub's largest message): the push is answered 200, the
/// record stays small and the pod's phase advances; the termination message is cut to
/// kubelet's 4096 bytes, at a character boundary.
#[tokio::test]
async fn a_pod_that_reports_10_mb_of_messages_keeps_a_small_record() {
    let (issuer, stack, api) = verified().await;
    let p = api.create(pod("chatty")).await;
    let vm = vm_of(&stack, &p).expect("vm");
    let start = rfc3339_now();
    // Multibyte, so a byte cut would split a character.
    let mb = |n: usize| "é".repeat(n * 1024 * 1024 / 2);
    let mut status = succeeded(&start);
    status["message"] = json!(mb(3));
    status["reason"] = json!(mb(1));
    status["conditions"] = json!((0..100)
        .map(|i| json!({"type": format!("T{i}"), "status": "True", "message": "x".repeat(20_000)}))
        .collect::<Vec<_>>());
    let terminated = &mut status["containerStatuses"][0]["state"]["terminated"];
    terminated["message"] = json!(mb(3));
    terminated["exitCode"] = json!(1);
    terminated["reason"] = json!("Error");
    status["containerStatuses"][0]["image"] = json!(mb(1));
    status["phase"] = json!("Failed");
    let r = report(&p, &vm, 1, status, Some(issuer.identity(&vm)));
    let size = serde_json::to_vec(&r).expect("encode").len();
    assert!(size >= 10_000_000, "{size}");
    assert_eq!(
        api.push(Some(&issuer.caller("/pubsub/push")), &r).await,
        200
    );

    let stored = stack
        .pods
        .store()
        .get(&record::key("default", "chatty"))
        .await
        .expect("record");
    assert!(stored.data.len() < 64 * 1024, "{} bytes", stored.data.len());
    assert!(stored.data.len() < RECORD_MAX);
    let got = api.pod("chatty").await;
    assert_eq!(got["status"]["phase"], "Failed", "the phase advanced");
    let message = got["status"]["containerStatuses"][0]["state"]["terminated"]["message"]
        .as_str()
        .expect("message");
    assert!(
        message.len() <= 4096 && message.len() > 4000,
        "{}",
        message.len()
    );
    assert!(message.chars().all(|c| c == 'é'));
    // The report's first 16 conditions, and k8sless' own PodScheduled.
    assert_eq!(
        got["status"]["conditions"].as_array().map(Vec::len),
        Some(17)
    );
    stack.stop().await;
}

/// 1,000 pods, one of whose records cannot be downloaded and one of which is corrupt: the list
/// returns the other 998, `/gc` collects them and counts both as unreadable.
#[tokio::test]
async fn a_list_of_1000_pods_with_an_unreadable_record_returns_the_others() {
    let issuer = Issuer::start().await;
    let store = Arc::new(MemoryStore::new());
    let mut b = builder(&issuer);
    b.store = Some(store.clone());
    let stack = b.start().await.expect("stack");
    let api = Api::new(&stack);
    let template = api.create(pod("p-0000")).await;
    let rec = record::load(stack.pods.store(), "default", "p-0000")
        .await
        .expect("record");
    for i in 1..1000 {
        let name = format!("p-{i:04}");
        let mut copy: PodRecord = rec.clone();
        copy.pod.metadata.name = Some(name.clone());
        copy.pod.metadata.uid = Some(format!("uid-{i}"));
        copy.pod.metadata.resource_version = None;
        store
            .create(
                &record::key("default", &name),
                copy.encode().expect("encode"),
            )
            .await
            .expect("create");
    }
    assert_eq!(template["metadata"]["name"], "p-0000");
    store.fail_reads_of(&record::key("default", "p-0500"));
    let (code, list) = get(&api.base, "/api/v1/namespaces/default/pods").await;
    assert_eq!(code, 200, "{list}");
    let items = list["items"].as_array().expect("items");
    assert_eq!(items.len(), 999);
    assert!(items.iter().all(|p| p["metadata"]["name"] != "p-0500"));

    // A corrupt body (not JSON) is skipped the same way.
    let key = record::key("default", "p-0700");
    let g = store.get(&key).await.expect("get").generation;
    store
        .update(&key, bytes::Bytes::from_static(b"\x00not json"), g)
        .await
        .expect("corrupt");
    let (_, list) = get(&api.base, "/api/v1/pods").await;
    assert_eq!(list["items"].as_array().map(Vec::len), Some(998));

    let (code, summary) = api.gc(Some(&issuer.caller("/gc"))).await;
    assert_eq!(code, 200, "{summary}");
    assert_eq!(summary["records"], 1000);
    assert_eq!(summary["unreadable"]["count"], 2, "{summary}");
    stack.stop().await;
}
