//! Per-pod logs (issue 13, item 5): the guest uploads each container's log to
//! `PUT /guest/v1/...` with its instance identity token; the service writes it under the
//! pod's uid. Another pod's VM cannot write it, a reused name never shows an earlier pod's
//! log, deleting a pod deletes its logs, and expired tombstones are not listed by watches.

use k8sless::testing::{RecordStore, archive_key, legacy_archive_key};
use serde_json::{Value, json};

use crate::common::*;

/// `PUT` of `body` as the log of `container` of `ns/name` with `uid`, as the guest sends it.
async fn upload(
    base: &str,
    name: &str,
    uid: &str,
    container: &str,
    token: Option<&str>,
    body: &str,
) -> u16 {
    let url = format!("{base}/guest/v1/namespaces/default/pods/{name}/logs/{container}?uid={uid}");
    let mut req = http().put(url).body(body.to_string());
    if let Some(t) = token {
        req = req.bearer_auth(t);
    }
    req.send().await.expect("upload").status().as_u16()
}

fn uid(pod: &Value) -> String {
    pod["metadata"]["uid"].as_str().expect("uid").to_string()
}

async fn log_of(stack: &k8sless::testing::Stack, name: &str) -> (u16, String) {
    let r = http()
        .get(format!(
            "{}/api/v1/namespaces/default/pods/{name}/log",
            stack.base
        ))
        .send()
        .await
        .expect("log");
    (r.status().as_u16(), r.text().await.expect("text"))
}

async fn exists(store: &dyn RecordStore, key: &str) -> bool {
    store.get(key).await.is_ok()
}

#[tokio::test]
async fn a_pod_cannot_write_another_pods_log() {
    let (issuer, stack, api) = verified().await;
    let (a, vm_a) = api.create_on_vm(&stack, pod("pod-a")).await;
    let b = api.create(pod("pod-b")).await;
    let token_a = issuer.identity(&vm_a);
    let store = &*stack.memory;

    // Pod A's VM, for pod B's container (B's uid, or A's): refused, nothing written.
    let b_key = archive_key("default", "pod-b", &uid(&b), "c");
    for claimed in [uid(&b), uid(&a)] {
        let code = upload(
            &stack.base,
            "pod-b",
            &claimed,
            "c",
            Some(&token_a),
            "planted",
        )
        .await;
        assert_eq!(code, 403, "uid {claimed}");
    }
    // No token, a forged one, or a caller token: refused too.
    assert_eq!(
        upload(&stack.base, "pod-b", &uid(&b), "c", None, "planted").await,
        403
    );
    let forged = issuer.forge(&identity_claims(
        &vm_of(&stack, &b).expect("vm b"),
        SERVICE_URL,
    ));
    assert_eq!(
        upload(&stack.base, "pod-b", &uid(&b), "c", Some(&forged), "x").await,
        403
    );
    assert!(!exists(store, &b_key).await, "nothing written for pod B");
    assert!(
        !exists(store, &legacy_archive_key("default", "pod-b", "c")).await,
        "nor at the old key"
    );

    // Its own pod: written under A's uid; a container A does not have is 404.
    assert_eq!(
        upload(&stack.base, "pod-a", &uid(&a), "c", Some(&token_a), "a 1\n").await,
        200
    );
    let got = store
        .get(&archive_key("default", "pod-a", &uid(&a), "c"))
        .await
        .expect("A's log");
    assert_eq!(&got.data[..], b"a 1\n");
    assert_eq!(
        upload(&stack.base, "pod-a", &uid(&a), "other", Some(&token_a), "x").await,
        404
    );
    // Over 16 MiB: 413.
    let big = "x".repeat(k8sless::testing::MAX_LOG_BYTES + 1);
    assert_eq!(
        upload(&stack.base, "pod-a", &uid(&a), "c", Some(&token_a), &big).await,
        413
    );
    stack.stop().await;
}

#[tokio::test]
async fn a_reused_pod_name_never_shows_the_old_pods_log_and_delete_deletes_logs() {
    let (issuer, stack, api) = verified().await;
    let store = &*stack.memory;
    let push = issuer.caller("/pubsub/push");
    let start = rfc3339_now();

    // The guest's upload of container c's log of the pod named "reused", for `uid`.
    let reused = |uid: String, token: &str, body: &'static str| {
        let (base, token) = (stack.base.clone(), token.to_string());
        async move { upload(&base, "reused", &uid, "c", Some(&token), body).await }
    };
    let (old, vm) = api.create_on_vm(&stack, pod("reused")).await;
    let token = issuer.identity(&vm);
    assert_eq!(reused(uid(&old), &token, "old 1\n").await, 200);
    // While the pod runs, the archive does not answer (live logs win).
    let r = report(&old, &vm, 1, running(&start), Some(token.clone()));
    assert_eq!(api.push(Some(&push), &r).await, 200);
    assert!(!log_of(&stack, "reused").await.1.contains("old 1"));
    let r = report(&old, &vm, 2, succeeded(&start), Some(token.clone()));
    assert_eq!(api.push(Some(&push), &r).await, 200);
    assert_eq!(log_of(&stack, "reused").await, (200, "old 1\n".to_string()));

    // An object an old guest wrote at the name-only key, then the delete.
    let legacy = legacy_archive_key("default", "reused", "c");
    store
        .put(&legacy, "legacy old\n".into(), "text/plain")
        .await
        .expect("put");
    let old_key = archive_key("default", "reused", &uid(&old), "c");
    let (code, _) = delete(&stack.base, "/api/v1/namespaces/default/pods/reused").await;
    assert_eq!(code, 200);
    assert!(
        !exists(store, &old_key).await,
        "deleting a pod deletes its log"
    );
    assert!(!exists(store, &legacy).await, "and the name-only key");

    // An old guest's object written before the new pod of the same name exists.
    store
        .put(&legacy, "planted before\n".into(), "text/plain")
        .await
        .expect("put");
    let (new, vm) = api.create_on_vm(&stack, pod("reused")).await;
    assert_ne!(uid(&new), uid(&old));
    let token = issuer.identity(&vm);
    let r = report(&new, &vm, 1, succeeded(&start), Some(token.clone()));
    assert_eq!(api.push(Some(&push), &r).await, 200);
    let (code, body) = log_of(&stack, "reused").await;
    assert_eq!(code, 200, "{body}");
    assert!(!body.contains("old") && !body.contains("planted"), "{body}");
    // The earlier pod's uid, even from the new pod's own VM: refused.
    assert_eq!(reused(uid(&old), &token, "late\n").await, 403);
    assert_eq!(reused(uid(&new), &token, "new 1\n").await, 200);
    assert_eq!(log_of(&stack, "reused").await, (200, "new 1\n".to_string()));
    stack.stop().await;
}

#[tokio::test]
async fn an_expired_tombstone_is_not_listed_by_a_watch() {
    let stack = stack().await;
    let store = &*stack.memory;
    let tombstone = |name: &str, deleted: jiff::Timestamp| {
        json!({"apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": name, "namespace": "default", "uid": format!("u-{name}"),
                "deletionTimestamp": deleted.to_string()},
            "spec": {"containers": [{"name": "c", "image": "busybox"}]}})
        .to_string()
    };
    let since = jiff::Timestamp::now().as_microsecond() - 60_000_000;
    let now = jiff::Timestamp::now();
    let old = now - jiff::SignedDuration::from_secs(20 * 60);
    for (name, deleted) in [("expired", old), ("fresh", now)] {
        let key = format!("tombstones/default/{name}.json");
        let body = tombstone(name, deleted);
        store.create(&key, body.into()).await.expect("tombstone");
    }
    let body = http()
        .get(format!(
            "{}/api/v1/namespaces/default/pods?watch=true&resourceVersion={since}&timeoutSeconds=2",
            stack.base
        ))
        .send()
        .await
        .expect("watch")
        .text()
        .await
        .expect("events");
    let deleted: Vec<String> = body
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .filter(|e| e["type"] == "DELETED")
        .filter_map(|e| e["object"]["metadata"]["name"].as_str().map(str::to_string))
        .collect();
    assert_eq!(deleted, ["fresh"], "{body}");
    stack.stop().await;
}
