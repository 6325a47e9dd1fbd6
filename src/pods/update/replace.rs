//! Updating a pod: `PUT` (replace), `PATCH` (JSON patch, merge patch, strategic merge patch)
//! and the `status` subresource, with Kubernetes' update rules and optimistic concurrency.
//!
//! # Guarantees
//! - A `PUT` carrying a stale `resourceVersion` is 409 Conflict; a `PATCH` applies to the
//!   version it read and is retried from scratch when the compare-and-swap loses.
//! - Only what Kubernetes lets a pod update change may change; `kubectl.kubernetes.io/
//!   last-applied-configuration` is stored verbatim like every annotation.
//! - What cannot reach a running VM (an image change: the VM's kubelet runs the manifest it
//!   booted with) is rejected with a Forbidden cause that says so.

use k8s_openapi::api::core::v1::Pod;
use serde_json::Value;

use super::patch::{self, PatchError};
use super::rules::{self, FieldCause};
use super::strategic::apply_strategic_merge_patch;
use crate::codec::strict;
use crate::error::{Cause, Error, Result};
use crate::pods::crud::defaults;
use crate::pods::record;
use crate::pods::{DryRun, Pods, validate};

/// A patch document and its type.
#[derive(Debug, Clone)]
pub enum PatchKind {
    /// `application/json-patch+json`.
    Json,
    /// `application/merge-patch+json`.
    Merge,
    /// `application/strategic-merge-patch+json`.
    Strategic,
}

/// A patched pod, and the fields of the patched document the Pod schema does not know (for
/// `fieldValidation`).
#[derive(Debug, Clone)]
pub struct Patched {
    /// The pod as stored (or as it would be, for a dry run).
    pub pod: Pod,
    /// Unknown fields, with Kubernetes' paths.
    pub unknown_fields: Vec<String>,
}

/// Which part of the pod an update writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Part {
    /// Metadata and spec (status kept).
    Main,
    /// Status only (metadata and spec kept).
    Status,
}

impl From<FieldCause> for Cause {
    fn from(c: FieldCause) -> Self {
        let message = [
            "Forbidden: ",
            "Invalid value: ",
            "Unsupported value: ",
            "Duplicate value: ",
        ]
        .iter()
        .find_map(|p| c.message.strip_prefix(p))
        .unwrap_or(&c.message)
        .to_string();
        Cause {
            reason: c.reason,
            message,
            field: c.field,
        }
    }
}

pub(crate) fn patch_error(e: PatchError) -> Error {
    match e {
        PatchError::Malformed { message } => Error::bad_request(message),
        PatchError::Unprocessable { message } => Error::Invalid {
            kind: "Pod",
            name: String::new(),
            causes: vec![Cause::invalid("", message)],
        },
        other @ PatchError::TooManyOperations { .. } => Error::bad_request(other.to_string()),
        PatchError::TooLarge { limit } => Error::TooLarge { limit },
    }
}

impl Pods {
    /// `PUT`: replaces the pod (or its status) with `new`.
    pub async fn replace(
        &self,
        namespace: &str,
        name: &str,
        new: Pod,
        part: Part,
        dry_run: DryRun,
    ) -> Result<Pod> {
        let expected = new
            .metadata
            .resource_version
            .clone()
            .filter(|v| !v.is_empty());
        if new.metadata.name.as_deref().is_some_and(|n| n != name) {
            return Err(Error::bad_request(format!(
                "the name of the object ({:?}) does not match the name on the URL ({name:?})",
                new.metadata.name.as_deref().unwrap_or("")
            )));
        }
        if new
            .metadata
            .namespace
            .as_deref()
            .is_some_and(|n| !n.is_empty() && n != namespace)
        {
            return Err(Error::bad_request(
                "the namespace of the provided object does not match the namespace sent on the request",
            ));
        }
        let build = move |current: &Pod| {
            if let Some(rv) = &expected {
                if current.metadata.resource_version.as_ref() != Some(rv) {
                    return Err(Error::pod_conflict(name));
                }
            }
            Ok(new.clone())
        };
        self.write(namespace, name, dry_run, build, part).await
    }

    /// `PATCH`: applies `patch` to the pod (or its status).
    pub async fn patch(
        &self,
        namespace: &str,
        name: &str,
        kind: PatchKind,
        patch: Value,
        part: Part,
        dry_run: DryRun,
    ) -> Result<Patched> {
        let mut unknown = Vec::new();
        let pod = self
            .write(
                namespace,
                name,
                dry_run,
                |current| {
                    let original = serde_json::to_value(current)
                        .map_err(|e| Error::internal_from("encoding the pod to patch", e))?;
                    let patched = match kind {
                        PatchKind::Json => {
                            patch::apply_json_patch(&original, &patch).map_err(patch_error)?
                        }
                        PatchKind::Merge => patch::apply_merge_patch(&original, &patch),
                        PatchKind::Strategic => {
                            apply_strategic_merge_patch(&original, &patch).map_err(patch_error)?
                        }
                    };
                    patch::check_result(&patched).map_err(patch_error)?;
                    unknown = strict::unknown_fields("io.k8s.api.core.v1.Pod", &patched);
                    let mut pod: Pod = serde_json::from_value(patched).map_err(|e| {
                        Error::bad_request(format!("the patched object is not a valid Pod: {e}"))
                    })?;
                    // A patch applies to the version read; the CAS below catches a concurrent write.
                    pod.metadata
                        .resource_version
                        .clone_from(&current.metadata.resource_version);
                    Ok(pod)
                },
                part,
            )
            .await?;
        Ok(Patched {
            pod,
            unknown_fields: unknown,
        })
    }

    /// Read, build the new pod from the current one, check, compare-and-swap; retried on a
    /// lost swap (the builder runs again on the fresh version).
    async fn write<F>(
        &self,
        namespace: &str,
        name: &str,
        dry_run: DryRun,
        mut build: F,
        part: Part,
    ) -> Result<Pod>
    where
        F: FnMut(&Pod) -> Result<Pod>,
    {
        let written = record::modify(&self.store, namespace, name, |rec| {
            let old = &rec.pod;
            let mut new = build(old)?;
            new.metadata.namespace = Some(namespace.to_string());
            new.metadata.name = Some(name.to_string());
            match part {
                Part::Main => checked_update(old, &mut new, name)?,
                Part::Status => {
                    let status = new.status.take();
                    new = old.clone();
                    new.status = status;
                }
            }
            new.metadata
                .resource_version
                .clone_from(&old.metadata.resource_version);
            rec.pod = new;
            Ok(dry_run == DryRun::No)
        })
        .await?;
        Ok(written.pod)
    }
}

/// Completes `new` from `old` as the API server does, then checks it against Kubernetes'
/// update rules, what a running VM can take, and the spec's own rules, in that order.
fn checked_update(old: &Pod, new: &mut Pod, name: &str) -> Result<()> {
    rules::prepare_pod_update(old, new);
    // Fields only k8sless sets stay as they are.
    if let (Some(spec), Some(old_spec)) = (new.spec.as_mut(), old.spec.as_ref()) {
        if spec.node_name.is_none() {
            spec.node_name.clone_from(&old_spec.node_name);
        }
    }
    defaults::apply(new);
    let mut causes: Vec<Cause> = Vec::new();
    if let Err(c) = rules::validate_pod_update(old, new) {
        causes.extend(c.into_iter().map(Cause::from));
    }
    if causes.is_empty() {
        causes.extend(unreachable_changes(old, new));
    }
    if causes.is_empty() {
        // The spec's own rules (labels, annotations size, ...).
        if let Err(c) = validate::validate(&without_node_name(new)) {
            causes.extend(c);
        }
    }
    Error::invalid_unless_empty("Pod", Some(name), causes)
}

/// Validation of the spec ignores the nodeName k8sless set itself.
fn without_node_name(pod: &Pod) -> Pod {
    let mut p = pod.clone();
    if let Some(s) = p.spec.as_mut() {
        s.node_name = None;
    }
    p
}

/// Changes Kubernetes allows but a running VM cannot take.
fn unreachable_changes(old: &Pod, new: &Pod) -> Vec<Cause> {
    let mut causes = Vec::new();
    let (Some(o), Some(n)) = (old.spec.as_ref(), new.spec.as_ref()) else {
        return causes;
    };
    let pairs = [
        (
            "spec.initContainers",
            o.init_containers.as_deref().unwrap_or(&[]),
            n.init_containers.as_deref().unwrap_or(&[]),
        ),
        ("spec.containers", &o.containers[..], &n.containers[..]),
    ];
    for (path, before, after) in pairs {
        for (i, (b, a)) in before.iter().zip(after.iter()).enumerate() {
            if b.image != a.image {
                causes.push(Cause::forbidden(
                    format!("{path}[{i}].image"),
                    "k8sless cannot change the image of a pod whose VM is already running it (the VM's kubelet runs the manifest it booted with); delete the pod and create it again with the new image",
                ));
            }
        }
    }
    causes
}
