//! What a namespace's pods may run, set by an admin as annotations on the Namespace
//! (docs/namespaces.md):
//!
//! | annotation | value | default |
//! |---|---|---|
//! | `k8sless.dev/allowed-service-accounts` | comma-separated Google service account emails | the deployment's `--allowed-service-accounts` |
//! | `k8sless.dev/allow-spot` | `true` / `false` | `true` |
//! | `k8sless.dev/allow-gpus` | `true` / `false` | `true` |
//! | `k8sless.dev/machine-families` | comma-separated families (`e2,n2d`) | the deployment's `--machine-families` |
//!
//! The service accounts replace the global allow-list for the namespace (the VMs' own account,
//! `--guest-service-account`, is always allowed). Families narrow what sizing chooses from
//! (the intersection with the deployment's). A pod outside its namespace's policy is 422, worded
//! as a Kubernetes field validation error naming what is allowed.

use std::sync::Arc;

use k8s_openapi::api::core::v1::{Namespace, Pod};

use crate::error::{Cause, Error, Result};
use crate::translate::{ANNOTATION_SERVICE_ACCOUNT, VmPlan, VmSettings};

/// Google service accounts the namespace's pods may ask for.
pub(crate) const SERVICE_ACCOUNTS: &str = "k8sless.dev/allowed-service-accounts";
/// Whether its pods may run on Spot VMs.
pub(crate) const ALLOW_SPOT: &str = "k8sless.dev/allow-spot";
/// Whether its pods may have GPUs.
pub(crate) const ALLOW_GPUS: &str = "k8sless.dev/allow-gpus";
/// Machine families its pods' VMs may be of.
pub(crate) const MACHINE_FAMILIES: &str = "k8sless.dev/machine-families";

/// A namespace's policy, read from its annotations.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Policy {
    namespace: String,
    service_accounts: Option<Vec<String>>,
    spot: bool,
    gpus: bool,
    families: Option<Vec<String>>,
}

fn list(value: &str) -> Vec<String> {
    value
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_string)
        .collect()
}

fn field(key: &str) -> String {
    format!("metadata.annotations[{key}]")
}

/// Checks a Namespace's policy annotations (422 with a cause per bad value).
///
/// # Errors
/// [`Error::Invalid`] of kind Namespace.
pub(crate) fn validate(ns: &Namespace) -> Result<()> {
    let annotations = ns.metadata.annotations.clone().unwrap_or_default();
    let mut causes = Vec::new();
    for key in [ALLOW_SPOT, ALLOW_GPUS] {
        if let Some(v) = annotations.get(key) {
            if v != "true" && v != "false" {
                causes.push(Cause::not_supported(
                    field(key),
                    format!("{v:?}: supported values: \"true\", \"false\""),
                ));
            }
        }
    }
    if let Some(v) = annotations.get(SERVICE_ACCOUNTS) {
        for sa in list(v) {
            if !sa.contains('@') || sa.len() > 254 {
                causes.push(Cause::invalid(
                    field(SERVICE_ACCOUNTS),
                    format!("{sa:?}: must be a service account email"),
                ));
            }
        }
    }
    if let Some(v) = annotations.get(MACHINE_FAMILIES) {
        for f in list(v) {
            if !f
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
            {
                causes.push(Cause::invalid(
                    field(MACHINE_FAMILIES),
                    format!("{f:?}: must be a machine family such as \"e2\" or \"n2d\""),
                ));
            }
        }
    }
    Error::invalid_unless_empty("Namespace", ns.metadata.name.as_deref(), causes)
}

impl Policy {
    /// The policy of `ns` (annotations that do not parse read as their default; writes are
    /// validated, so only a record written by hand has any).
    pub(crate) fn of(ns: &Namespace) -> Self {
        let a = ns.metadata.annotations.clone().unwrap_or_default();
        Policy {
            namespace: ns.metadata.name.clone().unwrap_or_default(),
            service_accounts: a.get(SERVICE_ACCOUNTS).map(|v| list(v)),
            spot: a.get(ALLOW_SPOT).map(String::as_str) != Some("false"),
            gpus: a.get(ALLOW_GPUS).map(String::as_str) != Some("false"),
            families: a.get(MACHINE_FAMILIES).map(|v| list(v)),
        }
    }

    /// The deployment's VM settings as this namespace narrows them: its service accounts
    /// instead of the global allow-list, its families within the deployment's.
    pub(crate) fn settings(&self, global: &Arc<VmSettings>) -> Arc<VmSettings> {
        if self.service_accounts.is_none() && self.families.is_none() {
            return global.clone();
        }
        let mut s = VmSettings::clone(global);
        if let Some(accounts) = &self.service_accounts {
            s.allowed_service_accounts.clone_from(accounts);
        }
        if let Some(families) = &self.families {
            s.machine_families.retain(|f| families.contains(f));
        }
        Arc::new(s)
    }

    /// The pod's service account is one the namespace allows (before translation, so the
    /// answer names the namespace's list).
    ///
    /// # Errors
    /// 422: `metadata.annotations[iam.gke.io/gcp-service-account]: Unsupported value: "x":
    /// supported values: "a", "b"`.
    pub(crate) fn check_service_account(&self, pod: &Pod, settings: &VmSettings) -> Result<()> {
        let Some(sa) = pod
            .metadata
            .annotations
            .as_ref()
            .and_then(|a| a.get(ANNOTATION_SERVICE_ACCOUNT))
            .filter(|s| !s.is_empty())
        else {
            return Ok(());
        };
        let mut allowed: Vec<&str> = settings
            .guest_service_account
            .iter()
            .chain(settings.allowed_service_accounts.iter())
            .map(String::as_str)
            .collect();
        allowed.dedup();
        if allowed.contains(&sa.as_str()) {
            return Ok(());
        }
        let supported = if allowed.is_empty() {
            format!(
                "no service account may be asked for in namespace {:?} (annotation {SERVICE_ACCOUNTS})",
                self.namespace
            )
        } else {
            let quoted: Vec<String> = allowed.iter().map(|a| format!("{a:?}")).collect();
            format!("supported values: {}", quoted.join(", "))
        };
        Err(Error::pod_invalid(
            pod.metadata.name.as_deref().unwrap_or(""),
            vec![Cause::not_supported(
                field(ANNOTATION_SERVICE_ACCOUNT),
                format!("{sa:?}: {supported}"),
            )],
        ))
    }

    /// The translated VM is one the namespace allows: no Spot or GPUs where forbidden.
    ///
    /// # Errors
    /// 422 with a `FieldValueForbidden` cause per rule broken.
    pub(crate) fn check_plan(&self, pod: &Pod, plan: &VmPlan) -> Result<()> {
        let ns = &self.namespace;
        let mut causes = Vec::new();
        if plan.spot && !self.spot {
            causes.push(Cause::forbidden(
                "spec.nodeSelector[cloud.google.com/gke-spot]",
                format!("Spot VMs are not allowed in namespace {ns:?} ({ALLOW_SPOT}: \"false\")"),
            ));
        }
        let gpus =
            plan.machine.accelerator.is_some() || !plan.instance.guest_accelerators.is_empty();
        if gpus && !self.gpus {
            causes.push(Cause::forbidden(
                "spec.containers[*].resources.limits[nvidia.com/gpu]",
                format!("GPUs are not allowed in namespace {ns:?} ({ALLOW_GPUS}: \"false\")"),
            ));
        }
        if let Some(families) = &self.families {
            if !families.iter().any(|f| f.as_str() == plan.machine.family) {
                let quoted: Vec<String> = families.iter().map(|f| format!("{f:?}")).collect();
                causes.push(Cause::not_supported(
                    "spec.nodeSelector[node.kubernetes.io/instance-type]",
                    format!(
                        "{:?}: supported values: {} (machine families allowed in namespace {ns:?}, {MACHINE_FAMILIES})",
                        plan.machine.family,
                        quoted.join(", ")
                    ),
                ));
            }
        }
        Error::invalid_unless_empty("Pod", pod.metadata.name.as_deref(), causes)
    }
}
