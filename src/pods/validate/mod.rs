//! Pod validation: Kubernetes' own rules for the fields k8sless accepts, and what a one-time VM
//! cannot run (ConfigMaps, Secrets, volumes claims, ...), each with a message that says what
//! to do instead. Returns every problem at once, as field causes for a 422.
//!
//! [`validate`] checks the metadata and the pod-level fields here; each container is checked
//! in [`container`], the volumes in [`volumes`]. Every rule has an accept and a reject unit
//! test with the message kube-apiserver gives.

mod container;
mod volumes;

use std::collections::HashSet;

use k8s_openapi::api::core::v1::{Pod, PodSpec};

use super::crud::names;
use crate::error::Cause;
use crate::objects::meta::{self, NameRule};

#[cfg(test)]
pub(crate) use crate::objects::meta::ANNOTATIONS_MAX;

/// The `Warning` a pod with `hostNetwork: false` is accepted with (docs/pod-to-vm.md#network).
pub(crate) const HOST_NETWORK_WARNING: &str = "spec.hostNetwork: false is kept as you sent it, but the pod runs on its VM's network (k8sless runs each pod on a VM of its own and gives it no separate network namespace): containers see the VM's interfaces and their ports are the VM's ports";

/// What an accepted pod runs differently from what it says: `Warning` headers for the create.
pub(crate) fn warnings(pod: &Pod) -> Vec<String> {
    let mut out = Vec::new();
    if pod.spec.as_ref().and_then(|s| s.host_network) == Some(false) {
        out.push(HOST_NETWORK_WARNING.to_string());
    }
    out
}

/// Validates a defaulted pod; `Ok` or every cause found.
pub(crate) fn validate(pod: &Pod) -> Result<(), Vec<Cause>> {
    let mut causes = Vec::new();
    metadata(pod, &mut causes);
    match &pod.spec {
        Some(spec) => self::spec(spec, &mut causes),
        None => causes.push(Cause::required("spec")),
    }
    if causes.is_empty() {
        Ok(())
    } else {
        Err(causes)
    }
}

fn metadata(pod: &Pod, causes: &mut Vec<Cause>) {
    let m = &pod.metadata;
    meta::name(m, NameRule::Subdomain, causes);
    if let Some(ns) = m.namespace.as_deref() {
        if let Err(e) = names::dns1123_label(ns) {
            causes.push(Cause::invalid("metadata.namespace", format!("{ns:?}: {e}")));
        }
    }
    meta::labels_and_annotations(m, causes);
    forbid(
        causes,
        [
            (
                m.finalizers.as_ref().is_some_and(|f| !f.is_empty()),
                "metadata.finalizers",
                "finalizers are not supported by k8sless: pods are deleted with their VM",
            ),
            (
                m.owner_references.as_ref().is_some_and(|o| !o.is_empty()),
                "metadata.ownerReferences",
                "k8sless has no controllers to own pods; remove ownerReferences",
            ),
        ],
    );
}

/// A `FieldValueForbidden` cause for each field that is `set`, in order: `(set, field, why)`.
fn forbid<const N: usize>(causes: &mut Vec<Cause>, fields: [(bool, &str, &str); N]) {
    for (set, field, why) in fields {
        if set {
            causes.push(Cause::forbidden(field, why));
        }
    }
}

fn spec(spec: &PodSpec, causes: &mut Vec<Cause>) {
    if spec.containers.is_empty() {
        causes.push(Cause::required("spec.containers"));
    }
    let mut names_seen = HashSet::new();
    let volumes = volumes::volumes(spec.volumes.as_deref().unwrap_or(&[]), causes);
    let init = spec.init_containers.as_deref().unwrap_or(&[]);
    for (i, c) in init.iter().enumerate() {
        container::container(
            c,
            &format!("spec.initContainers[{i}]"),
            &mut names_seen,
            &volumes,
            true,
            causes,
        );
    }
    for (i, c) in spec.containers.iter().enumerate() {
        container::container(
            c,
            &format!("spec.containers[{i}]"),
            &mut names_seen,
            &volumes,
            false,
            causes,
        );
    }
    forbid(
        causes,
        [(
            spec.ephemeral_containers
                .as_ref()
                .is_some_and(|e| !e.is_empty()),
            "spec.ephemeralContainers",
            "ephemeral containers cannot be set on create",
        )],
    );
    pod_policies(spec, causes);
}

/// restartPolicy, dnsPolicy, deadlines, nodeName and the Kubernetes service account.
fn pod_policies(spec: &PodSpec, causes: &mut Vec<Cause>) {
    if let Some(p) = spec.restart_policy.as_deref() {
        if !matches!(p, "Always" | "OnFailure" | "Never") {
            causes.push(Cause::not_supported(
                "spec.restartPolicy",
                format!("{p:?}: supported values: \"Always\", \"OnFailure\", \"Never\""),
            ));
        }
    }
    if let Some(p) = spec.dns_policy.as_deref() {
        if !matches!(
            p,
            "ClusterFirst" | "ClusterFirstWithHostNet" | "Default" | "None"
        ) {
            causes.push(Cause::not_supported(
                "spec.dnsPolicy",
                format!("{p:?}: supported values: \"ClusterFirstWithHostNet\", \"ClusterFirst\", \"Default\", \"None\""),
            ));
        }
    }
    if let Some(d) = spec.active_deadline_seconds {
        if d <= 0 {
            causes.push(Cause::invalid(
                "spec.activeDeadlineSeconds",
                format!("{d}: must be greater than 0"),
            ));
        }
    }
    if let Some(g) = spec.termination_grace_period_seconds {
        if g < 0 {
            causes.push(Cause::invalid(
                "spec.terminationGracePeriodSeconds",
                format!("{g}: must be greater than or equal to 0"),
            ));
        }
    }
    // hostPID and hostIPC are allowed: the VM is the pod's alone, so host namespaces expose
    // nothing of other pods.
    forbid(
        causes,
        [
            (
                spec.node_name.as_deref().is_some_and(|n| !n.is_empty()),
                "spec.nodeName",
                "k8sless sets nodeName to the pod's VM; leave it empty",
            ),
            (
                spec.service_account_name
                    .as_deref()
                    .is_some_and(|s| !s.is_empty() && s != "default"),
                "spec.serviceAccountName",
                "Kubernetes service accounts do not exist in k8sless; give the VM a Google service account with the annotation iam.gke.io/gcp-service-account",
            ),
            (
                spec.automount_service_account_token == Some(true),
                "spec.automountServiceAccountToken",
                "there is no Kubernetes API token to mount in k8sless",
            ),
        ],
    );
}

#[cfg(test)]
mod tests;
