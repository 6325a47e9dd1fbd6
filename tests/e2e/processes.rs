//! `dev`'s simulated guest with the kubelet stand-in runs a pod's containers as real processes
//! in the stand-in's sandbox, and the service's records follow them: each container ends on its
//! own (the XCom-sidecar shape: the main container exits, the sidecar keeps running until
//! signalled), the phase follows `restartPolicy` once all have ended, an `emptyDir` is shared
//! and outlives a restart, and the logs are kept after the VM is gone.

use std::time::{Duration, Instant};

use k8sless::sim::kubelet::sandbox;
use k8sless::testing::{Stack, StackBuilder, default_args};
use serde_json::{Value, json};

use crate::common::{self, Api};

async fn stack() -> Option<Stack> {
    if let Err(why) = sandbox::available() {
        common::missing(&format!("the stand-in's sandbox: {why}"));
        return None;
    }
    common::init();
    let mut b = StackBuilder::new(default_args()).running_pods();
    b.kubelet = true;
    Some(b.start().await.expect("stack"))
}

fn container(name: &str, script: &str, mount: &str) -> Value {
    json!({"name": name, "image": "busybox:1.36", "command": ["sh", "-c", script],
           "volumeMounts": [{"name": "shared", "mountPath": mount}]})
}

fn pod(name: &str, policy: &str, containers: Vec<Value>) -> Value {
    json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name},
           "spec": {"restartPolicy": policy, "containers": containers,
                    "volumes": [{"name": "shared", "emptyDir": {}}]}})
}

/// Polls the pod until `done` holds of it (10 s at most).
async fn until(api: &Api, name: &str, what: &str, done: impl Fn(&Value) -> bool) -> Value {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let p = api.pod(name).await;
        if done(&p) {
            return p;
        }
        assert!(Instant::now() < deadline, "{what}: {:#}", p["status"]);
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

fn state(p: &Value, i: usize) -> &Value {
    &p["status"]["containerStatuses"][i]["state"]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_container_ends_on_its_own_and_the_phase_follows_restart_policy() {
    let Some(stack) = stack().await else { return };
    let api = Api::new(&stack);
    let base = container("base", "echo wrote; echo 7 > /shared/n; exit 3", "/shared");
    let side = container(
        "side",
        r#"trap "exit 0" INT; while true; do sleep 0.1; done"#,
        "/mnt/x",
    );
    api.create(pod("pair", "Never", vec![base, side])).await;

    // base ended with its code; the sidecar runs on, and so does the pod.
    let p = until(&api, "pair", "base terminated, the sidecar running", |p| {
        state(p, 0)["terminated"].is_object() && state(p, 1)["running"].is_object()
    })
    .await;
    let done = &state(&p, 0)["terminated"];
    assert_eq!(
        (done["exitCode"].as_i64(), done["reason"].as_str()),
        (Some(3), Some("Error"))
    );
    assert!(
        done["startedAt"].is_string() && done["finishedAt"].is_string(),
        "{done}"
    );
    assert!(state(&p, 1)["running"]["startedAt"].is_string(), "{p:#}");
    assert_eq!(p["status"]["phase"], "Running");

    // What base wrote is in the volume the sidecar mounts elsewhere (one directory per pod).
    let vm = p["spec"]["nodeName"]
        .as_str()
        .expect("nodeName")
        .to_string();
    let kubelet = stack.kubelet.as_ref().expect("the stand-in");
    let node = kubelet.node(&vm).expect("the stand-in plays the VM");
    let n = std::fs::read_to_string(node.volume_dir("shared").join("n")).expect("the file");
    assert_eq!(n, "7\n");

    // SIGINT to the sidecar's main process: its trap exits 0, and with restartPolicy Never and
    // base's 3 the pod is Failed.
    let pid = node
        .container("side")
        .and_then(|c| c.pid)
        .expect("the sidecar's PID 1");
    let kill = std::process::Command::new("kill")
        .args(["-INT", &pid.to_string()])
        .status()
        .expect("kill");
    assert!(kill.success());
    let p = until(&api, "pair", "the pod ended", |p| {
        p["status"]["phase"] == "Failed"
    })
    .await;
    let side = &state(&p, 1)["terminated"];
    assert_eq!(
        (side["exitCode"].as_i64(), side["reason"].as_str()),
        (Some(0), Some("Completed"))
    );

    // After the VM is gone the service still has base's log (the guest archived it).
    let deadline = Instant::now() + Duration::from_secs(10);
    while kubelet.node(&vm).is_some() {
        assert!(Instant::now() < deadline, "the VM stays up");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let log = api
        .http
        .get(format!(
            "{}/api/v1/namespaces/default/pods/pair/log?container=base",
            api.base
        ))
        .send()
        .await
        .expect("log");
    assert_eq!(log.text().await.expect("text"), "wrote\n");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn on_failure_restarts_the_container_in_a_fresh_root_and_the_volume_outlives_it() {
    let Some(stack) = stack().await else { return };
    let api = Api::new(&stack);
    let once = container(
        "once",
        // /tmp is the container's own (a fresh root per run); /data the pod's emptyDir.
        "test -e /tmp/mark && exit 7; touch /tmp/mark; test -e /data/again && exit 0; touch /data/again; exit 1",
        "/data",
    );
    api.create(pod("retry", "OnFailure", vec![once])).await;
    let p = until(&api, "retry", "Succeeded", |p| {
        p["status"]["phase"] == "Succeeded"
    })
    .await;
    let s = &p["status"]["containerStatuses"][0];
    assert_eq!(s["restartCount"], 1, "{s:#}");
    assert_eq!(s["lastState"]["terminated"]["exitCode"], 1, "{s:#}");
    assert_eq!(s["state"]["terminated"]["exitCode"], 0, "{s:#}");
}
