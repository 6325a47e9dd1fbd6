//! The simulator's state: instances per zone, operations, requestId deduplication, and the
//! lifecycle state machine (PROVISIONING → STAGING → RUNNING; stop → STOPPING → TERMINATED;
//! delete → STOPPING → gone), evaluated against [`SimClock`] so tests can drive time.
//!
//! All state sits behind one `std::sync::Mutex` that is never held across an `.await`; hooks
//! run after the lock is released.

use std::collections::{BTreeMap, HashMap, HashSet};

use crate::gce::types::{
    Instance, InstanceStatus, Operation, OperationError, OperationErrorItem, OperationStatus,
};

/// How long each transition takes, in milliseconds of the simulator's clock.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SimTimings {
    /// PROVISIONING → STAGING.
    pub provisioning_ms: u64,
    /// STAGING → RUNNING.
    pub staging_ms: u64,
    /// STOPPING → TERMINATED (stop) or gone (delete).
    pub stopping_ms: u64,
}

impl SimTimings {
    /// Every transition immediate (benchmarks, most tests).
    pub const ZERO: SimTimings = SimTimings {
        provisioning_ms: 0,
        staging_ms: 0,
        stopping_ms: 0,
    };
    /// Roughly what a small VM does (dev mode).
    pub const REALISTIC: SimTimings = SimTimings {
        provisioning_ms: 3000,
        staging_ms: 2000,
        stopping_ms: 2000,
    };
}

/// A change of one instance's state, delivered to hooks.
#[derive(Debug, Clone)]
pub struct SimChange {
    /// Zone.
    pub zone: String,
    /// The instance after the change (for `deleted`, as it was last).
    pub instance: Instance,
    /// True when the instance is gone.
    pub deleted: bool,
}

#[derive(Debug, Clone)]
pub(crate) struct SimInstance {
    pub(crate) body: Instance,
    /// When the current status began.
    pub(crate) since_ms: u64,
    /// Being deleted: disappears when STOPPING completes.
    pub(crate) deleting: bool,
}

#[derive(Debug, Clone)]
pub(crate) struct SimOperation {
    pub(crate) op: Operation,
    pub(crate) zone: String,
    pub(crate) done_at_ms: u64,
    /// Error the operation ends with.
    pub(crate) error: Option<OperationErrorItem>,
}

/// Counters for `/sim/stats` and benchmarks.
#[derive(Debug, Clone, Default, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SimStats {
    /// Calls per method.
    pub calls: BTreeMap<String, u64>,
    /// Errors injected per method.
    pub injected: BTreeMap<String, u64>,
    /// Instances ever created.
    pub instances_created: u64,
    /// Inserts answered from requestId deduplication.
    pub deduplicated_inserts: u64,
}

#[derive(Debug, Default)]
pub(crate) struct State {
    pub(crate) zones: HashMap<String, BTreeMap<String, SimInstance>>,
    pub(crate) operations: HashMap<String, SimOperation>,
    pub(crate) request_ids: HashMap<String, String>,
    /// Instances not in a stable state, to step without scanning everything.
    pub(crate) moving: HashSet<(String, String)>,
    pub(crate) next_id: u64,
    pub(crate) stats: SimStats,
}

impl State {
    /// The instance `name` in `zone`, to change.
    pub(crate) fn instance_mut(
        &mut self,
        zone: &str,
        name: &str,
    ) -> Result<&mut SimInstance, super::SimError> {
        self.zones
            .get_mut(zone)
            .and_then(|z| z.get_mut(name))
            .ok_or_else(|| super::SimError::instance_not_found(zone, name))
    }

    pub(crate) fn next_id(&mut self) -> u64 {
        self.next_id += 1;
        // Compute Engine ids are large numbers; keep ours recognisably large too.
        1_000_000_000_000 + self.next_id
    }

    /// Advances every moving instance and operation to `now`; returns the changes when
    /// `report` (someone has a hook: each change copies the whole instance, ~30 KB of it
    /// metadata, twice per insert with zero timings).
    pub(crate) fn step(
        &mut self,
        now: u64,
        t: SimTimings,
        clock: &super::SimClock,
        report: bool,
    ) -> Vec<SimChange> {
        let mut changes = Vec::new();
        let moving: Vec<(String, String)> = self.moving.iter().cloned().collect();
        for (zone, name) in moving {
            let Some(instances) = self.zones.get_mut(&zone) else {
                continue;
            };
            let Some(inst) = instances.get_mut(&name) else {
                self.moving.remove(&(zone, name));
                continue;
            };
            loop {
                let status = inst.body.status.unwrap_or(InstanceStatus::Provisioning);
                let (next, after) = match status {
                    InstanceStatus::Provisioning => (InstanceStatus::Staging, t.provisioning_ms),
                    InstanceStatus::Staging => (InstanceStatus::Running, t.staging_ms),
                    InstanceStatus::Stopping => (InstanceStatus::Terminated, t.stopping_ms),
                    _ => break,
                };
                if now < inst.since_ms + after {
                    break;
                }
                let at = inst.since_ms + after;
                inst.body.status = Some(next);
                inst.since_ms = at;
                match next {
                    InstanceStatus::Running => {
                        inst.body.last_start_timestamp = Some(clock.rfc3339(at))
                    }
                    InstanceStatus::Terminated => {
                        inst.body.last_stop_timestamp = Some(clock.rfc3339(at))
                    }
                    _ => {}
                }
                let deleted = next == InstanceStatus::Terminated && inst.deleting;
                if report {
                    changes.push(SimChange {
                        zone: zone.clone(),
                        instance: inst.body.clone(),
                        deleted,
                    });
                }
                if deleted {
                    break;
                }
            }
            let status = inst.body.status;
            let gone = inst.deleting && status == Some(InstanceStatus::Terminated);
            if gone {
                instances.remove(&name);
                self.moving.remove(&(zone, name));
            } else if matches!(
                status,
                Some(InstanceStatus::Running | InstanceStatus::Terminated)
            ) {
                self.moving.remove(&(zone, name));
            }
        }
        changes
    }

    /// The operation as of `now`.
    pub(crate) fn operation_view(
        &self,
        name: &str,
        now: u64,
        clock: &super::SimClock,
    ) -> Option<Operation> {
        let sim = self.operations.get(name)?;
        let mut op = sim.op.clone();
        if now >= sim.done_at_ms {
            op.status = OperationStatus::Done;
            op.progress = Some(100);
            op.end_time = Some(clock.rfc3339(sim.done_at_ms));
            if let Some(err) = &sim.error {
                op.error = Some(OperationError {
                    errors: vec![err.clone()],
                });
                op.http_error_status_code = Some(if err.code == "ZONE_RESOURCE_POOL_EXHAUSTED" {
                    503
                } else {
                    400
                });
                op.http_error_message = Some("SERVICE UNAVAILABLE".into());
            }
        } else {
            op.status = OperationStatus::Running;
            op.progress = Some(0);
        }
        Some(op)
    }
}
