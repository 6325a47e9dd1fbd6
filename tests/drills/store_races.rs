//! Drill 3: record store failures and compare-and-swap races.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use futures_util::StreamExt;
use k8sless::testing::Stack;
use k8sless::testing::names;
use k8sless::testing::{Instance, InstanceStatus};
use serde_json::Value;

use crate::common::*;

use super::census::*;

/// Drill 3: record store failures during creates, and compare-and-swap races between reports
/// and deletes of the same pods.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn store_failures_and_races_leave_no_half_written_pod() {
    let started = Instant::now();
    let stack = open_stack().await;
    let http = client();
    let tally = Arc::new(CreateTally::default());
    let injector = spawn_store_faults(&stack);
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
    let codes = race_all(&http, &stack, accepted.iter().take(100).cloned()).await;
    injector.abort();
    let _ = injector.await;
    stack.memory.fail_next(0);
    // The same races with the store healthy: only compare-and-swap conflicts (412) remain, and
    // the losers retry on the fresh record.
    let clean_codes = race_all(&http, &stack, accepted.iter().skip(100).take(100).cloned()).await;
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
    let vms = live_vms(&stack);
    let c = census(&records, &vms);
    let given_up_left = given_up_with_record(&answers, &records, &vms);
    c.assert_one_vm_per_pod();
    say(format!(
        "drill 3 (store faults, 412 races): creates={N} 201s={} 503s={} retries={} given-up-with-record={given_up_left} race answers under faults={codes:?} without={clean_codes:?} gc: orphans-deleted={} adopted={} inserted={}; {c} in {:.1}s",
        tally.created.load(Ordering::SeqCst),
        tally.unavailable.load(Ordering::SeqCst),
        tally.retries.load(Ordering::SeqCst),
        count(&first, "orphansDeleted") + count(&summary, "orphansDeleted"),
        count(&first, "adopted") + count(&summary, "adopted"),
        count(&first, "inserted") + count(&summary, "inserted"),
        started.elapsed().as_secs_f64()
    ));
    stack.stop().await;
}

/// A fault injector: every 5-25 ms the next 1-3 store calls fail.
fn spawn_store_faults(stack: &Stack) -> tokio::task::JoinHandle<()> {
    let memory = stack.memory.clone();
    tokio::spawn(async move {
        loop {
            memory.fail_next(rand::random_range(1..=3));
            tokio::time::sleep(Duration::from_millis(rand::random_range(5..=25))).await;
        }
    })
}

/// [`race`] for each of `names`, 16 at a time; how often each answer came.
async fn race_all(
    http: &reqwest::Client,
    stack: &Stack,
    names: impl Iterator<Item = String>,
) -> BTreeMap<u16, u64> {
    let raced: Vec<Vec<u16>> = futures_util::stream::iter(names)
        .map(|name| {
            let (http, base) = (http.clone(), stack.base.clone());
            async move { race(&http, &base, stack, &name).await }
        })
        .buffer_unordered(16)
        .collect()
        .await;
    let mut codes: BTreeMap<u16, u64> = BTreeMap::new();
    for c in raced.into_iter().flatten() {
        *codes.entry(c).or_default() += 1;
    }
    codes
}

/// The VMs not being deleted (deleted pods' VMs are STOPPING or gone).
fn live_vms(stack: &Stack) -> Vec<Instance> {
    stack
        .sim
        .instances()
        .into_iter()
        .filter(|i| {
            !matches!(
                i.status,
                Some(InstanceStatus::Stopping | InstanceStatus::Terminated)
            )
        })
        .collect()
}

/// Given-up (503'd) creates that left a record (consistent: the census checks them); one
/// that left a VM and no record fails the drill.
fn given_up_with_record(
    answers: &[(String, Answer)],
    records: &[(String, String, String)],
    vms: &[Instance],
) -> usize {
    let by_name: BTreeMap<&str, &(String, String, String)> =
        records.iter().map(|r| (r.0.as_str(), r)).collect();
    let mut given_up_left = 0;
    for (name, a) in answers {
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
    given_up_left
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
    let Some(vm) = vm_of(stack, &pod) else {
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
