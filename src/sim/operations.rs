//! `zoneOperations`: the operation every mutation returns, its view as of the simulator's
//! clock (PENDING/RUNNING until due, then DONE, with an error for stockouts), get and wait.

use std::time::Duration;

use super::state::{SimOperation, State};
use super::{Sim, SimError};
use crate::gce::types::{Instance, Operation, OperationErrorItem, OperationStatus};

/// What a new operation is about.
pub(crate) struct NewOperation<'a> {
    pub(crate) project: &'a str,
    pub(crate) zone: &'a str,
    /// `insert`, `delete`, `stop`, `setLabels`, `setMetadata`.
    pub(crate) kind: &'a str,
    pub(crate) target: &'a Instance,
    /// How long until DONE.
    pub(crate) delay_ms: u64,
    /// The error it ends with.
    pub(crate) error: Option<OperationErrorItem>,
}

impl Sim {
    pub(crate) fn zone_url(&self, project: &str, zone: &str) -> String {
        format!(
            "{}/projects/{project}/zones/{zone}",
            self.inner.config.base_url
        )
    }

    /// Records a new operation and returns its current view.
    pub(crate) fn new_operation(&self, st: &mut State, new: NewOperation<'_>) -> Operation {
        let now = self.inner.clock.now_ms();
        let id = st.next_id();
        let name = format!("operation-{now}-{id}");
        let zone_url = self.zone_url(new.project, new.zone);
        let op = Operation {
            kind: Some("compute#operation".into()),
            id: Some(id.to_string()),
            name: name.clone(),
            zone: Some(zone_url.clone()),
            operation_type: Some(new.kind.to_string()),
            target_link: Some(format!("{zone_url}/instances/{}", new.target.name)),
            target_id: new.target.id.clone(),
            status: OperationStatus::Pending,
            progress: Some(0),
            insert_time: Some(self.inner.clock.rfc3339(now)),
            start_time: Some(self.inner.clock.rfc3339(now)),
            self_link: Some(format!("{zone_url}/operations/{name}")),
            user: Some("k8sless-sim".into()),
            ..Default::default()
        };
        st.operations.insert(
            name.clone(),
            SimOperation {
                op,
                zone: new.zone.to_string(),
                done_at_ms: now + new.delay_ms,
                error: new.error,
            },
        );
        let mut view = st
            .operation_view(&name, now, &self.inner.clock)
            .unwrap_or_default();
        view.name = name;
        view
    }

    /// `zoneOperations.get`.
    pub fn get_operation(&self, zone: &str, name: &str) -> Result<Operation, SimError> {
        let st = self.lock();
        let now = self.inner.clock.now_ms();
        st.operations
            .get(name)
            .filter(|o| o.zone == zone)
            .and_then(|_| st.operation_view(name, now, &self.inner.clock))
            .ok_or_else(|| {
                SimError::new(
                    404,
                    "notFound",
                    format!("The resource 'projects/zones/{zone}/operations/{name}' was not found"),
                )
            })
    }

    /// `zoneOperations.wait`: returns when DONE or after `max` (real time); a manual clock
    /// never moves by itself, so Explicit mode answers at once.
    pub async fn wait_operation(
        &self,
        zone: &str,
        name: &str,
        max: Duration,
    ) -> Result<Operation, SimError> {
        let until = tokio::time::Instant::now() + max;
        loop {
            let op = self.get_operation(zone, name)?;
            if op.status == OperationStatus::Done
                || self.inner.clock.is_manual()
                || tokio::time::Instant::now() >= until
            {
                return Ok(op);
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }
}
