//! The stored form of a pod: the Pod exactly as the API returns it, plus k8sless' own
//! bookkeeping (the VM it runs on, the last report applied, the event history), in one
//! object `pods/<namespace>/<name>.json`. The object generation is the pod's resourceVersion;
//! it is set on read, never stored.
//!
//! Every writer of an existing record goes through [`modify`] (or [`modify_or_delete`]): read,
//! change, compare-and-swap on the generation read, and on a lost swap read again and rerun the
//! change, at most [`CAS_TRIES`] times before answering 503. Every write (create and modify)
//! encodes with [`PodRecord::encode_bounded`], which holds the record to `bounds::RECORD_MAX`.

use std::sync::Arc;

use bytes::Bytes;
use jiff::Timestamp;
use k8s_openapi::api::core::v1::Pod;
use serde::{Deserialize, Serialize};

use super::bounds;
use super::phase::Phase;
use crate::error::Error;
use crate::store::{Record, RecordStore, StoreError};

/// Attempts of one read-change-swap before a writer gives up with 503 (each lost swap means
/// another writer, usually a status report, landed in between).
pub(crate) const CAS_TRIES: usize = 16;

/// Object name of a pod's record.
pub fn key(namespace: &str, name: &str) -> String {
    format!("pods/{namespace}/{name}.json")
}

/// Object name of a deleted pod's tombstone (what watches report as DELETED).
pub(crate) fn tombstone_key(namespace: &str, name: &str) -> String {
    format!("tombstones/{namespace}/{name}.json")
}

/// Prefix of tombstones (per namespace, or all).
pub(crate) fn tombstone_prefix(namespace: Option<&str>) -> String {
    match namespace {
        Some(ns) => format!("tombstones/{ns}/"),
        None => "tombstones/".to_string(),
    }
}

/// Prefix of a namespace's records (or all of them).
pub(crate) fn prefix(namespace: Option<&str>) -> String {
    match namespace {
        Some(ns) => format!("pods/{ns}/"),
        None => "pods/".to_string(),
    }
}

/// The VM side of a pod.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct VmState {
    /// Instance name (deterministic from namespace/name).
    pub name: String,
    /// Zone of the current or next insert.
    pub zone: String,
    /// Machine type chosen.
    pub machine_type: String,
    /// Whether Compute Engine accepted the insert.
    #[serde(default)]
    pub inserted: bool,
    /// Insert attempts so far (the request's, then collection's).
    #[serde(default)]
    pub insert_attempts: u32,
    /// When the current VM's insert was accepted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub inserted_at: Option<Timestamp>,
    /// Zones that reported a stockout, in order.
    #[serde(default)]
    pub stocked_out_zones: Vec<String>,
    /// Highest report sequence number applied.
    #[serde(default)]
    pub last_sequence: u64,
    /// When the last report arrived.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_report_at: Option<Timestamp>,
    /// When the pod reached a terminal phase.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub finished_at: Option<Timestamp>,
    /// When the VM was deleted by k8sless.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deleted_at: Option<Timestamp>,
    /// Instance id, once known from a report or a get.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub instance_id: Option<String>,
}

/// One entry of the pod's event history (shown by `kubectl describe`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct HistoryEntry {
    /// `Normal` or `Warning`.
    #[serde(rename = "type")]
    pub event_type: String,
    /// Short reason (`Scheduled`, `Started`, ...).
    pub reason: String,
    /// Message.
    pub message: String,
    /// First time.
    pub first: Timestamp,
    /// Last time.
    pub last: Timestamp,
    /// Repetitions.
    pub count: u32,
}

/// Events kept per pod; older ones are dropped first.
const EVENTS_MAX: usize = 50;

/// The stored object.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PodRecord {
    /// Always `k8sless.dev/v1`.
    pub api_version: String,
    /// Always `PodRecord`.
    pub kind: String,
    /// The pod as the API returns it (without resourceVersion).
    pub pod: Pod,
    /// The VM.
    #[serde(default)]
    pub vm: VmState,
    /// Event history.
    #[serde(default)]
    pub events: Vec<HistoryEntry>,
    /// The pod's kubelet PKI (`None` when this deployment does not reach kubelets, or for pods
    /// created before it did). Only the service reads records; no API answer carries it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) kubelet_pki: Option<crate::kubelet::PodPki>,
    /// The `creationTimestamp` of the namespace object the pod was admitted into: which
    /// incarnation of its namespace the pod belongs to. `None` for pods from before namespaces
    /// were recorded (they may make an unrecorded namespace exist: the namespaces' Migration).
    /// A pod stamped with an incarnation that no longer exists escaped its namespace's cascade
    /// and is deleted by collection (`namespaces::stranded`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub(crate) namespace_created: Option<Timestamp>,
}

impl PodRecord {
    /// A new record.
    pub fn new(pod: Pod, vm: VmState) -> Self {
        PodRecord {
            api_version: "k8sless.dev/v1".into(),
            kind: "PodRecord".into(),
            pod,
            vm,
            events: Vec::new(),
            kubelet_pki: None,
            namespace_created: None,
        }
    }

    /// Whether the pod was created before namespaces were recorded: it carries no namespace
    /// incarnation, and may make an unrecorded namespace exist (the namespaces' Migration).
    pub(crate) fn is_from_before_namespaces(&self) -> bool {
        self.namespace_created.is_none()
    }

    /// Adds an event, folding repeats of the same reason and message.
    pub fn event(
        &mut self,
        warning: bool,
        reason: &str,
        message: impl Into<String>,
        at: Timestamp,
    ) {
        let mut message = message.into();
        bounds::truncate_utf8(&mut message, bounds::MESSAGE_MAX);
        let mut reason = reason.to_string();
        bounds::truncate_utf8(&mut reason, bounds::REASON_MAX);
        let reason = reason.as_str();
        let event_type = if warning { "Warning" } else { "Normal" };
        if let Some(last) = self
            .events
            .iter_mut()
            .rev()
            .find(|e| e.reason == reason && e.message == message)
        {
            last.count += 1;
            last.last = at;
            return;
        }
        self.events.push(HistoryEntry {
            event_type: event_type.into(),
            reason: reason.into(),
            message,
            first: at,
            last: at,
            count: 1,
        });
        if self.events.len() > EVENTS_MAX {
            let excess = self.events.len() - EVENTS_MAX;
            self.events.drain(..excess);
        }
    }

    /// Serialized form.
    pub fn encode(&self) -> Result<Bytes, Error> {
        let mut copy = self
            .pod
            .metadata
            .resource_version
            .is_some()
            .then(|| self.clone());
        let value = match copy.as_mut() {
            Some(c) => {
                c.pod.metadata.resource_version = None;
                serde_json::to_vec(c)
            }
            None => serde_json::to_vec(self),
        };
        value
            .map(Bytes::from)
            .map_err(|e| Error::internal_from("encoding a pod record", e))
    }

    /// The serialized form, made to fit [`bounds::RECORD_MAX`]: the oldest history entries
    /// go first, then the containers' statuses (the phase, reason and conditions stay), so a
    /// status change is never refused for the record's size; a record still too large (a pod
    /// spec near the limit) is 413.
    pub(crate) fn encode_bounded(&mut self) -> Result<Bytes, Error> {
        let mut bytes = self.encode()?;
        while bytes.len() > bounds::RECORD_MAX && !self.events.is_empty() {
            let drop = self.events.len().div_ceil(2);
            self.events.drain(..drop);
            bytes = self.encode()?;
        }
        if bytes.len() > bounds::RECORD_MAX {
            if let Some(status) = self.pod.status.as_mut() {
                status.container_statuses = None;
                status.init_container_statuses = None;
                status.ephemeral_container_statuses = None;
            }
            bytes = self.encode()?;
        }
        if bytes.len() > bounds::RECORD_MAX {
            tracing::warn!(key = %self.key(), bytes = bytes.len(), "a pod record over the cap is not written");
            return Err(Error::TooLarge {
                limit: bounds::RECORD_MAX,
            });
        }
        Ok(bytes)
    }

    /// Parses a stored object and sets the pod's resourceVersion.
    pub fn decode(record: &Record) -> Result<Self, Error> {
        let mut parsed: PodRecord = serde_json::from_slice(&record.data).map_err(|e| {
            Error::internal_from(format!("pod record {} is corrupt", record.key), e)
        })?;
        parsed.pod.metadata.resource_version = Some(record.generation.to_string());
        Ok(parsed)
    }

    /// The generation this record was read at.
    pub fn generation(&self) -> i64 {
        self.pod
            .metadata
            .resource_version
            .as_deref()
            .and_then(|v| v.parse().ok())
            .unwrap_or(0)
    }

    /// Namespace and name.
    pub fn key(&self) -> String {
        key(
            self.pod.metadata.namespace.as_deref().unwrap_or("default"),
            self.pod.metadata.name.as_deref().unwrap_or(""),
        )
    }

    /// The pod's phase (`Pending` while none is recorded).
    pub fn phase(&self) -> Phase {
        match self.pod.status.as_ref().and_then(|s| s.phase.as_deref()) {
            None => Phase::Pending,
            Some(p) => Phase::parse(p).unwrap_or(Phase::Unknown),
        }
    }

    /// Sets the pod's phase.
    pub fn set_phase(&mut self, phase: Phase) {
        self.pod.status.get_or_insert_with(Default::default).phase = phase.to_status();
    }

    /// Succeeded or Failed.
    pub fn is_finished(&self) -> bool {
        self.phase().is_finished()
    }
}

/// Reads one record.
pub async fn load(
    store: &Arc<dyn RecordStore>,
    namespace: &str,
    name: &str,
) -> Result<PodRecord, Error> {
    let record = store
        .get(&key(namespace, name))
        .await
        .map_err(|e| Error::pod_store(e, name))?;
    PodRecord::decode(&record)
}

/// Like [`load`], but `None` where there is no record (a reader that has nothing to show).
pub(crate) async fn load_if_exists(
    store: &Arc<dyn RecordStore>,
    namespace: &str,
    name: &str,
) -> Result<Option<PodRecord>, Error> {
    match load(store, namespace, name).await {
        Ok(rec) => Ok(Some(rec)),
        Err(Error::NotFound { .. }) => Ok(None),
        Err(e) => Err(e),
    }
}

/// What a change decided to do with the record it was given: the objects' own decision
/// ([`Change::Keep`] still returns the changed copy).
pub(crate) use crate::objects::Change;

/// The record after [`modify_or_delete`], and what became of it.
#[derive(Debug, Clone)]
pub(crate) struct Modified {
    /// The record as changed (with the new resourceVersion when written).
    pub record: PodRecord,
    /// What was done.
    pub change: Change,
}

/// Read-modify-write with compare-and-swap, retried on conflicts. `change` returns false to
/// leave the record as it is (then nothing is written, and the changed copy is returned).
pub async fn modify<F>(
    store: &Arc<dyn RecordStore>,
    namespace: &str,
    name: &str,
    mut change: F,
) -> Result<PodRecord, Error>
where
    F: FnMut(&mut PodRecord) -> Result<bool, Error>,
{
    let decide = |rec: &mut PodRecord| {
        Ok(if change(rec)? {
            Change::Write
        } else {
            Change::Keep
        })
    };
    let modified = modify_or_delete(store, namespace, name, decide, |_| async { Ok(()) }).await?;
    Ok(modified.record)
}

/// Read, let `decide` change the record and say what to do with it, then write or delete it
/// on the generation read; on a lost swap, read again and decide again. `before_delete` runs
/// (on a copy of the record) before each deletion attempt, e.g. to delete the pod's VM first.
///
/// # Errors
/// What `decide` or `before_delete` return; the mapped store error; 503 after [`CAS_TRIES`]
/// lost swaps.
pub(crate) async fn modify_or_delete<F, B, Fut>(
    store: &Arc<dyn RecordStore>,
    namespace: &str,
    name: &str,
    mut decide: F,
    mut before_delete: B,
) -> Result<Modified, Error>
where
    F: FnMut(&mut PodRecord) -> Result<Change, Error>,
    B: FnMut(PodRecord) -> Fut,
    Fut: Future<Output = Result<(), Error>>,
{
    let key = key(namespace, name);
    for _ in 0..CAS_TRIES {
        let stored = store
            .get(&key)
            .await
            .map_err(|e| Error::pod_store(e, name))?;
        let mut record = PodRecord::decode(&stored)?;
        let change = decide(&mut record)?;
        let written = match change {
            Change::Keep => return Ok(Modified { record, change }),
            Change::Write => store
                .update_indexed(
                    &key,
                    record.encode_bounded()?,
                    super::index::of(&record),
                    stored.generation,
                )
                .await
                .map(Some),
            Change::Delete => {
                before_delete(record.clone()).await?;
                store
                    .delete(&key, Some(stored.generation))
                    .await
                    .map(|()| None)
            }
        };
        match written {
            Ok(generation) => {
                if let Some(generation) = generation {
                    record.pod.metadata.resource_version = Some(generation.to_string());
                }
                return Ok(Modified { record, change });
            }
            Err(StoreError::Conflict { .. }) => continue,
            Err(e) => return Err(Error::pod_store(e, name)),
        }
    }
    Err(Error::unavailable(format!(
        "pod {namespace}/{name} is being changed concurrently; retry"
    )))
}
