//! What collection decides for one pod record, given the VMs listed for it: a pure function
//! ([`decide`]), so the rules can be read and tested in one place, and re-applied on the fresh
//! record inside each compare-and-swap (docs/lifecycle.md has the table).

use std::collections::HashMap;
use std::time::Duration;

use jiff::Timestamp;

use super::collect::CollectSettings;
use super::transitions::Verdict;
use crate::gce::types::{Instance, InstanceStatus};
use crate::pods::clock::elapsed;
use crate::pods::record::PodRecord;
use crate::translate::names::LABEL_UID;

/// How long a reported pod's VM may be missing from the list before the pod is lost.
const NODE_LOST_MARGIN: Duration = Duration::from_secs(60);

/// A listed VM.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct VmRef {
    /// Zone.
    pub(crate) zone: String,
    /// Name.
    pub(crate) name: String,
    /// Instance id.
    pub(crate) id: Option<String>,
    /// The `k8sless-uid` label.
    pub(crate) uid: String,
    /// Status.
    pub(crate) status: Option<InstanceStatus>,
    /// `creationTimestamp`.
    pub(crate) created: Option<Timestamp>,
}

impl VmRef {
    pub(crate) fn from_instance(i: &Instance, zones: &[String]) -> Self {
        let zone = i
            .zone
            .as_deref()
            .and_then(|z| z.rsplit('/').next())
            .map(str::to_string)
            .or_else(|| zones.first().cloned())
            .unwrap_or_default();
        VmRef {
            zone,
            name: i.name.clone(),
            id: i.id.clone(),
            uid: i.labels.get(LABEL_UID).cloned().unwrap_or_default(),
            status: i.status,
            created: i.creation_timestamp.as_deref().and_then(|t| t.parse().ok()),
        }
    }
}

/// Where in `vms` the VMs named `name` with the `uid` label are, through `by_name` (each
/// name's positions in `vms`): a pass looks up every record's VMs, and scanning the whole
/// list for each was quadratic in the VMs.
pub(crate) fn named<'a>(
    vms: &'a [VmRef],
    by_name: &'a HashMap<String, Vec<usize>>,
    name: &str,
    uid: &'a str,
) -> impl Iterator<Item = usize> + 'a {
    by_name
        .get(name)
        .into_iter()
        .flatten()
        .copied()
        .filter(move |&i| vms.get(i).is_some_and(|v| v.uid == uid))
}

/// Why the collector fails a pod.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Failure {
    /// No report within the boot timeout.
    BootTimeout,
    /// `activeDeadlineSeconds` passed.
    DeadlineExceeded,
    /// The VM of a reporting pod is gone.
    NodeLost,
}

/// What one record needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Step {
    /// Delete the VM(s) of a finished pod.
    DeleteFinished(Vec<VmRef>),
    /// Fail the pod and delete its VM(s).
    Fail(Failure, Vec<VmRef>),
    /// Insert the pod's VM.
    Insert,
    /// Record that the VM exists.
    Adopt(VmRef),
}

impl Step {
    pub(crate) fn same_kind(&self, other: &Step) -> bool {
        match (self, other) {
            (Step::Fail(a, _), Step::Fail(b, _)) => a == b,
            _ => std::mem::discriminant(self) == std::mem::discriminant(other),
        }
    }
}

/// Decides what a record needs, given its VMs in the list (no I/O). `listed_at` is when the
/// VM list was taken.
pub(crate) fn decide(
    rec: &PodRecord,
    ours: &[VmRef],
    now: Timestamp,
    listed_at: Timestamp,
    s: &CollectSettings,
) -> Option<Step> {
    let created = rec
        .pod
        .metadata
        .creation_timestamp
        .as_ref()
        .map(|t| t.0)
        .unwrap_or(now);
    if rec.is_finished() {
        let finished = rec.vm.finished_at.unwrap_or(created);
        let recently_deleted = rec
            .vm
            .deleted_at
            .is_some_and(|d| elapsed(d, now) < s.redelete_after);
        return (!ours.is_empty()
            && elapsed(finished, now) >= s.finished_grace
            && !recently_deleted)
            .then(|| Step::DeleteFinished(ours.to_vec()));
    }
    let status = rec.pod.status.as_ref();
    let deadline = rec
        .pod
        .spec
        .as_ref()
        .and_then(|sp| sp.active_deadline_seconds);
    let started = status.and_then(|st| st.start_time.as_ref()).map(|t| t.0);
    if let (Some(d), Some(started)) = (deadline, started) {
        if elapsed(started, now) > Duration::from_secs(d.max(0) as u64) {
            return Some(Step::Fail(Failure::DeadlineExceeded, ours.to_vec()));
        }
    }
    let reported = rec.vm.last_sequence > 0;
    if let Some(vm) = ours.first() {
        if !rec.vm.inserted {
            return Some(Step::Adopt(vm.clone()));
        }
        let booted_at = vm.created.or(rec.vm.inserted_at).unwrap_or(created);
        return (!reported && elapsed(booted_at, now) > s.boot_timeout)
            .then(|| Step::Fail(Failure::BootTimeout, ours.to_vec()));
    }
    if !reported {
        let since = rec.vm.inserted_at.unwrap_or(created);
        return (!rec.vm.inserted || elapsed(since, now) > s.reinsert_after)
            .then_some(Step::Insert);
    }
    let last = rec.vm.last_report_at.unwrap_or(created);
    (elapsed(last, listed_at) > NODE_LOST_MARGIN)
        .then_some(Step::Fail(Failure::NodeLost, Vec::new()))
}

/// The pod's reason and message when collection fails it.
pub(crate) fn failure_verdict(f: Failure, vm: &str, s: &CollectSettings) -> Verdict {
    let (reason, message) = match f {
        Failure::BootTimeout => (
            "VMBootTimeout",
            format!(
                "The VM {vm} did not report within {}s of its creation; it was deleted",
                s.boot_timeout.as_secs()
            ),
        ),
        Failure::DeadlineExceeded => (
            "DeadlineExceeded",
            "Pod was active on the node longer than the specified deadline".into(),
        ),
        Failure::NodeLost => (
            "NodeLost",
            format!("The VM {vm} is gone and the pod did not report its end"),
        ),
    };
    Verdict { reason, message }
}

#[cfg(test)]
#[path = "decide_tests.rs"]
mod tests;
