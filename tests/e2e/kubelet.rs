//! kubectl through the service to each pod's kubelet (the stand-in, `k8sless::sim::kubelet`,
//! reached with the pod's own certificates): `logs -f` shows a line within a second of the
//! container writing it, `logs` and `--tail` while the VM runs come from kubelet, `top pod`
//! prints CPU and memory from kubelet's stats. Without kubelet access, `top` says what is
//! missing. The containers are real processes in the stand-in's scratch directory.

use std::io::{BufRead, BufReader};
use std::time::{Duration, Instant};

use k8sless::testing::{StackBuilder, default_args};

use super::kubectl::{Kubectl, kubectl_bin};
use crate::common;

fn manifest(name: &str) -> String {
    format!(
        "apiVersion: v1\nkind: Pod\nmetadata:\n  name: {name}\n  annotations:\n    \
         k8sless.dev/simulate-duration: \"120s\"\nspec:\n  restartPolicy: Never\n  containers:\n    \
         - name: main\n      image: busybox:1.36\n    - name: burn\n      image: busybox:1.36\n"
    )
}

/// Lines `logs -f --timestamps` printed, each with how long after its CRI timestamp it
/// arrived.
fn follow_latencies(k: &Kubectl, pod: &str, marker: &str, lines: usize) -> Vec<Duration> {
    let mut child = k.spawn(&["logs", "-f", "--timestamps", pod, "-c", "main"]);
    let out = child.stdout.take().expect("stdout");
    let mut latencies = Vec::new();
    for line in BufReader::new(out).lines() {
        let Ok(line) = line else { break };
        let arrived = jiff::Timestamp::now();
        let Some((ts, text)) = line.split_once(' ') else {
            continue;
        };
        if !text.starts_with(marker) {
            continue;
        }
        let written: jiff::Timestamp = ts.parse().expect("an RFC 3339 timestamp");
        let late = arrived.duration_since(written);
        latencies.push(Duration::from_nanos(late.as_nanos().max(0) as u64));
        if latencies.len() == lines {
            break;
        }
    }
    let _ = child.kill();
    let _ = child.wait();
    latencies
}

fn suite(version: &str) {
    let Some(bin) = kubectl_bin(version) else {
        return;
    };
    common::init();
    let rt = common::runtime();
    let mut b = StackBuilder::new(default_args()).running_pods();
    b.kubelet = true;
    let stack = rt.block_on(b.start()).expect("stack starts");
    let k = Kubectl::for_stack(bin, &stack, "kubelet", version);
    let file = k.write("tail.yaml", &manifest("tail"));
    k.ok(&["create", "-f", &file]);
    k.ok(&["wait", "--for=condition=Ready", "pod/tail", "--timeout=60s"]);
    let vm = k.ok(&["get", "pod", "tail", "-o", "jsonpath={.spec.nodeName}"]);
    let kubelet = stack.kubelet.as_ref().expect("the stand-in runs");
    let node = kubelet.node(&vm).expect("the stand-in plays the pod's VM");

    // The simulated guest's lines reached kubelet's log file, and `logs` reads them there.
    let deadline = Instant::now() + Duration::from_secs(10);
    while !k.ok(&["logs", "tail", "-c", "main"]).contains("simulated") {
        assert!(
            Instant::now() < deadline,
            "no simulated line through kubelet"
        );
        std::thread::sleep(Duration::from_millis(200));
    }

    // logs -f: a real process writes a line every 200 ms; each reaches kubectl within 1 s.
    let _guard = rt.enter();
    node.run(
        "main",
        "sleep 1; i=0; while [ $i -lt 10 ]; do echo line-$i; i=$((i+1)); sleep 0.2; done",
    )
    .expect("the process starts");
    let mut late = follow_latencies(&k, "tail", "line-", 10);
    assert_eq!(late.len(), 10, "kubectl logs -f printed {late:?}");
    late.sort();
    eprintln!(
        "kubectl.{version} logs -f through the service and kubelet: per line median {:?}, max {:?}",
        late[late.len() / 2],
        late[late.len() - 1]
    );
    assert!(late[late.len() - 1] < Duration::from_secs(1), "{late:?}");

    // logs and --tail, from kubelet while the VM runs; --previous as kubelet words it.
    let all = k.ok(&["logs", "tail", "-c", "main"]);
    assert!(all.contains("line-9\n"), "{all}");
    // (the simulated guest keeps adding a line a second, so only the count is fixed)
    let tail = k.ok(&["logs", "tail", "-c", "main", "--tail=2"]);
    assert_eq!(tail.lines().count(), 2, "{tail}");
    let again = k.ok(&["logs", "tail", "-c", "main"]);
    assert!(tail.lines().all(|l| again.contains(l)), "{tail}");
    let previous = k.fails(&["logs", "tail", "-c", "main", "--previous"]);
    assert!(
        previous.contains("previous terminated container \"main\" in pod \"tail\" not found"),
        "{previous}"
    );

    // top pod: CPU and memory of the real processes, per pod and per container.
    node.run(
        "burn",
        "i=0; while [ $i -lt 300000 ]; do i=$((i+1)); done; sleep 60",
    )
    .expect("the process starts");
    std::thread::sleep(Duration::from_millis(500));
    let top = k.ok(&["top", "pod", "tail"]);
    let mut rows = top.lines();
    let header: Vec<&str> = rows.next().unwrap_or("").split_whitespace().collect();
    assert_eq!(header, ["NAME", "CPU(cores)", "MEMORY(bytes)"], "{top}");
    let row: Vec<&str> = rows.next().unwrap_or("").split_whitespace().collect();
    assert_eq!(row.first(), Some(&"tail"), "{top}");
    let cpu: u64 = row[1].trim_end_matches('m').parse().expect("millicores");
    assert!(cpu > 0, "{top}");
    assert!(row[2].ends_with("Mi"), "{top}");
    let containers = k.ok(&["top", "pod", "tail", "--containers"]);
    assert!(
        containers.lines().any(|l| l.contains("burn")),
        "{containers}"
    );
    let listed = k.ok(&["top", "pod"]);
    assert!(listed.lines().any(|l| l.starts_with("tail ")), "{listed}");
    // Every namespace's: `/apis/metrics.k8s.io/v1beta1/pods`, no namespace in the path.
    let all = k.ok(&["top", "pod", "-A"]);
    assert!(all.starts_with("NAMESPACE"), "{all}");
    assert!(
        all.lines()
            .any(|l| l.starts_with("default ") && l.contains(" tail ")),
        "{all}"
    );

    drop(stack);
    rt.shutdown_background();
    let _ = std::fs::remove_dir_all(&k.dir);
}

#[test]
fn kubectl_1_29_through_kubelet() {
    suite("1.29");
}

#[test]
fn kubectl_1_32_through_kubelet() {
    suite("1.32");
}

#[test]
fn kubectl_1_33_through_kubelet() {
    suite("1.33");
}

/// Without kubelet access, `top` reaches the metrics endpoint and its Status says what is
/// missing; logs still come from the other sources.
#[tokio::test]
async fn without_kubelet_access_top_says_what_is_missing() {
    let stack = common::stack().await;
    let api = common::api::Api::new(&stack);
    api.create(common::pod("p")).await;
    let http = common::http();
    let top = "/apis/metrics.k8s.io/v1beta1/namespaces/default/pods/p";
    let (code, status) = common::get(&stack.base, top).await;
    assert_eq!(code, 405);
    assert_eq!(status["reason"], "MethodNotAllowed");
    let message = status["message"].as_str().unwrap_or("");
    assert!(message.contains("--kubelet-access"), "{message}");
    let groups: serde_json::Value = http
        .get(format!("{}/apis", stack.base))
        .send()
        .await
        .expect("answers")
        .json()
        .await
        .expect("json");
    let names: Vec<&str> = groups["groups"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|g| g["name"].as_str())
        .collect();
    assert!(names.contains(&"metrics.k8s.io"), "{names:?}");
    stack.stop().await;
}

/// The pod's keys stay in its record: GET, list, Table and watch never carry them; the VM's
/// metadata carries the CA and the serving pair, never the client key.
#[tokio::test]
async fn keys_never_leave_the_record_but_for_the_vms_serving_pair() {
    let stack = common::stack_with(|b| b.kubelet = true).await;
    let api = common::api::Api::new(&stack);
    let pod = api.create(common::pod("secret")).await;
    let http = common::http();
    let base = format!("{}/api/v1/namespaces/default/pods", stack.base);
    let table = "application/json;as=Table;v=v1;g=meta.k8s.io";
    let mut answers = vec![serde_json::to_string(&pod).expect("json")];
    for (url, accept) in [
        (format!("{base}/secret"), "application/json"),
        (base.clone(), "application/json"),
        (base.clone(), table),
        (format!("{base}/secret"), table),
    ] {
        let r = http
            .get(url)
            .header("accept", accept)
            .send()
            .await
            .expect("answers");
        answers.push(r.text().await.expect("body"));
    }
    let watch = http
        .get(format!("{base}?watch=1&timeoutSeconds=1"))
        .send()
        .await
        .expect("watch");
    answers.push(watch.text().await.expect("events"));
    for a in &answers {
        assert!(
            !a.contains("PRIVATE KEY") && !a.contains("BEGIN CERTIFICATE"),
            "{a}"
        );
        assert!(!a.contains("kubeletPki"), "{a}");
    }
    let record = stack
        .state
        .pods
        .store()
        .get(&k8sless::testing::record::key("default", "secret"))
        .await
        .expect("the record");
    let text = String::from_utf8_lossy(&record.data).to_string();
    let stored: serde_json::Value = serde_json::from_str(&text).expect("json");
    let client_key = stored["kubeletPki"]["clientKey"]
        .as_str()
        .expect("the client key is kept");
    assert!(client_key.contains("PRIVATE KEY"));
    let vm = stack
        .pods
        .compute()
        .get(
            "us-central1-a",
            pod["spec"]["nodeName"].as_str().expect("node"),
        )
        .await
        .expect("the VM");
    let metadata = serde_json::to_string(&vm.metadata).expect("json");
    assert!(!metadata.contains(client_key.lines().nth(1).expect("key body")));
    for key in [
        "k8sless-kubelet-client-ca",
        "k8sless-kubelet-serving-cert",
        "k8sless-kubelet-serving-key",
    ] {
        assert!(
            vm.metadata_value(key)
                .is_some_and(|v| v.contains("-----BEGIN")),
            "{key}"
        );
    }
    assert_eq!(
        vm.metadata_value("k8sless-kubelet-source-ranges"),
        Some("127.0.0.0/8")
    );
    stack.stop().await;
}
