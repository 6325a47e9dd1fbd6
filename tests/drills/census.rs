//! What the drills share: stacks without verification, the create client that tallies
//! answers, the census of records and VMs checked against the invariants, and `POST /gc` as
//! Cloud Scheduler sends it.

use std::collections::{BTreeMap, BTreeSet};
use std::io::Write;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use k8sless::testing::Instance;
use k8sless::testing::names;
use k8sless::testing::record::PodRecord;
use k8sless::testing::{RecordStore, Stack, StackBuilder, default_args};
use serde_json::{Value, json};

use crate::common::*;

pub(crate) fn say(line: String) {
    let _ = writeln!(std::io::stderr(), "{line}");
}

/// A stack without token verification and without the client-side Compute rate limit.
pub(crate) async fn open_stack() -> Stack {
    open_stack_with(Duration::from_secs(30)).await
}

/// The same, with the Compute client's retry deadline.
pub(crate) async fn open_stack_with(retry_deadline: Duration) -> Stack {
    init();
    let mut args = default_args();
    args.compute_qps = 0.0;
    args.verify_tokens = Some(false);
    let mut builder = StackBuilder::new(args);
    builder.retry_deadline = retry_deadline;
    builder.start().await.expect("stack")
}

pub(crate) fn client() -> reqwest::Client {
    init();
    reqwest::Client::builder()
        .pool_max_idle_per_host(256)
        .timeout(Duration::from_secs(120))
        .build()
        .expect("client")
}

pub(crate) fn drill_pod(name: &str) -> Value {
    json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name},
        "spec": {"restartPolicy": "Never", "containers": [{"name": "c", "image": "busybox"}]}})
}

#[derive(Debug, Default)]
pub(crate) struct CreateTally {
    pub(crate) created: AtomicU64,
    pub(crate) unavailable: AtomicU64,
    pub(crate) retries: AtomicU64,
    pub(crate) conflicts_after_retry: AtomicU64,
}

/// What a create ended as, from the client's side.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Answer {
    /// 201 (or 409 on a retry: an earlier attempt wrote the record).
    Accepted,
    /// Gave up after a 503 (only when `retry` is false).
    Unavailable,
    /// The connection failed (drill 2: the service was killed).
    Lost,
}

/// POSTs a pod; a 503 must carry a Status and Retry-After; retried while `retry`.
pub(crate) async fn create(
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
pub(crate) struct Census {
    pub(crate) records: usize,
    pub(crate) vms: usize,
    /// VMs whose `k8sless-uid` is no record's.
    pub(crate) orphans: Vec<String>,
    /// Pods (uid label) with more than one VM.
    pub(crate) doubles: Vec<String>,
    /// Records that are neither terminal nor have exactly one VM.
    pub(crate) missing: Vec<String>,
}

impl Census {
    /// The drills' invariants: no pod with two VMs, no orphan VM, no live pod without a VM.
    pub(crate) fn assert_one_vm_per_pod(&self) {
        assert!(
            self.doubles.is_empty(),
            "pods with two VMs: {:?}",
            self.doubles
        );
        assert!(self.orphans.is_empty(), "orphan VMs: {:?}", self.orphans);
        assert!(
            self.missing.is_empty(),
            "pods without a VM: {:?}",
            self.missing
        );
    }
}

/// The figures a drill prints: `records=… vms=… orphans=… duplicates=…`.
impl std::fmt::Display for Census {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "records={} vms={} orphans={} duplicates={}",
            self.records,
            self.vms,
            self.orphans.len(),
            self.doubles.len()
        )
    }
}

/// `(name, uid, phase)` of every record of the stack's store.
pub(crate) async fn records_of(stack: &Stack) -> Vec<(String, String, String)> {
    records_in(stack.pods.store().as_ref()).await
}

/// `(name, uid, phase)` of every record in `store`.
pub(crate) async fn records_in(store: &dyn RecordStore) -> Vec<(String, String, String)> {
    let page = store
        .list("pods/", None, 100_000)
        .await
        .expect("list records");
    page.records
        .iter()
        .map(|r| {
            let rec = PodRecord::decode(r).expect("record decodes");
            (
                rec.pod.metadata.name.clone().unwrap_or_default(),
                rec.pod.metadata.uid.clone().unwrap_or_default(),
                rec.pod.status.and_then(|s| s.phase).unwrap_or_default(),
            )
        })
        .collect()
}

pub(crate) fn census(records: &[(String, String, String)], vms: &[Instance]) -> Census {
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
pub(crate) async fn gc_http(http: &reqwest::Client, base: &str) -> Value {
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

pub(crate) fn count(summary: &Value, what: &str) -> u64 {
    summary[what]["count"].as_u64().unwrap_or(0)
}

/// A report as Pub/Sub pushes it.
pub(crate) fn encode(report: &k8sless::testing::Report) -> String {
    let data = serde_json::to_vec(report).expect("report");
    k8sless::testing::encode_push(
        &data,
        &Default::default(),
        &format!("m-{}-{}", report.uid, report.sequence),
        jiff::Timestamp::now(),
    )
    .to_string()
}
