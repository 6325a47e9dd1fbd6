//! Every status transition of a pod after its create, in one place: scheduled on a VM,
//! waiting for capacity, failed to create its VM, ended from outside its VM (preempted, host
//! error, deleted, boot timeout, deadline, node lost), and its VM deleted after it finished.
//! The guest's own reports are merged by [`super::report::merge`].
//!
//! Each function changes a record in memory and adds the matching history entry; callers
//! apply it inside a compare-and-swap ([`crate::pods::record::modify`]), after re-deciding on
//! the fresh record, so a transition is applied at most once per state.

use jiff::Timestamp;
use k8s_openapi::api::core::v1::{
    ContainerState, ContainerStateTerminated, PodCondition, PodStatus,
};

use super::decide::VmRef;
use crate::gce::GceError;
use crate::pods::k8s_time;
use crate::pods::record::PodRecord;
use crate::translate::ANNOTATION_INSTANCE;

/// A pod's reason and message when it fails.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Verdict {
    /// `status.reason` (also the history entry's reason).
    pub(crate) reason: &'static str,
    /// `status.message`.
    pub(crate) message: String,
}

/// The status of a pod just created: Pending, scheduled on its VM.
pub(crate) fn pending_status(qos_class: String, at: Timestamp) -> PodStatus {
    PodStatus {
        phase: Some("Pending".into()),
        qos_class: Some(qos_class),
        conditions: Some(vec![scheduled_condition(true, None, None, at)]),
        ..Default::default()
    }
}

/// A `PodScheduled` condition.
pub(crate) fn scheduled_condition(
    ok: bool,
    reason: Option<&str>,
    message: Option<&str>,
    at: Timestamp,
) -> PodCondition {
    PodCondition {
        type_: "PodScheduled".into(),
        status: if ok { "True" } else { "False" }.into(),
        reason: reason.map(str::to_string),
        message: message.map(str::to_string),
        last_transition_time: Some(k8s_time(at)),
        last_probe_time: None,
        observed_generation: None,
    }
}

/// Whether Compute Engine rejected the VM itself (retrying would not help).
pub(crate) fn insert_is_permanent(err: &GceError) -> bool {
    matches!(
        err,
        GceError::Invalid { .. } | GceError::PermissionDenied { .. }
    )
}

/// What users read when the VM could not be created.
pub(crate) fn insert_failure_message(err: &GceError) -> String {
    match err {
        GceError::Stockout { zone, .. } => {
            format!("zone {zone} has no capacity for this machine type right now; k8sless will retry in the next allowed zone")
        }
        GceError::Quota { message, .. } => format!("Compute Engine quota exceeded ({message}); k8sless will retry"),
        GceError::Transient { message, .. } => format!("Compute Engine is unavailable ({message}); k8sless will retry"),
        GceError::AlreadyExists { .. } => {
            "a VM with this pod's name still exists (a previous pod of the same name is being cleaned up); k8sless will retry".into()
        }
        GceError::Invalid { message, .. } => format!("Compute Engine rejected the VM: {message}"),
        GceError::PermissionDenied { message, .. } => format!("k8sless may not create this VM: {message}"),
        other => other.to_string(),
    }
}

/// Create's insert failed: Pending with `PodScheduled=False` and no nodeName, or Failed
/// (`VMCreateFailed`) when Compute Engine rejected the VM itself. `false` when an insert was
/// recorded meanwhile.
pub(crate) fn insert_failed(rec: &mut PodRecord, err: &GceError, at: Timestamp) -> bool {
    if rec.vm.inserted {
        return false;
    }
    let permanent = insert_is_permanent(err);
    let message = insert_failure_message(err);
    if let Some(spec) = rec.pod.spec.as_mut() {
        spec.node_name = None;
    }
    if let GceError::Stockout { zone, .. } = err {
        if !rec.vm.stocked_out_zones.contains(zone) {
            rec.vm.stocked_out_zones.push(zone.clone());
        }
    }
    let status = rec.pod.status.get_or_insert_with(Default::default);
    if permanent {
        status.phase = Some("Failed".into());
        status.reason = Some("VMCreateFailed".into());
        status.message = Some(message.clone());
        rec.vm.finished_at = Some(at);
    }
    status.conditions = Some(vec![scheduled_condition(
        false,
        Some("Unschedulable"),
        Some(&message),
        at,
    )]);
    let reason = if permanent {
        "FailedCreate"
    } else {
        "FailedScheduling"
    };
    rec.event(true, reason, message, at);
    true
}

/// The pod's VM exists in `vm.zone`: scheduled, with its node name.
pub(crate) fn scheduled(rec: &mut PodRecord, vm: &VmRef, now: Timestamp) {
    rec.vm.inserted = true;
    rec.vm.inserted_at = Some(vm.created.unwrap_or(now));
    rec.vm.zone = vm.zone.clone();
    if vm.id.is_some() {
        rec.vm.instance_id = vm.id.clone();
    }
    let instance = format!("zones/{}/instances/{}", vm.zone, vm.name);
    let annotations = rec
        .pod
        .metadata
        .annotations
        .get_or_insert_with(Default::default);
    let project = annotations
        .get(ANNOTATION_INSTANCE)
        .and_then(|a| a.split("/zones/").next())
        .map(str::to_string);
    if let Some(project) = project {
        annotations.insert(ANNOTATION_INSTANCE.into(), format!("{project}/{instance}"));
    }
    if let Some(spec) = rec.pod.spec.as_mut() {
        spec.node_name = Some(vm.name.clone());
    }
    let status = rec.pod.status.get_or_insert_with(Default::default);
    let mut conditions = take_all_but_scheduled(status);
    conditions.insert(0, scheduled_condition(true, None, None, now));
    status.conditions = Some(conditions);
    rec.event(
        false,
        "Scheduled",
        format!("Successfully assigned to {} in {}", vm.name, vm.zone),
        now,
    );
}

/// No zone could take the VM now: Pending, `PodScheduled=False` (`Unschedulable`).
pub(crate) fn waiting(rec: &mut PodRecord, message: &str, now: Timestamp) {
    if let Some(spec) = rec.pod.spec.as_mut() {
        spec.node_name = None;
    }
    let status = rec.pod.status.get_or_insert_with(Default::default);
    status.conditions = Some(vec![scheduled_condition(
        false,
        Some("Unschedulable"),
        Some(message),
        now,
    )]);
    rec.event(true, "FailedScheduling", message, now);
}

/// Collection's insert was rejected by Compute Engine: Failed (`VMCreateFailed`).
pub(crate) fn create_failed(rec: &mut PodRecord, message: &str, now: Timestamp) {
    rec.pod
        .status
        .get_or_insert_with(Default::default)
        .conditions = Some(vec![scheduled_condition(
        false,
        Some("Unschedulable"),
        Some(message),
        now,
    )]);
    terminate(rec, "VMCreateFailed", message, now);
}

/// A finished pod's VM is being deleted after the grace period.
pub(crate) fn finished_vm_deleted(rec: &mut PodRecord, now: Timestamp) {
    rec.vm.deleted_at = Some(now);
    rec.event(
        false,
        "VMDeleted",
        format!("Deleted VM {} after the pod finished", rec.vm.name),
        now,
    );
}

/// Marks a pod `Failed` with `reason`, as Kubernetes does for a lost node: containers that had
/// not ended become terminated with `ContainerStatusUnknown` (exit code 137), readiness goes.
pub(crate) fn terminate(rec: &mut PodRecord, reason: &str, message: &str, at: Timestamp) {
    let status: &mut PodStatus = rec.pod.status.get_or_insert_with(Default::default);
    status.phase = Some("Failed".into());
    status.reason = Some(reason.into());
    status.message = Some(message.into());
    for c in status.conditions.iter_mut().flatten() {
        if matches!(c.type_.as_str(), "Ready" | "ContainersReady") && c.status != "False" {
            c.status = "False".into();
            c.reason = Some("PodFailed".into());
            c.last_transition_time = Some(k8s_time(at));
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
                    finished_at: Some(k8s_time(at)),
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

/// Takes `status`'s conditions, all but PodScheduled (to be set anew, first).
pub(crate) fn take_all_but_scheduled(status: &mut PodStatus) -> Vec<PodCondition> {
    status
        .conditions
        .take()
        .unwrap_or_default()
        .into_iter()
        .filter(|c| c.type_ != "PodScheduled")
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::api::core::v1::Pod;

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
