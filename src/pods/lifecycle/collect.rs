//! Collection (`POST /gc`, Cloud Scheduler every minute; `k8sless dev` runs it itself): one
//! pass over every VM labeled `k8sless=true` and every pod record, that deletes the VMs of
//! pods that finished more than the grace ago, fails pods whose VM never reported within the
//! boot timeout or whose `activeDeadlineSeconds` passed, fails running pods whose VM vanished
//! without a word, (re)inserts the VM of a Pending pod that has none (trying the next zone
//! after a stockout), and deletes VMs that have no record once they are older than a grace.
//!
//! It lists the VMs first and the records second: a VM is inserted only after its record is
//! written, so every VM in the first list has its record in the second, and the only VMs
//! without one are real orphans (or VMs whose pod is being deleted, which are going anyway).
//!
//! # Guarantees
//! - Idempotent and safe to run concurrently (Cloud Scheduler retries, two instances): every
//!   change to a record is a compare-and-swap that first re-decides on the fresh record with
//!   the same rules, so a report or another run that got there first turns the step into a
//!   no-op; inserts carry a deterministic `requestId` per pod, zone and attempt and treat "the
//!   VM exists and is this pod's" as success; deleting a VM that is gone is success.
//! - A VM of a pod that has reported and not finished is never deleted.
//! - Records change before VMs do: a pod is marked Failed (or its VM's deletion recorded)
//!   before the VM delete is sent, so a crash in between leaves a state the next run repairs.
//! - Bounded parallelism: at most `parallelism` pods are worked on at once.
//!
//! # Assumptions
//! `list_all` covers every zone a VM can be in (the configured zones).
//!
//! # Errors
//! Failing to list VMs or records fails the whole run (503, the scheduler retries). A failure
//! on one pod is counted in the summary's `errors` and retried on the next run.

use std::collections::HashMap;
use std::time::Duration;

use futures_util::stream::{self, StreamExt};
use jiff::Timestamp;

use super::decide::{Step, VmRef, decide, failure_verdict};
use super::reinsert::Reinserted;
use super::transitions;
use crate::error::Result;
use crate::gce::GceError;
use crate::gce::labels::sanitize_value;
use crate::gce::request::ListFilter;
use crate::gce::types::{Instance, InstanceStatus};
use crate::pods::Pods;
use crate::pods::clock::elapsed;
use crate::pods::record::{self, PodRecord};
use crate::store::walk;
use crate::translate::names::{LABEL_DEPLOYMENT, LABEL_MANAGED};

/// What collection reads of each VM (not its metadata: a pod's VM carries ~30 KB of it).
const LIST_FIELDS: &str =
    "items(id,name,zone,machineType,status,labels,creationTimestamp),nextPageToken";

/// Collection settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct CollectSettings {
    /// A finished pod's VM is deleted this long after the pod finished.
    pub(crate) finished_grace: Duration,
    /// A VM that has not reported this long after its creation is failed and deleted.
    pub(crate) boot_timeout: Duration,
    /// A k8sless VM with no record is deleted once this old.
    pub(crate) orphan_grace: Duration,
    /// An inserted VM still missing from the list this long after the insert is re-inserted
    /// (its insert failed after it was accepted, e.g. a stockout reported by the operation).
    pub(crate) reinsert_after: Duration,
    /// A VM whose deletion was recorded but that is still listed is deleted again after this.
    pub(crate) redelete_after: Duration,
    /// Pods worked on at once.
    pub(crate) parallelism: usize,
}

impl CollectSettings {
    /// Settings with the given grace periods and defaults for the rest.
    pub(crate) fn new(
        finished_grace: Duration,
        boot_timeout: Duration,
        orphan_grace: Duration,
    ) -> Self {
        CollectSettings {
            finished_grace,
            boot_timeout,
            orphan_grace,
            reinsert_after: Duration::from_secs(120),
            redelete_after: Duration::from_secs(300),
            parallelism: 32,
        }
    }
}

/// What the lifecycle endpoints and dev mode's collector share.
#[derive(Debug, Clone)]
pub struct Lifecycle {
    /// Collection settings.
    pub(crate) collect: CollectSettings,
    /// The clock of lifecycle decisions.
    pub(crate) clock: crate::pods::clock::Clock,
    /// k8sless' own service account: VM deletions by it are not news.
    pub(crate) service_account: Option<String>,
}

/// One unit of work.
enum Work {
    Pod {
        namespace: String,
        name: String,
        step: Step,
    },
    Orphan(VmRef),
}

/// Records decided between two yields of the worker (a few milliseconds of decoding).
const YIELD_EVERY: usize = 256;

/// What one collection pass knows: the VM list and when it was taken.
struct Pass<'a> {
    listed: &'a Listed,
    now: Timestamp,
    listed_at: Timestamp,
    settings: &'a CollectSettings,
}

/// The VMs listed, which of them a record claims, and which carry this deployment's label
/// (the others are VMs of before deployments: a record may claim them, the orphan sweep never
/// deletes them).
#[derive(Default)]
struct Listed {
    vms: Vec<VmRef>,
    /// Where each name is in `vms` (a name may be listed in several zones): a record finds
    /// its VMs in one lookup, not a scan of all of them (one scan per adopted pod made a pass
    /// after a burst of creates quadratic in the VMs listed).
    by_name: HashMap<String, Vec<usize>>,
    claimed: Vec<bool>,
    labeled: Vec<bool>,
    /// What the records said of their namespaces.
    namespaces: crate::pods::namespaces::stranded::NamespacesSeen,
}

impl Listed {
    /// Adds a listed VM, indexed by its name; `labeled` when it carries this deployment's label.
    fn push(&mut self, vm: VmRef, labeled: bool) {
        self.by_name
            .entry(vm.name.clone())
            .or_default()
            .push(self.vms.len());
        self.vms.push(vm);
        self.claimed.push(false);
        self.labeled.push(labeled);
    }

    /// Where the VMs named `name` that carry the pod's `uid` label are in `vms`.
    fn of_pod<'a>(&'a self, name: &str, uid: &'a str) -> impl Iterator<Item = usize> + 'a {
        self.by_name
            .get(name)
            .into_iter()
            .flatten()
            .copied()
            .filter(move |&i| self.vms[i].uid == uid)
    }
}

pub(crate) use super::collect_summary::CollectSummary;
use super::collect_summary::{Done, Outcome};

impl Pods {
    /// One collection pass (see the module docs).
    pub(crate) async fn collect(
        &self,
        s: &CollectSettings,
        now: Timestamp,
    ) -> Result<CollectSummary> {
        let started = std::time::Instant::now();
        let mut listed = self.list_vms().await?;
        let mut summary = CollectSummary {
            vms: listed.vms.len(),
            ..Default::default()
        };
        let mut work = self.plan_records(&mut listed, now, s, &mut summary).await?;
        for (i, vm) in listed.vms.iter().enumerate() {
            let old = vm
                .created
                .is_some_and(|c| elapsed(c, now) >= s.orphan_grace);
            if !listed.claimed[i]
                && listed.labeled[i]
                && old
                && vm.status != Some(InstanceStatus::Stopping)
            {
                work.push(Work::Orphan(vm.clone()));
            }
        }
        let pass = Pass {
            listed: &listed,
            now,
            listed_at: now,
            settings: s,
        };
        for done in self.run_work(work, &pass).await {
            summary.count(done);
        }
        // Namespaces and quotas after the pods: a cascade's VM deletions and the VMs
        // collection just deleted are then already reflected.
        summary.namespaces = self.collect_namespaces(&listed.namespaces).await?;
        let vm_uids: std::collections::HashSet<String> =
            listed.vms.iter().map(|v| v.uid.clone()).collect();
        summary.quota_usage_repaired = self.repair_quotas(&vm_uids).await?;
        summary.elapsed_ms = started.elapsed().as_millis() as u64;
        Ok(summary)
    }

    /// This deployment's VMs: labeled `k8sless=true` and with its `k8sless-deployment` label,
    /// or with none (made before deployments). Another deployment's VMs in the project are
    /// never looked at again.
    async fn list_vms(&self) -> Result<Listed> {
        let filter = ListFilter::new()
            .label(LABEL_MANAGED, "true")
            .fields(LIST_FIELDS);
        let zones = self.settings.zones.clone();
        let deployment = self.settings.deployment.as_str();
        let mut listed = Listed::default();
        for i in self
            .compute
            .list_all(&filter)
            .await
            .map_err(crate::error::Error::from)?
        {
            let labeled = match i.labels.get(LABEL_DEPLOYMENT) {
                Some(d) if d == deployment => true,
                Some(_) => continue,
                None => false,
            };
            listed.push(VmRef::from_instance(&i, &zones), labeled);
        }
        Ok(listed)
    }

    /// Reads every record and decides what each needs, marking the VMs records claim.
    async fn plan_records(
        &self,
        listed: &mut Listed,
        now: Timestamp,
        s: &CollectSettings,
        summary: &mut CollectSummary,
    ) -> Result<Vec<Work>> {
        let mut work = Vec::new();
        let prefix = record::prefix(None);
        // Indexes suffice to decide; each step decides again on a fresh read of the record.
        // One walk of the whole prefix (`store::walk`: a page, then every namespace listed
        // concurrently; with the namespaces a list walk found, one round trip), not pages of
        // 500 in sequence: 10,000 records on Cloud Storage were 20 listings in a row.
        let known = self.snapshots.namespaces();
        // The records decoded from their index, shared with the lists: a record unchanged
        // since the last pass (or list) is not decoded again.
        let decoded = self.snapshots.decoded();
        let page = walk::entries(&**self.store(), &prefix, true, known.as_deref())
            .await
            .map_err(|e| crate::error::Error::pod_store(e, "pods"))?;
        for u in &page.unreadable {
            tracing::error!(key = %u.key, error = %u.error, "collection skips an unreadable pod record");
            summary.records += 1;
            summary.unreadable.add(format!("{}: {}", u.key, u.error));
        }
        for (i, raw) in page.entries.iter().enumerate() {
            // Deciding is CPU only (decode an index, compare): give the worker back every few
            // hundred records, or a pass over 10,000 records holds it for most of a second and
            // every request queued behind it waits (GET pod's p99 at 200 connections went from
            // 15 ms to 830 ms with dev's collector running; docs/benchmarks.md).
            if i % YIELD_EVERY == YIELD_EVERY - 1 {
                tokio::task::yield_now().await;
            }
            summary.records += 1;
            let rec = match decoded.record(raw) {
                Ok(r) => r,
                Err(e) => {
                    tracing::error!(key = %raw.key, error = %e, "collection skips a corrupt pod record");
                    summary.unreadable.add(format!("{}: {e}", raw.key));
                    continue;
                }
            };
            listed.namespaces.saw(&rec);
            let uid = sanitize_value(rec.pod.metadata.uid.as_deref().unwrap_or(""));
            let mine: Vec<usize> = listed.of_pod(&rec.vm.name, &uid).collect();
            let mut ours = Vec::with_capacity(mine.len());
            for i in mine {
                listed.claimed[i] = true;
                ours.push(listed.vms[i].clone());
            }
            if let Some(step) = decide(&rec, &ours, now, now, s) {
                work.push(Work::Pod {
                    namespace: rec.pod.metadata.namespace.clone().unwrap_or_default(),
                    name: rec.pod.metadata.name.clone().unwrap_or_default(),
                    step,
                });
            }
        }
        Ok(work)
    }

    /// Works on at most `parallelism` units at once.
    async fn run_work(&self, work: Vec<Work>, pass: &Pass<'_>) -> Vec<Done> {
        stream::iter(work)
            .map(|w| async move {
                // A unit is mostly CPU on a fast store (read, decode, encode, write: the
                // adoption of every VM created since the last pass is one each), and
                // `buffer_unordered` polls them all in this one task: each gives the worker
                // back first, so requests are served between units.
                tokio::task::yield_now().await;
                match w {
                    Work::Pod {
                        namespace,
                        name,
                        step,
                    } => {
                        let key = format!("{namespace}/{name}");
                        let outcome = self
                            .collect_pod(&namespace, &name, step, pass)
                            .await
                            .unwrap_or_else(|e| Outcome::Error(e.to_string()));
                        Done { outcome, key }
                    }
                    Work::Orphan(vm) => {
                        let key = format!("{}/{}", vm.zone, vm.name);
                        let outcome = self.collect_orphan(&vm).await;
                        Done { outcome, key }
                    }
                }
            })
            .buffer_unordered(pass.settings.parallelism.max(1))
            .collect()
            .await
    }

    async fn collect_pod(
        &self,
        namespace: &str,
        name: &str,
        step: Step,
        pass: &Pass<'_>,
    ) -> Result<Outcome> {
        let (now, s) = (pass.now, pass.settings);
        if step == Step::Insert {
            return Ok(match self.reinsert(namespace, name, now, s).await? {
                Reinserted::Inserted { zone } => Outcome::Inserted(zone),
                Reinserted::Unschedulable => Outcome::Unschedulable,
                Reinserted::Failed => Outcome::Error("the VM cannot be created".into()),
                Reinserted::Skipped(why) => Outcome::Skipped(why),
            });
        }
        // Re-decide on the fresh record inside the compare-and-swap.
        let mut decided: Option<Step> = None;
        let changed = record::modify(&self.store, namespace, name, |rec| {
            decided = redecide(rec, &step, pass);
            Ok(apply_step(rec, decided.as_ref(), pass))
        })
        .await;
        match changed {
            Ok(_) => {}
            Err(crate::error::Error::NotFound { .. }) => {
                return Ok(Outcome::Skipped("the pod was deleted"));
            }
            Err(e) => return Err(e),
        }
        let Some(step) = decided else {
            return Ok(Outcome::Skipped("changed meanwhile"));
        };
        match step {
            Step::DeleteFinished(vms) => {
                self.delete_vms(&vms).await?;
                Ok(Outcome::FinishedDeleted)
            }
            Step::Fail(f, vms) => {
                self.delete_vms(&vms).await?;
                Ok(Outcome::Failed(f))
            }
            Step::Adopt(_) => Ok(Outcome::Adopted),
            Step::Insert => Ok(Outcome::Skipped("insert")),
        }
    }

    async fn delete_vms(&self, vms: &[VmRef]) -> Result<()> {
        for vm in vms {
            match self.compute.delete(&vm.zone, &vm.name).await {
                Ok(_) | Err(GceError::NotFound { .. }) => {}
                Err(e) => return Err(crate::error::Error::from(e)),
            }
        }
        Ok(())
    }

    /// Deletes a VM that no record claims, after checking the record named in its manifest
    /// once more (it may have been created after the list was read).
    async fn collect_orphan(&self, vm: &VmRef) -> Outcome {
        let owner = match self.compute.get(&vm.zone, &vm.name).await {
            Ok(i) if i.labels.get(LABEL_DEPLOYMENT) != Some(&self.settings.deployment) => {
                return Outcome::Skipped("not this deployment's VM");
            }
            Ok(i) => owner_of(&i),
            Err(GceError::NotFound { .. }) => return Outcome::Skipped("already gone"),
            Err(e) => return Outcome::Error(e.to_string()),
        };
        if let Some(owner) = owner {
            match record::load(&self.store, &owner.namespace, &owner.name).await {
                Ok(rec) if rec.pod.metadata.uid.as_deref() == Some(owner.uid.as_str()) => {
                    return Outcome::Skipped("its record exists");
                }
                Ok(_) | Err(crate::error::Error::NotFound { .. }) => {}
                Err(e) => return Outcome::Error(e.to_string()),
            }
        }
        match self.compute.delete(&vm.zone, &vm.name).await {
            Ok(_) => Outcome::OrphanDeleted,
            Err(GceError::NotFound { .. }) => Outcome::Skipped("already gone"),
            Err(e) => Outcome::Error(e.to_string()),
        }
    }
}

/// The same decision on the fresh record, if it is still the same kind of step.
fn redecide(rec: &PodRecord, step: &Step, pass: &Pass<'_>) -> Option<Step> {
    let uid = sanitize_value(rec.pod.metadata.uid.as_deref().unwrap_or(""));
    let listed = pass.listed;
    let ours: Vec<VmRef> = listed
        .of_pod(&rec.vm.name, &uid)
        .map(|i| listed.vms[i].clone())
        .collect();
    decide(rec, &ours, pass.now, pass.listed_at, pass.settings).filter(|d| d.same_kind(step))
}

/// Records a step before its VMs change; `false` when there is nothing to record.
fn apply_step(rec: &mut PodRecord, step: Option<&Step>, pass: &Pass<'_>) -> bool {
    let now = pass.now;
    match step {
        Some(Step::DeleteFinished(_)) => transitions::finished_vm_deleted(rec, now),
        Some(Step::Fail(f, vms)) => {
            let verdict = failure_verdict(*f, &rec.vm.name, pass.settings);
            transitions::terminate(rec, verdict.reason, &verdict.message, now);
            if !vms.is_empty() {
                rec.vm.deleted_at = Some(now);
            }
        }
        Some(Step::Adopt(vm)) => transitions::scheduled(rec, vm, now),
        _ => return false,
    }
    true
}

/// The pod a VM's manifest names.
struct Owner {
    namespace: String,
    name: String,
    uid: String,
}

/// The pod a VM was made for, from its manifest metadata.
fn owner_of(i: &Instance) -> Option<Owner> {
    let manifest: serde_json::Value =
        serde_json::from_str(i.metadata_value("k8sless-manifest")?).ok()?;
    let m = manifest.get("metadata")?;
    let field = |k: &str| m.get(k).and_then(|v| v.as_str()).map(str::to_string);
    Some(Owner {
        namespace: field("namespace")?,
        name: field("name")?,
        uid: field("uid")?,
    })
}

#[cfg(test)]
#[path = "collect_tests.rs"]
mod tests;
