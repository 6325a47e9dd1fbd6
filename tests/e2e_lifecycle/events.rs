//! Compute Engine events through `POST /events/compute`: Eventarc CloudEvents and a Log
//! Router sink through Pub/Sub.

use base64::Engine;
use k8sless::testing::Instance;
use serde_json::{Value, json};

use crate::common::*;

pub const AUDIT_HEADERS: [(&str, &str); 4] = [
    ("ce-id", "1"),
    (
        "ce-source",
        "//cloudaudit.googleapis.com/projects/k8sless-dev/logs/activity",
    ),
    ("ce-specversion", "1.0"),
    ("ce-type", "google.cloud.audit.log.v1.written"),
];

/// An audit log entry about `vm`, in the audit log Cloud Audit Logs writes it to: preemptions
/// and host errors are System Event entries, deletions Admin Activity ones.
pub fn audit_entry(method: &str, vm: &Instance, who: &str) -> Value {
    let log = if method.ends_with(".delete") {
        "activity"
    } else {
        "system_event"
    };
    json!({
        "protoPayload": {
            "@type": "type.googleapis.com/google.cloud.audit.AuditLog",
            "methodName": method,
            "serviceName": "compute.googleapis.com",
            "resourceName": format!("projects/{PROJECT}/zones/{}/instances/{}", zone_of(vm), vm.name),
            "authenticationInfo": {"principalEmail": who}
        },
        "resource": {"type": "gce_instance", "labels": {
            "instance_id": vm.id, "project_id": PROJECT, "zone": zone_of(vm)}},
        "operation": {"id": "op", "producer": "compute.googleapis.com", "first": true},
        "logName": format!("projects/{PROJECT}/logs/cloudaudit.googleapis.com%2F{log}")
    })
}

/// [`send_ce`] that must be acknowledged (200) with `result` (`applied`, `ignored`).
async fn acknowledged(api: &Api, token: &str, entry: Value, result: &str) {
    let (code, body) = send_ce(api, token, entry).await;
    assert_eq!(
        (code, body["result"].as_str()),
        (200, Some(result)),
        "{body}"
    );
}

/// An Eventarc CloudEvent (binary mode) to `POST /events/compute`.
async fn send_ce(api: &Api, token: &str, entry: Value) -> (u16, Value) {
    api.post(
        "/events/compute",
        Some(token),
        &AUDIT_HEADERS,
        entry.to_string(),
    )
    .await
}

/// One Running pod per name, reported by its VM.
async fn running_pods(
    stack: &k8sless::testing::Stack,
    api: &Api,
    issuer: &Issuer,
    names: &[&str],
) -> Vec<(Value, Instance)> {
    let mut vms = Vec::new();
    for name in names {
        // Only a Spot VM can be preempted.
        let mut body = pod(name);
        if name.contains("preempt") {
            body["spec"]["nodeSelector"] = json!({"cloud.google.com/gke-spot": "true"});
        }
        let (p, vm) = api
            .create_reported(issuer, stack, body, running(&rfc3339_now()))
            .await;
        vms.push((p, vm));
    }
    vms
}

/// Eventarc in binary mode, delivered twice (the second changes nothing); a Log Router sink
/// to Pub/Sub, pushed (system events Eventarc does not deliver); structured mode.
async fn deliver_in_each_shape(api: &Api, token: &str, vms: &[(Value, Instance)]) {
    let preempt = audit_entry(
        "compute.instances.preempted",
        &vms[0].1,
        "system@google.com",
    );
    acknowledged(api, token, preempt.clone(), "applied").await;
    let rv = api.pod("preempted").await["metadata"]["resourceVersion"].clone();
    acknowledged(api, token, preempt, "ignored").await;
    assert_eq!(
        api.pod("preempted").await["metadata"]["resourceVersion"],
        rv
    );

    let host_error = audit_entry(
        "compute.instances.hostError",
        &vms[1].1,
        "system@google.com",
    );
    let push = json!({"message": {
        "data": base64::engine::general_purpose::STANDARD.encode(host_error.to_string()),
        "messageId": "9", "publishTime": "2030-01-01T00:00:00Z"},
        "subscription": "projects/k8sless-dev/subscriptions/compute-events"});
    let (code, _) = api
        .post("/events/compute", Some(token), &[], push.to_string())
        .await;
    assert_eq!(code, 200);

    // Structured mode, deleted by a person.
    let deleted = json!({"specversion": "1.0", "id": "2", "source": "x",
        "type": "google.cloud.audit.log.v1.written",
        "data": audit_entry("v1.compute.instances.delete", &vms[2].1, "alice@example.com")});
    let (code, _) = api
        .post(
            "/events/compute",
            Some(token),
            &[("content-type", "application/cloudevents+json")],
            deleted.to_string(),
        )
        .await;
    assert_eq!(code, 200);
}

#[tokio::test]
async fn preemption_host_error_and_deletion_fail_the_pod() {
    let (issuer, stack, api) = verified().await;
    let token = issuer.caller("/events/compute");
    let names = [
        "preempted",
        "host-error",
        "deleted",
        "deleted-by-us",
        "finished",
    ];
    let vms = running_pods(&stack, &api, &issuer, &names).await;
    // What the entries report really happens first: Compute Engine is asked before a pod fails.
    let zone = zone_of(&vms[0].1);
    stack.sim.preempt(&zone, &vms[0].1.name).expect("preempt");
    assert_eq!(
        vms[0]
            .1
            .scheduling
            .as_ref()
            .and_then(|s| s.provisioning_model.as_deref()),
        Some("SPOT")
    );
    // A standard VM is never preempted.
    assert!(stack.sim.preempt(&zone, &vms[3].1.name).is_err());
    stack
        .sim
        .guest_poweroff(&zone, &vms[1].1.name)
        .expect("host error stops it");
    stack
        .pods
        .compute()
        .delete(&zone, &vms[2].1.name)
        .await
        .expect("deleted by hand");
    deliver_in_each_shape(&api, &token, &vms).await;

    // Deleted by k8sless itself: not news.
    let ours = audit_entry("v1.compute.instances.delete", &vms[3].1, OWN_SA);
    assert_eq!(send_ce(&api, &token, ours).await.1["result"], "ignored");

    // A finished pod stays as it finished.
    let (p, vm) = &vms[4];
    api.report_from(&issuer, p, vm, 2, succeeded(&rfc3339_now()))
        .await;
    let late = audit_entry("compute.instances.preempted", vm, "system@google.com");
    assert_eq!(send_ce(&api, &token, late).await.1["result"], "ignored");

    for (name, phase, reason) in [
        ("preempted", "Failed", Some("Preempted")),
        ("host-error", "Failed", Some("NodeLost")),
        ("deleted", "Failed", Some("Deleted")),
        ("deleted-by-us", "Running", None),
        ("finished", "Succeeded", None),
    ] {
        let got = api.pod(name).await;
        assert_eq!(got["status"]["phase"], phase, "{name}");
        assert_eq!(got["status"]["reason"].as_str(), reason, "{name}");
    }
    let lost = api.pod("preempted").await;
    assert_eq!(
        lost["status"]["containerStatuses"][0]["state"]["terminated"]["reason"],
        "ContainerStatusUnknown"
    );

    // Entries about other VMs and other methods are acknowledged and ignored.
    assert!(vm_named(&stack, &vms[3].1.name).is_some());
    let mut foreign = vms[0].1.clone();
    foreign.name = "web-server-1".into();
    let other_method = audit_entry("v1.compute.instances.delete", &foreign, "a@b.c");
    acknowledged(&api, &token, other_method, "ignored").await;
    let (code, _) = send_ce(&api, &token, json!({"nothing": true})).await;
    assert_eq!(code, 400);
    stack.stop().await;
}

/// Anyone who can write a log entry (a pod's own VM holds logging.logWriter) can forge one: a
/// forged preemption of another pod's running VM changes nothing, whether it imitates the
/// audit log or not; the real preemption of that VM afterwards still fails the pod.
#[tokio::test]
async fn forged_preemption_changes_nothing_and_a_real_one_fails_the_pod() {
    let (issuer, stack, api) = verified().await;
    let token = issuer.caller("/events/compute");
    let vms = running_pods(&stack, &api, &issuer, &["victim-preempt"]).await;
    let (_, vm) = &vms[0];
    let forged = audit_entry("compute.instances.preempted", vm, "system@google.com");
    let mut own_log = forged.clone();
    own_log["logName"] = json!(format!("projects/{PROJECT}/logs/cloudaudit.googleapis.com"));
    let rv = api.pod("victim-preempt").await["metadata"]["resourceVersion"].clone();
    for entry in [own_log, forged.clone()] {
        acknowledged(&api, &token, entry, "ignored").await;
    }
    let got = api.pod("victim-preempt").await;
    assert_eq!(got["status"]["phase"], "Running");
    assert_eq!(got["metadata"]["resourceVersion"], rv, "nothing written");
    assert!(vm_named(&stack, &vm.name).is_some(), "its VM is untouched");

    stack.sim.preempt(&zone_of(vm), &vm.name).expect("preempt");
    acknowledged(&api, &token, forged, "applied").await;
    let got = api.pod("victim-preempt").await;
    assert_eq!(got["status"]["phase"], "Failed");
    assert_eq!(got["status"]["reason"], "Preempted");
    // Gone for good once Compute Engine has deleted it (instanceTerminationAction DELETE).
    stack.advance(std::time::Duration::from_secs(120));
    stack.sim.step();
    assert!(vm_named(&stack, &vm.name).is_none());
    stack.stop().await;
}
