//! Shared helpers of the validation tests, and the metadata and pod-level rules: each rule's
//! accept and reject case, with the message kube-apiserver gives (as [`Cause::render`] shows it).

use serde_json::{Value, json};

use super::*;

/// A valid pod: one container, namespace defaulted.
pub(super) fn base() -> Value {
    json!({
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": { "name": "p", "namespace": "default" },
        "spec": { "containers": [{ "name": "c", "image": "busybox" }] }
    })
}

/// `patch` merged into `target` (RFC 7386: objects merge, `null` removes, the rest replaces).
pub(super) fn merge(target: &mut Value, patch: Value) {
    match (target, patch) {
        (Value::Object(t), Value::Object(p)) => {
            for (k, v) in p {
                if v.is_null() {
                    t.remove(&k);
                } else {
                    merge(t.entry(k).or_insert(Value::Null), v);
                }
            }
        }
        (t, p) => *t = p,
    }
}

/// The causes for `pod`, rendered as kube-apiserver does.
pub(super) fn rendered(pod: Value) -> Vec<String> {
    let pod: Pod = serde_json::from_value(pod).expect("a Pod");
    match validate(&pod) {
        Ok(()) => Vec::new(),
        Err(causes) => causes.iter().map(Cause::render).collect(),
    }
}

/// The causes for the base pod with `patch` merged in.
pub(super) fn with(patch: Value) -> Vec<String> {
    let mut pod = base();
    merge(&mut pod, patch);
    rendered(pod)
}

/// Each `(accepted, rejected, message)`: the accepted patch gives no cause, the rejected one
/// exactly `message`.
pub(super) fn check_rules(rules: Vec<(Value, Value, &str)>) {
    for (accepted, rejected, message) in rules {
        assert_eq!(with(accepted.clone()), Vec::<String>::new(), "{accepted}");
        assert_eq!(
            with(rejected.clone()),
            vec![message.to_string()],
            "{rejected}"
        );
    }
}

const SUBDOMAIN: &str = "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')";
pub(super) const LABEL: &str = "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start and end with an alphanumeric character (e.g. 'my-name',  or '123-abc', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?')";
const QUALIFIED: &str = "name part must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]')";
const LABEL_VALUE: &str = "a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyValue',  or 'my_value',  or '12345', regex used for validation is '(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?')";

#[test]
fn the_base_pod_is_valid() {
    assert_eq!(rendered(base()), Vec::<String>::new());
}

#[test]
fn a_pod_needs_a_spec() {
    let mut pod = base();
    merge(&mut pod, json!({ "spec": null }));
    assert_eq!(rendered(pod), vec!["spec: Required value"]);
}

#[test]
fn metadata_rules() {
    check_rules(vec![
        (
            json!({ "metadata": { "name": "a.b-1" } }),
            json!({ "metadata": { "name": "" } }),
            "metadata.name: Required value: name or generateName is required",
        ),
        (
            json!({ "metadata": { "name": "a.b-1" } }),
            json!({ "metadata": { "name": "A_b" } }),
            &format!("metadata.name: Invalid value: \"A_b\": {SUBDOMAIN}"),
        ),
        (
            json!({ "metadata": { "namespace": "team-1" } }),
            json!({ "metadata": { "namespace": "team.1" } }),
            &format!("metadata.namespace: Invalid value: \"team.1\": {LABEL}"),
        ),
        (
            json!({ "metadata": { "labels": { "example.com/App_1": "v" } } }),
            json!({ "metadata": { "labels": { "-app": "v" } } }),
            &format!("metadata.labels: Invalid value: \"-app\": {QUALIFIED}"),
        ),
        (
            json!({ "metadata": { "labels": { "app": "My.Value_1" } } }),
            json!({ "metadata": { "labels": { "app": "-v" } } }),
            &format!("metadata.labels[app]: Invalid value: \"-v\": {LABEL_VALUE}"),
        ),
        (
            json!({ "metadata": { "annotations": { "Example.com/Note": "x" } } }),
            json!({ "metadata": { "annotations": { "note!": "x" } } }),
            &format!("metadata.annotations: Invalid value: \"note!\": {QUALIFIED}"),
        ),
        (
            json!({ "metadata": { "annotations": { "a": "x".repeat(ANNOTATIONS_MAX - 1) } } }),
            json!({ "metadata": { "annotations": { "a": "x".repeat(ANNOTATIONS_MAX) } } }),
            "metadata.annotations: Too long: may not be more than 262144 bytes",
        ),
        (
            json!({ "metadata": { "finalizers": [] } }),
            json!({ "metadata": { "finalizers": ["x/y"] } }),
            "metadata.finalizers: Forbidden: finalizers are not supported by k8sless: pods are deleted with their VM",
        ),
        (
            json!({ "metadata": { "ownerReferences": [] } }),
            json!({ "metadata": { "ownerReferences": [{ "apiVersion": "v1", "kind": "X", "name": "x", "uid": "u" }] } }),
            "metadata.ownerReferences: Forbidden: k8sless has no controllers to own pods; remove ownerReferences",
        ),
    ]);
}

#[test]
fn pod_spec_rules() {
    check_rules(vec![
        (
            json!({ "spec": { "containers": [{ "name": "c", "image": "busybox" }] } }),
            json!({ "spec": { "containers": [] } }),
            "spec.containers: Required value",
        ),
        (
            json!({ "spec": { "ephemeralContainers": [] } }),
            json!({ "spec": { "ephemeralContainers": [{ "name": "debug", "image": "busybox" }] } }),
            "spec.ephemeralContainers: Forbidden: ephemeral containers cannot be set on create",
        ),
        (
            json!({ "spec": { "restartPolicy": "OnFailure" } }),
            json!({ "spec": { "restartPolicy": "Sometimes" } }),
            "spec.restartPolicy: Unsupported value: \"Sometimes\": supported values: \"Always\", \"OnFailure\", \"Never\"",
        ),
        (
            json!({ "spec": { "dnsPolicy": "ClusterFirstWithHostNet" } }),
            json!({ "spec": { "dnsPolicy": "Cluster" } }),
            "spec.dnsPolicy: Unsupported value: \"Cluster\": supported values: \"ClusterFirstWithHostNet\", \"ClusterFirst\", \"Default\", \"None\"",
        ),
        (
            json!({ "spec": { "activeDeadlineSeconds": 1 } }),
            json!({ "spec": { "activeDeadlineSeconds": 0 } }),
            "spec.activeDeadlineSeconds: Invalid value: 0: must be greater than 0",
        ),
        (
            json!({ "spec": { "terminationGracePeriodSeconds": 0 } }),
            json!({ "spec": { "terminationGracePeriodSeconds": -1 } }),
            "spec.terminationGracePeriodSeconds: Invalid value: -1: must be greater than or equal to 0",
        ),
        (
            json!({ "spec": { "nodeName": "" } }),
            json!({ "spec": { "nodeName": "node-1" } }),
            "spec.nodeName: Forbidden: k8sless sets nodeName to the pod's VM; leave it empty",
        ),
        (
            json!({ "spec": { "serviceAccountName": "default" } }),
            json!({ "spec": { "serviceAccountName": "builder" } }),
            "spec.serviceAccountName: Forbidden: Kubernetes service accounts do not exist in k8sless; give the VM a Google service account with the annotation iam.gke.io/gcp-service-account",
        ),
        (
            json!({ "spec": { "automountServiceAccountToken": false } }),
            json!({ "spec": { "automountServiceAccountToken": true } }),
            "spec.automountServiceAccountToken: Forbidden: there is no Kubernetes API token to mount in k8sless",
        ),
    ]);
}

#[test]
fn host_namespaces_are_allowed() {
    assert_eq!(
        with(json!({ "spec": { "hostPID": true, "hostIPC": true } })),
        Vec::<String>::new()
    );
}

#[test]
fn every_problem_is_reported_at_once() {
    let causes = with(json!({
        "metadata": { "name": "" },
        "spec": { "containers": [{ "name": "c" }], "nodeName": "n" }
    }));
    assert_eq!(causes.len(), 3, "{causes:?}");
}
