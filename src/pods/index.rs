//! A pod record's index: what a Table row, a label or field selector and collection need,
//! kept with the record in Cloud Storage object metadata (`k8sless-index`), so lists of those
//! need only list calls, never a download per record.
//!
//! The index is the record itself, trimmed: the pod's metadata (without `managedFields`), the
//! spec fields selectors, the Table and collection read (node, restart policy, scheduler,
//! service account, host network, deadline, readiness gates, container names and restart
//! policies), the status without messages, and the VM bookkeeping; no event history. It is
//! decoded as a [`PodRecord`], so every reader works on it as on a full record.
//!
//! # Guarantees
//! - Written by every record write ([`record::modify_or_delete`] and create), in the same
//!   upload as the body: an index never outlives its body (an upload replaces the metadata).
//! - A record whose index would exceed [`INDEX_MAX`] (large annotations or labels) is written
//!   without one, and its readers fall back to the body; so do records written before the index.
//!
//! # Caveats
//! Table rows built from the index carry `PartialObjectMetadata` without `managedFields`.
//! `-o json`/`-o yaml` (and `includeObject=Object`) read full bodies.

use k8s_openapi::api::core::v1::{Container, Pod, PodSpec};

use super::record::PodRecord;
use crate::error::Error;
use crate::store::Entry;

/// Largest index kept: Cloud Storage allows 8 KiB of custom metadata per object.
pub(crate) const INDEX_MAX: usize = 7 * 1024;

/// The record's index, or `None` when it would not fit.
pub(crate) fn of(rec: &PodRecord) -> Option<String> {
    let pod = &rec.pod;
    let mut metadata = pod.metadata.clone();
    metadata.managed_fields = None;
    metadata.resource_version = None;
    let names = |cs: &[Container]| -> Vec<Container> {
        cs.iter()
            .map(|c| Container {
                name: c.name.clone(),
                restart_policy: c.restart_policy.clone(),
                ..Default::default()
            })
            .collect()
    };
    let spec = pod.spec.as_ref().map(|s| PodSpec {
        node_name: s.node_name.clone(),
        restart_policy: s.restart_policy.clone(),
        scheduler_name: s.scheduler_name.clone(),
        service_account_name: s.service_account_name.clone(),
        host_network: s.host_network,
        active_deadline_seconds: s.active_deadline_seconds,
        readiness_gates: s.readiness_gates.clone(),
        containers: names(&s.containers),
        init_containers: s.init_containers.as_deref().map(names),
        ..Default::default()
    });
    let status = pod.status.clone().map(|mut st| {
        st.message = None;
        for c in st.conditions.iter_mut().flatten() {
            c.message = None;
        }
        let statuses = [
            st.container_statuses.iter_mut().flatten(),
            st.init_container_statuses.iter_mut().flatten(),
        ];
        for cs in statuses.into_iter().flatten() {
            cs.image_id = String::new();
            cs.container_id = None;
            for state in [cs.state.as_mut(), cs.last_state.as_mut()]
                .into_iter()
                .flatten()
            {
                if let Some(t) = state.terminated.as_mut() {
                    t.message = None;
                }
                if let Some(w) = state.waiting.as_mut() {
                    w.message = None;
                }
            }
        }
        st.ephemeral_container_statuses = None;
        st
    });
    let slim = PodRecord {
        api_version: rec.api_version.clone(),
        kind: rec.kind.clone(),
        pod: Pod {
            metadata,
            spec,
            status,
        },
        vm: rec.vm.clone(),
        events: Vec::new(),
        // Keys never go into object metadata: only the body carries them.
        kubelet_pki: None,
        namespace_created: rec.namespace_created,
    };
    serde_json::to_string(&slim)
        .ok()
        .filter(|s| s.len() <= INDEX_MAX)
}

/// The record a listed entry stands for: its index where it has one, else its body.
pub(crate) fn decode(entry: &Entry) -> Result<PodRecord, Error> {
    let mut rec: PodRecord = match (&entry.index, &entry.data) {
        (Some(index), _) => index
            .text()
            .and_then(|text| serde_json::from_str(&text))
            .map_err(|e| {
                Error::internal_from(
                    format!("the index of pod record {} is corrupt", entry.key),
                    e,
                )
            })?,
        (None, Some(data)) => {
            return PodRecord::decode(&crate::store::Record {
                key: entry.key.clone(),
                data: data.clone(),
                generation: entry.generation,
            });
        }
        (None, None) => {
            return Err(Error::internal(format!(
                "pod record {} listed without index or body",
                entry.key
            )));
        }
    };
    rec.pod.metadata.resource_version = Some(entry.generation.to_string());
    Ok(rec)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pods::record::{self, VmState};

    fn record() -> PodRecord {
        let pod: Pod = serde_json::from_value(serde_json::json!({
            "metadata": {"name": "p", "namespace": "ns", "uid": "u", "labels": {"app": "x"},
                         "annotations": {"a": "b"}, "creationTimestamp": "2026-01-01T00:00:00Z"},
            "spec": {"nodeName": "vm", "restartPolicy": "Never", "activeDeadlineSeconds": 60,
                     "containers": [{"name": "c", "image": "busybox", "command": ["sh"]}]},
            "status": {"phase": "Running", "startTime": "2026-01-01T00:00:01Z",
                       "conditions": [{"type": "Ready", "status": "True", "message": "m"}],
                       "containerStatuses": [{"name": "c", "ready": true, "restartCount": 2, "image": "busybox",
                           "imageID": "sha256:x", "state": {"running": {"startedAt": "2026-01-01T00:00:02Z"}},
                           "lastState": {"terminated": {"exitCode": 1, "reason": "Error", "message": "long"}}}]}
        }))
        .expect("pod");
        let mut rec = PodRecord::new(
            pod,
            VmState {
                name: "vm".into(),
                inserted: true,
                ..Default::default()
            },
        );
        rec.event(false, "Scheduled", "x", jiff::Timestamp::now());
        rec
    }

    #[test]
    fn index_keeps_what_lists_read_and_decodes_as_a_record() {
        let rec = record();
        let index = of(&rec).expect("fits");
        let got = decode(&Entry {
            key: record::key("ns", "p"),
            generation: 7,
            index: Some(index.into()),
            data: None,
        })
        .expect("decode");
        assert_eq!(got.pod.metadata.labels, rec.pod.metadata.labels);
        assert_eq!(got.pod.metadata.annotations, rec.pod.metadata.annotations);
        assert_eq!(got.pod.metadata.resource_version.as_deref(), Some("7"));
        assert_eq!(got.vm, rec.vm);
        assert_eq!(got.phase(), rec.phase());
        let spec = got.pod.spec.as_ref().expect("spec");
        assert_eq!(spec.node_name.as_deref(), Some("vm"));
        assert_eq!(spec.active_deadline_seconds, Some(60));
        assert_eq!(spec.containers[0].name, "c");
        let st = got.pod.status.as_ref().expect("status");
        let cs = &st.container_statuses.as_ref().expect("statuses")[0];
        assert_eq!(cs.restart_count, 2);
        assert!(cs.ready);
        let last = cs
            .last_state
            .as_ref()
            .and_then(|s| s.terminated.as_ref())
            .expect("last");
        assert_eq!(last.reason.as_deref(), Some("Error"));
        assert_eq!(last.message, None);
        assert!(got.events.is_empty());
    }

    #[test]
    fn a_record_too_large_for_an_index_has_none_and_reads_from_its_body() {
        let mut rec = record();
        rec.pod
            .metadata
            .annotations
            .get_or_insert_with(Default::default)
            .insert("big".into(), "x".repeat(INDEX_MAX));
        assert_eq!(of(&rec), None);
        let body = rec.encode().expect("encode");
        let got = decode(&Entry {
            key: record::key("ns", "p"),
            generation: 3,
            index: None,
            data: Some(body),
        })
        .expect("decode");
        assert_eq!(got.events.len(), 1, "the full record");
    }
}
