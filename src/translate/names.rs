//! Deterministic VM names, labels and insert request ids for a pod.
//!
//! The instance name is `k8s-<deployment tag>-<namespace>-<name>-<hash8>`: the deployment's tag
//! (six hex digits of its id's SHA-256) comes first, so one IAM condition on the name prefix
//! limits a deployment's service account to its own VMs (docs/security.md), and the hash covers
//! `deployment/namespace/name`, so two pods, even of two deployments in one project, never map
//! to one VM and a retried create never makes two. Records store their VM's name, so records
//! written before the tag existed (`k8s-<namespace>-<name>-<hash8>`, [`legacy_vm_name`]) keep
//! their VM. The `requestId` of an insert derives
//! from the pod's uid, the zone and the attempt number: retries of one attempt are deduplicated
//! by Compute Engine, while a new attempt (another zone after a stockout) is a new request.

use std::collections::BTreeMap;

use sha2::{Digest, Sha256};
use uuid::Uuid;

use crate::gce::labels::{sanitize_value, valid_label_key, valid_label_value};

/// Label marking every VM k8sless owns.
pub const LABEL_MANAGED: &str = "k8sless";
/// Label with the pod's namespace (label-safe).
pub(crate) const LABEL_NAMESPACE: &str = "k8sless-namespace";
/// Label with the pod's name (label-safe, truncated).
pub const LABEL_POD: &str = "k8sless-pod";
/// Label with the pod's uid: the owner check for idempotent inserts.
pub const LABEL_UID: &str = "k8sless-uid";
/// Label with the deployment's id: collection and the orphan sweep touch only VMs that carry
/// their own deployment's.
pub const LABEL_DEPLOYMENT: &str = "k8sless-deployment";

/// Namespace of the v5 UUIDs k8sless derives (a fixed random UUID).
const REQUEST_ID_NAMESPACE: Uuid = Uuid::from_u128(0x6b38_736c_6573_4f72_9c1d_2f1a_7e0b_5d33);

/// The six hex digits that follow `k8s-` in every VM name of `deployment`.
pub(crate) fn deployment_tag(deployment: &str) -> String {
    let hash = Sha256::digest(deployment.as_bytes());
    hash[..3].iter().map(|b| format!("{b:02x}")).collect()
}

/// The network tag of `deployment`'s VMs whose kubelet the service reaches: `k8sless-<tag>`,
/// what terraform/'s firewall rule for tcp:10250 targets.
pub(crate) fn kubelet_network_tag(deployment: &str) -> String {
    format!("k8sless-{}", deployment_tag(deployment))
}

/// The prefix of every VM name of `deployment`: `k8s-<tag>-` (what the IAM condition names).
pub fn vm_name_prefix(deployment: &str) -> String {
    format!("k8s-{}-", deployment_tag(deployment))
}

/// `k8s-<tag>-<namespace>-<name>-<hash8>`, RFC 1035, at most 63 characters.
pub fn vm_name(deployment: &str, namespace: &str, name: &str) -> String {
    let hash = Sha256::digest(format!("{deployment}/{namespace}/{name}").as_bytes());
    let suffix: String = hash[..4].iter().map(|b| format!("{b:02x}")).collect();
    let prefix = vm_name_prefix(deployment);
    let readable = sanitize(
        &format!("{prefix}{namespace}-{name}"),
        63 - 1 - suffix.len(),
    );
    format!("{readable}-{suffix}")
}

/// The name scheme before deployments: `k8s-<namespace>-<name>-<hash8>` (records written then
/// still name such VMs).
pub(crate) fn legacy_vm_name(namespace: &str, name: &str) -> String {
    let hash = Sha256::digest(format!("{namespace}/{name}").as_bytes());
    let suffix: String = hash[..4].iter().map(|b| format!("{b:02x}")).collect();
    let readable = sanitize(&format!("k8s-{namespace}-{name}"), 63 - 1 - suffix.len());
    format!("{readable}-{suffix}")
}

/// Lowercase, `[a-z0-9-]`, no repeated or trailing dashes, at most `max` characters.
fn sanitize(s: &str, max: usize) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        let c = c.to_ascii_lowercase();
        let c = if c.is_ascii_lowercase() || c.is_ascii_digit() {
            c
        } else {
            '-'
        };
        if c == '-' && out.ends_with('-') {
            continue;
        }
        out.push(c);
        if out.len() == max {
            break;
        }
    }
    out.trim_end_matches('-').to_string()
}

/// The insert `requestId` for attempt `attempt` of the pod's VM in `zone` (never nil).
pub fn request_id(uid: &str, zone: &str, attempt: u32) -> Uuid {
    Uuid::new_v5(
        &REQUEST_ID_NAMESPACE,
        format!("{uid}/{zone}/{attempt}").as_bytes(),
    )
}

/// A Compute Engine label key from a Kubernetes label key, or `None` if nothing usable is left.
pub(crate) fn label_key(k: &str) -> Option<String> {
    let mut key = sanitize_value(k.rsplit('/').next().unwrap_or(k));
    if !key.starts_with(|c: char| c.is_ascii_lowercase()) {
        key = format!("l-{key}");
        key.truncate(63);
    }
    valid_label_key(&key).then_some(key)
}

/// The VM's labels: k8sless' own, then as many of the pod's as fit Compute Engine's rules
/// (keys that collide with k8sless' are skipped; at most 64 labels in all).
pub(crate) fn vm_labels(
    deployment: &str,
    namespace: &str,
    name: &str,
    uid: &str,
    pod_labels: Option<&BTreeMap<String, String>>,
) -> BTreeMap<String, String> {
    let mut labels = BTreeMap::new();
    labels.insert(LABEL_MANAGED.to_string(), "true".to_string());
    labels.insert(LABEL_NAMESPACE.to_string(), sanitize_value(namespace));
    labels.insert(LABEL_POD.to_string(), sanitize_value(name));
    labels.insert(LABEL_UID.to_string(), sanitize_value(uid));
    labels.insert(LABEL_DEPLOYMENT.to_string(), sanitize_value(deployment));
    for (k, v) in pod_labels.into_iter().flatten() {
        if labels.len() >= crate::gce::labels::LABELS_MAX {
            break;
        }
        let Some(key) = label_key(k) else { continue };
        if key.starts_with(LABEL_MANAGED) || labels.contains_key(&key) {
            continue;
        }
        let value = sanitize_value(v);
        if valid_label_value(&value) {
            labels.insert(key, value);
        }
    }
    labels
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::gce::labels::valid_resource_name;

    #[test]
    fn names_are_valid_distinct_and_stable() {
        let a = vm_name("d1", "default", "hello");
        let tag = deployment_tag("d1");
        assert_eq!(tag.len(), 6);
        assert!(a.starts_with(&format!("k8s-{tag}-default-hello-")), "{a}");
        assert!(a.starts_with(&vm_name_prefix("d1")));
        assert!(valid_resource_name(&a));
        assert_eq!(a, vm_name("d1", "default", "hello"));
        assert_ne!(vm_name("d1", "a-b", "c"), vm_name("d1", "a", "b-c"));
        // Two deployments in one project never share a VM name.
        assert_ne!(a, vm_name("d2", "default", "hello"));
        let long = vm_name("d1", &"n".repeat(63), &"x.y".repeat(80));
        assert!(valid_resource_name(&long), "{long}");
        assert_eq!(long.len(), 63);
        assert!(legacy_vm_name("default", "hello").starts_with("k8s-default-hello-"));
    }

    #[test]
    fn request_ids_are_deterministic_per_attempt() {
        let a = request_id("uid", "us-central1-a", 0);
        assert_eq!(a, request_id("uid", "us-central1-a", 0));
        assert_ne!(a, request_id("uid", "us-central1-b", 0));
        assert_ne!(a, request_id("uid", "us-central1-a", 1));
        assert!(!a.is_nil());
    }

    #[test]
    fn pod_labels_are_sanitized_and_reserved_keys_kept() {
        let mut pod = BTreeMap::new();
        pod.insert("app.kubernetes.io/Name".to_string(), "My.App".to_string());
        pod.insert("k8sless".to_string(), "false".to_string());
        pod.insert("9lives".to_string(), "x".to_string());
        let l = vm_labels("dep", "default", "p", "u-1", Some(&pod));
        assert_eq!(l.get(LABEL_DEPLOYMENT).map(String::as_str), Some("dep"));
        assert_eq!(l.get("k8sless").map(String::as_str), Some("true"));
        assert_eq!(l.get("name").map(String::as_str), Some("my_app"));
        assert_eq!(l.get("l-9lives").map(String::as_str), Some("x"));
        assert!(crate::gce::labels::check_labels(&l).is_ok());
    }
}
