//! Drill 2: the service killed with SIGKILL mid-create, restarted, collected.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use futures_util::StreamExt;
use k8sless::testing::Instance;

use crate::common::*;

use super::census::*;

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
        .args([
            "--verify-tokens",
            "false",
            "--identity",
            "dev",
            "--compute-qps",
            "0",
        ])
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
    let bucket = gcs_bucket(&gcs).await;
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
                    async move { create_until_accepted(&http, &base, i, &tally, &lost).await }
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
    let (c, totals, runs) = collect_until_clean(&http, &base, &sim_base, &gcs, &bucket).await;
    assert_eq!(c.records, N, "every accepted pod has a record");
    c.assert_one_vm_per_pod();
    say(format!(
        "drill 2 (SIGKILL during creates): creates={N} kills={kills} 201s={} 409-after-loss={} lost-connections={} 503s={} gc runs={runs} inserted={} adopted={} orphans-deleted={} errors={}; {c} in {:.1}s",
        tally.created.load(Ordering::SeqCst),
        tally.conflicts_after_retry.load(Ordering::SeqCst),
        lost.load(Ordering::SeqCst),
        tally.unavailable.load(Ordering::SeqCst),
        totals["inserted"],
        totals["adopted"],
        totals["orphansDeleted"],
        totals["errors"],
        started.elapsed().as_secs_f64()
    ));
    drop(service);
}

/// Creates pod `d2-<i>` until accepted: a lost connection (the service died) is retried, and
/// the retry gets 201, or 409 when the dead attempt had written the record.
async fn create_until_accepted(
    http: &reqwest::Client,
    base: &str,
    i: usize,
    tally: &CreateTally,
    lost: &AtomicU64,
) -> (String, Answer) {
    let name = format!("d2-{i}");
    let mut tries = 0;
    loop {
        match create(http, base, &name, true, tally).await {
            Answer::Lost => {
                lost.fetch_add(1, Ordering::SeqCst);
                tries += 1;
                assert!(tries < 400, "{name}: service never came back");
                tokio::time::sleep(Duration::from_millis(50)).await;
                // A retry after a loss: 409 means accepted.
                match create_after_loss(http, base, &name, tally).await {
                    Some(a) => return (name, a),
                    None => continue,
                }
            }
            a => return (name, a),
        }
    }
}

/// `POST /gc` up to five times, until a run has no errors and the census is clean; the last
/// census, the summed counters and the number of runs.
async fn collect_until_clean(
    http: &reqwest::Client,
    base: &str,
    sim_base: &str,
    gcs: &str,
    bucket: &str,
) -> (Census, BTreeMap<&'static str, u64>, usize) {
    let store = k8sless::testing::GcsStore::new(
        gcs,
        bucket,
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
        let s = gc_http(http, base).await;
        runs += 1;
        for k in ["inserted", "adopted", "orphansDeleted", "errors"] {
            *totals.entry(k).or_default() += count(&s, k);
        }
        c = census(&records_in(&store).await, &sim_vms(http, sim_base).await);
        if count(&s, "errors") == 0
            && c.orphans.is_empty()
            && c.doubles.is_empty()
            && c.missing.is_empty()
            && round > 0
        {
            break;
        }
    }
    (c, totals, runs)
}

/// Every instance of the `gce-sim` process.
async fn sim_vms(http: &reqwest::Client, sim_base: &str) -> Vec<Instance> {
    let vms = get_json(http, format!("{sim_base}/sim/instances")).await;
    serde_json::from_value(vms["items"].clone()).expect("instances")
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
