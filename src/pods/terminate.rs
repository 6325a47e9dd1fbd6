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
use k8s_openapi::api::core::v1::{ContainerState, ContainerStateTerminated, PodStatus};

use super::Pods;
use super::record::{self, PodRecord};
use super::report::Merge;
use crate::error::{Error, Result};
use crate::translate::names;

/// Marks a pod `Failed` with `reason`, as Kubernetes does for a lost node: containers that had
/// not ended become terminated with `ContainerStatusUnknown` (exit code 137), readiness goes.
pub fn terminate(rec: &mut PodRecord, reason: &str, message: &str, at: Timestamp) {
    let status: &mut PodStatus = rec.pod.status.get_or_insert_with(Default::default);
    status.phase = Some("Failed".into());
    status.reason = Some(reason.into());
    status.message = Some(message.into());
    for c in status.conditions.iter_mut().flatten() {
        if matches!(c.type_.as_str(), "Ready" | "ContainersReady") && c.status != "False" {
            c.status = "False".into();
            c.reason = Some("PodFailed".into());
            c.last_transition_time = Some(super::k8s_time(at));
        }
    }
    let containers = status
        .init_container_statuses
        .iter_mut()
        .flatten()
        .chain(status.container_statuses.iter_mut().flatten());
    for cs in containers {
        let ended = cs.state.as_ref().is_some_and(|s| s.terminated.is_some());
        if !ended {
            let started_at = cs
                .state
                .as_ref()
                .and_then(|s| s.running.as_ref())
                .and_then(|r| r.started_at.clone());
            cs.last_state = cs.state.take();
            cs.state = Some(ContainerState {
                terminated: Some(ContainerStateTerminated {
                    exit_code: 137,
                    reason: Some("ContainerStatusUnknown".into()),
                    message: Some(
                        "The container could not be located when the pod was terminated".into(),
                    ),
                    started_at,
                    finished_at: Some(super::k8s_time(at)),
                    ..Default::default()
                }),
                ..Default::default()
            });
            cs.ready = false;
            cs.started = Some(false);
        }
    }
    rec.vm.finished_at = Some(at);
    rec.event(true, reason, message, at);
}

/// What happened to a VM, from a Compute Engine audit log entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum VmEventKind {
    /// `compute.instances.preempted`.
    Preempted,
    /// `compute.instances.hostError`.
    HostError,
    /// `v1.compute.instances.delete`.
    Deleted,
}

/// A Compute Engine event about one VM.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VmEvent {
    /// What happened.
    pub kind: VmEventKind,
    /// Zone.
    pub zone: String,
    /// Instance name.
    pub instance_name: String,
    /// Instance id, when the entry has it.
    pub instance_id: Option<String>,
    /// Who did it (`protoPayload.authenticationInfo.principalEmail`).
    pub principal: Option<String>,
}

impl VmEvent {
    /// The pod's reason and message.
    pub fn verdict(&self) -> (&'static str, String) {
        let vm = &self.instance_name;
        match self.kind {
            VmEventKind::Preempted => (
                "Preempted",
                format!("The VM {vm} was preempted by Compute Engine"),
            ),
            VmEventKind::HostError => (
                "NodeLost",
                format!("The VM {vm} stopped after a host error (compute.instances.hostError)"),
            ),
            VmEventKind::Deleted => (
                "Deleted",
                format!(
                    "The VM {vm} was deleted by {}",
                    self.principal
                        .as_deref()
                        .unwrap_or("someone other than k8sless")
                ),
            ),
        }
    }
}

/// The `(namespace, name)` pairs whose VM name is `vm` (no I/O).
pub fn pods_of_vm_name(vm: &str) -> Vec<(String, String)> {
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
    pub async fn find_by_vm(&self, vm: &str) -> Result<Option<PodRecord>> {
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
        let mut after: Option<String> = None;
        loop {
            let page = self
                .store
                .list(&prefix, after.as_deref(), 500)
                .await
                .map_err(|e| record::store_error(e, vm))?;
            for raw in &page.records {
                let rec = PodRecord::decode(raw)?;
                if rec.vm.name == vm {
                    return Ok(Some(rec));
                }
            }
            match page.next {
                Some(next) => after = Some(next),
                None => return Ok(None),
            }
        }
    }

    /// Applies a Compute Engine event: the pod on that VM becomes `Failed` (Preempted,
    /// NodeLost, Deleted) unless it already finished. `own_account` is k8sless' own service
    /// account: its deletions are not news.
    pub async fn apply_vm_event(
        &self,
        event: &VmEvent,
        own_account: Option<&str>,
        at: Timestamp,
    ) -> Result<Merge> {
        if event.kind == VmEventKind::Deleted
            && own_account.is_some()
            && event.principal.as_deref() == own_account
        {
            return Ok(Merge::Ignored("deleted by k8sless itself"));
        }
        let Some(found) = self.find_by_vm(&event.instance_name).await? else {
            return Ok(Merge::Ignored("no pod runs on this VM"));
        };
        let ns = found.pod.metadata.namespace.clone().unwrap_or_default();
        let name = found.pod.metadata.name.clone().unwrap_or_default();
        let (reason, message) = event.verdict();
        let mut outcome = Merge::Ignored("not applied");
        let result = record::modify(&self.store, &ns, &name, |rec| {
            outcome = if rec.vm.name != event.instance_name || rec.vm.zone != event.zone {
                Merge::Ignored("the pod runs on another VM now")
            } else if matches!((&rec.vm.instance_id, &event.instance_id), (Some(a), Some(b)) if a != b)
            {
                Merge::Ignored("event for an earlier VM of the same name")
            } else if rec.is_finished() {
                Merge::Ignored("pod already finished")
            } else if event.kind == VmEventKind::Deleted && rec.vm.deleted_at.is_some() {
                Merge::Ignored("k8sless deleted this VM")
            } else {
                terminate(rec, reason, &message, at);
                if event.kind == VmEventKind::Deleted {
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
    use k8s_openapi::api::core::v1::Pod;

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

    #[test]
    fn terminate_ends_running_containers() {
        let pod: Pod = serde_json::from_value(serde_json::json!({
            "metadata": {"name": "p", "namespace": "default", "uid": "u"},
            "status": {"phase": "Running",
                "conditions": [{"type": "Ready", "status": "True"}],
                "containerStatuses": [{"name": "c", "image": "i", "imageID": "", "ready": true,
                    "restartCount": 0, "state": {"running": {}}}]}
        }))
        .expect("pod");
        let mut rec = PodRecord::new(pod, Default::default());
        terminate(&mut rec, "Preempted", "gone", Timestamp::UNIX_EPOCH);
        let s = rec.pod.status.as_ref().expect("status");
        assert_eq!(s.phase.as_deref(), Some("Failed"));
        assert_eq!(s.reason.as_deref(), Some("Preempted"));
        let cs = &s.container_statuses.as_ref().expect("cs")[0];
        let t = cs.state.as_ref().and_then(|s| s.terminated.as_ref());
        assert_eq!(t.map(|t| t.exit_code), Some(137));
        assert!(rec.vm.finished_at.is_some());
        assert_eq!(
            rec.events.last().map(|e| e.reason.as_str()),
            Some("Preempted")
        );
    }
}
