//! The collector's insert of a Pending pod's VM: after a crash between writing the record and
//! inserting, after an insert that failed (quota, Compute Engine unavailable), or after a
//! stockout, in which case the zones of the pod's fallback list are tried in order, skipping
//! those that reported a stockout, and starting over once every zone has.
//!
//! # Guarantees
//! - One VM per pod: the insert's `requestId` is derived from the pod uid, the zone and the
//!   attempt number recorded in the record, so two collectors working on the same record at
//!   once send the same request and Compute Engine deduplicates it; a VM that already exists
//!   and carries the pod's uid label counts as inserted.
//! - Only pods that are Pending and never reported are inserted, decided on a fresh read.
//! - While waiting, the pod shows `PodScheduled=False`, reason `Unschedulable`, with the
//!   message of the last failure, as a Kubernetes pod waiting for a node does.

use jiff::Timestamp;

use super::collect::CollectSettings;
use super::decide::{Step, VmRef, decide};
use super::transitions::{self, insert_failure_message, insert_is_permanent};
use crate::error::{Error, Result};
use crate::gce::GceError;
use crate::pods::Pods;
use crate::pods::record::{self, PodRecord};
use crate::translate::{self, names};

/// What a reinsert did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Reinserted {
    /// The VM was inserted (or found) in this zone.
    Inserted {
        /// Zone.
        zone: String,
    },
    /// No zone could take it now; the pod stays Pending.
    Unschedulable,
    /// Compute Engine rejected the VM itself; the pod is Failed.
    Failed,
    /// Nothing to do any more, and why.
    Skipped(&'static str),
}

/// The record's insert state when collection read it: a write is dropped if it moved.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct InsertSeen {
    inserted: bool,
    inserted_at: Option<Timestamp>,
}

impl InsertSeen {
    fn of(rec: &PodRecord) -> Self {
        InsertSeen {
            inserted: rec.vm.inserted,
            inserted_at: rec.vm.inserted_at,
        }
    }
}

impl Pods {
    /// Inserts the VM of a Pending pod that has none (see the module docs).
    pub(crate) async fn reinsert(
        &self,
        namespace: &str,
        name: &str,
        now: Timestamp,
        s: &CollectSettings,
    ) -> Result<Reinserted> {
        let Some(rec) = record::load_if_exists(&self.store, namespace, name).await? else {
            return Ok(Reinserted::Skipped("the pod was deleted"));
        };
        if decide(&rec, &[], now, now, s) != Some(Step::Insert) {
            return Ok(Reinserted::Skipped("changed meanwhile"));
        }
        if let Some(vm) = self.inserted_since_listed(&rec).await {
            return self.record_found_vm(namespace, name, &rec, vm, now).await;
        }
        let mut plan = translate::translate(&rec.pod, &self.settings).map_err(|causes| {
            Error::internal(format!(
                "pod {namespace}/{name} no longer translates: {causes:?}"
            ))
        })?;
        // The same certificates as the first insert (the record's client key must match); a
        // pod created before kubelet access was turned on keeps its loopback-only kubelet.
        if rec.kubelet_pki.is_some() {
            self.open_kubelet(&mut plan, rec.kubelet_pki.as_ref(), name)?;
        }
        let uid = rec.pod.metadata.uid.clone().unwrap_or_default();
        let ZoneChoice { zones, mut tried } = zones_to_try(&rec, &plan.zones);
        let seen = InsertSeen::of(&rec);
        let mut attempts = rec.vm.insert_attempts;
        let mut last_error: Option<GceError> = None;
        for zone in zones {
            let request_id = names::request_id(&uid, &zone, attempts);
            attempts += 1;
            let owner = crate::gce::labels::sanitize_value(&uid);
            match self
                .compute
                .insert_idempotent(
                    &zone,
                    &plan.instance_in(&zone),
                    request_id,
                    (names::LABEL_UID, &owner),
                )
                .await
            {
                Ok(_) => {
                    let vm = VmRef::inserted(&zone, &plan.name, owner);
                    self.finish_insert(namespace, name, &uid, seen, attempts, |rec| {
                        rec.vm.stocked_out_zones.clear();
                        rec.vm.instance_id = None;
                        transitions::scheduled(rec, &vm, now);
                    })
                    .await?;
                    return Ok(Reinserted::Inserted { zone });
                }
                Err(GceError::Stockout { .. }) => {
                    tried.push(zone.clone());
                    last_error = Some(GceError::Stockout {
                        method: "instances.insert",
                        zone,
                        message: String::new(),
                    });
                }
                Err(e) => {
                    last_error = Some(e);
                    break;
                }
            }
        }
        let failed = InsertFailed {
            uid: &uid,
            seen,
            attempts,
            tried,
        };
        self.record_insert_failure(namespace, name, failed, last_error.as_ref(), now)
            .await
    }

    /// Records the VM [`Self::inserted_since_listed`] found as the pod's.
    async fn record_found_vm(
        &self,
        namespace: &str,
        name: &str,
        rec: &PodRecord,
        vm: VmRef,
        now: Timestamp,
    ) -> Result<Reinserted> {
        let uid = rec.pod.metadata.uid.clone().unwrap_or_default();
        let (seen, attempts) = (InsertSeen::of(rec), rec.vm.insert_attempts);
        self.finish_insert(namespace, name, &uid, seen, attempts, |rec| {
            transitions::scheduled(rec, &vm, now);
        })
        .await?;
        Ok(Reinserted::Inserted { zone: vm.zone })
    }

    /// The VM of a record as its create wrote it (scheduled, no failed insert recorded), when
    /// it exists by now: the create's own insert landed after collection listed the VMs (a
    /// pass running while pods are created finds every create between its listing and its
    /// walk of the records so). One `instances.get` instead of translating the pod again and
    /// an insert that Compute Engine answers with `alreadyExists` and another get; a crash
    /// between the write and the insert still gets its VM (404 here, then the insert).
    async fn inserted_since_listed(&self, rec: &PodRecord) -> Option<VmRef> {
        let scheduled = rec.pod.spec.as_ref().is_some_and(|s| s.node_name.is_some());
        if rec.vm.inserted || !scheduled || rec.vm.zone.is_empty() {
            return None;
        }
        let zone = rec.vm.zone.clone();
        let vm = self.compute.get(&zone, &rec.vm.name).await.ok()?;
        let uid = crate::gce::labels::sanitize_value(rec.pod.metadata.uid.as_deref()?);
        (vm.labels.get(names::LABEL_UID) == Some(&uid))
            .then(|| VmRef::from_instance(&vm, std::slice::from_ref(&zone)))
    }

    /// Records that no zone took the VM: waiting for capacity, or Failed when Compute
    /// Engine rejected the VM itself.
    async fn record_insert_failure(
        &self,
        namespace: &str,
        name: &str,
        failed: InsertFailed<'_>,
        last_error: Option<&GceError>,
        now: Timestamp,
    ) -> Result<Reinserted> {
        let permanent = last_error.is_some_and(insert_is_permanent);
        let tried = failed.tried;
        let message = match last_error {
            Some(GceError::Stockout { .. }) => format!(
                "no capacity for this machine type in zone(s) {} right now; k8sless will retry",
                tried.join(", ")
            ),
            Some(e) => insert_failure_message(e),
            None => "no zone to try".into(),
        };
        let (uid, seen, attempts) = (failed.uid, failed.seen, failed.attempts);
        self.finish_insert(namespace, name, uid, seen, attempts, |rec| {
            rec.vm.stocked_out_zones = tried.clone();
            rec.vm.inserted = false;
            if permanent {
                transitions::create_failed(rec, &message, now);
            } else {
                transitions::waiting(rec, &message, now);
            }
        })
        .await?;
        Ok(if permanent {
            Reinserted::Failed
        } else {
            Reinserted::Unschedulable
        })
    }

    /// Writes an insert's result, unless the pod changed meanwhile (reported, finished,
    /// another collector recorded an insert, or a new pod of the same name); the attempt
    /// count is kept in any case, so the next attempt gets a new `requestId`.
    async fn finish_insert<F>(
        &self,
        namespace: &str,
        name: &str,
        uid: &str,
        seen: InsertSeen,
        attempts: u32,
        mut change: F,
    ) -> Result<()>
    where
        F: FnMut(&mut PodRecord),
    {
        let result = record::modify(&self.store, namespace, name, |rec| {
            rec.vm.insert_attempts = rec.vm.insert_attempts.max(attempts);
            let same_pod = rec.pod.metadata.uid.as_deref() == Some(uid);
            let moved = InsertSeen::of(rec) != seen;
            if !same_pod || rec.is_finished() || rec.vm.last_sequence > 0 || moved {
                return Ok(same_pod);
            }
            change(rec);
            Ok(true)
        })
        .await;
        match result {
            Ok(_) | Err(Error::NotFound { .. }) => Ok(()),
            Err(e) => Err(e),
        }
    }
}

impl VmRef {
    /// The VM just inserted (not listed yet: no id, status or creation time).
    fn inserted(zone: &str, name: &str, uid: String) -> Self {
        VmRef {
            zone: zone.to_string(),
            name: name.to_string(),
            id: None,
            uid,
            status: None,
            created: None,
        }
    }
}

/// The zones an insert tries, and those already tried (stocked out).
struct ZoneChoice {
    zones: Vec<String>,
    tried: Vec<String>,
}

/// The pod's zones minus those that stocked out; all of them again once every zone has.
fn zones_to_try(rec: &PodRecord, allowed: &[String]) -> ZoneChoice {
    let mut tried = rec.vm.stocked_out_zones.clone();
    // An accepted insert whose VM never appeared failed in its operation (a stockout
    // reported late, quota): move on from that zone too.
    if rec.vm.inserted && !tried.contains(&rec.vm.zone) {
        tried.push(rec.vm.zone.clone());
    }
    let mut zones: Vec<String> = allowed
        .iter()
        .filter(|z| !tried.contains(z))
        .cloned()
        .collect();
    if zones.is_empty() {
        tried.clear();
        zones = allowed.to_vec();
    }
    ZoneChoice { zones, tried }
}

/// What a failed round of inserts leaves to record.
struct InsertFailed<'a> {
    uid: &'a str,
    seen: InsertSeen,
    attempts: u32,
    tried: Vec<String>,
}
