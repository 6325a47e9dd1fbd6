//! What one collection did: the JSON answer of `POST /gc`, counted per outcome.

use serde::Serialize;

use super::decide::Failure;

/// A count and the first few names.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub(crate) struct Tally {
    /// How many.
    pub(crate) count: usize,
    /// The first 50.
    pub(crate) items: Vec<String>,
}

impl Tally {
    pub(super) fn add(&mut self, item: String) {
        self.count += 1;
        if self.items.len() < 50 {
            self.items.push(item);
        }
    }
}

/// What one collection did (the JSON answer of `POST /gc`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct CollectSummary {
    /// Pod records seen.
    pub(crate) records: usize,
    /// k8sless VMs seen.
    pub(crate) vms: usize,
    /// VMs of finished pods deleted.
    pub(crate) finished_vms_deleted: Tally,
    /// Pods failed because their VM never reported.
    pub(crate) boot_timeouts: Tally,
    /// Pods failed for `activeDeadlineSeconds`.
    pub(crate) deadlines_exceeded: Tally,
    /// Running pods failed because their VM is gone.
    pub(crate) nodes_lost: Tally,
    /// VMs (re)inserted, as `namespace/name@zone`.
    pub(crate) inserted: Tally,
    /// Pending pods still waiting for capacity or quota.
    pub(crate) unschedulable: Tally,
    /// VMs found for records that did not know their insert had succeeded.
    pub(crate) adopted: Tally,
    /// VMs without a record deleted, as `zone/name`.
    pub(crate) orphans_deleted: Tally,
    /// Steps found already done by someone else.
    pub(crate) skipped: Tally,
    /// Failures (retried next run).
    pub(crate) errors: Tally,
    /// Records that could not be read (download failed, or corrupt): skipped, the others
    /// collected.
    pub(crate) unreadable: Tally,
    /// Namespaces finalized, still terminating, adopted.
    pub(crate) namespaces: crate::pods::namespaces::finalize::NamespaceSweep,
    /// Namespaces whose quota usage was repaired (drift, or charges released).
    pub(crate) quota_usage_repaired: Vec<String>,
    /// Wall time of the run.
    pub(crate) elapsed_ms: u64,
}

/// One unit of work's outcome, with the pod or VM it was about.
pub(super) struct Done {
    pub(super) outcome: Outcome,
    pub(super) key: String,
}

/// What happened to one unit of work.
pub(super) enum Outcome {
    FinishedDeleted,
    Failed(Failure),
    Inserted(String),
    Unschedulable,
    Adopted,
    OrphanDeleted,
    Skipped(&'static str),
    Error(String),
}

impl CollectSummary {
    pub(super) fn count(&mut self, done: Done) {
        let Done { outcome, key } = done;
        match outcome {
            Outcome::FinishedDeleted => self.finished_vms_deleted.add(key),
            Outcome::Failed(Failure::BootTimeout) => self.boot_timeouts.add(key),
            Outcome::Failed(Failure::DeadlineExceeded) => self.deadlines_exceeded.add(key),
            Outcome::Failed(Failure::NodeLost) => self.nodes_lost.add(key),
            Outcome::Inserted(zone) => self.inserted.add(format!("{key}@{zone}")),
            Outcome::Unschedulable => self.unschedulable.add(key),
            Outcome::Adopted => self.adopted.add(key),
            Outcome::OrphanDeleted => self.orphans_deleted.add(key),
            Outcome::Skipped(why) => self.skipped.add(format!("{key}: {why}")),
            Outcome::Error(e) => self.errors.add(format!("{key}: {e}")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tally_keeps_count_and_a_sample() {
        let mut tally = Tally::default();
        for i in 0..60 {
            tally.add(i.to_string());
        }
        assert_eq!(tally.count, 60);
        assert_eq!(tally.items.len(), 50);
    }
}
