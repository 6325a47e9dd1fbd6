//! Dev mode's lifecycle: simulated guests report through the push path, the collector runs by
//! itself, the VM goes a grace after the pod finished, the pod stays visible.

use std::time::Duration;

use k8sless::sim::{SimMode, SimTimings};
use k8sless::testing::{StackBuilder, default_args};
use serde_json::json;

use crate::common::*;

#[tokio::test]
async fn whole_lifecycle_with_simulated_guests() {
    init();
    let mut args = default_args();
    args.finished_grace = Duration::from_secs(1);
    let mut b = StackBuilder::new(args);
    b.mode = SimMode::Auto;
    b.timings = SimTimings::ZERO;
    b.guests = true;
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
