//! Namespaces as objects, per-namespace policy and ResourceQuota, over HTTP against in-process
//! stacks (docs/namespaces.md): the 404 of a missing namespace, the Terminating cascade (pods,
//! their VMs in the simulator, quotas), the service-account policy's 422, the quota's 403 as
//! kube-apiserver words it, and 20 concurrent creates on two instances sharing one store
//! (fake-gcs-server when K8SLESS_TEST_GCS_ENDPOINT is set, else one shared memory store).

use std::sync::Arc;
use std::time::{Duration, Instant};

use k8sless::testing::{MemoryStore, RecordStore, Stack, StackBuilder, default_args};
use serde_json::{Value, json};

use crate::common::{self, delete, get, post};

fn namespace(name: &str, annotations: Value) -> Value {
    json!({"apiVersion": "v1", "kind": "Namespace",
           "metadata": {"name": name, "annotations": annotations}})
}

fn quota(name: &str, hard: Value) -> Value {
    json!({"apiVersion": "v1", "kind": "ResourceQuota", "metadata": {"name": name},
           "spec": {"hard": hard}})
}

/// A pod requesting `cpu` CPUs (and its limits, so limits quotas can count it).
fn pod_with_cpu(name: &str, cpu: &str) -> Value {
    json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name},
           "spec": {"restartPolicy": "Never", "containers": [{"name": "c", "image": "busybox",
               "resources": {"requests": {"cpu": cpu, "memory": "1Gi"},
                             "limits": {"cpu": cpu, "memory": "1Gi"}}}]}})
}

async fn strict_stack(store: Option<Arc<dyn RecordStore>>) -> Stack {
    common::init();
    let mut args = default_args();
    args.create_namespaces = Some(false);
    let mut b = StackBuilder::new(args);
    b.store = store;
    b.start().await.expect("stack starts")
}

#[tokio::test]
async fn a_missing_namespace_is_404_and_a_created_one_takes_pods() {
    let stack = strict_stack(None).await;
    let (code, status) = common::post_pod(&stack.base, "team-a", common::pod("p")).await;
    assert_eq!(code, 404, "{status}");
    assert_eq!(status["message"], "namespaces \"team-a\" not found");
    assert_eq!(status["details"]["kind"], "namespaces");
    let (code, created) = post(
        &stack.base,
        "/api/v1/namespaces",
        namespace("team-a", json!({})),
    )
    .await;
    assert_eq!(code, 201, "{created}");
    assert_eq!(created["status"]["phase"], "Active");
    assert_eq!(created["spec"]["finalizers"], json!(["kubernetes"]));
    assert_eq!(
        created["metadata"]["labels"]["kubernetes.io/metadata.name"],
        "team-a"
    );
    let (code, again) = post(
        &stack.base,
        "/api/v1/namespaces",
        namespace("team-a", json!({})),
    )
    .await;
    assert_eq!(
        (code, again["reason"].as_str()),
        (409, Some("AlreadyExists"))
    );
    common::create_pod(&stack.base, "team-a", common::pod("p")).await;
    // `default` always exists, with or without a record.
    common::create_pod(&stack.base, "default", common::pod("p")).await;
    let (_, list) = get(&stack.base, "/api/v1/namespaces").await;
    let names = common::item_names(&list);
    assert_eq!(names, ["default", "team-a"]);
    let (code, forbidden) = delete(&stack.base, "/api/v1/namespaces/default").await;
    assert_eq!(code, 403);
    assert_eq!(
        forbidden["message"],
        "namespaces \"default\" is forbidden: this namespace may not be deleted"
    );
}

#[tokio::test]
async fn deleting_a_namespace_deletes_its_pods_vms_and_quota() {
    let stack = strict_stack(None).await;
    let api = common::api::Api::new(&stack);
    common::namespace_with_quota(&stack.base, "team-b", "q", json!({"pods": "5"})).await;
    for name in ["b1", "b2"] {
        common::create_pod(&stack.base, "team-b", common::pod(name)).await;
    }
    assert_eq!(stack.sim.instances().len(), 2);
    let (code, deleted) = delete(&stack.base, "/api/v1/namespaces/team-b").await;
    assert_eq!(code, 200, "{deleted}");
    assert_eq!(deleted["status"]["phase"], "Terminating");
    assert!(deleted["metadata"]["deletionTimestamp"].is_string());
    let (code, refused) = common::post_pod(&stack.base, "team-b", common::pod("b3")).await;
    if code != 404 {
        assert_eq!(code, 403, "{refused}");
        assert_eq!(
            refused["message"],
            "pods \"b3\" is forbidden: unable to create new content in namespace team-b because it is being terminated"
        );
    }
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let (code, _) = get(&stack.base, "/api/v1/namespaces/team-b").await;
        if code == 404 {
            break;
        }
        assert!(Instant::now() < deadline, "team-b still there");
        api.gc(None).await;
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let (_, pods) = get(&stack.base, "/api/v1/namespaces/team-b/pods").await;
    assert_eq!(pods["items"], json!([]));
    let (code, _) = get(&stack.base, "/api/v1/namespaces/team-b/resourcequotas/q").await;
    assert_eq!(code, 404);
    let deadline = Instant::now() + Duration::from_secs(20);
    while !stack.sim.instances().is_empty() {
        let left: Vec<String> = stack.sim.instances().into_iter().map(|i| i.name).collect();
        assert!(Instant::now() < deadline, "VMs left: {left:?}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test]
async fn a_service_account_outside_the_namespace_policy_is_422_naming_the_allowed_ones() {
    let stack = strict_stack(None).await;
    let allowed = "batch@proj.iam.gserviceaccount.com";
    let (code, ns) = post(
        &stack.base,
        "/api/v1/namespaces",
        namespace(
            "team-a",
            json!({"k8sless.dev/allowed-service-accounts": allowed}),
        ),
    )
    .await;
    assert_eq!(code, 201, "{ns}");
    let mut p = common::pod("sa");
    p["metadata"]["annotations"] =
        json!({"iam.gke.io/gcp-service-account": "admin@proj.iam.gserviceaccount.com"});
    let (code, status) = common::post_pod(&stack.base, "team-a", p.clone()).await;
    assert_eq!(code, 422, "{status}");
    assert_eq!(status["reason"], "Invalid");
    assert_eq!(
        status["message"],
        format!(
            "Pod \"sa\" is invalid: metadata.annotations[iam.gke.io/gcp-service-account]: Unsupported value: \"admin@proj.iam.gserviceaccount.com\": supported values: \"{allowed}\""
        )
    );
    assert_eq!(
        status["details"]["causes"][0]["reason"],
        "FieldValueNotSupported"
    );
    p["metadata"]["annotations"]["iam.gke.io/gcp-service-account"] = json!(allowed);
    common::create_pod(&stack.base, "team-a", p).await;
    let (code, bad) = post(
        &stack.base,
        "/api/v1/namespaces",
        namespace("team-c", json!({"k8sless.dev/allow-spot": "maybe"})),
    )
    .await;
    assert_eq!(code, 422, "{bad}");
}

#[tokio::test]
async fn the_third_pod_over_a_two_pod_quota_is_403_naming_the_quota() {
    let stack = strict_stack(None).await;
    let hard = json!({"pods": "2", "requests.cpu": "4", "k8sless.dev/hourly-price": "1"});
    common::namespace_with_quota(&stack.base, "team-a", "team-quota", hard).await;
    for name in ["p1", "p2"] {
        common::create_pod(&stack.base, "team-a", pod_with_cpu(name, "1")).await;
    }
    let (code, status) = common::post_pod(&stack.base, "team-a", pod_with_cpu("p3", "1")).await;
    assert_eq!(code, 403, "{status}");
    assert_eq!(status["reason"], "Forbidden");
    assert_eq!(
        status["message"],
        "pods \"p3\" is forbidden: exceeded quota: team-quota, requested: pods=1, used: pods=2, limited: pods=2"
    );
    let (_, q) = get(
        &stack.base,
        "/api/v1/namespaces/team-a/resourcequotas/team-quota",
    )
    .await;
    assert_eq!(q["status"]["used"]["pods"], "2");
    assert_eq!(q["status"]["used"]["requests.cpu"], "2");
    assert_eq!(q["status"]["hard"]["pods"], "2");
    let price = q["status"]["used"]["k8sless.dev/hourly-price"]
        .as_str()
        .expect("price")
        .to_string();
    assert!(price.parse::<f64>().expect("a decimal") > 0.0, "{price}");
    // Deleting a pod gives its room back.
    delete(&stack.base, "/api/v1/namespaces/team-a/pods/p1").await;
    common::create_pod(&stack.base, "team-a", pod_with_cpu("p3", "1")).await;
    // CPU and price ceilings: 3 more CPUs would make 5 > 4.
    delete(&stack.base, "/api/v1/namespaces/team-a/pods/p2").await;
    let (code, status) = common::post_pod(&stack.base, "team-a", pod_with_cpu("big", "4")).await;
    assert_eq!(code, 403, "{status}");
    let message = status["message"].as_str().expect("message");
    assert!(
        message.starts_with("pods \"big\" is forbidden: exceeded quota: team-quota, requested: "),
        "{message}"
    );
    assert!(
        message.contains("requests.cpu=4")
            && message.contains("limited: ")
            && message.contains("requests.cpu=4"),
        "{message}"
    );
}

async fn shared_store() -> Arc<dyn RecordStore> {
    if let Some(endpoint) = std::env::var("K8SLESS_TEST_GCS_ENDPOINT")
        .ok()
        .filter(|e| !e.is_empty())
    {
        return common::new_gcs_store(&endpoint).await;
    }
    println!("K8SLESS_TEST_GCS_ENDPOINT unset: the two instances share one memory store");
    Arc::new(MemoryStore::new())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn twenty_concurrent_creates_on_two_instances_never_exceed_the_quota() {
    let store = shared_store().await;
    let first = strict_stack(Some(store.clone())).await;
    let second = strict_stack(Some(store.clone())).await;
    post(
        &first.base,
        "/api/v1/namespaces",
        namespace("team-a", json!({})),
    )
    .await;
    let (code, _) = post(
        &second.base,
        "/api/v1/namespaces/team-a/resourcequotas",
        quota("q", json!({"pods": "5"})),
    )
    .await;
    assert_eq!(code, 201);
    let bases = [first.base.clone(), second.base.clone()];
    let tasks: Vec<_> = (0..20)
        .map(|i| {
            let base = bases[i % 2].clone();
            tokio::spawn(async move {
                let pod = common::pod(&format!("c{i}"));
                common::post_pod(&base, "team-a", pod).await
            })
        })
        .collect();
    let mut codes = Vec::new();
    for t in tasks {
        let (code, body) = t.await.expect("task");
        if code == 403 {
            assert!(
                body["message"].as_str().unwrap_or("").contains(
                    "exceeded quota: q, requested: pods=1, used: pods=5, limited: pods=5"
                ),
                "{body}"
            );
        }
        codes.push(code);
    }
    let created = codes.iter().filter(|c| **c == 201).count();
    assert_eq!(created, 5, "codes: {codes:?}");
    assert_eq!(
        codes.iter().filter(|c| **c == 403).count(),
        15,
        "codes: {codes:?}"
    );
    assert_eq!(
        first.sim.instances().len() + second.sim.instances().len(),
        5
    );
    let (_, q) = get(&first.base, "/api/v1/namespaces/team-a/resourcequotas/q").await;
    assert_eq!(q["status"]["used"]["pods"], "5");
}

/// One list handler serves a kind's namespaced and all-namespaces routes (`kubectl get quota
/// -A`, `kubectl get events -A`): both answer with the kind's list.
#[tokio::test]
async fn quotas_and_events_list_in_one_namespace_and_in_all() {
    let stack = strict_stack(None).await;
    common::namespace_with_quota(&stack.base, "team-a", "q", json!({"pods": "2"})).await;
    for path in [
        "/api/v1/namespaces/team-a/resourcequotas",
        "/api/v1/resourcequotas",
    ] {
        let (code, list) = get(&stack.base, path).await;
        assert_eq!(code, 200, "{path}: {list}");
        assert_eq!(list["kind"], "ResourceQuotaList", "{path}");
        assert_eq!(list["items"][0]["metadata"]["name"], "q", "{path}: {list}");
    }
    let (_, empty) = get(&stack.base, "/api/v1/namespaces/default/resourcequotas").await;
    assert_eq!(empty["items"], json!([]), "{empty}");
    let (_, none) = get(
        &stack.base,
        "/api/v1/resourcequotas?fieldSelector=metadata.name%3Dother",
    )
    .await;
    assert_eq!(none["items"], json!([]), "{none}");
    let watch = common::http()
        .get(format!(
            "{}/api/v1/namespaces/team-a/resourcequotas?watch=true&timeoutSeconds=1",
            stack.base
        ))
        .send()
        .await
        .expect("watch");
    let text = watch.text().await.expect("stream");
    let first: Value = serde_json::from_str(text.lines().next().unwrap_or("")).expect("event");
    assert_eq!(first["type"], "ADDED", "{text}");
    assert_eq!(first["object"]["metadata"]["name"], "q", "{text}");
    for path in ["/api/v1/namespaces/team-a/events", "/api/v1/events"] {
        let (code, list) = get(&stack.base, path).await;
        assert_eq!(code, 200, "{path}: {list}");
        assert_eq!(list["kind"], "EventList", "{path}: {list}");
    }
}
