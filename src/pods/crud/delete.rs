//! Deleting a pod: delete its VM (without waiting for the operation), then its record, then
//! its archived logs (best effort: a log that could not be deleted is logged; no later pod
//! can read it, since its key carries this pod's uid).
//!
//! # Guarantees
//! The record goes only after Compute Engine accepted the VM's deletion (or the VM was already
//! gone); if the VM delete fails the record stays and the client gets 503, so no VM is ever
//! left without a record that explains it, except through a crash between the two calls,
//! which collection's orphan sweep repairs.

use k8s_openapi::api::core::v1::Pod;

use crate::error::{Error, Result};
use crate::gce::GceError;
use crate::pods::record::{self, Change, PodRecord};
use crate::pods::{DryRun, Pods, k8s_time, now};
use crate::store::StoreError;

impl Pods {
    /// Deletes a pod; returns it with `deletionTimestamp` set.
    pub async fn delete(
        &self,
        namespace: &str,
        name: &str,
        grace: Option<i64>,
        dry_run: DryRun,
    ) -> Result<Pod> {
        let (pod, _) = self
            .delete_if(namespace, name, grace, dry_run, |_| true)
            .await?;
        Ok(pod)
    }

    /// Deletes a pod if its record, as read at the time of the swap, passes `condition`
    /// (collection's precondition: still the record it decided on); otherwise leaves it.
    /// Answers the pod and whether the condition held.
    pub(crate) async fn delete_if(
        &self,
        namespace: &str,
        name: &str,
        grace: Option<i64>,
        dry_run: DryRun,
        condition: impl Fn(&PodRecord) -> bool,
    ) -> Result<(Pod, bool)> {
        // A report landing between the VM delete and the record delete loses the swap: the
        // record is read again and the (idempotent) VM delete sent again.
        let mark = |rec: &mut PodRecord| {
            if !condition(rec) {
                return Ok(Change::Keep);
            }
            let grace = grace
                .or(rec
                    .pod
                    .spec
                    .as_ref()
                    .and_then(|s| s.termination_grace_period_seconds))
                .unwrap_or(30);
            rec.pod.metadata.deletion_timestamp = Some(k8s_time(now()));
            rec.pod.metadata.deletion_grace_period_seconds = Some(grace);
            Ok(match dry_run {
                DryRun::All => Change::Keep,
                DryRun::No => Change::Delete,
            })
        };
        let deleted =
            record::modify_or_delete(&self.store, namespace, name, mark, |rec| async move {
                self.delete_vm(&rec).await
            })
            .await?;
        if deleted.change == Change::Delete {
            // Its VM's deletion was accepted: the pod stops counting against quota.
            let uid = deleted.record.pod.metadata.uid.as_deref().unwrap_or("");
            self.release_quota(namespace, uid).await;
            self.write_tombstone(namespace, name, &deleted.record.pod)
                .await;
            crate::pods::logs::archive::delete_archived(&**self.store(), &deleted.record).await;
        }
        let held = condition(&deleted.record);
        Ok((deleted.record.pod, held))
    }

    /// Leaves the deleted pod where watches find it (they report it as DELETED), so a watch
    /// resumed from an older resourceVersion still learns of the deletion. Best effort: a lost
    /// tombstone only costs a watcher the DELETED event, which its next list repairs.
    async fn write_tombstone(&self, namespace: &str, name: &str, pod: &Pod) {
        let key = record::tombstone_key(namespace, name);
        let Ok(data) = serde_json::to_vec(pod) else {
            return;
        };
        let data = bytes::Bytes::from(data);
        let result = match self.store.create(&key, data.clone()).await {
            Err(StoreError::AlreadyExists { .. }) => match self.store.get(&key).await {
                Ok(old) => self
                    .store
                    .update(&key, data, old.generation)
                    .await
                    .map(|_| ()),
                Err(e) => Err(e),
            },
            other => other.map(|_| ()),
        };
        if let Err(e) = result {
            tracing::warn!(pod = %format!("{namespace}/{name}"), error = %e, "could not write the tombstone");
        }
    }

    /// Deletes the pod's VM if it may exist; a missing VM is fine.
    pub async fn delete_vm(&self, rec: &PodRecord) -> Result<()> {
        if rec.vm.name.is_empty() || rec.vm.deleted_at.is_some() {
            return Ok(());
        }
        match self.compute.delete(&rec.vm.zone, &rec.vm.name).await {
            Ok(_) | Err(GceError::NotFound { .. }) => Ok(()),
            Err(e) => Err(Error::from(e)),
        }
    }
}
