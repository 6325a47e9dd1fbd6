//! The Pod API over HTTP against the in-process stack: create, get, list, delete with
//! Kubernetes semantics; concurrency; outages; every answer checked against Kubernetes'
//! OpenAPI schema. Bad input and dry runs: pod_input.rs.

use std::sync::Arc;
use std::time::Duration;

use k8sless::sim::faults::FaultRule;
use k8sless::testing::{StackBuilder, default_args};
use serde_json::{Value, json};

use super::k8s_schema::assert_valid;
use crate::common::{self, http, labelled_pod as pod};

pub(super) async fn post(base: &str, path: &str, body: &Value) -> (u16, Value) {
    let r = http()
        .post(format!("{base}{path}"))
        .json(body)
        .send()
        .await
        .expect("post");
    let code = r.status().as_u16();
    (code, r.json().await.unwrap_or(Value::Null))
}

pub(super) async fn delete(base: &str, path: &str) -> reqwest::Response {
    http()
        .delete(format!("{base}{path}"))
        .send()
        .await
        .expect("delete")
}

pub(super) async fn get(base: &str, path: &str) -> (u16, Value) {
    let r = http()
        .get(format!("{base}{path}"))
        .send()
        .await
        .expect("get");
    let code = r.status().as_u16();
    (code, r.json().await.unwrap_or(Value::Null))
}

/// The status code of a `GET` of `path`.
pub(super) async fn get_code(base: &str, path: &str) -> u16 {
    get(base, path).await.0
}

/// The created hello pod: defaults, scheduling on its VM, server fields; returns the VM name.
fn check_created(created: &Value) -> String {
    assert_valid("io.k8s.api.core.v1.Pod", created);
    assert_eq!(created["metadata"]["namespace"], "default");
    assert_eq!(created["status"]["phase"], "Pending");
    assert_eq!(created["spec"]["hostNetwork"], true);
    assert_eq!(
        created["spec"]["containers"][0]["imagePullPolicy"],
        "IfNotPresent"
    );
    assert_eq!(created["status"]["conditions"][0]["type"], "PodScheduled");
    let vm_name = created["spec"]["nodeName"]
        .as_str()
        .expect("nodeName")
        .to_string();
    assert!(
        vm_name.starts_with("k8s-") && vm_name.contains("-default-hello-"),
        "{vm_name}"
    );
    assert_eq!(
        created["metadata"]["annotations"]["k8sless.dev/instance"],
        format!("projects/k8sless-dev/zones/us-central1-a/instances/{vm_name}")
    );
    assert!(
        created["metadata"]["uid"]
            .as_str()
            .is_some_and(|u| u.len() == 36)
    );
    assert!(
        created["metadata"]["resourceVersion"]
            .as_str()
            .is_some_and(|v| v.parse::<i64>().is_ok())
    );
    vm_name
}

/// The hello pod's one VM: name, labels, metadata.
fn check_vm(vms: &[k8sless::testing::Instance], vm_name: &str, created: &Value) {
    assert_eq!(vms.len(), 1);
    let vm = &vms[0];
    assert_eq!(vm.name, vm_name);
    assert_eq!(vm.labels.get("k8sless").map(String::as_str), Some("true"));
    assert_eq!(
        vm.labels.get("k8sless-namespace").map(String::as_str),
        Some("default")
    );
    assert_eq!(
        vm.labels.get("k8sless-pod").map(String::as_str),
        Some("hello")
    );
    assert_eq!(
        vm.labels.get("k8sless-uid").map(String::as_str),
        created["metadata"]["uid"].as_str()
    );
    let manifest: Value =
        serde_json::from_str(vm.metadata_value("k8sless-manifest").expect("manifest"))
            .expect("json");
    assert_eq!(manifest["metadata"]["name"], "hello");
    assert_eq!(manifest["spec"]["containers"][0]["image"], "busybox:1.36");
    assert_eq!(vm.metadata_value("user-data-encoding"), Some("base64"));
    let user_data = k8sless::testing::decoded_user_data(vm).expect("user-data");
    assert!(user_data.starts_with("#cloud-config\n"), "{user_data}");
    assert!(
        !user_data.contains("hello"),
        "the user-data is the same for every pod"
    );
}

#[tokio::test]
async fn create_get_list_delete() {
    let stack = common::stack().await;
    let yaml = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/examples/hello.yaml"))
        .expect("example");
    let r = http()
        .post(format!("{}/pods", stack.base))
        .header("Content-Type", "application/yaml")
        .body(yaml)
        .send()
        .await
        .expect("post");
    assert_eq!(r.status().as_u16(), 201);
    let created: Value = r.json().await.expect("json");
    let vm_name = check_created(&created);
    check_vm(&stack.sim.instances(), &vm_name, &created);

    let (code, got) = get(&stack.base, "/api/v1/namespaces/default/pods/hello").await;
    assert_eq!(code, 200);
    assert_valid("io.k8s.api.core.v1.Pod", &got);
    let (code, list) = get(&stack.base, "/api/v1/namespaces/default/pods").await;
    assert_eq!(code, 200);
    assert_valid("io.k8s.api.core.v1.PodList", &list);
    assert_eq!(list["items"].as_array().map(Vec::len), Some(1));
    let (_, all) = get(&stack.base, "/api/v1/pods").await;
    assert_eq!(all["items"].as_array().map(Vec::len), Some(1));

    let r = delete(&stack.base, "/api/v1/namespaces/default/pods/hello").await;
    assert_eq!(r.status().as_u16(), 200);
    let deleted: Value = r.json().await.expect("json");
    assert_valid("io.k8s.api.core.v1.Pod", &deleted);
    assert!(deleted["metadata"]["deletionTimestamp"].is_string());
    let (code, status) = get(&stack.base, "/api/v1/namespaces/default/pods/hello").await;
    assert_eq!(code, 404);
    assert_valid("io.k8s.apimachinery.pkg.apis.meta.v1.Status", &status);
    assert_eq!(status["reason"], "NotFound");
    assert_eq!(status["message"], "pods \"hello\" not found");
    assert!(
        stack
            .sim
            .instances()
            .iter()
            .all(|i| i.status.map(|s| s.as_str()) == Some("TERMINATED"))
            || stack.sim.instances().is_empty()
    );
    let r = delete(&stack.base, "/api/v1/namespaces/default/pods/hello").await;
    assert_eq!(r.status().as_u16(), 404);
}

#[tokio::test]
async fn simulated_guest_runs_the_pod_to_succeeded() {
    let stack = common::stack_with(|b| b.guests = true).await;
    let mut p = pod("job");
    p["metadata"]["annotations"] = json!({"k8sless.dev/simulate-duration": "1s"});
    assert_eq!(
        post(&stack.base, "/api/v1/namespaces/default/pods", &p)
            .await
            .0,
        201
    );
    let mut phases = Vec::new();
    for _ in 0..100 {
        let (_, got) = get(&stack.base, "/api/v1/namespaces/default/pods/job").await;
        let phase = got["status"]["phase"].as_str().unwrap_or("").to_string();
        if phases.last() != Some(&phase) {
            phases.push(phase.clone());
        }
        if phase == "Succeeded" {
            assert_valid("io.k8s.api.core.v1.Pod", &got);
            assert_eq!(
                got["status"]["containerStatuses"][0]["state"]["terminated"]["exitCode"],
                0
            );
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(
        phases.last().map(String::as_str),
        Some("Succeeded"),
        "{phases:?}"
    );
    assert!(phases.contains(&"Running".to_string()), "{phases:?}");
    // The guest powered the VM off after its final report.
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert_eq!(
        stack.sim.instances()[0].status.map(|s| s.as_str()),
        Some("TERMINATED")
    );
    let lines = stack.logs.lines("default", "job", "main").expect("logs");
    assert!(lines.iter().all(|(_, l)| l.contains("simulated")));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fifty_concurrent_creates_of_one_name() {
    let stack = common::stack().await;
    let base = stack.base.clone();
    let tasks: Vec<_> = (0..50)
        .map(|_| {
            let base = base.clone();
            tokio::spawn(async move {
                post(&base, "/api/v1/namespaces/default/pods", &pod("same")).await
            })
        })
        .collect();
    let mut codes = Vec::new();
    for t in tasks {
        let (code, body) = t.await.expect("task");
        if code == 409 {
            assert_eq!(body["reason"], "AlreadyExists");
            assert_valid("io.k8s.apimachinery.pkg.apis.meta.v1.Status", &body);
        }
        codes.push(code);
    }
    assert_eq!(codes.iter().filter(|c| **c == 201).count(), 1, "{codes:?}");
    assert_eq!(codes.iter().filter(|c| **c == 409).count(), 49, "{codes:?}");
    assert_eq!(stack.sim.instances().len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_service_instances_sharing_one_store() {
    let first = common::stack().await;
    let mut b = StackBuilder::new(default_args());
    b.store = Some(first.memory.clone());
    let second = b.start().await.expect("second");
    // Both instances use the first's simulator as their Compute Engine.
    let shared = second.pods.with_compute(first.pods.compute().clone());
    let state = k8sless::testing::AppState::from(k8sless::testing::AppParts {
        pods: shared,
        ..(*second.state).clone()
    });
    let second_base = common::serve(k8sless::testing::router(state)).await;
    let bases = [first.base.clone(), second_base];
    let tasks: Vec<_> = (0..50)
        .map(|i| {
            let base = bases[i % 2].clone();
            tokio::spawn(async move {
                post(&base, "/api/v1/namespaces/default/pods", &pod("shared"))
                    .await
                    .0
            })
        })
        .collect();
    common::assert_one_created(tasks).await;
    assert_eq!(first.sim.instances().len(), 1);
    assert_eq!(second.sim.instances().len(), 0);
}

#[tokio::test]
async fn selectors_generate_name_and_paging() {
    let stack = common::stack().await;
    for i in 0..7 {
        let mut p = pod(&format!("p{i}"));
        p["metadata"]["labels"] =
            json!({"app": if i % 2 == 0 { "even" } else { "odd" }, "n": i.to_string()});
        let ns = if i < 5 { "default" } else { "team-a" };
        assert_eq!(
            post(&stack.base, &format!("/api/v1/namespaces/{ns}/pods"), &p)
                .await
                .0,
            201
        );
    }
    let mut g = pod("ignored");
    g["metadata"] = json!({"generateName": "job-"});
    let (code, body) = post(&stack.base, "/api/v1/namespaces/default/pods", &g).await;
    assert_eq!(code, 201);
    let generated = body["metadata"]["name"].as_str().expect("name");
    assert!(
        generated.starts_with("job-") && generated.len() == 9,
        "{generated}"
    );

    let count = |v: &Value| v["items"].as_array().map(Vec::len).unwrap_or(0);
    let q = |s: &str| {
        let base = stack.base.clone();
        let s = s.to_string();
        async move { get(&base, &format!("/api/v1/pods?{s}")).await.1 }
    };
    assert_eq!(count(&q("labelSelector=app%3Deven").await), 4);
    assert_eq!(
        count(&q("labelSelector=app!%3Deven").await),
        4,
        "odd ones and the generated pod"
    );
    assert_eq!(count(&q("labelSelector=app%20in%20(odd)").await), 3);
    assert_eq!(count(&q("labelSelector=app%20notin%20(odd),app").await), 4);
    assert_eq!(count(&q("labelSelector=!n").await), 1);
    assert_eq!(
        count(&q("fieldSelector=metadata.namespace%3Dteam-a").await),
        2
    );
    assert_eq!(count(&q("fieldSelector=metadata.name%3Dp3").await), 1);
    assert_eq!(count(&q("fieldSelector=status.phase%3DPending").await), 8);
    let bad = get(&stack.base, "/api/v1/pods?fieldSelector=spec.image%3Dx").await;
    assert_eq!(bad.0, 400);
    assert_eq!(bad.1["message"], "field label not supported: spec.image");

    // Paging: each pod once, in order.
    let mut names = Vec::new();
    let mut token = String::new();
    loop {
        let page = q(&format!("limit=3&continue={token}")).await;
        assert_valid("io.k8s.api.core.v1.PodList", &page);
        for item in page["items"].as_array().expect("items") {
            names.push(format!(
                "{}/{}",
                item["metadata"]["namespace"].as_str().unwrap_or(""),
                item["metadata"]["name"].as_str().unwrap_or("")
            ));
        }
        match page["metadata"]["continue"].as_str() {
            Some(t) => token = t.to_string(),
            None => break,
        }
    }
    assert_eq!(names.len(), 8, "{names:?}");
    let mut sorted = names.clone();
    sorted.sort();
    sorted.dedup();
    assert_eq!(sorted.len(), 8);
    assert_eq!(
        get(&stack.base, "/api/v1/pods?continue=garbage").await.0,
        400
    );
}

#[tokio::test]
async fn failed_inserts_leave_a_pending_unschedulable_pod() {
    let stack = common::stack().await;
    stack.sim.set_faults(vec![FaultRule {
        stockout: true,
        ..Default::default()
    }]);
    let (code, body) = post(
        &stack.base,
        "/api/v1/namespaces/default/pods",
        &pod("nocap"),
    )
    .await;
    assert_eq!(code, 201, "{body}");
    assert_eq!(body["status"]["phase"], "Pending");
    assert_eq!(body["status"]["conditions"][0]["type"], "PodScheduled");
    common::assert_unschedulable(&body, "no capacity");
    assert!(body["spec"]["nodeName"].is_null());
    assert_valid("io.k8s.api.core.v1.Pod", &body);
}

#[tokio::test]
async fn compute_outage_on_delete_is_503_with_retry_after_and_keeps_the_pod() {
    let stack = common::stack_with(|b| b.retry_deadline = Duration::from_millis(300)).await;
    assert_eq!(
        post(&stack.base, "/api/v1/namespaces/default/pods", &pod("keep"))
            .await
            .0,
        201
    );
    stack.sim.set_faults(vec![FaultRule {
        method: Some("delete".into()),
        error_rate: 1.0,
        codes: vec![503],
        ..Default::default()
    }]);
    let r = delete(&stack.base, "/api/v1/namespaces/default/pods/keep").await;
    assert_eq!(r.status().as_u16(), 503);
    assert!(r.headers().get("retry-after").is_some());
    let v: Value = r.json().await.expect("json");
    assert_eq!(v["reason"], "ServiceUnavailable");
    assert_eq!(
        get_code(&stack.base, "/api/v1/namespaces/default/pods/keep").await,
        200
    );
    stack.sim.set_faults(vec![]);
    let r = delete(&stack.base, "/api/v1/namespaces/default/pods/keep").await;
    assert_eq!(r.status().as_u16(), 200);
}

#[tokio::test]
async fn store_outage_is_503_never_a_half_written_pod() {
    let stack = common::stack().await;
    stack.memory.fail_next(1);
    let (code, body) = post(&stack.base, "/api/v1/namespaces/default/pods", &pod("s")).await;
    assert_eq!(code, 503, "{body}");
    assert_eq!(
        get_code(&stack.base, "/api/v1/namespaces/default/pods/s").await,
        404
    );
    assert!(stack.sim.instances().is_empty());
    let _ = Arc::clone(&stack.memory);
}

/// `kubectl apply --server-side` of `yaml` to `url`.
async fn apply(url: &str, yaml: impl Into<reqwest::Body>) -> reqwest::Response {
    http()
        .patch(url)
        .header("Content-Type", "application/apply-patch+yaml")
        .body(yaml)
        .send()
        .await
        .expect("apply")
}

#[tokio::test]
async fn server_side_apply_creates_then_merges() {
    let stack = common::stack().await;
    let url = format!(
        "{}/api/v1/namespaces/default/pods/ssa?fieldManager=kubectl&fieldValidation=Strict",
        stack.base
    );
    let yaml = "apiVersion: v1\nkind: Pod\nmetadata:\n  name: ssa\n  labels: {app: one}\nspec:\n  containers:\n  - name: c\n    image: busybox:1.36\n";
    let r = apply(&url, yaml).await;
    assert_eq!(r.status().as_u16(), 201);
    let r = apply(&url, yaml.replace("app: one", "app: two")).await;
    assert_eq!(r.status().as_u16(), 200);
    let v: Value = r.json().await.expect("json");
    assert_eq!(v["metadata"]["labels"]["app"], "two");
    assert_valid("io.k8s.api.core.v1.Pod", &v);
    let r = apply(&url, yaml.replace("busybox:1.36", "busybox:1.37")).await;
    assert_eq!(
        r.status().as_u16(),
        422,
        "an image change cannot reach the running VM"
    );
    assert_eq!(stack.sim.instances().len(), 1);
}
