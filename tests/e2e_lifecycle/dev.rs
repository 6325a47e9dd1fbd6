//! Dev mode's lifecycle: simulated guests report through the push path, the collector runs by
//! itself, the VM goes a grace after the pod finished, the pod stays visible.

use std::time::Duration;

use k8sless::testing::{StackBuilder, default_args};
use serde_json::json;

use crate::common::*;

#[tokio::test]
async fn whole_lifecycle_with_simulated_guests() {
    init();
    let mut args = default_args();
    args.finished_grace = Duration::from_secs(1);
    let mut b = StackBuilder::new(args).running_pods();
    b.verify_tokens = false;
    b.collect_interval = Some(Duration::from_millis(200));
    let stack = b.start().await.expect("stack");
    let api = Api::new(&stack);
    let mut p = pod("hello");
    p["metadata"]["annotations"] = json!({"k8sless.dev/simulate-duration": "1s"});
    let created = api.create(p).await;
    let vm_name = created["spec"]["nodeName"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    let mut saw_vm = false;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    loop {
        let got = api.pod("hello").await;
        let vm = vm_named(&stack, &vm_name);
        saw_vm |= vm.is_some();
        if got["status"]["phase"] == "Succeeded" && vm.is_none() {
            break;
        }
        assert!(tokio::time::Instant::now() < deadline, "stuck: {got}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(saw_vm);
    assert_eq!(api.pod("hello").await["status"]["phase"], "Succeeded");
    stack.stop().await;
}

/// The simulated guest's first report carries simulated node facts: the pod's events have a
/// `Normal` `NodeFacts` event that says so, and `kubectl describe pod` shows it.
#[tokio::test]
async fn first_report_node_facts_are_an_event_that_describe_shows() {
    init();
    let mut b = StackBuilder::new(default_args()).running_pods();
    b.verify_tokens = false;
    let stack = b.start().await.expect("stack");
    let api = Api::new(&stack);
    let mut p = pod("facts");
    p["metadata"]["annotations"] = json!({"k8sless.dev/simulate-duration": "30s"});
    api.create(p).await;
    let url = format!(
        "{}/api/v1/namespaces/default/events?fieldSelector=involvedObject.name%3Dfacts",
        stack.base
    );
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    let facts = loop {
        let events: serde_json::Value = api
            .http
            .get(&url)
            .send()
            .await
            .expect("events")
            .json()
            .await
            .expect("json");
        let found = events["items"]
            .as_array()
            .into_iter()
            .flatten()
            .find(|e| e["reason"] == "NodeFacts")
            .cloned();
        if let Some(e) = found {
            break e;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "no NodeFacts event: {events}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert_eq!(facts["type"], "Normal", "{facts}");
    let message = facts["message"].as_str().unwrap_or_default();
    assert!(message.starts_with("simulated: "), "{message}");
    assert!(
        !message.is_empty() && message.contains("kubelet Kubernetes v1.33.8"),
        "{message}"
    );

    if tool("kubectl") {
        let dir = std::env::temp_dir().join(format!(
            "k8sless-facts-{}-{}",
            std::process::id(),
            stack.addr.port()
        ));
        std::fs::create_dir_all(&dir).expect("temp dir");
        std::fs::write(dir.join("kubeconfig"), "apiVersion: v1\nkind: Config\n").expect("config");
        let mut kubectl = std::process::Command::new("kubectl");
        kubectl
            .arg(format!("--server={}", stack.base))
            .arg(format!("--kubeconfig={}", dir.join("kubeconfig").display()))
            .arg(format!("--cache-dir={}", dir.join("cache").display()))
            .args(["--request-timeout=30s", "describe", "pod", "facts"])
            .env("HOME", &dir)
            .env_remove("KUBECONFIG");
        // Off the runtime's one thread, which serves the stack meanwhile.
        let out = tokio::task::spawn_blocking(move || kubectl.output().expect("kubectl runs"))
            .await
            .expect("kubectl joins");
        let described = String::from_utf8_lossy(&out.stdout);
        assert!(
            out.status.success(),
            "{described}\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let line = described
            .lines()
            .find(|l| l.contains("NodeFacts"))
            .unwrap_or_else(|| panic!("describe shows no NodeFacts event:\n{described}"));
        assert!(
            line.contains("Normal") && line.contains("simulated: "),
            "{line}"
        );
        let _ = std::fs::remove_dir_all(&dir);
    }
    stack.stop().await;
}

/// `dev --compute-endpoint` on a separate simulator (what `scripts/bench` runs): its VMs are
/// that simulator's, and its own port serves the API alone, as `serve` does: the simulator's
/// paths there are the API's 404 Status.
#[tokio::test]
async fn dev_with_a_separate_simulator_serves_only_the_api() {
    init();
    let mut peer = StackBuilder::new(default_args());
    peer.verify_tokens = false;
    let peer = peer.start().await.expect("the simulator's stack");
    let mut b = StackBuilder::new(default_args());
    b.verify_tokens = false;
    b.compute_endpoint = Some(format!("{}/compute/v1", peer.base));
    let stack = b.start().await.expect("stack");
    let api = Api::new(&stack);
    let created = api.create(pod("elsewhere")).await;
    let vm_name = created["spec"]["nodeName"].as_str().unwrap_or_default();
    assert!(vm_named(&peer, vm_name).is_some(), "the VM is the peer's");
    assert!(
        vm_named(&stack, vm_name).is_none(),
        "not the in-process one's"
    );
    let (code, body) = get(&stack.base, "/sim/stats").await;
    assert_eq!(code, 404, "{body}");
    assert_eq!(body["kind"], "Status", "{body}");
    let (code, _) = get(&peer.base, "/sim/stats").await;
    assert_eq!(code, 200);
    stack.stop().await;
    peer.stop().await;
}
