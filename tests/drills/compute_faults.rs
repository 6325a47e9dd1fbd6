//! Drill 1: creates under Compute Engine faults.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use futures_util::StreamExt;
use k8sless::sim::faults::FaultRule;

use super::census::*;

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
    c.assert_one_vm_per_pod();
    assert_eq!(c.vms, N, "exactly one VM per pod");
    say(format!(
        "drill 1 (compute faults): creates={N} 201s={} 503s={} retries={} injected={} gc-under-faults: inserted={} adopted={} errors={}; final gc: inserted={} adopted={} {c} in {:.1}s",
        tally.created.load(Ordering::SeqCst),
        tally.unavailable.load(Ordering::SeqCst),
        tally.retries.load(Ordering::SeqCst),
        injected,
        count(&under_faults, "inserted"),
        count(&under_faults, "adopted"),
        count(&under_faults, "errors"),
        count(&summary, "inserted"),
        count(&summary, "adopted"),
        started.elapsed().as_secs_f64()
    ));
    stack.stop().await;
}
