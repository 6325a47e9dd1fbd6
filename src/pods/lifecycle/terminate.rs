//! Ending a pod from outside its VM: Compute Engine events (preemption, host error, a VM deleted
//! by hand) and the collector's verdicts (boot timeout, deadline, VM gone) all end here, as a
//! `Failed` pod with a reason, the way Kubernetes ends a pod whose node went away.
//!
//! # Guarantees
//! Idempotent and monotonic: a finished pod is never changed, so the same event delivered
//! any number of times, or after the pod's own final report, changes nothing more. Applied
//! with compare-and-swap on the record.
//!
//! Before a pod is failed, Compute Engine is asked (`instances.get`) whether the VM is in fact
//! gone, stopped, or (for a preemption) a stopped Spot VM ([`confirms`]): an audit log entry
//! can be forged by anyone who can write log entries, a pod's own VM included.
//!
//! # Caveats
//! Events name the VM, not the pod. [`Pods::find_by_vm`] recovers the pod from the VM name
//! (readable prefix + hash); a name that was sanitized or truncated falls back to a scan of
//! the records, which reads every record (rare: only pods whose names have dots or are long).

use jiff::Timestamp;

use super::report::Merge;
use super::transitions::{Verdict, terminate};
use crate::error::{Error, Result};
use crate::gce::GceError;
use crate::gce::types::{Instance, InstanceStatus};
use crate::pods::Pods;
use crate::pods::record::{self, PodRecord};
use crate::store::Pager;
use crate::translate::names;

/// What happened to a VM, from a Compute Engine audit log entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum VmIncidentKind {
    /// `compute.instances.preempted`.
    Preempted,
    /// `compute.instances.hostError`.
    HostError,
    /// `v1.compute.instances.delete`.
    Deleted,
}

/// A Compute Engine event about one VM.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct VmIncident {
    /// What happened.
    pub(crate) kind: VmIncidentKind,
    /// Zone.
    pub(crate) zone: String,
    /// Instance name.
    pub(crate) instance_name: String,
    /// Instance id, when the entry has it.
    pub(crate) instance_id: Option<String>,
    /// Who did it (`protoPayload.authenticationInfo.principalEmail`).
    pub(crate) principal: Option<String>,
}

impl VmIncident {
    /// The pod's reason and message.
    pub(crate) fn verdict(&self) -> Verdict {
        let vm = &self.instance_name;
        let (reason, message) = match self.kind {
            VmIncidentKind::Preempted => (
                "Preempted",
                format!("The VM {vm} was preempted by Compute Engine"),
            ),
            VmIncidentKind::HostError => (
                "NodeLost",
                format!("The VM {vm} stopped after a host error (compute.instances.hostError)"),
            ),
            VmIncidentKind::Deleted => (
                "Deleted",
                format!(
                    "The VM {vm} was deleted by {}",
                    self.principal
                        .as_deref()
                        .unwrap_or("someone other than k8sless")
                ),
            ),
        };
        Verdict { reason, message }
    }
}

/// The `(namespace, name)` pairs whose VM name is `vm` in `deployment` (no I/O): names of the
/// current scheme, and of the one before deployments (records keep their VM's name).
pub(crate) fn pods_of_vm_name(deployment: &str, vm: &str) -> Vec<(String, String)> {
    let current = split_vm_name(vm, &names::vm_name_prefix(deployment), |ns, name| {
        names::vm_name(deployment, ns, name)
    });
    let legacy = split_vm_name(vm, "k8s-", names::legacy_vm_name);
    current.into_iter().chain(legacy).collect()
}

/// The splits of `vm` (after `prefix`, before `-<hash8>`) that `name_of` maps back to `vm`.
fn split_vm_name(
    vm: &str,
    prefix: &str,
    name_of: impl Fn(&str, &str) -> String,
) -> Vec<(String, String)> {
    let Some(middle) = vm
        .strip_prefix(prefix)
        .and_then(|rest| rest.get(..rest.len().saturating_sub(9)))
    else {
        return Vec::new();
    };
    middle
        .match_indices('-')
        .map(|(i, _)| (&middle[..i], &middle[i + 1..]))
        .filter(|(ns, name)| !ns.is_empty() && !name.is_empty())
        .filter(|(ns, name)| name_of(ns, name) == vm)
        .map(|(ns, name)| (ns.to_string(), name.to_string()))
        .collect()
}

/// Whether Compute Engine's own view of the VM bears an incident out: the VM is gone (404),
/// stopping or stopped, and for a preemption it is a Spot or preemptible VM. An entry that
/// names another VM of the same name (its id differs) is not borne out.
pub(crate) fn confirms(incident: &VmIncident, vm: Option<&Instance>) -> bool {
    let Some(vm) = vm else {
        return true;
    };
    if matches!((&vm.id, &incident.instance_id), (Some(a), Some(b)) if a != b) {
        return false;
    }
    let stopped = matches!(
        vm.status,
        Some(InstanceStatus::Stopping | InstanceStatus::Terminated | InstanceStatus::Suspended)
    );
    match incident.kind {
        VmIncidentKind::Preempted => {
            let spot = vm.scheduling.as_ref().is_some_and(|s| {
                s.preemptible == Some(true) || s.provisioning_model.as_deref() == Some("SPOT")
            });
            stopped && spot
        }
        VmIncidentKind::HostError | VmIncidentKind::Deleted => stopped,
    }
}

impl Pods {
    /// The record of the pod whose VM is named `vm`, if any.
    pub(crate) async fn find_by_vm(&self, vm: &str) -> Result<Option<PodRecord>> {
        for (ns, name) in pods_of_vm_name(&self.settings.deployment, vm) {
            let rec = record::load_if_exists(&self.store, &ns, &name).await?;
            if let Some(rec) = rec.filter(|r| r.vm.name == vm) {
                return Ok(Some(rec));
            }
        }
        if !vm.starts_with("k8s-") {
            return Ok(None);
        }
        // Sanitized or truncated names: scan.
        let prefix = record::prefix(None);
        let mut pages = Pager::new(&**self.store(), prefix, 500);
        while let Some(page) = pages
            .next_page()
            .await
            .map_err(|e| Error::pod_store(e, vm))?
        {
            // One unreadable or corrupt record does not hide the others' VMs.
            for raw in &page.records {
                match PodRecord::decode(raw) {
                    Ok(rec) if rec.vm.name == vm => return Ok(Some(rec)),
                    Ok(_) => {}
                    Err(e) => {
                        tracing::error!(key = %raw.key, error = %e, "skipping a corrupt pod record")
                    }
                }
            }
        }
        Ok(None)
    }

    /// Applies a Compute Engine incident: the pod on that VM becomes `Failed` (Preempted,
    /// NodeLost, Deleted) unless it already finished. `own_account` is k8sless' own service
    /// account: its deletions are not news.
    pub(crate) async fn apply_vm_incident(
        &self,
        incident: &VmIncident,
        own_account: Option<&str>,
        at: Timestamp,
    ) -> Result<Merge> {
        if incident.kind == VmIncidentKind::Deleted
            && own_account.is_some()
            && incident.principal.as_deref() == own_account
        {
            return Ok(Merge::Ignored("deleted by k8sless itself"));
        }
        let Some(found) = self.find_by_vm(&incident.instance_name).await? else {
            return Ok(Merge::Ignored("no pod runs on this VM"));
        };
        let ns = found.pod.metadata.namespace.clone().unwrap_or_default();
        let name = found.pod.metadata.name.clone().unwrap_or_default();
        if found.is_finished()
            || found.vm.name != incident.instance_name
            || found.vm.zone != incident.zone
        {
            return Ok(Merge::Ignored("the pod runs on another VM, or finished"));
        }
        // Anyone who can write a log entry can forge one: ask Compute Engine.
        let vm = match self
            .compute
            .get(&incident.zone, &incident.instance_name)
            .await
        {
            Ok(vm) => Some(vm),
            Err(GceError::NotFound { .. }) => None,
            Err(e) => return Err(e.into()),
        };
        if !confirms(incident, vm.as_ref()) {
            tracing::warn!(
                vm = %incident.instance_name,
                zone = %incident.zone,
                kind = ?incident.kind,
                status = ?vm.as_ref().and_then(|v| v.status),
                "a Compute Engine event that Compute Engine does not bear out; ignored"
            );
            return Ok(Merge::Ignored("Compute Engine does not bear the event out"));
        }
        let verdict = incident.verdict();
        let mut outcome = Merge::Ignored("not applied");
        let result = record::modify(&self.store, &ns, &name, |rec| {
            outcome = if rec.vm.name != incident.instance_name || rec.vm.zone != incident.zone {
                Merge::Ignored("the pod runs on another VM now")
            } else if matches!((&rec.vm.instance_id, &incident.instance_id), (Some(a), Some(b)) if a != b)
            {
                Merge::Ignored("event for an earlier VM of the same name")
            } else if rec.is_finished() {
                Merge::Ignored("pod already finished")
            } else if incident.kind == VmIncidentKind::Deleted && rec.vm.deleted_at.is_some() {
                Merge::Ignored("k8sless deleted this VM")
            } else {
                terminate(rec, verdict.reason, &verdict.message, at);
                if incident.kind == VmIncidentKind::Deleted {
                    rec.vm.deleted_at = Some(at);
                }
                Merge::Applied
            };
            Ok(outcome == Merge::Applied)
        })
        .await;
        match result {
            Ok(_) => Ok(outcome),
            Err(Error::NotFound { .. }) => Ok(Merge::Ignored("the pod no longer exists")),
            Err(e) => Err(e),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn vm_names_lead_back_to_their_pod() {
        for (ns, name) in [("default", "hello"), ("team-a", "job-1-x"), ("a-b", "c")] {
            let vm = names::vm_name("dep", ns, name);
            let pod = vec![(ns.to_string(), name.to_string())];
            assert_eq!(pods_of_vm_name("dep", &vm), pod);
            // A record written before deployments names its VM the old way.
            assert_eq!(
                pods_of_vm_name("dep", &names::legacy_vm_name(ns, name)),
                pod
            );
            assert!(pods_of_vm_name("other", &vm).is_empty());
        }
        assert!(pods_of_vm_name("dep", "web-1").is_empty());
        assert!(pods_of_vm_name("dep", &names::vm_name("dep", "default", "a.b")).is_empty());
    }

    fn incident(kind: VmIncidentKind) -> VmIncident {
        VmIncident {
            kind,
            zone: "us-central1-a".into(),
            instance_name: "k8s-x".into(),
            instance_id: Some("7".into()),
            principal: None,
        }
    }

    fn vm(status: InstanceStatus, spot: bool) -> Instance {
        Instance {
            id: Some("7".into()),
            status: Some(status),
            scheduling: Some(crate::gce::types::Scheduling {
                provisioning_model: spot.then(|| "SPOT".to_string()),
                ..Default::default()
            }),
            ..Default::default()
        }
    }

    #[test]
    fn only_what_compute_engine_bears_out_is_confirmed() {
        use InstanceStatus::*;
        use VmIncidentKind::*;
        assert!(confirms(&incident(Preempted), None));
        assert!(confirms(&incident(Preempted), Some(&vm(Terminated, true))));
        assert!(!confirms(&incident(Preempted), Some(&vm(Running, true))));
        assert!(!confirms(
            &incident(Preempted),
            Some(&vm(Terminated, false))
        ));
        assert!(confirms(&incident(Deleted), Some(&vm(Stopping, false))));
        assert!(!confirms(&incident(Deleted), Some(&vm(Running, false))));
        assert!(!confirms(&incident(HostError), Some(&vm(Running, false))));
        let mut other = vm(Terminated, true);
        other.id = Some("8".into());
        assert!(!confirms(&incident(Preempted), Some(&other)));
    }
}
