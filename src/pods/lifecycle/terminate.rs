//! Ending a pod from outside its VM: Compute Engine events (preemption, host error, a VM deleted
//! by hand) and the collector's verdicts (boot timeout, deadline, VM gone) all end here, as a
//! `Failed` pod with a reason, the way Kubernetes ends a pod whose node went away.
//!
//! # Guarantees
//! Idempotent and monotonic: a finished pod is never changed, so the same event delivered
//! any number of times, or after the pod's own final report, changes nothing more. Applied
//! with compare-and-swap on the record.
//!
//! # Caveats
//! Events name the VM, not the pod. [`Pods::find_by_vm`] recovers the pod from the VM name
//! (readable prefix + hash); a name that was sanitized or truncated falls back to a scan of
//! the records, which reads every record (rare: only pods whose names have dots or are long).

use jiff::Timestamp;

use super::report::Merge;
use super::transitions::{Verdict, terminate};
use crate::store::Pager;
use crate::error::{Error, Result};
use crate::pods::Pods;
use crate::pods::record::{self, PodRecord};
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

/// The `(namespace, name)` pairs whose VM name is `vm` (no I/O).
pub(crate) fn pods_of_vm_name(vm: &str) -> Vec<(String, String)> {
    let Some(middle) = vm
        .strip_prefix("k8s-")
        .and_then(|rest| rest.get(..rest.len().saturating_sub(9)))
    else {
        return Vec::new();
    };
    middle
        .match_indices('-')
        .map(|(i, _)| (&middle[..i], &middle[i + 1..]))
        .filter(|(ns, name)| !ns.is_empty() && !name.is_empty())
        .filter(|(ns, name)| names::vm_name(ns, name) == vm)
        .map(|(ns, name)| (ns.to_string(), name.to_string()))
        .collect()
}

impl Pods {
    /// The record of the pod whose VM is named `vm`, if any.
    pub(crate) async fn find_by_vm(&self, vm: &str) -> Result<Option<PodRecord>> {
        for (ns, name) in pods_of_vm_name(vm) {
            match record::load(&self.store, &ns, &name).await {
                Ok(rec) if rec.vm.name == vm => return Ok(Some(rec)),
                Ok(_) | Err(Error::NotFound { .. }) => {}
                Err(e) => return Err(e),
            }
        }
        if !vm.starts_with("k8s-") {
            return Ok(None);
        }
        // Sanitized or truncated names: scan.
        let prefix = record::prefix(None);
        let mut pages = Pager::new(&**self.store(), prefix, 500);
        while let Some(page) = pages.next_page().await.map_err(|e| Error::pod_store(e, vm))? {
            for raw in &page.records {
                let rec = PodRecord::decode(raw)?;
                if rec.vm.name == vm {
                    return Ok(Some(rec));
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
            let vm = names::vm_name(ns, name);
            assert_eq!(
                pods_of_vm_name(&vm),
                vec![(ns.to_string(), name.to_string())]
            );
        }
        assert!(pods_of_vm_name("web-1").is_empty());
        assert!(pods_of_vm_name(&names::vm_name("default", "a.b")).is_empty());
    }
}
