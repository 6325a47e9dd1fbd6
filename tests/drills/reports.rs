//! Drill 4: duplicated and shuffled Pub/Sub deliveries.

use std::collections::BTreeMap;
use std::time::Instant;

use futures_util::StreamExt;
use rand::seq::SliceRandom;
use serde_json::{Value, json};

use crate::common::*;

use super::census::*;

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
        let vm = vm_of(&stack, &pod).expect("vm");
        let seq = status_sequence(i);
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
    let codes = push_all(&http, &stack.base, deliveries).await;
    assert!(
        codes.iter().all(|c| *c == 200),
        "every delivery acknowledged: {codes:?}"
    );
    let mut wrong = Vec::new();
    for (name, want) in &expected {
        let url = format!("{}/api/v1/namespaces/default/pods/{name}", stack.base);
        let pod = get_json(&http, url).await;
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

/// Pod `i`'s statuses, with the phase each means: Pending, Running, then (for most) an end; a
/// few stop at Running.
fn status_sequence(i: usize) -> Vec<(Value, &'static str)> {
    let now = rfc3339_now();
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
    seq
}

/// Every `(pod, body)` pushed to `/pubsub/push`, 32 at a time; the answers' codes.
async fn push_all(
    http: &reqwest::Client,
    base: &str,
    deliveries: Vec<(String, String)>,
) -> Vec<u16> {
    futures_util::stream::iter(deliveries)
        .map(|(_, body)| {
            let (http, url) = (http.clone(), format!("{base}/pubsub/push"));
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
        .await
}
