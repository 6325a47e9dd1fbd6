//! Collection through `POST /gc`.

use std::time::Duration;

use k8s_openapi::api::core::v1::Pod;
use k8sless::sim::faults::FaultRule;
use k8sless::testing::record::{self, PodRecord, VmState};
use k8sless::testing::{Client, ClientConfig, Instance, RetryPolicy, Stack, TokenSource, names};
use serde_json::{Value, json};

use crate::common::*;

const MIN: Duration = Duration::from_secs(60);

async fn gc(api: &Api, issuer: &Issuer) -> Value {
    let (code, summary) = api.gc(Some(&issuer.caller("/gc"))).await;
    assert_eq!(code, 200, "{summary}");
    summary
}

fn count(summary: &Value, what: &str) -> u64 {
    summary[what]["count"].as_u64().unwrap_or(0)
}

/// The pod a create of `name` would store (a dry run: no record, no VM), for a test that
/// writes its record or inserts its VM by hand.
async fn dry_run(api: &Api, name: &str) -> Pod {
    api.http
        .post(format!(
            "{}/api/v1/namespaces/default/pods?dryRun=All",
            api.base
        ))
        .json(&pod(name))
        .send()
        .await
        .expect("dry run")
        .json()
        .await
        .expect("pod")
}

/// Writes the record a create writes before its insert, as a crash would leave it: `pod` in
/// `default` on the VM `vm` (`machine_type` in `zone`), one insert attempted.
async fn write_record(stack: &Stack, pod: Pod, vm: &str, zone: &str, machine_type: &str) {
    let name = pod.metadata.name.clone().expect("name");
    let rec = PodRecord::new(
        pod,
        VmState {
            name: vm.into(),
            zone: zone.into(),
            machine_type: machine_type.into(),
            insert_attempts: 1,
            ..Default::default()
        },
    );
    let key = record::key("default", &name);
    let data = rec.encode().expect("encode");
    stack.pods.store().create(&key, data).await.expect("write");
}

/// The pod `name` is scheduled on `vm`, and the simulator holds exactly one VM of that name.
async fn assert_scheduled_on_one_vm(stack: &Stack, api: &Api, name: &str, vm: &str) {
    let vms = stack.sim.instances().into_iter().filter(|i| i.name == vm);
    assert_eq!(vms.count(), 1);
    let got = api.pod(name).await;
    assert_eq!(got["spec"]["nodeName"], vm);
    assert_eq!(got["status"]["conditions"][0]["status"], "True", "{got}");
}

/// A verified stack with `spec` created, on its VM, and reported in `status`.
async fn reported(spec: Value, status: Value) -> (Issuer, Stack, Api, Instance) {
    let (issuer, stack, api) = verified().await;
    let (_, vm) = api.create_reported(&issuer, &stack, spec, status).await;
    (issuer, stack, api, vm)
}

/// Deletes pod `name`'s record behind the service's back, leaving its VM an orphan.
async fn drop_record(stack: &Stack, name: &str) {
    let key = record::key("default", name);
    stack
        .pods
        .store()
        .delete(&key, None)
        .await
        .expect("delete record");
}

/// A collection now counts nothing under `what` and keeps `vm`; one `wait` later, the next
/// counts it once and `vm` is gone.
async fn collected_only_after(
    (issuer, stack, api): (&Issuer, &Stack, &Api),
    vm: &Instance,
    what: &str,
    wait: Duration,
) {
    assert_eq!(count(&gc(api, issuer).await, what), 0, "{what} too early");
    assert!(vm_named(stack, &vm.name).is_some(), "VM kept until then");
    stack.advance(wait);
    assert_eq!(count(&gc(api, issuer).await, what), 1, "{what}");
    assert!(vm_named(stack, &vm.name).is_none(), "VM deleted");
}

#[tokio::test]
async fn finished_pods_vm_goes_after_the_grace_and_the_pod_stays() {
    let (issuer, stack, api, vm) = reported(pod("done"), succeeded(&rfc3339_now())).await;
    let env = (&issuer, &stack, &api);
    collected_only_after(env, &vm, "finishedVmsDeleted", MIN + Duration::from_secs(2)).await;
    assert_eq!(api.pod("done").await["status"]["phase"], "Succeeded");
    // Idempotent: nothing more to do.
    let again = gc(&api, &issuer).await;
    assert_eq!(
        count(&again, "finishedVmsDeleted") + count(&again, "errors"),
        0
    );
    stack.stop().await;
}

#[tokio::test]
async fn running_pods_vm_is_never_deleted() {
    let (issuer, stack, api, vm) = reported(pod("long-runner"), running(&rfc3339_now())).await;
    for _ in 0..3 {
        stack.advance(20 * MIN);
        // No report for an hour: a quiet, long-running pod. Two collections at once.
        let both = futures_util::future::join(gc(&api, &issuer), gc(&api, &issuer)).await;
        for s in [both.0, both.1] {
            assert_eq!(count(&s, "errors"), 0, "{s}");
        }
        assert!(vm_named(&stack, &vm.name).is_some(), "VM kept");
        assert_eq!(api.pod("long-runner").await["status"]["phase"], "Running");
    }
    stack.stop().await;
}

#[tokio::test]
async fn silent_vm_fails_after_the_boot_timeout() {
    let (issuer, stack, api, _, vm) = verified_on_vm(pod("mute")).await;
    stack.advance(9 * MIN);
    collected_only_after((&issuer, &stack, &api), &vm, "bootTimeouts", 2 * MIN).await;
    let got = api.pod("mute").await;
    assert_eq!(got["status"]["phase"], "Failed");
    assert_eq!(got["status"]["reason"], "VMBootTimeout");
    stack.stop().await;
}

#[tokio::test]
async fn deadline_fails_the_pod_and_deletes_its_vm() {
    let mut spec = pod("deadline");
    spec["spec"]["activeDeadlineSeconds"] = json!(30);
    let (issuer, stack, api, vm) = reported(spec, running(&rfc3339_now())).await;
    let env = (&issuer, &stack, &api);
    collected_only_after(env, &vm, "deadlinesExceeded", Duration::from_secs(32)).await;
    let got = api.pod("deadline").await;
    assert_eq!(got["status"]["reason"], "DeadlineExceeded");
    stack.stop().await;
}

#[tokio::test]
async fn crash_between_record_and_insert_is_repaired() {
    crash_before_insert_repaired(false).await;
}

/// The record exactly as create writes it, `nodeName` set: collection first asks Compute
/// Engine for the VM (its create's insert may have landed after the pass listed the VMs), gets
/// a 404, and inserts it.
#[tokio::test]
async fn crash_between_a_scheduled_record_and_its_insert_is_repaired() {
    crash_before_insert_repaired(true).await;
}

async fn crash_before_insert_repaired(scheduled: bool) {
    let (issuer, stack, api) = verified().await;
    // What a create writes before it inserts: the record, and nothing in Compute Engine.
    let mut k8s_pod = dry_run(&api, "orphaned-record").await;
    let vm_name = names::vm_name(
        &stack.pods.settings().deployment,
        "default",
        "orphaned-record",
    );
    if scheduled {
        k8s_pod.spec.as_mut().expect("spec").node_name = Some(vm_name.clone());
    }
    write_record(&stack, k8s_pod, &vm_name, "us-central1-a", "e2-standard-2").await;
    assert!(vm_named(&stack, &vm_name).is_none());

    // Two collections at once (Cloud Scheduler retried): one VM.
    let (a, b) = futures_util::future::join(gc(&api, &issuer), gc(&api, &issuer)).await;
    let inserted = count(&a, "inserted") + count(&b, "inserted");
    assert!((1..=2).contains(&inserted), "{a} {b}");
    assert_scheduled_on_one_vm(&stack, &api, "orphaned-record", &vm_name).await;
    assert_eq!(count(&gc(&api, &issuer).await, "inserted"), 0);
    stack.stop().await;
}

/// A VM that exists but that the pass's listing did not show (its create's insert landed
/// after the pass listed the VMs; here, deterministically, a zone the deployment no longer
/// lists) is recorded as the pod's VM after one `instances.get`: no second VM, no insert.
#[tokio::test]
async fn a_vm_missing_from_the_listing_is_adopted_after_one_get_not_inserted_again() {
    let issuer = Issuer::start().await;
    let mut b = builder(&issuer);
    b.args.zones = Some("us-central1-a".into());
    let stack = b.start().await.expect("stack");
    let api = Api::new(&stack);
    let mut k8s_pod = dry_run(&api, "late-insert").await;
    let settings = stack.pods.settings().clone();
    let vm_name = names::vm_name(&settings.deployment, "default", "late-insert");
    let uid = k8s_pod.metadata.uid.clone().expect("uid");
    k8s_pod.spec.as_mut().expect("spec").node_name = Some(vm_name.clone());
    let zone = "us-central1-b";
    // The create's insert, through the production client, in a zone the listing skips.
    let client = Client::new(
        ClientConfig {
            endpoint: format!("{}/compute/v1", stack.base),
            project: settings.project.clone(),
            zones: vec![zone.into()],
            mutations_per_second: 0.0,
            timeout: Duration::from_secs(5),
            retry: RetryPolicy {
                initial: Duration::from_millis(5),
                max: Duration::from_millis(100),
                deadline: Duration::from_secs(10),
            },
        },
        TokenSource::Anonymous,
    )
    .expect("client");
    let labels = [
        (names::LABEL_MANAGED, "true".to_string()),
        (names::LABEL_UID, names::sanitize_value(&uid)),
        (names::LABEL_DEPLOYMENT, settings.deployment.clone()),
    ];
    let labels = labels.map(|(k, v)| (k.to_string(), v)).into();
    let vm = cos_vm(&vm_name, zone, labels);
    client
        .insert(zone, &vm, uuid::Uuid::new_v4())
        .await
        .expect("insert");
    write_record(&stack, k8s_pod, &vm_name, zone, "e2-small").await;
    let inserts = |s: &Stack| s.sim.stats().calls.get("insert").copied().unwrap_or(0);
    let inserts_before = inserts(&stack);

    let summary = gc(&api, &issuer).await;
    assert_eq!(count(&summary, "inserted"), 1, "{summary}");
    assert_eq!(inserts(&stack), inserts_before, "no second insert");
    assert_scheduled_on_one_vm(&stack, &api, "late-insert", &vm_name).await;
    // Recorded as inserted: the next pass leaves it alone.
    assert_eq!(count(&gc(&api, &issuer).await, "inserted"), 0);
    stack.stop().await;
}

#[tokio::test]
async fn stockout_in_zone_a_moves_to_zone_b() {
    let (issuer, stack, api) = verified().await;
    stack.sim.set_faults(vec![FaultRule {
        zone: Some("us-central1-a".into()),
        stockout: true,
        ..Default::default()
    }]);
    let p = api.create(pod("no-room")).await;
    assert_unschedulable(&p, "us-central1-a");
    let summary = gc(&api, &issuer).await;
    assert_eq!(count(&summary, "inserted"), 1, "{summary}");
    let name = names::vm_name(&stack.pods.settings().deployment, "default", "no-room");
    let vm = vm_named(&stack, &name).expect("vm");
    assert_eq!(zone_of(&vm), "us-central1-b");
    let got = api.pod("no-room").await;
    assert_eq!(got["status"]["conditions"][0]["status"], "True");
    assert!(
        got["metadata"]["annotations"]["k8sless.dev/instance"]
            .as_str()
            .unwrap_or("")
            .contains("zones/us-central1-b/")
    );
    // Its reports are accepted from zone b.
    api.report_from(&issuer, &got, &vm, 1, running(&rfc3339_now()))
        .await;
    stack.stop().await;
}

#[tokio::test]
async fn orphan_vm_goes_after_the_grace() {
    let (issuer, stack, api, _, vm) = verified_on_vm(pod("forgotten")).await;
    // The record disappears (a crash of a delete between VM and record, inverted).
    drop_record(&stack, "forgotten").await;
    // Kept within the grace.
    collected_only_after((&issuer, &stack, &api), &vm, "orphansDeleted", 6 * MIN).await;
    stack.stop().await;
}

/// Two k8sless deployments in one project: the other one's VMs carry its own deployment label
/// and name tag, and no record of ours claims them, yet this deployment's `/gc` never deletes
/// them, however old; its own orphan still goes.
#[tokio::test]
async fn another_deployments_vms_survive_this_deployments_gc() {
    let (issuer, stack, api) = verified().await;
    let ours = stack.pods.settings().deployment.clone();
    let theirs = format!("{ours}-other");
    let compute = stack.pods.compute().clone();

    // The other deployment's pods, translated and inserted as its service would.
    let mut other = (**stack.pods.settings()).clone();
    other.deployment = theirs.clone();
    let mut their_vms = Vec::new();
    for name in ["hello", "batch-1"] {
        let k8s_pod = dry_run(&api, name).await;
        let plan = k8sless::testing::translate(&k8s_pod, &other).expect("translate");
        assert_eq!(plan.instance.labels[names::LABEL_DEPLOYMENT], theirs);
        assert!(plan.name.starts_with(&names::vm_name_prefix(&theirs)));
        assert_ne!(plan.name, names::vm_name(&ours, "default", name));
        compute
            .insert(
                &plan.zone,
                &plan.instance,
                names::request_id(name, &plan.zone, 0),
            )
            .await
            .expect("insert");
        their_vms.push(plan.name);
    }
    // One of ours, whose record is gone: an orphan of this deployment.
    let mine = api.create(pod("hello")).await;
    let my_vm = vm_of(&stack, &mine).expect("vm");
    assert_eq!(my_vm.labels[names::LABEL_DEPLOYMENT], ours);
    assert_ne!(
        my_vm.name, their_vms[0],
        "same pod name, another deployment: no collision"
    );
    drop_record(&stack, "hello").await;

    stack.advance(60 * MIN);
    let summary = gc(&api, &issuer).await;
    assert_eq!(count(&summary, "orphansDeleted"), 1, "{summary}");
    assert_eq!(
        summary["vms"], 1,
        "only this deployment's VMs are listed: {summary}"
    );
    assert!(vm_named(&stack, &my_vm.name).is_none(), "our orphan goes");
    for name in &their_vms {
        assert!(vm_named(&stack, name).is_some(), "{name} survives");
    }
    stack.advance(60 * MIN);
    gc(&api, &issuer).await;
    for name in &their_vms {
        assert!(
            vm_named(&stack, name).is_some(),
            "{name} survives a second pass"
        );
    }
    stack.stop().await;
}

/// A create writes its record once and inserts the VM: the record does not say the insert was
/// accepted (the crash between the two steps looks the same), and collection adopts the VM.
#[tokio::test]
async fn created_pods_vm_is_adopted_from_the_vm_list() {
    let (issuer, stack, api) = verified().await;
    let p = api.create(pod("written-once")).await;
    let vm = vm_of(&stack, &p).expect("the VM was inserted");
    let key = record::key("default", "written-once");
    let stored = stack.pods.store().get(&key).await.expect("record");
    assert_eq!(
        p["metadata"]["resourceVersion"],
        stored.generation.to_string(),
        "the answer is the record's only write"
    );
    let rec = PodRecord::decode(&stored).expect("decode");
    assert!(!rec.vm.inserted, "the record was not written a second time");

    let summary = gc(&api, &issuer).await;
    assert_eq!(count(&summary, "adopted"), 1, "{summary}");
    assert_eq!(count(&summary, "inserted"), 0, "{summary}");
    let rec =
        PodRecord::decode(&stack.pods.store().get(&key).await.expect("record")).expect("decode");
    assert!(rec.vm.inserted);
    assert_eq!(rec.vm.name, vm.name);
    let same: Vec<_> = stack
        .sim
        .instances()
        .into_iter()
        .filter(|i| i.name == vm.name)
        .collect();
    assert_eq!(same.len(), 1, "one VM");
    let again = gc(&api, &issuer).await;
    assert_eq!(
        count(&again, "adopted") + count(&again, "inserted"),
        0,
        "{again}"
    );
    stack.stop().await;
}
