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

use super::Pods;
use super::collect::{CollectSettings, Step, VmRef, plan};
use super::crud::create::{insert_failure_message, scheduled_condition};
use super::record::{self, PodRecord};
use super::terminate::terminate;
use crate::error::{Error, Result};
use crate::gce::GceError;
use crate::translate::{self, ANNOTATION_INSTANCE, names};

/// What a reinsert did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reinserted {
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

/// Records that the pod's VM exists in `vm.zone`: scheduled, with its node name.
pub fn record_inserted(rec: &mut PodRecord, vm: &VmRef, now: Timestamp) {
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
    let mut conditions: Vec<_> = status
        .conditions
        .take()
        .unwrap_or_default()
        .into_iter()
        .filter(|c| c.type_ != "PodScheduled")
        .collect();
    conditions.insert(0, scheduled_condition(true, None, None, now));
    status.conditions = Some(conditions);
    rec.event(
        false,
        "Scheduled",
        format!("Successfully assigned to {} in {}", vm.name, vm.zone),
        now,
    );
}

fn record_waiting(rec: &mut PodRecord, message: &str, now: Timestamp) {
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

impl Pods {
    /// Inserts the VM of a Pending pod that has none (see the module docs).
    pub async fn reinsert(
        &self,
        namespace: &str,
        name: &str,
        now: Timestamp,
        s: &CollectSettings,
    ) -> Result<Reinserted> {
        let rec = match record::load(&self.store, namespace, name).await {
            Ok(r) => r,
            Err(Error::NotFound { .. }) => return Ok(Reinserted::Skipped("the pod was deleted")),
            Err(e) => return Err(e),
        };
        if plan(&rec, &[], now, now, s) != Some(Step::Insert) {
            return Ok(Reinserted::Skipped("changed meanwhile"));
        }
        let plan = translate::translate(&rec.pod, &self.settings).map_err(|causes| {
            Error::internal(format!(
                "pod {namespace}/{name} no longer translates: {causes:?}"
            ))
        })?;
        let uid = rec.pod.metadata.uid.clone().unwrap_or_default();
        let mut tried = rec.vm.stocked_out_zones.clone();
        // An accepted insert whose VM never appeared failed in its operation (a stockout
        // reported late, quota): move on from that zone too.
        if rec.vm.inserted && !tried.contains(&rec.vm.zone) {
            tried.push(rec.vm.zone.clone());
        }
        let mut zones: Vec<String> = plan
            .zones
            .iter()
            .filter(|z| !tried.contains(z))
            .cloned()
            .collect();
        if zones.is_empty() {
            tried.clear();
            zones = plan.zones.clone();
        }
        let seen = (rec.vm.inserted, rec.vm.inserted_at);
        let mut attempts = rec.vm.insert_attempts;
        let mut last_error: Option<GceError> = None;
        for zone in zones {
            let request_id = names::request_id(&uid, &zone, attempts);
            attempts += 1;
            let owner = names::label_value(&uid);
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
                    let vm = VmRef {
                        zone: zone.clone(),
                        name: plan.name.clone(),
                        id: None,
                        uid: owner,
                        status: None,
                        created: None,
                    };
                    self.finish_insert(namespace, name, &uid, seen, attempts, |rec| {
                        rec.vm.stocked_out_zones.clear();
                        rec.vm.instance_id = None;
                        record_inserted(rec, &vm, now);
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
        let permanent = matches!(
            last_error,
            Some(GceError::Invalid { .. } | GceError::PermissionDenied { .. })
        );
        let message = match &last_error {
            Some(GceError::Stockout { .. }) => format!(
                "no capacity for this machine type in zone(s) {} right now; k8sless will retry",
                tried.join(", ")
            ),
            Some(e) => insert_failure_message(e),
            None => "no zone to try".into(),
        };
        self.finish_insert(namespace, name, &uid, seen, attempts, |rec| {
            rec.vm.stocked_out_zones = tried.clone();
            rec.vm.inserted = false;
            if permanent {
                rec.pod
                    .status
                    .get_or_insert_with(Default::default)
                    .conditions = Some(vec![scheduled_condition(
                    false,
                    Some("Unschedulable"),
                    Some(&message),
                    now,
                )]);
                terminate(rec, "VMCreateFailed", &message, now);
            } else {
                record_waiting(rec, &message, now);
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
        seen: (bool, Option<Timestamp>),
        attempts: u32,
        mut change: F,
    ) -> Result<()>
    where
        F: FnMut(&mut PodRecord),
    {
        let result = record::modify(&self.store, namespace, name, |rec| {
            rec.vm.insert_attempts = rec.vm.insert_attempts.max(attempts);
            let same_pod = rec.pod.metadata.uid.as_deref() == Some(uid);
            let moved = (rec.vm.inserted, rec.vm.inserted_at) != seen;
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
