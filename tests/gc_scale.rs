//! The closing figure of the lifecycle issue: how long one `POST /gc` takes over 10,000 pod
//! records and 10,000 VMs in the simulator (goal: under 5 s). Ignored by default:
//!
//! ```text
//! cargo test --release --test gc_scale -- --ignored --nocapture
//! ```
//!
//! The mix: 9,800 running pods with VMs (nothing to do), 100 pods that finished five minutes
//! ago (VM deleted), 100 Pending pods whose VM was never inserted (inserted), and 100 VMs with
//! no record (orphans, deleted): 10,000 records and 10,000 VMs. Then a second, steady-state
//! run. Compute Engine mutations are not rate limited here (`--compute-qps 0`); with the
//! default 20/s the 300 mutations alone would take 15 s.

use std::time::{Duration, Instant};

use k8s_openapi::api::core::v1::Pod;
use k8sless::testing::record::{self, PodRecord, VmState};
use k8sless::testing::translate;
use k8sless::testing::{StackBuilder, default_args};
use k8sless::testing::{apply_defaults, k8s_time};
use serde_json::json;

const PODS: usize = 10_000;
const FINISHED: usize = 100;
const UNINSERTED: usize = 100;
const ORPHANS: usize = 100;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "benchmark: cargo test --release --test gc_scale -- --ignored --nocapture"]
async fn gc_over_ten_thousand_records_and_vms() {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let mut args = default_args();
    args.compute_qps = 0.0;
    let stack = StackBuilder::new(args).start().await.expect("stack");
    let settings = stack.pods.settings().clone();
    let now = jiff::Timestamp::now();
    let setup = Instant::now();
    let running_until = PODS - FINISHED - UNINSERTED;
    for i in 0..PODS + ORPHANS {
        let name = if i < PODS {
            format!("p-{i:05}")
        } else {
            format!("orphan-{i:05}")
        };
        let mut pod: Pod = serde_json::from_value(json!({
            "metadata": {"name": name, "namespace": "default",
                "uid": uuid::Uuid::new_v4().to_string(),
                "creationTimestamp": now.to_string()},
            "spec": {"restartPolicy": "Never", "containers": [{"name": "c", "image": "busybox"}]}
        }))
        .expect("pod");
        apply_defaults(&mut pod);
        let plan = translate(&pod, &settings).expect("translate");
        let inserted = !(PODS - UNINSERTED..PODS).contains(&i);
        if inserted {
            stack
                .sim
                .insert_instance(
                    &settings.project,
                    &plan.zone,
                    plan.instance.clone(),
                    None,
                    false,
                )
                .expect("insert");
        }
        if i >= PODS {
            continue;
        }
        let phase = if i < running_until {
            "Running"
        } else if inserted {
            "Succeeded"
        } else {
            "Pending"
        };
        pod.spec.get_or_insert_with(Default::default).node_name = Some(plan.name.clone());
        pod.status = Some(
            serde_json::from_value(json!({"phase": phase, "startTime": k8s_time(now)}))
                .expect("status"),
        );
        let mut vm = VmState {
            name: plan.name.clone(),
            zone: plan.zone.clone(),
            machine_type: plan.machine.name.clone(),
            inserted,
            insert_attempts: 1,
            inserted_at: inserted.then_some(now),
            ..Default::default()
        };
        if phase != "Pending" {
            vm.last_sequence = 3;
            vm.last_report_at = Some(now);
        }
        if phase == "Succeeded" {
            vm.finished_at = Some(now);
        }
        let rec = PodRecord::new(pod, vm);
        stack
            .pods
            .store()
            .create(
                &record::key("default", &name),
                rec.encode().expect("encode"),
            )
            .await
            .expect("record");
    }
    println!("setup: {:.1} s", setup.elapsed().as_secs_f64());
    stack.advance(Duration::from_secs(600));

    let http = reqwest::Client::new();
    for run in ["first (with work)", "second (steady state)"] {
        let started = Instant::now();
        let response = http
            .post(format!("{}/gc", stack.base))
            .send()
            .await
            .expect("gc");
        assert_eq!(response.status().as_u16(), 200);
        let summary: serde_json::Value = response.json().await.expect("summary");
        let took = started.elapsed();
        let n = |k: &str| summary[k]["count"].as_u64().unwrap_or(0);
        println!(
            "/gc {run}: {:.2} s over {} records and {} VMs: finished VMs deleted {}, inserted {}, orphans deleted {}, errors {}",
            took.as_secs_f64(),
            summary["records"],
            summary["vms"],
            n("finishedVmsDeleted"),
            n("inserted"),
            n("orphansDeleted"),
            n("errors"),
        );
        assert_eq!(n("errors"), 0, "{summary}");
        if run.starts_with("first") {
            assert_eq!(summary["records"], PODS);
            assert_eq!(summary["vms"], PODS - UNINSERTED + ORPHANS);
            assert_eq!(n("finishedVmsDeleted"), FINISHED as u64);
            assert_eq!(n("inserted"), UNINSERTED as u64);
            assert_eq!(n("orphansDeleted"), ORPHANS as u64);
        }
    }
    stack.stop().await;
}
