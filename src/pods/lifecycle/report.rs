//! Merging a guest's status report into the pod record (docs/guest-protocol.md).
//!
//! # Guarantees
//! Idempotent and monotonic: a report for another pod uid, a sequence number already applied,
//! or a phase earlier than the recorded one changes nothing; a finished pod never changes
//! again. Applied with compare-and-swap on the record's generation, so concurrent deliveries
//! serialize. Delivering the same set of reports in any order, any number of times, ends in
//! the same status as delivering them once in order.

use k8s_openapi::api::core::v1::{PodCondition, PodStatus};
use serde::{Deserialize, Serialize};

use crate::guest::facts::{FAILED_ASSUMPTIONS_REASON, NODE_FACTS_REASON, NodeFacts};
use crate::pods::record::PodRecord;

/// The instance a report comes from.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ReportInstance {
    /// Instance name.
    #[serde(default)]
    pub name: String,
    /// Instance id.
    #[serde(default)]
    pub id: String,
    /// Zone.
    #[serde(default)]
    pub zone: String,
}

/// A status report (`PodReport`), as the guest publishes it.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Report {
    /// `k8sless.dev/v1`.
    #[serde(default)]
    pub api_version: String,
    /// `PodReport`.
    #[serde(default)]
    pub kind: String,
    /// Pod uid.
    pub uid: String,
    /// Namespace.
    pub namespace: String,
    /// Name.
    pub name: String,
    /// Where from.
    #[serde(default)]
    pub instance: ReportInstance,
    /// Per-VM sequence number, from 1.
    pub sequence: u64,
    /// The last report of this pod.
    #[serde(default)]
    pub r#final: bool,
    /// The VM is going away before the pod ended.
    #[serde(default)]
    pub node_lost: bool,
    /// RFC 3339.
    #[serde(default)]
    pub observed_at: Option<String>,
    /// Instance identity token (verified by the push handler).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub identity_token: Option<String>,
    /// Kubelet's view of the pod.
    #[serde(default)]
    pub status: PodStatus,
    /// What the VM found about itself on first boot (first report only; [`NodeFacts`]), raw.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub node_facts: Option<serde_json::Value>,
}

/// What a merge did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Merge {
    /// The record changed.
    Applied,
    /// Nothing to do, and why.
    Ignored(&'static str),
}

fn rank(phase: &str) -> u8 {
    match phase {
        "Pending" => 0,
        "Running" => 1,
        "Succeeded" | "Failed" => 2,
        _ => 0,
    }
}

/// Applies `report` to a record in memory; returns whether anything changed.
pub(crate) fn merge(rec: &mut PodRecord, report: &Report, at: jiff::Timestamp) -> Merge {
    if rec.pod.metadata.uid.as_deref() != Some(report.uid.as_str()) {
        return Merge::Ignored("report for another pod with the same name");
    }
    if rec.is_finished() {
        return Merge::Ignored("pod already finished");
    }
    if report.sequence <= rec.vm.last_sequence {
        return Merge::Ignored("sequence already applied");
    }
    if let Some(raw) = &report.node_facts {
        node_facts(rec, raw, at);
    }
    let current = rec.phase().to_string();
    let mut incoming = report.status.clone();
    if report.node_lost && !matches!(incoming.phase.as_deref(), Some("Succeeded" | "Failed")) {
        incoming.phase = Some("Failed".into());
        incoming.reason = Some("NodeLost".into());
        incoming.message = Some(format!(
            "the VM {} stopped before the pod finished",
            report.instance.name
        ));
    }
    // Whatever the report carries, the record keeps at most the caps (truncated, not refused).
    crate::pods::bounds::bound_status(
        &mut incoming,
        &crate::pods::bounds::spec_containers(&rec.pod),
    );
    let new_phase = incoming.phase.clone().unwrap_or_else(|| current.clone());
    if rank(&new_phase) < rank(&current) {
        // Still take the sequence so an older message can't be applied after it.
        rec.vm.last_sequence = report.sequence;
        return Merge::Applied;
    }
    let old = rec.pod.status.clone().unwrap_or_default();
    let mut status = incoming;
    status.qos_class = old.qos_class.clone();
    // Keep our PodScheduled condition; kubelet's own conditions replace the rest.
    let scheduled: Option<PodCondition> = old
        .conditions
        .iter()
        .flatten()
        .find(|c| c.type_ == "PodScheduled")
        .cloned();
    let mut conditions: Vec<PodCondition> = status
        .conditions
        .take()
        .unwrap_or_default()
        .into_iter()
        .filter(|c| c.type_ != "PodScheduled")
        .collect();
    if let Some(s) = scheduled {
        conditions.insert(0, s);
    }
    status.conditions = Some(conditions);
    if status.start_time.is_none() {
        status.start_time = old.start_time.clone();
    }
    rec.vm.last_sequence = report.sequence;
    rec.vm.last_report_at = Some(at);
    if !report.instance.id.is_empty() {
        rec.vm.instance_id = Some(report.instance.id.clone());
    }
    history_entries(rec, &old, &status, at);
    if matches!(new_phase.as_str(), "Succeeded" | "Failed") {
        rec.vm.finished_at = Some(at);
    }
    rec.pod.status = Some(status);
    Merge::Applied
}

/// Keeps the node facts of a first report on the pod: a `Normal` entry with every fact, a
/// `Warning` naming the assumptions they contradict, and the raw JSON in the service's log.
fn node_facts(rec: &mut PodRecord, raw: &serde_json::Value, at: jiff::Timestamp) {
    let Some(f) = NodeFacts::from_value(raw) else {
        tracing::warn!(pod = %rec.pod.metadata.name.as_deref().unwrap_or(""), "unreadable node facts in a report");
        return;
    };
    tracing::info!(
        namespace = %rec.pod.metadata.namespace.as_deref().unwrap_or(""),
        pod = %rec.pod.metadata.name.as_deref().unwrap_or(""),
        node_facts = %raw,
        "node facts"
    );
    rec.event(false, NODE_FACTS_REASON, f.event_message(), at);
    let failed = f.failed_assumptions();
    if !failed.is_empty() {
        rec.event(true, FAILED_ASSUMPTIONS_REASON, failed.join("; "), at);
    }
}

/// One history entry to add.
struct Entry {
    warning: bool,
    reason: &'static str,
    message: String,
}

/// History entries for what changed: containers started and ended, the pod finished, the
/// node lost.
fn history_entries(rec: &mut PodRecord, old: &PodStatus, new: &PodStatus, at: jiff::Timestamp) {
    for e in container_entries(old, new) {
        rec.event(e.warning, e.reason, e.message, at);
    }
    match new.phase.as_deref() {
        Some("Succeeded") => rec.event(
            false,
            "Completed",
            "Pod completed successfully; its VM is deleted after the grace period",
            at,
        ),
        Some("Failed") if new.reason.as_deref() == Some("NodeLost") => rec.event(
            true,
            "NodeLost",
            new.message.clone().unwrap_or_default(),
            at,
        ),
        Some("Failed") => rec.event(
            true,
            "Failed",
            new.message.clone().unwrap_or_else(|| "Pod failed".into()),
            at,
        ),
        _ => {}
    }
}

/// Entries for each container that started, ended or is backing off since `old`.
fn container_entries(old: &PodStatus, new: &PodStatus) -> Vec<Entry> {
    let all_new = new
        .init_container_statuses
        .iter()
        .flatten()
        .chain(new.container_statuses.iter().flatten());
    let mut pending = Vec::new();
    for cs in all_new {
        let before = old
            .init_container_statuses
            .iter()
            .flatten()
            .chain(old.container_statuses.iter().flatten())
            .find(|o| o.name == cs.name);
        let state = cs.state.as_ref();
        let was = before.and_then(|b| b.state.as_ref());
        if state.and_then(|s| s.running.as_ref()).is_some()
            && was.and_then(|s| s.running.as_ref()).is_none()
        {
            pending.push(Entry {
                warning: false,
                reason: "Started",
                message: format!("Started container {}", cs.name),
            });
        }
        if let Some(t) = state.and_then(|s| s.terminated.as_ref()) {
            if was.and_then(|s| s.terminated.as_ref()).is_none() {
                let reason = t.reason.clone().unwrap_or_else(|| {
                    if t.exit_code == 0 {
                        "Completed".into()
                    } else {
                        "Error".into()
                    }
                });
                pending.push(Entry {
                    warning: t.exit_code != 0,
                    reason: "Terminated",
                    message: format!(
                        "Container {} terminated: {reason} (exit code {})",
                        cs.name, t.exit_code
                    ),
                });
            }
        }
        if let Some(w) = state.and_then(|s| s.waiting.as_ref()) {
            if matches!(
                w.reason.as_deref(),
                Some(
                    "ErrImagePull"
                        | "ImagePullBackOff"
                        | "CrashLoopBackOff"
                        | "CreateContainerError"
                )
            ) {
                pending.push(Entry {
                    warning: true,
                    reason: "BackOff",
                    message: format!(
                        "{}: {}",
                        w.reason.clone().unwrap_or_default(),
                        w.message.clone().unwrap_or_default()
                    ),
                });
            }
        }
    }
    pending
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::api::core::v1::Pod;

    fn rec() -> PodRecord {
        let pod: Pod = serde_json::from_value(serde_json::json!({
            "metadata": {"name": "p", "namespace": "default", "uid": "u1"},
            "spec": {"containers": [{"name": "c", "image": "busybox"}]},
            "status": {"phase": "Pending"}
        }))
        .expect("pod");
        PodRecord::new(pod, Default::default())
    }

    fn report(seq: u64, phase: &str) -> Report {
        Report {
            uid: "u1".into(),
            namespace: "default".into(),
            name: "p".into(),
            sequence: seq,
            status: PodStatus {
                phase: Some(phase.into()),
                ..Default::default()
            },
            ..Default::default()
        }
    }

    #[test]
    fn any_order_any_repeats_same_result() {
        let reports = [
            report(1, "Pending"),
            report(2, "Running"),
            report(3, "Succeeded"),
        ];
        let mut in_order = rec();
        for r in &reports {
            merge(&mut in_order, r, jiff::Timestamp::UNIX_EPOCH);
        }
        let orders: [[usize; 6]; 3] = [[2, 1, 0, 2, 1, 0], [1, 1, 0, 2, 0, 2], [0, 2, 2, 1, 1, 0]];
        for order in orders {
            let mut r = rec();
            for i in order {
                merge(&mut r, &reports[i], jiff::Timestamp::UNIX_EPOCH);
            }
            assert_eq!(r.phase(), in_order.phase());
            assert_eq!(r.phase(), "Succeeded");
        }
    }

    #[test]
    fn other_uid_and_duplicates_are_ignored() {
        let mut r = rec();
        let mut other = report(1, "Running");
        other.uid = "u2".into();
        assert_eq!(
            merge(&mut r, &other, jiff::Timestamp::UNIX_EPOCH),
            Merge::Ignored("report for another pod with the same name")
        );
        assert_eq!(
            merge(&mut r, &report(1, "Running"), jiff::Timestamp::UNIX_EPOCH),
            Merge::Applied
        );
        assert_eq!(
            merge(&mut r, &report(1, "Running"), jiff::Timestamp::UNIX_EPOCH),
            Merge::Ignored("sequence already applied")
        );
    }

    #[test]
    fn node_facts_become_events_and_failed_assumptions_a_warning() {
        let mut r = rec();
        let mut first = report(1, "Pending");
        first.node_facts = Some(serde_json::json!({
            "osId": "cos", "cosMilestone": "121", "cgroupVersion": "2",
            "cgroupDriver": "cgroupfs", "containerdCri": "serving"
        }));
        assert_eq!(
            merge(&mut r, &first, jiff::Timestamp::UNIX_EPOCH),
            Merge::Applied
        );
        // The one entry of `reason`: its type, and a message as `expected` says.
        let entry = |reason: &str, event_type: &str, expected: fn(&str) -> bool| {
            let e = r.events.iter().find(|e| e.reason == reason);
            let e = e.unwrap_or_else(|| panic!("a {reason} entry"));
            assert_eq!(e.event_type, event_type, "{reason}");
            assert!(expected(&e.message), "{reason}: {}", e.message);
        };
        entry(NODE_FACTS_REASON, "Normal", |m| {
            m.contains("cgroup v2 driver cgroupfs")
        });
        entry(FAILED_ASSUMPTIONS_REASON, "Warning", |m| {
            m.starts_with("cgroup v2 with the cgroupfs cgroup driver")
        });

        // Facts that hold make no warning; unreadable facts make no entry; the report still
        // applies either way.
        let mut r = rec();
        let mut good = report(1, "Running");
        good.node_facts = Some(serde_json::to_value(NodeFacts::simulated("v1.33.8")).unwrap());
        merge(&mut r, &good, jiff::Timestamp::UNIX_EPOCH);
        assert!(
            r.events
                .iter()
                .all(|e| e.reason != FAILED_ASSUMPTIONS_REASON)
        );
        assert_eq!(r.phase(), "Running");
        let mut r = rec();
        let mut bad = report(1, "Running");
        bad.node_facts = Some(serde_json::json!("not an object"));
        assert_eq!(
            merge(&mut r, &bad, jiff::Timestamp::UNIX_EPOCH),
            Merge::Applied
        );
        assert!(r.events.iter().all(|e| e.reason != NODE_FACTS_REASON));
        assert_eq!(r.phase(), "Running");
    }

    #[test]
    fn node_facts_are_kept_even_when_the_phase_would_go_backwards() {
        let mut r = rec();
        merge(&mut r, &report(2, "Running"), jiff::Timestamp::UNIX_EPOCH);
        let mut late = report(3, "Pending");
        late.node_facts = Some(serde_json::to_value(NodeFacts::simulated("v1.33.8")).unwrap());
        merge(&mut r, &late, jiff::Timestamp::UNIX_EPOCH);
        assert_eq!(r.phase(), "Running");
        assert!(r.events.iter().any(|e| e.reason == NODE_FACTS_REASON));
    }

    #[test]
    fn node_lost_fails_a_running_pod() {
        let mut r = rec();
        merge(&mut r, &report(1, "Running"), jiff::Timestamp::UNIX_EPOCH);
        let mut lost = report(2, "Running");
        lost.node_lost = true;
        merge(&mut r, &lost, jiff::Timestamp::UNIX_EPOCH);
        assert_eq!(r.phase(), "Failed");
        assert_eq!(
            r.pod.status.as_ref().and_then(|s| s.reason.as_deref()),
            Some("NodeLost")
        );
    }
}
