//! `instances`: insert (with requestId deduplication and stockouts), get, list (filter and
//! paging), delete, stop, and the guest's own power-off.

use super::encoding::{decode_token, encode_token, fingerprint, items_fingerprint};
use super::operations::NewOperation;
use super::state::{SimInstance, State};
use super::{Sim, SimChange, SimError, filter, validate};
use crate::gce::types::{
    Instance, InstanceList, InstanceStatus, Metadata, Operation, OperationErrorItem,
};

/// A requestId must be a valid, non-nil UUID.
fn check_request_id(request_id: Option<&str>) -> Result<(), SimError> {
    let Some(rid) = request_id else { return Ok(()) };
    if uuid::Uuid::parse_str(rid)
        .map(|u| u.is_nil())
        .unwrap_or(true)
    {
        return Err(SimError::invalid(format!(
            "Invalid value for field 'requestId': '{rid}'. Must be a valid, non-zero UUID."
        )));
    }
    Ok(())
}

impl Sim {
    /// `instances.insert`.
    pub fn insert_instance(
        &self,
        project: &str,
        zone: &str,
        body: Instance,
        request_id: Option<&str>,
        stockout: bool,
    ) -> Result<Operation, SimError> {
        check_request_id(request_id)?;
        validate::check_insert(zone, &body).map_err(SimError::invalid)?;
        let now = self.inner.clock.now_ms();
        let name = body.name.clone();
        let report = self.has_hooks();
        let (op, changes) = {
            let mut st = self.lock();
            if let Some(op_name) = request_id.and_then(|r| st.request_ids.get(r)).cloned() {
                st.stats.deduplicated_inserts += 1;
                return st
                    .operation_view(&op_name, now, &self.inner.clock)
                    .ok_or_else(|| SimError::new(500, "backendError", "lost operation"));
            }
            if st.zones.get(zone).is_some_and(|z| z.contains_key(&name)) {
                return Err(SimError::new(
                    409,
                    "alreadyExists",
                    format!(
                        "The resource 'projects/{project}/zones/{zone}/instances/{name}' already exists"
                    ),
                ));
            }
            let op = if stockout {
                self.stockout_operation(&mut st, project, zone, &body)
            } else {
                self.provision(&mut st, project, zone, body, now)
            };
            if let Some(rid) = request_id {
                st.request_ids.insert(rid.to_string(), op.name.clone());
            }
            let changes = st.step(now, self.inner.config.timings, &self.inner.clock, report);
            (op, changes)
        };
        // The insert itself is a change for hooks (PROVISIONING), then whatever step did.
        if !stockout && report {
            if let Some(inst) = self
                .get_instance(zone, &name)
                .ok()
                .filter(|_| changes.is_empty())
            {
                self.emit(vec![SimChange {
                    zone: zone.to_string(),
                    instance: inst,
                    deleted: false,
                }]);
            }
        }
        self.emit(changes);
        Ok(op)
    }

    /// An insert that ends with `ZONE_RESOURCE_POOL_EXHAUSTED`; no instance is made.
    fn stockout_operation(
        &self,
        st: &mut State,
        project: &str,
        zone: &str,
        body: &Instance,
    ) -> Operation {
        let error = OperationErrorItem {
            code: "ZONE_RESOURCE_POOL_EXHAUSTED".into(),
            message: Some(format!(
                "The zone 'projects/{project}/zones/{zone}' does not have enough resources available to fulfill the request. Try a different zone, or try again later."
            )),
            location: None,
        };
        self.new_operation(
            st,
            NewOperation {
                project,
                zone,
                kind: "insert",
                target: body,
                delay_ms: self.inner.config.timings.provisioning_ms,
                error: Some(error),
            },
        )
    }

    /// Fills in what Compute Engine sets on an instance, stores it PROVISIONING, and returns
    /// the insert operation.
    fn provision(
        &self,
        st: &mut State,
        project: &str,
        zone: &str,
        mut body: Instance,
        now: u64,
    ) -> Operation {
        let id = st.next_id();
        let zone_url = self.zone_url(project, zone);
        body.kind = Some("compute#instance".into());
        body.id = Some(id.to_string());
        body.creation_timestamp = Some(self.inner.clock.rfc3339(now));
        body.zone = Some(zone_url.clone());
        body.self_link = Some(format!("{zone_url}/instances/{}", body.name));
        body.status = Some(InstanceStatus::Provisioning);
        body.label_fingerprint = Some(fingerprint(&body.labels));
        body.machine_type = format!(
            "{zone_url}/machineTypes/{}",
            validate::parse_machine_type(&body.machine_type)
                .map(|(_, t)| t)
                .unwrap_or("")
        );
        assign_addresses(&mut body, id);
        let md = body.metadata.get_or_insert_with(Metadata::default);
        md.kind = Some("compute#metadata".into());
        md.fingerprint = Some(items_fingerprint(&md.items));
        let op = self.new_operation(
            st,
            NewOperation {
                project,
                zone,
                kind: "insert",
                target: &body,
                delay_ms: self.inner.config.timings.provisioning_ms,
                error: None,
            },
        );
        let name = body.name.clone();
        st.zones.entry(zone.to_string()).or_default().insert(
            name.clone(),
            SimInstance {
                body,
                since_ms: now,
                deleting: false,
            },
        );
        st.moving.insert((zone.to_string(), name));
        st.stats.instances_created += 1;
        op
    }

    /// `instances.get`.
    pub fn get_instance(&self, zone: &str, name: &str) -> Result<Instance, SimError> {
        let st = self.lock();
        st.zones
            .get(zone)
            .and_then(|z| z.get(name))
            .map(|i| i.body.clone())
            .ok_or_else(|| SimError::instance_not_found(zone, name))
    }

    /// `instances.list` with filter and paging (ordered by name; the page token is the last
    /// name returned, so concurrent inserts never make a page repeat or skip an instance that
    /// existed throughout).
    pub fn list_instances(
        &self,
        zone: &str,
        filter: &filter::Filter,
        max_results: usize,
        page_token: Option<&str>,
        with_metadata: bool,
    ) -> Result<InstanceList, SimError> {
        let after = match page_token {
            Some(t) => Some(
                decode_token(t)
                    .ok_or_else(|| SimError::invalid("Invalid value for field 'pageToken'."))?,
            ),
            None => None,
        };
        let mut st = self.lock();
        let mut items = Vec::new();
        let mut next = None;
        if let Some(instances) = st.zones.get_mut(zone) {
            let range = match &after {
                Some(a) => instances.range_mut::<String, _>((
                    std::ops::Bound::Excluded(a),
                    std::ops::Bound::Unbounded,
                )),
                None => instances.range_mut::<String, _>(..),
            };
            for inst in range.map(|(_, inst)| inst) {
                if !filter.matches(&inst.body) {
                    continue;
                }
                if items.len() == max_results {
                    next = items.last().map(|i: &Instance| encode_token(&i.name));
                    break;
                }
                // Without its metadata (most of an instance: the user-data) when the caller's
                // `fields` leave it out: set aside while the rest is copied.
                let metadata = if with_metadata {
                    None
                } else {
                    inst.body.metadata.take()
                };
                items.push(inst.body.clone());
                if metadata.is_some() {
                    inst.body.metadata = metadata;
                }
            }
        }
        Ok(InstanceList {
            kind: Some("compute#instanceList".into()),
            id: Some(format!("projects/zones/{zone}/instances")),
            items,
            next_page_token: next,
            self_link: None,
        })
    }

    /// `instances.delete`.
    pub fn delete_instance(
        &self,
        project: &str,
        zone: &str,
        name: &str,
    ) -> Result<Operation, SimError> {
        let now = self.inner.clock.now_ms();
        let timings = self.inner.config.timings;
        let (op, changes) = {
            let mut st = self.lock();
            let inst = st.instance_mut(zone, name)?;
            if !inst.deleting {
                inst.deleting = true;
                inst.since_ms = if inst.body.status != Some(InstanceStatus::Terminated) {
                    now
                } else {
                    // A stopped instance goes at once.
                    now.saturating_sub(timings.stopping_ms)
                };
                inst.body.status = Some(InstanceStatus::Stopping);
            }
            let body = inst.body.clone();
            st.moving.insert((zone.to_string(), name.to_string()));
            let op = self.new_operation(
                &mut st,
                NewOperation {
                    project,
                    zone,
                    kind: "delete",
                    target: &body,
                    delay_ms: timings.stopping_ms,
                    error: None,
                },
            );
            let changes = st.step(now, timings, &self.inner.clock, self.has_hooks());
            (op, changes)
        };
        self.emit(changes);
        Ok(op)
    }

    /// RUNNING (or on its way) → STOPPING, then whatever is due; returns the instance.
    fn stop_instance(&self, zone: &str, name: &str) -> Result<Instance, SimError> {
        let now = self.inner.clock.now_ms();
        let timings = self.inner.config.timings;
        let (body, changes) = {
            let mut st = self.lock();
            let inst = st.instance_mut(zone, name)?;
            if matches!(
                inst.body.status,
                Some(
                    InstanceStatus::Running
                        | InstanceStatus::Staging
                        | InstanceStatus::Provisioning
                )
            ) {
                inst.body.status = Some(InstanceStatus::Stopping);
                inst.since_ms = now;
            }
            let body = inst.body.clone();
            st.moving.insert((zone.to_string(), name.to_string()));
            let changes = st.step(now, timings, &self.inner.clock, self.has_hooks());
            (body, changes)
        };
        let mut all = vec![SimChange {
            zone: zone.to_string(),
            instance: body.clone(),
            deleted: false,
        }];
        all.extend(changes);
        self.emit(all);
        Ok(body)
    }

    /// `instances.stop`.
    pub fn stop(&self, project: &str, zone: &str, name: &str) -> Result<Operation, SimError> {
        let body = self.stop_instance(zone, name)?;
        let mut st = self.lock();
        Ok(self.new_operation(
            &mut st,
            NewOperation {
                project,
                zone,
                kind: "stop",
                target: &body,
                delay_ms: self.inner.config.timings.stopping_ms,
                error: None,
            },
        ))
    }

    /// Preemption by Compute Engine (what the `compute.instances.preempted` system event
    /// reports): only a Spot (`scheduling.provisioningModel: SPOT`) or preemptible VM can be
    /// preempted; it goes STOPPING → TERMINATED with `lastStopTimestamp` set, and is then
    /// deleted when its `instanceTerminationAction` is `DELETE` (k8sless' Spot VMs).
    pub fn preempt(&self, zone: &str, name: &str) -> Result<(), SimError> {
        {
            let mut st = self.lock();
            let inst = st
                .zones
                .get_mut(zone)
                .and_then(|z| z.get_mut(name))
                .ok_or_else(|| SimError::instance_not_found(zone, name))?;
            let scheduling = inst.body.scheduling.clone().unwrap_or_default();
            let spot = scheduling.preemptible == Some(true)
                || scheduling.provisioning_model.as_deref() == Some("SPOT");
            if !spot {
                return Err(SimError::invalid(format!(
                    "instance {name} is neither Spot nor preemptible; Compute Engine does not preempt it"
                )));
            }
            if scheduling.instance_termination_action.as_deref() == Some("DELETE") {
                inst.deleting = true;
            }
        }
        self.stop_instance(zone, name).map(|_| ())
    }

    /// Power-off from inside the guest (`systemctl poweroff`): RUNNING → STOPPING → TERMINATED.
    pub fn guest_poweroff(&self, zone: &str, name: &str) -> Result<(), SimError> {
        self.stop_instance(zone, name).map(|_| ())
    }
}

/// Internal and external IPs derived from the instance id, one internal IP per interface.
fn assign_addresses(body: &mut Instance, id: u64) {
    for (i, nic) in body.network_interfaces.iter_mut().enumerate() {
        nic.network_ip = Some(format!(
            "10.128.{}.{}",
            (id / 250) % 250,
            id % 250 + 2 + i as u64
        ));
        for ac in &mut nic.access_configs {
            ac.nat_ip = Some(format!("203.0.113.{}", id % 250 + 1));
        }
    }
}
