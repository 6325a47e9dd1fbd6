//! What a pod record may hold: caps on what a status report may carry, on history entries, and
//! on a record's encoded size (docs/security.md, "A pod's reports and its record").
//!
//! A pod's VM runs the pod's workload, so everything a report says is untrusted: without caps,
//! one pod could grow its own record to hundreds of megabytes, and every list, watch and `/gc`
//! downloads every record. An over-size report is **truncated, never refused**, so the pod's
//! phase still advances; truncation is UTF-8-safe (it cuts at a character boundary).
//!
//! The caps follow Kubernetes where it has one:
//! - a container's termination message is at most 4096 bytes and all of a pod's at most 12 KiB,
//!   split evenly across its containers (kubelet's `MaxContainerTerminationMessageLength` and
//!   `MaxPodTerminationMessageLogLength`, pkg/kubelet/container/runtime.go; applied in the
//!   status manager's `normalizeStatus`, pkg/kubelet/status/status_manager.go);
//! - an event's reason at most 128 bytes and its message (events.k8s.io `note`) at most 1 KiB
//!   (pkg/apis/events/validation);
//!
//! and are k8sless' own where Kubernetes has none (condition and waiting messages: 1 KiB, like
//! an event's; other free-text fields: 1 KiB; at most 16 conditions and 2 pod IPs and host IPs,
//! one status per container of the spec). [`RECORD_MAX`] is the backstop every write enforces.

use k8s_openapi::api::core::v1::{ContainerState, ContainerStatus, PodStatus};

/// Largest encoded record every write accepts (create and [`super::record::modify`]): the
/// largest pod a create accepts (the 3 MiB body limit) plus room for its status and history.
pub(crate) const RECORD_MAX: usize = 4 * 1024 * 1024;
/// A container's termination message (kubelet's `MaxContainerTerminationMessageLength`).
pub(crate) const CONTAINER_TERMINATION_MESSAGE_MAX: usize = 4096;
/// All termination messages of a pod (kubelet's `MaxPodTerminationMessageLogLength`).
pub(crate) const POD_TERMINATION_MESSAGES_MAX: usize = 12 * 1024;
/// Reasons (an event's reason, a status or condition reason).
pub(crate) const REASON_MAX: usize = 128;
/// Messages (an event's note, status, condition and waiting messages).
pub(crate) const MESSAGE_MAX: usize = 1024;
/// Other free-text fields of a status (image, imageID, containerID, IPs, names).
pub(crate) const FIELD_MAX: usize = 1024;
/// Conditions kept from a report.
pub(crate) const CONDITIONS_MAX: usize = 16;
/// Pod IPs and host IPs kept (one of each family).
pub(crate) const IPS_MAX: usize = 2;

/// The names of the spec's containers, init containers first.
pub(crate) fn spec_containers(pod: &k8s_openapi::api::core::v1::Pod) -> Vec<&str> {
    pod.spec
        .iter()
        .flat_map(|s| {
            s.init_containers
                .iter()
                .flatten()
                .chain(s.containers.iter())
        })
        .map(|c| c.name.as_str())
        .collect()
}

/// `s` cut to at most `max` bytes, at a character boundary.
pub(crate) fn truncate_utf8(s: &mut String, max: usize) {
    if s.len() <= max {
        return;
    }
    let mut end = max;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    s.truncate(end);
}

fn cut(s: &mut Option<String>, max: usize) {
    if let Some(s) = s {
        truncate_utf8(s, max);
    }
}

/// Bounds a reported status in place: what the report may carry, whatever it tried.
/// `containers` names the spec's containers (init and regular); statuses of other names are
/// dropped, as are repeats.
pub(crate) fn bound_status(status: &mut PodStatus, containers: &[&str]) {
    cut(&mut status.message, MESSAGE_MAX);
    cut(&mut status.reason, REASON_MAX);
    cut(&mut status.nominated_node_name, FIELD_MAX);
    cut(&mut status.host_ip, FIELD_MAX);
    cut(&mut status.pod_ip, FIELD_MAX);
    cut(&mut status.qos_class, FIELD_MAX);
    if let Some(conditions) = &mut status.conditions {
        let mut seen = std::collections::BTreeSet::new();
        conditions.retain(|c| seen.insert(c.type_.clone()));
        conditions.truncate(CONDITIONS_MAX);
        for c in conditions {
            truncate_utf8(&mut c.type_, REASON_MAX);
            truncate_utf8(&mut c.status, REASON_MAX);
            cut(&mut c.reason, REASON_MAX);
            cut(&mut c.message, MESSAGE_MAX);
        }
    }
    if let Some(ips) = &mut status.pod_ips {
        ips.truncate(IPS_MAX);
    }
    if let Some(ips) = &mut status.host_ips {
        ips.truncate(IPS_MAX);
    }
    for ip in status.pod_ips.iter_mut().flatten() {
        truncate_utf8(&mut ip.ip, FIELD_MAX);
    }
    for ip in status.host_ips.iter_mut().flatten() {
        truncate_utf8(&mut ip.ip, FIELD_MAX);
    }
    // k8sless runs no ephemeral containers and no resource claims.
    status.ephemeral_container_statuses = None;
    status.resource_claim_statuses = None;
    let per_container = (POD_TERMINATION_MESSAGES_MAX / containers.len().max(1))
        .min(CONTAINER_TERMINATION_MESSAGE_MAX);
    let mut seen = std::collections::BTreeSet::new();
    for list in [
        &mut status.init_container_statuses,
        &mut status.container_statuses,
    ]
    .into_iter()
    .flatten()
    {
        list.retain(|cs| containers.contains(&cs.name.as_str()) && seen.insert(cs.name.clone()));
        for cs in list {
            bound_container(cs, per_container);
        }
    }
}

fn bound_container(cs: &mut ContainerStatus, termination_message: usize) {
    truncate_utf8(&mut cs.image, FIELD_MAX);
    truncate_utf8(&mut cs.image_id, FIELD_MAX);
    cut(&mut cs.container_id, FIELD_MAX);
    cut(&mut cs.stop_signal, REASON_MAX);
    for state in [&mut cs.state, &mut cs.last_state].into_iter().flatten() {
        bound_state(state, termination_message);
    }
    // Fields k8sless' guest never reports, and that could carry anything.
    cs.allocated_resources = None;
    cs.allocated_resources_status = None;
    cs.resources = None;
    cs.volume_mounts = None;
    cs.user = None;
}

fn bound_state(state: &mut ContainerState, termination_message: usize) {
    if let Some(w) = &mut state.waiting {
        cut(&mut w.reason, REASON_MAX);
        cut(&mut w.message, MESSAGE_MAX);
    }
    if let Some(t) = &mut state.terminated {
        cut(&mut t.reason, REASON_MAX);
        cut(&mut t.message, termination_message);
        cut(&mut t.container_id, FIELD_MAX);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::api::core::v1::{ContainerStateTerminated, PodCondition};

    #[test]
    fn truncation_cuts_at_a_character_boundary() {
        let mut s = "aé".repeat(10);
        truncate_utf8(&mut s, 2);
        assert_eq!(s, "a");
        let mut s = "日本".to_string();
        truncate_utf8(&mut s, 5);
        assert_eq!(s, "日");
        let mut short = "ok".to_string();
        truncate_utf8(&mut short, 10);
        assert_eq!(short, "ok");
    }

    #[test]
    fn a_huge_status_is_cut_to_the_caps() {
        let big = "é".repeat(1 << 20);
        let terminated = |name: &str, text: &str| ContainerStatus {
            name: name.into(),
            image: text.into(),
            state: Some(ContainerState {
                terminated: Some(ContainerStateTerminated {
                    message: Some(text.into()),
                    reason: Some(text.into()),
                    exit_code: 1,
                    ..Default::default()
                }),
                ..Default::default()
            }),
            ..Default::default()
        };
        let mut status = PodStatus {
            phase: Some("Failed".into()),
            message: Some(big.clone()),
            conditions: Some(
                (0..1000)
                    .map(|i| PodCondition {
                        type_: format!("T{i}"),
                        status: "True".into(),
                        message: Some(if i < 3 { big.clone() } else { "m".into() }),
                        ..Default::default()
                    })
                    .collect(),
            ),
            container_statuses: Some(
                ["a", "b", "a", "not-in-spec"]
                    .into_iter()
                    .map(|n| terminated(n, &big))
                    .chain((0..1000).map(|i| terminated(&format!("x{i}"), "x")))
                    .collect(),
            ),
            ..Default::default()
        };
        bound_status(&mut status, &["a", "b", "c"]);
        let encoded = serde_json::to_vec(&status).expect("encode").len();
        assert!(encoded < 64 * 1024, "{encoded} bytes");
        assert_eq!(status.phase.as_deref(), Some("Failed"));
        assert_eq!(
            status.conditions.as_ref().map(Vec::len),
            Some(CONDITIONS_MAX)
        );
        let statuses = status.container_statuses.as_ref().expect("statuses");
        assert_eq!(
            statuses.iter().map(|c| c.name.as_str()).collect::<Vec<_>>(),
            ["a", "b"]
        );
        let message = statuses[0]
            .state
            .as_ref()
            .and_then(|s| s.terminated.as_ref());
        let len = message
            .and_then(|t| t.message.as_ref())
            .map_or(0, String::len);
        assert!(len <= 4096 && len > 4000, "{len}");
    }

    #[test]
    fn every_write_holds_a_record_to_the_cap() {
        use crate::pods::record::{HistoryEntry, PodRecord};
        let pod: k8s_openapi::api::core::v1::Pod = serde_json::from_value(serde_json::json!({
            "metadata": {"name": "p", "namespace": "default", "uid": "u"},
            "spec": {"containers": [{"name": "c", "image": "busybox"}]},
            "status": {"phase": "Running", "containerStatuses": [
                {"name": "c", "image": "x".repeat(3 << 20), "imageID": "", "ready": true, "restartCount": 0}]}
        }))
        .expect("pod");
        let mut rec = PodRecord::new(pod, Default::default());
        let at = jiff::Timestamp::UNIX_EPOCH;
        rec.event(true, &"r".repeat(1000), "m".repeat(1 << 20), at);
        assert_eq!(rec.events[0].reason.len(), REASON_MAX);
        assert_eq!(rec.events[0].message.len(), MESSAGE_MAX);
        for i in 0..3000 {
            rec.events.push(HistoryEntry {
                event_type: "Normal".into(),
                reason: "R".into(),
                message: format!("{i}{}", "m".repeat(1000)),
                first: at,
                last: at,
                count: 1,
            });
        }
        let bytes = rec.encode_bounded().expect("fits");
        assert!(bytes.len() <= RECORD_MAX, "{}", bytes.len());
        assert_eq!(rec.phase(), "Running", "the status stays");
        assert!(
            rec.events
                .last()
                .is_some_and(|e| e.message.starts_with("2999")),
            "newest kept"
        );
        // A record whose pod alone is over the cap is refused (413), never written.
        rec.pod.metadata.annotations = Some(
            [("a".to_string(), "x".repeat(RECORD_MAX))]
                .into_iter()
                .collect(),
        );
        assert!(matches!(
            rec.encode_bounded(),
            Err(crate::error::Error::TooLarge { .. })
        ));
    }
}
