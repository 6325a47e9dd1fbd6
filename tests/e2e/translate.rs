//! Pod → VM end to end: pods created through the HTTP API get VMs fitted to them in the
//! simulator, and the choice is visible in the pod's annotation and its Scheduled event.

use k8sless::testing::{Instance, Stack, record};
use serde_json::{Value, json};

use crate::common;

fn pod(name: &str, resources: Value, node_selector: Value) -> Value {
    json!({
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name},
        "spec": {
            "restartPolicy": "Never",
            "nodeSelector": node_selector,
            "containers": [{"name": "main", "image": "busybox:1.36", "command": ["true"], "resources": resources}]
        }
    })
}

/// Creates the pod, then checks through the API that its reason annotation is set and through
/// the record that the Scheduled event carries it. Returns the VM's body and the reason.
async fn create(stack: &Stack, body: Value) -> (Instance, String) {
    let name = body["metadata"]["name"].as_str().expect("name").to_string();
    common::create_pod(&stack.base, "default", body).await;
    let (code, got) = common::get(
        &stack.base,
        &format!("/api/v1/namespaces/default/pods/{name}"),
    )
    .await;
    assert_eq!(code, 200, "{got}");
    let reason = got["metadata"]["annotations"]["k8sless.dev/machine-type-reason"]
        .as_str()
        .expect("the machine-type-reason annotation")
        .to_string();
    let node = got["spec"]["nodeName"]
        .as_str()
        .expect("nodeName")
        .to_string();
    let rec = record::load(stack.pods.store(), "default", &name)
        .await
        .expect("the record");
    let scheduled = rec
        .events
        .iter()
        .find(|e| e.reason == "Scheduled")
        .expect("a Scheduled event");
    assert!(
        scheduled.message.contains(&reason) && scheduled.message.contains(&node),
        "{} lacks {reason}",
        scheduled.message
    );
    let vm = common::vm_named(stack, &node).expect("the VM exists in the simulator");
    (vm, reason)
}

fn machine(vm: &Instance) -> &str {
    vm.machine_type.rsplit('/').next().unwrap_or("")
}

#[tokio::test]
async fn small_pod_gets_a_small_e2_vm() {
    let stack = common::stack().await;
    let (vm, reason) = create(
        &stack,
        pod(
            "small",
            json!({"requests": {"cpu": "500m", "memory": "1Gi"}}),
            json!({}),
        ),
    )
    .await;
    assert_eq!(machine(&vm), "e2-medium");
    assert!(reason.starts_with("e2-medium: the cheapest of"), "{reason}");
    let sched = vm.scheduling.expect("scheduling");
    assert_eq!(sched.provisioning_model.as_deref(), Some("STANDARD"));
    assert!(vm.guest_accelerators.is_empty());
    stack.stop().await;
}

#[tokio::test]
async fn l4_pod_gets_g2_standard_4() {
    let stack = common::stack().await;
    let (vm, reason) = create(
        &stack,
        pod(
            "inference",
            json!({"limits": {"nvidia.com/gpu": "1"}}),
            json!({"cloud.google.com/gke-accelerator": "nvidia-l4"}),
        ),
    )
    .await;
    assert_eq!(machine(&vm), "g2-standard-4");
    assert!(reason.contains("1 x nvidia-l4"), "{reason}");
    let sched = vm.scheduling.clone().expect("scheduling");
    assert_eq!(sched.on_host_maintenance.as_deref(), Some("TERMINATE"));
    let config = vm.metadata_value("k8sless-config").expect("guest config");
    let config: Value = serde_json::from_str(config).expect("JSON guest config");
    assert_eq!(
        config["installGpuDriver"], true,
        "the guest installs drivers"
    );
    stack.stop().await;
}

#[tokio::test]
async fn spot_pod_gets_a_spot_vm() {
    let stack = common::stack().await;
    let mut body = pod(
        "batch",
        json!({"requests": {"cpu": "2", "memory": "4Gi"}}),
        json!({"cloud.google.com/gke-spot": "true"}),
    );
    body["spec"]["tolerations"] = json!([{"key": "cloud.google.com/gke-spot", "operator": "Equal", "value": "true", "effect": "NoSchedule"}]);
    let (vm, reason) = create(&stack, body).await;
    let sched = vm.scheduling.expect("scheduling");
    assert_eq!(sched.provisioning_model.as_deref(), Some("SPOT"));
    assert_eq!(sched.instance_termination_action.as_deref(), Some("DELETE"));
    assert!(reason.contains("Spot"), "{reason}");
    stack.stop().await;
}

#[tokio::test]
async fn unplaceable_gpu_pod_is_422_with_causes() {
    let stack = common::stack().await;
    let (code, status) = common::post_pod(
        &stack.base,
        "default",
        pod(
            "nogpu",
            json!({"limits": {"nvidia.com/gpu": "1"}}),
            json!({}),
        ),
    )
    .await;
    assert_eq!(code, 422, "{status}");
    assert_eq!(status["reason"], "Invalid");
    assert_eq!(
        status["details"]["causes"][0]["field"],
        "spec.nodeSelector[cloud.google.com/gke-accelerator]"
    );
    assert!(stack.sim.instances().is_empty(), "no VM for a rejected pod");
    stack.stop().await;
}
