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

/// An audit log entry about `vm`.
pub fn audit_entry(method: &str, vm: &Instance, who: &str) -> Value {
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
        "logName": format!("projects/{PROJECT}/logs/cloudaudit.googleapis.com%2Factivity")
    })
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
        let (p, vm) = api
            .create_reported(issuer, stack, pod(name), running(&rfc3339_now()))
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
    let (code, body) = send_ce(api, token, preempt.clone()).await;
    assert_eq!((code, body["result"].as_str()), (200, Some("applied")));
    let rv = api.pod("preempted").await["metadata"]["resourceVersion"].clone();
    let (code, body) = send_ce(api, token, preempt).await;
    assert_eq!((code, body["result"].as_str()), (200, Some("ignored")));
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
    let mut foreign = vms[0].1.clone();
    foreign.name = "web-server-1".into();
    let (code, body) = send_ce(
        &api,
        &token,
        audit_entry("v1.compute.instances.delete", &foreign, "a@b.c"),
    )
    .await;
    assert_eq!((code, body["result"].as_str()), (200, Some("ignored")));
    let (code, _) = send_ce(&api, &token, json!({"nothing": true})).await;
    assert_eq!(code, 400);
    stack.stop().await;
}
