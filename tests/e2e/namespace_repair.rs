//! What collection (`POST /gc`) repairs for namespaces and quotas after a crash: a namespace left
//! Terminating by an instance that died before its cascade, quota usage that drifted (a charge
//! whose create died before its record), namespaces from before records; and the hourly-price
//! ceiling, whose charges that repair recomputes.

use std::time::{Duration, Instant};

use bytes::Bytes;
use k8sless::testing::{RecordStore, Stack, StackBuilder, default_args};
use serde_json::{Value, json};

use crate::common::{self, get, post};

async fn stack() -> Stack {
    common::init();
    let mut args = default_args();
    args.create_namespaces = Some(false);
    StackBuilder::new(args).start().await.expect("stack starts")
}

/// [`stack`] and a client of it.
async fn stack_and_api() -> (Stack, common::api::Api) {
    let stack = stack().await;
    let api = common::api::Api::new(&stack);
    (stack, api)
}

/// Deletes namespace `name`'s record behind the service's back.
async fn drop_namespace_record(stack: &Stack, name: &str) {
    let key = format!("namespaces/{name}.json");
    stack.memory.delete(&key, None).await.expect("delete");
}

/// The collection `summary` lists `want` under `namespaces.<what>`.
fn assert_swept(summary: &Value, what: &str, want: Value) {
    assert_eq!(summary["namespaces"][what], want, "{summary}");
}

/// Rewrites a stored object in place, as another writer would (compare-and-swap on its generation).
async fn rewrite(stack: &Stack, key: &str, change: impl FnOnce(&mut Value)) {
    let store = &stack.memory;
    let record = store.get(key).await.expect("stored");
    let mut v: Value = serde_json::from_slice(&record.data).expect("json");
    change(&mut v);
    let data = Bytes::from(serde_json::to_vec(&v).expect("encode"));
    store
        .update(key, data, record.generation)
        .await
        .expect("swap");
}

/// A namespace created through the API, with `pods` created in it.
async fn namespace_with_pods(stack: &Stack, name: &str, pods: &[&str]) {
    let ns = json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}});
    assert_eq!(post(&stack.base, "/api/v1/namespaces", ns).await.0, 201);
    for pod in pods {
        common::create_pod(&stack.base, name, common::pod(pod)).await;
    }
}

/// Waits (20 s at most) until the simulator has no VM left.
async fn until_no_vms(stack: &Stack, what: &str) {
    let deadline = Instant::now() + Duration::from_secs(20);
    while !stack.sim.instances().is_empty() {
        assert!(Instant::now() < deadline, "{what}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test]
async fn collection_finishes_the_cascade_of_a_namespace_whose_instance_died() {
    let (stack, api) = stack_and_api().await;
    namespace_with_pods(&stack, "team-b", &["b1", "b2"]).await;
    // What DELETE wrote before the instance died: Terminating, and no cascade ran.
    rewrite(&stack, "namespaces/team-b.json", |v| {
        v["metadata"]["deletionTimestamp"] = json!("2026-01-01T00:00:00Z");
        v["status"]["phase"] = json!("Terminating");
    })
    .await;
    let (_, ns) = get(&stack.base, "/api/v1/namespaces/team-b").await;
    assert_eq!(ns["status"]["phase"], "Terminating");
    let (code, refused) = common::post_pod(&stack.base, "team-b", common::pod("b3")).await;
    assert_eq!(code, 403, "{refused}");
    let (code, summary) = api.gc(None).await;
    assert_eq!(code, 200, "{summary}");
    assert_swept(&summary, "finalized", json!(["team-b"]));
    let (code, _) = get(&stack.base, "/api/v1/namespaces/team-b").await;
    assert_eq!(code, 404);
    let (_, pods) = get(&stack.base, "/api/v1/namespaces/team-b/pods").await;
    assert_eq!(pods["items"], json!([]));
    until_no_vms(&stack, "VMs left").await;
}

#[tokio::test]
async fn collection_drops_a_charge_whose_create_died_before_its_record() {
    let (stack, api) = stack_and_api().await;
    let hard = json!({"pods": "2"});
    common::namespace_with_quota(&stack.base, "team-a", "q", hard).await;
    common::create_pod(&stack.base, "team-a", common::pod("p1")).await;
    // A create charged the quota, then its instance died before writing the pod's record.
    rewrite(&stack, "quota-usage/team-a.json", |v| {
        v["pods"]["ghost-uid"] = json!({"pod": "ghost", "at": "2026-01-01T00:00:00Z",
                                        "amounts": {"pods": 1000}});
    })
    .await;
    let (code, refused) = common::post_pod(&stack.base, "team-a", common::pod("p2")).await;
    assert_eq!(code, 403, "{refused}");
    assert!(
        refused["message"]
            .as_str()
            .unwrap_or("")
            .contains("used: pods=2"),
        "{refused}"
    );
    let (_, summary) = api.gc(None).await;
    assert_eq!(
        summary["quotaUsageRepaired"],
        json!(["team-a"]),
        "{summary}"
    );
    let (_, q) = get(&stack.base, "/api/v1/namespaces/team-a/resourcequotas/q").await;
    assert_eq!(q["status"]["used"]["pods"], "1", "{q}");
    common::create_pod(&stack.base, "team-a", common::pod("p2")).await;
    // Nothing drifted since: the next pass changes nothing.
    let (_, summary) = api.gc(None).await;
    assert_eq!(summary["quotaUsageRepaired"], json!([]), "{summary}");
}

#[tokio::test]
async fn collection_deletes_the_usage_a_late_create_wrote_after_the_last_quota_went() {
    let stack = stack().await;
    let api = common::api::Api::new(&stack);
    common::namespace_with_quota(&stack.base, "team-a", "q", json!({"pods": "2"})).await;
    common::namespace_with_quota(&stack.base, "team-c", "q", json!({"pods": "2"})).await;
    common::create_pod(&stack.base, "team-c", common::pod("c1")).await;
    let (code, _) = common::delete(&stack.base, "/api/v1/namespaces/team-a/resourcequotas/q").await;
    assert_eq!(code, 200);
    assert!(stack.memory.get("quota-usage/team-a.json").await.is_err());
    // A create that listed the quota before it went charged it after: the usage is back, and
    // no quota will ever repair it.
    let late = json!({"pods": {"late-uid": {"pod": "late", "at": "2026-01-01T00:00:00Z",
                                            "amounts": {"pods": 1000}}}});
    let data = Bytes::from(serde_json::to_vec(&late).expect("encode"));
    stack
        .memory
        .create("quota-usage/team-a.json", data)
        .await
        .expect("orphan written");
    let (code, summary) = api.gc(None).await;
    assert_eq!(code, 200, "{summary}");
    assert!(
        stack.memory.get("quota-usage/team-a.json").await.is_err(),
        "the orphan usage is deleted: {summary}"
    );
    let kept = stack.memory.get("quota-usage/team-c.json").await;
    assert!(kept.is_ok(), "a namespace with a quota keeps its usage");
    let (_, q) = get(&stack.base, "/api/v1/namespaces/team-c/resourcequotas/q").await;
    assert_eq!(q["status"]["used"]["pods"], "1", "{q}");
}

#[tokio::test]
async fn namespaces_from_before_records_keep_working_and_collection_adopts_them() {
    let (stack, api) = stack_and_api().await;
    let ns = json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "old-team"}});
    post(&stack.base, "/api/v1/namespaces", ns).await;
    common::create_pod(&stack.base, "old-team", common::pod("p1")).await;
    // The state a deployment from before namespaces were objects left: pods that name no
    // namespace incarnation, no namespace record.
    rewrite(&stack, "pods/old-team/p1.json", |v| {
        v.as_object_mut()
            .expect("record")
            .remove("namespaceCreated");
    })
    .await;
    drop_namespace_record(&stack, "old-team").await;
    let (code, ns) = get(&stack.base, "/api/v1/namespaces/old-team").await;
    assert_eq!(code, 200, "{ns}");
    assert_eq!(ns["status"]["phase"], "Active");
    let uid = ns["metadata"]["uid"].clone();
    let (_, list) = get(&stack.base, "/api/v1/namespaces").await;
    assert!(
        list["items"]
            .as_array()
            .expect("items")
            .iter()
            .any(|n| n["metadata"]["name"] == "old-team"),
        "{list}"
    );
    let (_, summary) = api.gc(None).await;
    assert_swept(&summary, "adopted", json!(["old-team"]));
    stack
        .memory
        .get("namespaces/old-team.json")
        .await
        .expect("adopted: a record now");
    let (_, ns) = get(&stack.base, "/api/v1/namespaces/old-team").await;
    assert_eq!(ns["metadata"]["uid"], uid, "the uid it always read with");
    assert!(ns["metadata"]["resourceVersion"].is_string());
    // And without collection, a pod create adopts it too (create_namespaces is off here).
    drop_namespace_record(&stack, "old-team").await;
    common::create_pod(&stack.base, "old-team", common::pod("p2")).await;
    stack
        .memory
        .get("namespaces/old-team.json")
        .await
        .expect("adopted by the create");
}

#[tokio::test]
async fn the_hourly_price_ceiling_refuses_the_vm_that_would_pass_it() {
    let stack = stack().await;
    // Two CPUs each: an e2-standard-2 or larger ($0.134/h on demand): one fits under $0.2/h, two do not.
    let hard = json!({"k8sless.dev/hourly-price": "0.2"});
    common::namespace_with_quota(&stack.base, "team-a", "spend", hard).await;
    let pod = |name: &str| {
        let mut p = common::pod(name);
        p["spec"]["containers"][0]["resources"] =
            json!({"requests": {"cpu": "2", "memory": "4Gi"}});
        p
    };
    common::create_pod(&stack.base, "team-a", pod("p1")).await;
    let (_, q) = get(
        &stack.base,
        "/api/v1/namespaces/team-a/resourcequotas/spend",
    )
    .await;
    let used: f64 = q["status"]["used"]["k8sless.dev/hourly-price"]
        .as_str()
        .expect("used")
        .parse()
        .expect("USD");
    assert!(used > 0.05 && used <= 0.2, "{q}");
    let (code, refused) = common::post_pod(&stack.base, "team-a", pod("p2")).await;
    assert_eq!(code, 403, "{refused}");
    let message = refused["message"].as_str().unwrap_or("");
    assert!(
        message.starts_with("pods \"p2\" is forbidden: exceeded quota: spend, requested: k8sless.dev/hourly-price=0.")
            && message.ends_with("limited: k8sless.dev/hourly-price=0.2"),
        "{message}"
    );
}

/// A create admitted while its namespace was Active whose record lands only after the
/// namespace's cascade made its last listing and deleted the namespace (the store holds the
/// record's write until then): the pod must not outlive its namespace, nor bring it back
/// through collection's adoption. The create re-reads its namespace once its record is
/// written and, the namespace gone, deletes its own pod and VM.
#[tokio::test]
async fn a_pod_whose_record_lands_after_its_namespace_is_gone_does_not_outlive_it() {
    let stack = stack().await;
    let ns = json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "team-c"}});
    assert_eq!(post(&stack.base, "/api/v1/namespaces", ns).await.0, 201);
    let gate = stack.memory.hold_creates_under("pods/team-c/");
    let create = {
        let base = stack.base.clone();
        tokio::spawn(async move {
            let r = common::http()
                .post(format!("{base}/api/v1/namespaces/team-c/pods"))
                .json(&common::pod("late"))
                .send()
                .await
                .expect("create");
            (r.status().as_u16(), r.text().await.unwrap_or_default())
        })
    };
    // The create is admitted and waits at its record's write.
    let deadline = Instant::now() + Duration::from_secs(10);
    while stack.memory.held_creates() == 0 {
        assert!(
            Instant::now() < deadline,
            "the create never reached its write"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let (code, body) = common::delete(&stack.base, "/api/v1/namespaces/team-c").await;
    assert_eq!(code, 200, "{body}");
    let deadline = Instant::now() + Duration::from_secs(20);
    while get(&stack.base, "/api/v1/namespaces/team-c").await.0 != 404 {
        assert!(
            Instant::now() < deadline,
            "the empty namespace's cascade never finished"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    gate.add_permits(1);
    let (code, body) = create.await.expect("create task");
    // kube-apiserver answers such a create 201 too; the namespace controller then deletes it.
    assert_eq!(code, 201, "{body}");
    nothing_outlives(&stack, "team-c").await;
}

/// Twenty-four creates in flight while their namespace (with a quota, so creates take turns on
/// its usage object) is deleted, on a store that answers 10 ms late: each answer is 201, or
/// the 403/404 of a namespace being deleted or gone, never a 500 (a usage object the cascade
/// deleted under a create's compare-and-swap is read again), and nothing outlives the
/// namespace.
#[tokio::test]
async fn creates_racing_their_namespaces_delete_are_answered_and_cleaned_up() {
    common::init();
    let mut args = default_args();
    args.create_namespaces = Some(false);
    let mut builder = StackBuilder::new(args);
    builder.store = Some(std::sync::Arc::new(
        k8sless::testing::MemoryStore::with_latency(Duration::from_millis(10)),
    ));
    let stack = builder.start().await.expect("stack starts");
    common::namespace_with_quota(&stack.base, "team-d", "q", json!({"pods": "100"})).await;
    let creates = futures_util::future::join_all((0..24).map(|i| {
        let stack = &stack;
        async move {
            tokio::time::sleep(Duration::from_millis(4 * i)).await;
            let pod = common::pod(&format!("d{i}"));
            post(&stack.base, "/api/v1/namespaces/team-d/pods", pod).await
        }
    }));
    let delete = async {
        tokio::time::sleep(Duration::from_millis(20)).await;
        common::delete(&stack.base, "/api/v1/namespaces/team-d").await
    };
    let (answers, (deleted, body)) = tokio::join!(creates, delete);
    assert_eq!(deleted, 200, "{body}");
    for (code, body) in &answers {
        assert!([201, 403, 404].contains(code), "{code}: {body}");
    }
    nothing_outlives(&stack, "team-d").await;
}

/// Runs collection until namespace `ns` is gone (404) with no pod and no VM left, for 30 s at
/// most.
async fn nothing_outlives(stack: &Stack, ns: &str) {
    let api = common::api::Api::new(stack);
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        api.gc(None).await;
        let (code, _) = get(&stack.base, &format!("/api/v1/namespaces/{ns}")).await;
        let (_, pods) = get(&stack.base, &format!("/api/v1/namespaces/{ns}/pods")).await;
        let left = pods["items"].as_array().map_or(0, Vec::len);
        let vms = stack.sim.instances().len();
        if code == 404 && left == 0 && vms == 0 {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "namespace {code}, {left} pods and {vms} VMs outlived the delete"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// A create whose instance died between its record and its namespace check, while the
/// namespace's cascade was finishing: the pod outlives its namespace. Collection deletes it,
/// VM first, and the namespace does not come back.
#[tokio::test]
async fn a_pod_that_outlived_its_namespace_is_deleted_not_adopted() {
    let (stack, api) = stack_and_api().await;
    namespace_with_pods(&stack, "team-c", &["c1"]).await;
    assert_eq!(stack.sim.instances().len(), 1);
    // The cascade's last step, after a re-list that did not see c1 yet.
    drop_namespace_record(&stack, "team-c").await;
    let (code, ns) = get(&stack.base, "/api/v1/namespaces/team-c").await;
    assert_eq!(
        code, 404,
        "a stranded pod does not make its namespace exist: {ns}"
    );
    let (code, refused) = common::post_pod(&stack.base, "team-c", common::pod("c2")).await;
    assert_eq!(code, 404, "{refused}");
    let (code, summary) = api.gc(None).await;
    assert_eq!(code, 200, "{summary}");
    assert_swept(&summary, "adopted", json!([]));
    assert_swept(&summary, "strandedDeleted", json!(["team-c/c1"]));
    assert!(stack.memory.get("namespaces/team-c.json").await.is_err());
    assert!(stack.memory.get("pods/team-c/c1.json").await.is_err());
    until_no_vms(&stack, "the stranded pod's VM is left").await;
    let (_, summary) = api.gc(None).await;
    assert_swept(&summary, "strandedDeleted", json!([]));
}

/// The same pod, when the namespace was created again under its name: it belongs to the
/// namespace that was deleted, and goes; the new namespace's own pod stays.
#[tokio::test]
async fn a_pod_of_an_earlier_namespace_of_the_same_name_is_deleted() {
    let (stack, api) = stack_and_api().await;
    namespace_with_pods(&stack, "team-d", &["old", "new"]).await;
    // `old` was admitted into an earlier team-d, deleted since and created again.
    rewrite(&stack, "pods/team-d/old.json", |v| {
        v["namespaceCreated"] = json!("2026-01-01T00:00:00Z");
        v["pod"]["metadata"]["creationTimestamp"] = json!("2026-01-01T00:00:05Z");
    })
    .await;
    // A stamp gone wrong on a pod created since the namespace was: never taken for stranded.
    rewrite(&stack, "pods/team-d/new.json", |v| {
        v["namespaceCreated"] = json!("2026-01-01T00:00:00Z");
    })
    .await;
    let (_, summary) = api.gc(None).await;
    assert_swept(&summary, "strandedDeleted", json!(["team-d/old"]));
    let (code, _) = get(&stack.base, "/api/v1/namespaces/team-d/pods/old").await;
    assert_eq!(code, 404);
    let (code, pod) = get(&stack.base, "/api/v1/namespaces/team-d/pods/new").await;
    assert_eq!(code, 200, "{pod}");
    let (code, _) = get(&stack.base, "/api/v1/namespaces/team-d").await;
    assert_eq!(code, 200);
}
