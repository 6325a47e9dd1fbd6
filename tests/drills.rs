//! Fault drills (issue 9): creates under Compute Engine faults, the service killed with SIGKILL
//! mid-create, record store failures and compare-and-swap races, duplicated and shuffled
//! Pub/Sub deliveries. Each drill prints one summary line to stderr (shown in CI output).
//!
//! Invariants checked after collection: every accepted pod has exactly one VM (counted by the
//! `k8sless-uid` label) or a terminal phase, no pod has two VMs, and no VM lacks a record.

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::io::Write;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use futures_util::StreamExt;
use k8sless::sim::faults::FaultRule;
use k8sless::testing::names;
use k8sless::testing::record::PodRecord;
use k8sless::testing::{Instance, InstanceStatus};
use k8sless::testing::{Stack, StackBuilder, default_args};
use rand::seq::SliceRandom;
use serde_json::{Value, json};

use common::*;

fn say(line: String) {
    let _ = writeln!(std::io::stderr(), "{line}");
}

/// A stack without token verification and without the client-side Compute rate limit.
async fn open_stack() -> Stack {
    open_stack_with(Duration::from_secs(30)).await
}

/// The same, with the Compute client's retry deadline.
async fn open_stack_with(retry_deadline: Duration) -> Stack {
    init();
    let mut args = default_args();
    args.compute_qps = 0.0;
    args.verify_tokens = Some(false);
    let mut builder = StackBuilder::new(args);
    builder.retry_deadline = retry_deadline;
    builder.start().await.expect("stack")
}

fn client() -> reqwest::Client {
    init();
    reqwest::Client::builder()
        .pool_max_idle_per_host(256)
        .timeout(Duration::from_secs(120))
        .build()
        .expect("client")
}

fn drill_pod(name: &str) -> Value {
    json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name},
        "spec": {"restartPolicy": "Never", "containers": [{"name": "c", "image": "busybox"}]}})
}

#[derive(Debug, Default)]
struct CreateTally {
    created: AtomicU64,
    unavailable: AtomicU64,
    retries: AtomicU64,
    conflicts_after_retry: AtomicU64,
}

/// What a create ended as, from the client's side.
#[derive(Debug, Clone, PartialEq)]
enum Answer {
    /// 201 (or 409 on a retry: an earlier attempt wrote the record).
    Accepted,
    /// Gave up after a 503 (only when `retry` is false).
    Unavailable,
    /// The connection failed (drill 2: the service was killed).
    Lost,
}

/// POSTs a pod; a 503 must carry a Status and Retry-After; retried while `retry`.
async fn create(
    http: &reqwest::Client,
    base: &str,
    name: &str,
    retry: bool,
    tally: &CreateTally,
) -> Answer {
    let mut attempt = 0;
    loop {
        let sent = http
            .post(format!("{base}/api/v1/namespaces/default/pods"))
            .json(&drill_pod(name))
            .send()
            .await;
        let r = match sent {
            Ok(r) => r,
            Err(_) => return Answer::Lost,
        };
        let code = r.status().as_u16();
        let retry_after = r.headers().get("retry-after").cloned();
        let body: Value = r.json().await.unwrap_or(Value::Null);
        match code {
            201 => {
                tally.created.fetch_add(1, Ordering::SeqCst);
                return Answer::Accepted;
            }
            // Each name is created by one client only, so a 409 means an earlier attempt of this
            // create (answered 503, or cut by a kill) wrote the record: accepted.
            409 => {
                tally.conflicts_after_retry.fetch_add(1, Ordering::SeqCst);
                return Answer::Accepted;
            }
            503 => {
                tally.unavailable.fetch_add(1, Ordering::SeqCst);
                assert!(retry_after.is_some(), "503 without Retry-After: {body}");
                assert_eq!(body["kind"], "Status", "503 without a Status: {body}");
                assert_eq!(body["code"], 503, "{body}");
                if !retry {
                    return Answer::Unavailable;
                }
                tally.retries.fetch_add(1, Ordering::SeqCst);
                attempt += 1;
                assert!(attempt < 500, "{name}: 503 five hundred times");
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
            other => panic!("create {name}: unexpected {other}: {body}"),
        }
    }
}

/// What collection left, checked against the invariants.
#[derive(Debug, Default)]
struct Census {
    records: usize,
    vms: usize,
    /// VMs whose `k8sless-uid` is no record's.
    orphans: Vec<String>,
    /// Pods (uid label) with more than one VM.
    doubles: Vec<String>,
    /// Records that are neither terminal nor have exactly one VM.
    missing: Vec<String>,
}

/// `(name, uid, phase)` of every record.
async fn records_of(stack: &Stack) -> Vec<(String, String, String)> {
    let page = stack
        .pods
        .store
        .list("pods/", None, 100_000)
        .await
        .expect("list records");
    page.records
        .iter()
        .map(|r| {
            let rec = PodRecord::decode(r).expect("record decodes");
            let status = rec.pod.status.clone().unwrap_or_default();
            (
                rec.pod.metadata.name.clone().unwrap_or_default(),
                rec.pod.metadata.uid.clone().unwrap_or_default(),
                status.phase.unwrap_or_default(),
            )
        })
        .collect()
}

fn census(records: &[(String, String, String)], vms: &[Instance]) -> Census {
    let mut per_uid: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for vm in vms {
        let uid = vm.labels.get(names::LABEL_UID).cloned().unwrap_or_default();
        per_uid.entry(uid).or_default().push(vm.name.clone());
    }
    let uids: BTreeSet<String> = records
        .iter()
        .map(|(_, uid, _)| names::sanitize_value(uid))
        .collect();
    let mut c = Census {
        records: records.len(),
        vms: vms.len(),
        ..Default::default()
    };
    for (uid, names) in &per_uid {
        if !uids.contains(uid) {
            c.orphans.extend(names.iter().cloned());
        }
        if names.len() > 1 {
            c.doubles.push(uid.clone());
        }
    }
    for (name, uid, phase) in records {
        let n = per_uid
            .get(&names::sanitize_value(uid))
            .map_or(0, |v| v.len());
        let terminal = phase == "Succeeded" || phase == "Failed";
        if n != 1 && !terminal {
            c.missing.push(format!("{name} ({phase}, {n} VMs)"));
        }
    }
    c
}

/// `POST /gc` as Cloud Scheduler does it: a 503 (Compute or the store unavailable under
/// injected faults) is retried, a bounded number of times.
async fn gc_http(http: &reqwest::Client, base: &str) -> Value {
    for _ in 0..30 {
        let r = http.post(format!("{base}/gc")).send().await.expect("gc");
        let code = r.status().as_u16();
        let v: Value = r.json().await.unwrap_or(Value::Null);
        if code == 503 {
            tokio::time::sleep(Duration::from_millis(100)).await;
            continue;
        }
        assert_eq!(code, 200, "gc: {v}");
        return v;
    }
    panic!("gc: 503 thirty times");
}

fn count(summary: &Value, what: &str) -> u64 {
    summary[what]["count"].as_u64().unwrap_or(0)
}

/// Drill 1: 1,000 creates with 20% injected 429/500/503 and hangs past the client's timeout on
/// every Compute Engine method.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn creates_under_compute_faults_get_exactly_one_vm_each() {
    let started = Instant::now();
    // A short retry deadline, so that some creates' inserts give up (the pod stays Pending
    // for collection) and some VMs exist that their record does not know of (lost answers).
    let stack = open_stack_with(Duration::from_secs(1)).await;
    stack.sim.set_faults(vec![FaultRule {
        error_rate: 0.2,
        codes: vec![429, 500, 503],
        timeout_rate: 0.01,
        // The service's Compute client gives up on a call after 10 s.
        hang_ms: 10_500,
        ..Default::default()
    }]);
    let http = client();
    let tally = Arc::new(CreateTally::default());
    const N: usize = 1000;
    let answers: Vec<Answer> = futures_util::stream::iter(0..N)
        .map(|i| {
            let (http, base, tally) = (http.clone(), stack.base.clone(), tally.clone());
            async move { create(&http, &base, &format!("d1-{i}"), true, &tally).await }
        })
        .buffer_unordered(100)
        .collect()
        .await;
    assert!(
        answers.iter().all(|a| *a == Answer::Accepted),
        "every create accepted"
    );
    let injected: u64 = stack.sim.stats().injected.values().sum();
    // One collection while the faults go on (errors are allowed), then the faults stop and one
    // collection must converge.
    let under_faults = gc_http(&http, &stack.base).await;
    stack.sim.set_faults(Vec::new());
    let summary = gc_http(&http, &stack.base).await;
    assert_eq!(count(&summary, "errors"), 0, "{summary}");
    let records = records_of(&stack).await;
    let c = census(&records, &stack.sim.instances());
    assert_eq!(c.records, N);
    assert!(c.doubles.is_empty(), "pods with two VMs: {:?}", c.doubles);
    assert!(c.orphans.is_empty(), "orphan VMs: {:?}", c.orphans);
    assert!(c.missing.is_empty(), "pods without a VM: {:?}", c.missing);
    assert_eq!(c.vms, N, "exactly one VM per pod");
    say(format!(
        "drill 1 (compute faults): creates={N} 201s={} 503s={} retries={} injected={} gc-under-faults: inserted={} adopted={} errors={}; final gc: inserted={} adopted={} records={} vms={} orphans={} duplicates={} in {:.1}s",
        tally.created.load(Ordering::SeqCst),
        tally.unavailable.load(Ordering::SeqCst),
        tally.retries.load(Ordering::SeqCst),
        injected,
        count(&under_faults, "inserted"),
        count(&under_faults, "adopted"),
        count(&under_faults, "errors"),
        count(&summary, "inserted"),
        count(&summary, "adopted"),
        c.records,
        c.vms,
        c.orphans.len(),
        c.doubles.len(),
        started.elapsed().as_secs_f64()
    ));
    stack.stop().await;
}

/// Drill 3: record store failures during creates, and compare-and-swap races between reports
/// and deletes of the same pods.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn store_failures_and_races_leave_no_half_written_pod() {
    let started = Instant::now();
    let stack = open_stack().await;
    let http = client();
    let tally = Arc::new(CreateTally::default());
    // A fault injector: every 5-25 ms the next 1-3 store calls fail.
    let memory = stack.memory.clone();
    let injector = tokio::spawn(async move {
        loop {
            memory.fail_next(rand::random_range(1..=3));
            tokio::time::sleep(Duration::from_millis(rand::random_range(5..=25))).await;
        }
    });
    const N: usize = 300;
    // Even pods are retried after a 503; odd ones are given up, and must leave nothing behind
    // (or, if their record was written, be consistent after collection).
    let answers: Vec<(String, Answer)> = futures_util::stream::iter(0..N)
        .map(|i| {
            let (http, base, tally) = (http.clone(), stack.base.clone(), tally.clone());
            async move {
                let name = format!("d3-{i}");
                let a = create(&http, &base, &name, i % 2 == 0, &tally).await;
                (name, a)
            }
        })
        .buffer_unordered(32)
        .collect()
        .await;

    // Races: for the accepted pods, a Running report and a Succeeded report race a delete
    // (every write is a compare-and-swap on the record's generation), faults still on.
    let accepted: Vec<String> = answers
        .iter()
        .filter(|(_, a)| *a == Answer::Accepted)
        .map(|(n, _)| n.clone())
        .collect();
    let mut codes: BTreeMap<u16, u64> = BTreeMap::new();
    let raced: Vec<Vec<u16>> = futures_util::stream::iter(accepted.iter().take(100).cloned())
        .map(|name| {
            let (http, base, stack) = (http.clone(), stack.base.clone(), &stack);
            async move { race(&http, &base, stack, &name).await }
        })
        .buffer_unordered(16)
        .collect()
        .await;
    for c in raced.into_iter().flatten() {
        *codes.entry(c).or_default() += 1;
    }
    injector.abort();
    let _ = injector.await;
    stack.memory.fail_next(0);
    // The same races with the store healthy: only compare-and-swap conflicts (412) remain, and
    // the losers retry on the fresh record.
    let mut clean_codes: BTreeMap<u16, u64> = BTreeMap::new();
    let raced: Vec<Vec<u16>> =
        futures_util::stream::iter(accepted.iter().skip(100).take(100).cloned())
            .map(|name| {
                let (http, base, stack) = (http.clone(), stack.base.clone(), &stack);
                async move { race(&http, &base, stack, &name).await }
            })
            .buffer_unordered(16)
            .collect()
            .await;
    for c in raced.into_iter().flatten() {
        *clean_codes.entry(c).or_default() += 1;
    }
    for code in clean_codes.keys() {
        assert!(
            matches!(code, 200 | 404),
            "unexpected answers in the races without store faults: {clean_codes:?}"
        );
    }
    for code in codes.keys() {
        assert!(
            matches!(code, 200 | 404 | 409 | 503),
            "unexpected answers in the races: {codes:?}"
        );
    }
    // Collection, past the orphan grace (VMs of deleted pods whose record went first would be
    // orphans; VMs whose pod was deleted are going anyway).
    let first = gc_http(&http, &stack.base).await;
    stack.advance(Duration::from_secs(6 * 60));
    let summary = gc_http(&http, &stack.base).await;
    assert_eq!(count(&summary, "errors"), 0, "{summary}");
    let records = records_of(&stack).await;
    // Deleted pods' VMs are being deleted (STOPPING/gone): only count live ones.
    let vms: Vec<Instance> = stack
        .sim
        .instances()
        .into_iter()
        .filter(|i| {
            !matches!(
                i.status,
                Some(InstanceStatus::Stopping | InstanceStatus::Terminated)
            )
        })
        .collect();
    let c = census(&records, &vms);
    let by_name: BTreeMap<&str, &(String, String, String)> =
        records.iter().map(|r| (r.0.as_str(), r)).collect();
    let mut given_up_left = 0;
    for (name, a) in &answers {
        match a {
            Answer::Unavailable => {
                if by_name.contains_key(name.as_str()) {
                    given_up_left += 1; // consistent: checked by the census below
                } else {
                    assert!(
                        !vms.iter()
                            .any(|v| v.labels.get(names::LABEL_POD) == Some(name)),
                        "{name}: a 503'd create left a VM and no record"
                    );
                }
            }
            Answer::Accepted => {}
            Answer::Lost => panic!("{name}: connection lost"),
        }
    }
    assert!(c.doubles.is_empty(), "pods with two VMs: {:?}", c.doubles);
    assert!(c.orphans.is_empty(), "orphan VMs: {:?}", c.orphans);
    assert!(c.missing.is_empty(), "pods without a VM: {:?}", c.missing);
    say(format!(
        "drill 3 (store faults, 412 races): creates={N} 201s={} 503s={} retries={} given-up-with-record={given_up_left} race answers under faults={codes:?} without={clean_codes:?} gc: orphans-deleted={} adopted={} inserted={}; records={} vms={} orphans={} duplicates={} in {:.1}s",
        tally.created.load(Ordering::SeqCst),
        tally.unavailable.load(Ordering::SeqCst),
        tally.retries.load(Ordering::SeqCst),
        count(&first, "orphansDeleted") + count(&summary, "orphansDeleted"),
        count(&first, "adopted") + count(&summary, "adopted"),
        count(&first, "inserted") + count(&summary, "inserted"),
        c.records,
        c.vms,
        c.orphans.len(),
        c.doubles.len(),
        started.elapsed().as_secs_f64()
    ));
    stack.stop().await;
}

/// Two reports and a delete of one pod at once; returns the answers' codes.
async fn race(http: &reqwest::Client, base: &str, stack: &Stack, name: &str) -> Vec<u16> {
    let r = http
        .get(format!("{base}/api/v1/namespaces/default/pods/{name}"))
        .send()
        .await
        .expect("get");
    if r.status().as_u16() != 200 {
        return vec![r.status().as_u16()];
    }
    let pod: Value = r.json().await.expect("json");
    let Some(vm) = pod["spec"]["nodeName"]
        .as_str()
        .and_then(|n| stack.sim.instances().into_iter().find(|i| i.name == n))
    else {
        return Vec::new();
    };
    let now = rfc3339_now();
    let push = |seq: u64, status: Value| {
        let body = encode(&report(&pod, &vm, seq, status, None));
        let http = http.clone();
        let url = format!("{base}/pubsub/push");
        async move {
            code_of(
                http.post(url)
                    .header("content-type", "application/json")
                    .body(body)
                    .send()
                    .await,
            )
        }
    };
    let delete = async {
        code_of(
            http.delete(format!("{base}/api/v1/namespaces/default/pods/{name}"))
                .send()
                .await,
        )
    };
    let (a, b, d) =
        futures_util::future::join3(push(1, running(&now)), push(2, succeeded(&now)), delete).await;
    vec![a, b, d]
}

/// The status code; a 503 must carry Retry-After.
fn code_of(r: reqwest::Result<reqwest::Response>) -> u16 {
    let r = r.expect("the service answers");
    let code = r.status().as_u16();
    if code == 503 {
        assert!(
            r.headers().get("retry-after").is_some(),
            "503 without Retry-After"
        );
    }
    code
}

fn encode(report: &k8sless::testing::Report) -> String {
    let data = serde_json::to_vec(report).expect("report");
    k8sless::testing::encode_push(
        &data,
        &Default::default(),
        &format!("m-{}-{}", report.uid, report.sequence),
        jiff::Timestamp::now(),
    )
    .to_string()
}

/// Drill 4: 50 pods' reports, each delivered 1-3 times, shuffled, concurrently: every pod ends
/// in the status in-order delivery gives.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn duplicated_shuffled_reports_end_as_in_order_delivery() {
    let started = Instant::now();
    let stack = open_stack().await;
    let http = client();
    const PODS: usize = 50;
    let mut deliveries: Vec<(String, String)> = Vec::new(); // (pod, push body)
    let mut expected: BTreeMap<String, &'static str> = BTreeMap::new();
    let mut reports = 0;
    for i in 0..PODS {
        let name = format!("d4-{i}");
        let r = http
            .post(format!("{}/api/v1/namespaces/default/pods", stack.base))
            .json(&drill_pod(&name))
            .send()
            .await
            .expect("create");
        assert_eq!(r.status().as_u16(), 201);
        let pod: Value = r.json().await.expect("json");
        let vm = stack
            .sim
            .instances()
            .into_iter()
            .find(|v| Some(v.name.as_str()) == pod["spec"]["nodeName"].as_str())
            .expect("vm");
        let now = rfc3339_now();
        // Every pod's sequence: Pending, Running, then (for most) an end; a few stop at Running.
        let mut seq: Vec<(Value, &'static str)> =
            vec![(pending(), "Pending"), (running(&now), "Running")];
        match i % 5 {
            0 => {}
            1 => {
                let mut failed = succeeded(&now);
                failed["phase"] = json!("Failed");
                failed["containerStatuses"][0]["state"]["terminated"]["exitCode"] = json!(1);
                failed["containerStatuses"][0]["state"]["terminated"]["reason"] = json!("Error");
                seq.push((failed, "Failed"));
            }
            _ => seq.push((succeeded(&now), "Succeeded")),
        }
        expected.insert(name.clone(), seq.last().map(|s| s.1).unwrap_or("Pending"));
        for (n, (status, _)) in seq.into_iter().enumerate() {
            reports += 1;
            let body = encode(&report(&pod, &vm, n as u64 + 1, status, None));
            for _ in 0..rand::random_range(1..=3) {
                deliveries.push((name.clone(), body.clone()));
            }
        }
    }
    deliveries.shuffle(&mut rand::rng());
    let total = deliveries.len();
    let codes: Vec<u16> = futures_util::stream::iter(deliveries)
        .map(|(_, body)| {
            let (http, url) = (http.clone(), format!("{}/pubsub/push", stack.base));
            async move {
                http.post(url)
                    .header("content-type", "application/json")
                    .body(body)
                    .send()
                    .await
                    .map(|r| r.status().as_u16())
                    .unwrap_or(0)
            }
        })
        .buffer_unordered(32)
        .collect()
        .await;
    assert!(
        codes.iter().all(|c| *c == 200),
        "every delivery acknowledged: {codes:?}"
    );
    let mut wrong = Vec::new();
    for (name, want) in &expected {
        let pod: Value = http
            .get(format!(
                "{}/api/v1/namespaces/default/pods/{name}",
                stack.base
            ))
            .send()
            .await
            .expect("get")
            .json()
            .await
            .expect("json");
        if pod["status"]["phase"] != *want {
            wrong.push(format!("{name}: {} != {want}", pod["status"]["phase"]));
        }
    }
    assert!(
        wrong.is_empty(),
        "final phases differ from in-order delivery: {wrong:?}"
    );
    say(format!(
        "drill 4 (duplicated, shuffled reports): pods={PODS} reports={reports} deliveries={total} duplicates={} wrong-final-phases={} in {:.1}s",
        total - reports,
        wrong.len(),
        started.elapsed().as_secs_f64()
    ));
    stack.stop().await;
}

/// A child process killed (SIGKILL) when dropped.
struct Proc(std::process::Child);

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// `k8sless gce-sim` on a free port; returns it and its Compute endpoint.
fn start_sim() -> (Proc, String) {
    use std::io::BufRead;
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_k8sless"))
        .args(["gce-sim", "--listen", "127.0.0.1:0", "--timings", "zero"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("start gce-sim");
    let stdout = child.stdout.take().expect("stdout");
    let mut line = String::new();
    std::io::BufReader::new(stdout)
        .read_line(&mut line)
        .expect("gce-sim prints its address");
    let endpoint = line
        .split_whitespace()
        .find(|w| w.starts_with("http://"))
        .expect("address in the first line")
        .to_string();
    (Proc(child), endpoint)
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("free port")
}

/// `k8sless serve` against the simulator and fake-gcs-server; waits until it answers.
async fn start_service(port: u16, compute: &str, gcs: &str, bucket: &str) -> Proc {
    let child = std::process::Command::new(env!("CARGO_BIN_EXE_k8sless"))
        .args(["serve", "--listen", &format!("127.0.0.1:{port}")])
        .args(["--project", "k8sless-dev", "--bucket", bucket])
        .args(["--topic", "projects/k8sless-dev/topics/k8sless"])
        .args(["--service-url", "https://k8sless.test"])
        .args(["--compute-endpoint", compute, "--storage-endpoint", gcs])
        .args(["--verify-tokens", "false", "--compute-qps", "0"])
        .args(["--orphan-grace", "1s", "--log-format", "text"])
        // Running pods' logs are not read here; any local endpoint keeps credentials away.
        .env("K8SLESS_LOGGING_ENDPOINT", gcs)
        .env("RUST_LOG", "warn")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("start k8sless serve");
    let proc = Proc(child);
    let http = client();
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        if let Ok(r) = http
            .get(format!("http://127.0.0.1:{port}/healthz"))
            .send()
            .await
        {
            if r.status().is_success() {
                return proc;
            }
        }
        assert!(Instant::now() < deadline, "k8sless serve did not start");
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
}

/// Drill 2: the service killed with SIGKILL at random points during 200 creates, restarted,
/// collected: every accepted pod has its VM or a terminal status, and no VM is an orphan.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigkill_during_creates_leaves_no_orphan_and_no_pod_without_vm() {
    let Some(gcs) = peer("K8SLESS_TEST_GCS_ENDPOINT", "fake-gcs-server") else {
        return;
    };
    let started = Instant::now();
    let http = client();
    let bucket = format!("k8sless-drill-{}", uuid::Uuid::new_v4().simple());
    let r = http
        .post(format!("{gcs}/storage/v1/b?project=test"))
        .json(&json!({ "name": bucket }))
        .send()
        .await
        .expect("create bucket");
    assert!(r.status().is_success(), "create bucket: {}", r.status());
    let (_sim, compute) = start_sim();
    let sim_base = compute.trim_end_matches("/compute/v1").to_string();
    let port = free_port();
    let base = format!("http://127.0.0.1:{port}");
    let mut service = start_service(port, &compute, &gcs, &bucket).await;

    const N: usize = 200;
    let tally = Arc::new(CreateTally::default());
    let lost = Arc::new(AtomicU64::new(0));
    let clients = {
        let (http, base, tally, lost) = (http.clone(), base.clone(), tally.clone(), lost.clone());
        tokio::spawn(async move {
            futures_util::stream::iter(0..N)
                .map(|i| {
                    let (http, base, tally, lost) =
                        (http.clone(), base.clone(), tally.clone(), lost.clone());
                    async move {
                        let name = format!("d2-{i}");
                        // A lost connection (the service died) is retried: the retry gets 201,
                        // or 409 when the dead attempt had written the record.
                        let mut tries = 0;
                        loop {
                            match create(&http, &base, &name, true, &tally).await {
                                Answer::Lost => {
                                    lost.fetch_add(1, Ordering::SeqCst);
                                    tries += 1;
                                    assert!(tries < 400, "{name}: service never came back");
                                    tokio::time::sleep(Duration::from_millis(50)).await;
                                    // A retry after a loss: 409 means accepted.
                                    match create_after_loss(&http, &base, &name, &tally).await {
                                        Some(a) => return (name, a),
                                        None => continue,
                                    }
                                }
                                a => return (name, a),
                            }
                        }
                    }
                })
                .buffer_unordered(8)
                .collect::<Vec<(String, Answer)>>()
                .await
        })
    };
    let mut kills = 0;
    while !clients.is_finished() {
        tokio::time::sleep(Duration::from_millis(rand::random_range(50..=250))).await;
        if clients.is_finished() {
            break;
        }
        drop(service); // SIGKILL, mid-request
        kills += 1;
        service = start_service(port, &compute, &gcs, &bucket).await;
    }
    let answers = clients.await.expect("clients");
    assert!(answers.iter().all(|(_, a)| *a == Answer::Accepted));

    // Collection: the first run inserts and adopts; orphans need their grace (1 s) first.
    let store = k8sless::testing::GcsStore::new(
        &gcs,
        &bucket,
        k8sless::testing::TokenSource::Anonymous,
        Duration::from_secs(10),
    )
    .expect("store");
    let mut totals: BTreeMap<&str, u64> = BTreeMap::new();
    let mut c = Census::default();
    let mut runs = 0;
    for round in 0..5 {
        if round > 0 {
            tokio::time::sleep(Duration::from_millis(1200)).await;
        }
        let s = gc_http(&http, &base).await;
        runs += 1;
        for k in ["inserted", "adopted", "orphansDeleted", "errors"] {
            *totals.entry(k).or_default() += count(&s, k);
        }
        let page = k8sless::testing::RecordStore::list(&store, "pods/", None, 10_000)
            .await
            .expect("list records");
        let records: Vec<(String, String, String)> = page
            .records
            .iter()
            .map(|r| {
                let rec = PodRecord::decode(r).expect("record decodes");
                (
                    rec.pod.metadata.name.clone().unwrap_or_default(),
                    rec.pod.metadata.uid.clone().unwrap_or_default(),
                    rec.pod.status.and_then(|s| s.phase).unwrap_or_default(),
                )
            })
            .collect();
        let vms: Value = http
            .get(format!("{sim_base}/sim/instances"))
            .send()
            .await
            .expect("sim instances")
            .json()
            .await
            .expect("json");
        let vms: Vec<Instance> = serde_json::from_value(vms["items"].clone()).expect("instances");
        c = census(&records, &vms);
        if count(&s, "errors") == 0
            && c.orphans.is_empty()
            && c.doubles.is_empty()
            && c.missing.is_empty()
            && round > 0
        {
            break;
        }
    }
    assert_eq!(c.records, N, "every accepted pod has a record");
    assert!(c.doubles.is_empty(), "pods with two VMs: {:?}", c.doubles);
    assert!(c.orphans.is_empty(), "orphan VMs: {:?}", c.orphans);
    assert!(c.missing.is_empty(), "pods without a VM: {:?}", c.missing);
    say(format!(
        "drill 2 (SIGKILL during creates): creates={N} kills={kills} 201s={} 409-after-loss={} lost-connections={} 503s={} gc runs={runs} inserted={} adopted={} orphans-deleted={} errors={}; records={} vms={} orphans={} duplicates={} in {:.1}s",
        tally.created.load(Ordering::SeqCst),
        tally.conflicts_after_retry.load(Ordering::SeqCst),
        lost.load(Ordering::SeqCst),
        tally.unavailable.load(Ordering::SeqCst),
        totals["inserted"],
        totals["adopted"],
        totals["orphansDeleted"],
        totals["errors"],
        c.records,
        c.vms,
        c.orphans.len(),
        c.doubles.len(),
        started.elapsed().as_secs_f64()
    ));
    drop(service);
}

/// A create retried after a lost connection: `Some(Accepted)` on 201 or 409 (the lost
/// attempt wrote the record), `None` when the connection is lost again.
async fn create_after_loss(
    http: &reqwest::Client,
    base: &str,
    name: &str,
    tally: &CreateTally,
) -> Option<Answer> {
    loop {
        let r = match http
            .post(format!("{base}/api/v1/namespaces/default/pods"))
            .json(&drill_pod(name))
            .send()
            .await
        {
            Ok(r) => r,
            Err(_) => return None,
        };
        match r.status().as_u16() {
            201 => {
                tally.created.fetch_add(1, Ordering::SeqCst);
                return Some(Answer::Accepted);
            }
            409 => {
                tally.conflicts_after_retry.fetch_add(1, Ordering::SeqCst);
                return Some(Answer::Accepted);
            }
            503 => {
                tally.unavailable.fetch_add(1, Ordering::SeqCst);
                assert!(
                    r.headers().get("retry-after").is_some(),
                    "503 without Retry-After"
                );
                tally.retries.fetch_add(1, Ordering::SeqCst);
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
            other => panic!("create {name} after a loss: unexpected {other}"),
        }
    }
}
