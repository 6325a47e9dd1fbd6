//! Tests of the pod update rules against Kubernetes' messages.

use super::*;
use serde_json::json;

fn pod(spec: Value) -> Pod {
    serde_json::from_value(json!({"metadata": {"name": "web", "namespace": "ns", "uid": "u1", "labels": {"a": "1"}}, "spec": spec})).expect("pod")
}

fn base() -> Value {
    json!({
        "containers": [{"name": "c", "image": "nginx:1", "ports": [{"containerPort": 80}]}],
        "initContainers": [{"name": "i", "image": "busybox"}],
        "activeDeadlineSeconds": 600,
        "tolerations": [{"key": "k", "operator": "Exists", "effect": "NoExecute", "tolerationSeconds": 30}],
        "terminationGracePeriodSeconds": 30,
    })
}

fn with(patch: Value) -> Pod {
    let spec = crate::pods::update::patch::apply_merge_patch(&base(), &patch);
    pod(spec)
}

#[test]
fn allowed_updates_pass() {
    let old = pod(base());
    let mut relabelled = old.clone();
    relabelled.metadata.labels = Some([("b".to_string(), "2".to_string())].into());
    relabelled.metadata.annotations = Some([("note".to_string(), "x".to_string())].into());
    let allowed = [
        relabelled,
        with(
            json!({"containers": [{"name": "c", "image": "nginx:2", "ports": [{"containerPort": 80}]}]}),
        ),
        with(json!({"initContainers": [{"name": "i", "image": "busybox:2"}]})),
        with(json!({"activeDeadlineSeconds": 60})),
        with(
            json!({"tolerations": [{"key": "k", "operator": "Exists", "effect": "NoExecute", "tolerationSeconds": 5}, {"key": "new", "operator": "Exists"}]}),
        ),
        with(json!({"nodeSelector": {}, "volumes": []})),
    ];
    for new in allowed {
        assert_eq!(validate_pod_update(&old, &new), Ok(()), "{:?}", new.spec);
    }
    let negative = with(json!({"terminationGracePeriodSeconds": -1}));
    assert_eq!(
        validate_pod_update(
            &negative,
            &with(json!({"terminationGracePeriodSeconds": 1}))
        ),
        Ok(())
    );
    let unset = with(json!({"activeDeadlineSeconds": null}));
    assert_eq!(
        validate_pod_update(&unset, &with(json!({"activeDeadlineSeconds": 100}))),
        Ok(())
    );
}

fn causes(old: &Pod, new: &Pod) -> Vec<(String, String)> {
    validate_pod_update(old, new)
        .expect_err("rejected")
        .into_iter()
        .map(|c| (c.field, c.message))
        .collect()
}

#[test]
fn forbidden_updates_use_kubernetes_messages() {
    let old = pod(base());
    let port = causes(
        &old,
        &with(
            json!({"containers": [{"name": "c", "image": "nginx:1", "ports": [{"containerPort": 8080}]}]}),
        ),
    );
    assert_eq!(port.len(), 1);
    assert_eq!(port[0].0, "spec");
    assert!(port[0].1.starts_with(&format!(
        "Forbidden: pod updates may not change fields other than {UPDATABLE_POD_SPEC_FIELDS}\n"
    )));
    assert!(
        port[0]
            .1
            .contains("spec.containers[0].ports[0].containerPort: 80 -> 8080"),
        "{}",
        port[0].1
    );

    let added = causes(
        &old,
        &with(json!({"containers": [{"name": "c", "image": "x"}, {"name": "d", "image": "y"}]})),
    );
    assert_eq!(
        added,
        [(
            "spec.containers".to_string(),
            "Forbidden: pod updates may not add or remove containers".to_string()
        )]
    );
}

#[test]
fn forbidden_field_updates_use_kubernetes_messages() {
    let old = pod(base());
    let longer = causes(&old, &with(json!({"activeDeadlineSeconds": 601})));
    assert_eq!(
        longer,
        [(
            "spec.activeDeadlineSeconds".to_string(),
            "Invalid value: 601: must be less than or equal to previous value".to_string()
        )]
    );
    let removed = causes(&old, &with(json!({"activeDeadlineSeconds": null})));
    assert_eq!(
        removed,
        [(
            "spec.activeDeadlineSeconds".to_string(),
            "Invalid value: null: must not update from a positive integer to nil value".to_string()
        )]
    );
    let toleration = causes(
        &old,
        &with(json!({"tolerations": [{"key": "other", "operator": "Exists"}]})),
    );
    assert_eq!(
        toleration[0].1,
        "Forbidden: existing toleration can not be modified except its tolerationSeconds"
    );
    let image = causes(
        &old,
        &with(
            json!({"containers": [{"name": "c", "image": "", "ports": [{"containerPort": 80}]}]}),
        ),
    );
    assert_eq!(
        image,
        [(
            "spec.containers[0].image".to_string(),
            "Required value".to_string()
        )]
    );
    let mut renamed = old.clone();
    renamed.metadata.name = Some("other".into());
    assert_eq!(
        causes(&old, &renamed),
        [(
            "metadata.name".to_string(),
            "Invalid value: \"other\": field is immutable".to_string()
        )]
    );
    let gated = causes(&old, &with(json!({"schedulingGates": [{"name": "g"}]})));
    assert_eq!(
        gated[0].1,
        "Forbidden: only deletion is allowed, but found new scheduling gate 'g'"
    );
}

#[test]
fn status_message_matches_kubernetes() {
    let one = [FieldCause::forbidden(
        "spec",
        "pod updates may not add or remove containers",
    )];
    assert_eq!(
        FieldCause::status_message("Pod", "web", &one),
        "Pod \"web\" is invalid: spec: Forbidden: pod updates may not add or remove containers"
    );
    let two = [FieldCause::required("a"), FieldCause::required("b")];
    assert_eq!(
        FieldCause::status_message("Pod", "web", &two),
        "Pod \"web\" is invalid: [a: Required value, b: Required value]"
    );
}

#[test]
fn prepare_keeps_system_fields_and_status() {
    let mut old = pod(base());
    old.metadata.creation_timestamp = Some(k8s_openapi::apimachinery::pkg::apis::meta::v1::Time(
        "2025-01-01T00:00:00Z".parse().expect("ts"),
    ));
    old.status = Some(Default::default());
    let mut new = pod(base());
    new.metadata.uid = None;
    prepare_pod_update(&old, &mut new);
    assert_eq!(new.metadata.uid.as_deref(), Some("u1"));
    assert_eq!(
        new.metadata.creation_timestamp,
        old.metadata.creation_timestamp
    );
    assert_eq!(new.status, old.status);
    assert_eq!(validate_pod_update(&old, &new), Ok(()));
}
