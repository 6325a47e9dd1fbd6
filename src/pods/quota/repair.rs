//! Repairing a namespace's quota usage from what is true: the pod records and the VMs listed.
//! Collection runs it for every namespace with quotas on every pass, and a new quota runs it
//! once for its namespace, so usage drifts for at most one pass whatever crashed in between
//! (a charge whose create died before its record, a release that failed, a VM deleted by
//! collection). A usage object whose namespace has no quota left (a create that charged it
//! after the last quota, or the namespace, was deleted) is deleted by the same pass.
//!
//! A charge stays while its pod's VM may still run: its pod has not finished and its record
//! does not say the VM was deleted, or its VM is still listed (a finished pod counts until
//! collection deletes its VM).
//! A charge with neither is kept for [`RESERVATION_GRACE`] after it was taken: its create may
//! still be between the charge and the record. A record that counts without a charge (created
//! before the quota) is charged from the record.

use std::collections::HashSet;
use std::time::Duration;

use super::charge;
use super::usage::Charge;
use crate::error::Result;
use crate::gce::catalog;
use crate::gce::labels::sanitize_value;
use crate::pods::Pods;
use crate::pods::clock::elapsed;
use crate::pods::crud::read::ListOptions;
use crate::pods::record::PodRecord;

/// How long a charge without a record is kept: longer than any create takes between the charge
/// and its record write.
pub(crate) const RESERVATION_GRACE: Duration = Duration::from_secs(120);

/// Whether the record's pod counts on its own: not finished and its VM not deleted. A finished
/// pod counts while its VM is still listed (collection deletes it a grace after the end).
fn counts(rec: &PodRecord) -> bool {
    rec.vm.deleted_at.is_none() && !rec.is_finished()
}

impl Pods {
    /// The charge of a record that has none (its pod was created before the quota): its
    /// resources and its machine type's price, with GPUs at their accelerator's price.
    fn charge_of_record(&self, rec: &PodRecord) -> charge::Amounts {
        let machine =
            catalog::lookup(&rec.vm.machine_type).or_else(|| catalog::custom(&rec.vm.machine_type));
        let mut amounts = charge::of_pod(&rec.pod, 0);
        let gpus = amounts.get("requests.nvidia.com/gpu").copied().unwrap_or(0) / 1000;
        let accelerator = rec
            .pod
            .spec
            .as_ref()
            .and_then(|s| s.node_selector.as_ref())
            .and_then(|n| n.get("cloud.google.com/gke-accelerator").cloned())
            .or_else(|| self.settings.default_accelerator.clone());
        let price = machine.map_or(0, |m| {
            let attached = match (&accelerator, m.accelerator) {
                (Some(a), None) if gpus > 0 => vec![(a.clone(), u32::try_from(gpus).unwrap_or(0))],
                _ => Vec::new(),
            };
            charge::price_milli(&m, &attached)
        });
        amounts.insert(charge::HOURLY_PRICE.into(), price);
        amounts
    }

    /// Rebuilds `namespace`'s usage from its records; `vms` (the uids of the VMs listed) lets
    /// charges of deleted records whose VM still runs stay. Without it (a new quota) no charge
    /// is dropped, only missing ones added. True when the usage changed.
    ///
    /// # Errors
    /// The store's.
    pub(crate) async fn repair_usage(
        &self,
        namespace: &str,
        vms: Option<&HashSet<String>>,
    ) -> Result<bool> {
        let records = self
            .list(Some(namespace), &ListOptions::default())
            .await?
            .items;
        let now = jiff::Timestamp::now();
        let mut changed = false;
        self.modify_usage(namespace, |usage| {
            let before = usage.clone();
            let mut live = HashSet::new();
            for rec in records.iter().filter(|r| counts(r)) {
                let uid = rec.pod.metadata.uid.clone().unwrap_or_default();
                live.insert(uid.clone());
                usage.pods.entry(uid).or_insert_with(|| Charge {
                    pod: rec.pod.metadata.name.clone().unwrap_or_default(),
                    at: now,
                    amounts: self.charge_of_record(rec),
                });
            }
            if let Some(vms) = vms {
                usage.pods.retain(|uid, c| {
                    live.contains(uid)
                        || vms.contains(&sanitize_value(uid))
                        || elapsed(c.at, now) < RESERVATION_GRACE
                });
            }
            changed = *usage != before;
            Ok(changed)
        })
        .await?;
        Ok(changed)
    }

    /// Collection's part: repairs the usage of every namespace that has quotas; returns the
    /// namespaces whose usage changed.
    ///
    /// # Errors
    /// The store's, listing quotas; a namespace that fails is logged and retried next pass.
    pub(crate) async fn repair_quotas(&self, vms: &HashSet<String>) -> Result<Vec<String>> {
        // The usage objects are listed before the quotas: a usage seen here was written before
        // this listing, so a quota behind it (its repair writes the usage after the quota) is
        // in the quota listing below, and no usage a quota needs is taken for an orphan.
        let usages = super::usage::list(self.store.as_ref()).await?;
        let mut namespaces: Vec<String> = self
            .quota_objects
            .list(None)
            .await?
            .items
            .into_iter()
            .filter_map(|q| q.metadata.namespace)
            .collect();
        namespaces.dedup();
        for (namespace, generation) in usages {
            if !namespaces.contains(&namespace) {
                // Best effort: a miss is retried next pass; a usage changed since is left.
                tracing::info!(
                    namespace,
                    "deleting the quota usage of a namespace without quotas"
                );
                if let Err(e) = self.delete_usage(&namespace, Some(generation)).await {
                    tracing::warn!(namespace, error = %e.chain(), "could not delete an orphan quota usage; retried next pass");
                }
            }
        }
        let mut repaired = Vec::new();
        for ns in namespaces {
            match self.repair_usage(&ns, Some(vms)).await {
                Ok(true) => repaired.push(ns),
                Ok(false) => {}
                Err(e) => {
                    tracing::warn!(namespace = %ns, error = %e.chain(), "quota usage repair failed; retried next pass")
                }
            }
        }
        Ok(repaired)
    }
}
