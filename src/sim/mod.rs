//! A Compute Engine simulator behind the same REST API as `compute.googleapis.com/compute/v1`
//! (instances insert, get, list, delete, stop, setLabels, setMetadata; zoneOperations get and
//! wait), so tests, benchmarks and `dev` mode run the production [`crate::gce::Client`].
//!
//! Runnable alone (`k8sless gce-sim`) or embedded ([`Sim::router`]). `Auto` mode moves
//! instances through their lifecycle on a real clock; `Explicit` mode uses a manual clock that
//! tests advance (`POST /sim/advance` or [`Sim::advance`]). Faults are injected per method and
//! zone ([`faults::FaultRule`]). Hooks ([`Sim::on_event`]) see every state change, which is how
//! dev mode's simulated guests run their pods.

pub mod clock;
pub mod faults;
pub mod fields;
pub mod filter;
pub mod guest;
mod logs;
pub mod schema;
pub mod server;
pub mod state;
pub mod validate;

use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;

pub use clock::SimClock;
use faults::{FaultRule, Injected};
pub use state::{SimEvent, SimStats, SimTimings};
use state::{SimInstance, SimOperation, State};

use crate::gce::types::{
    Instance, InstanceList, InstanceStatus, Metadata, Operation, OperationErrorItem,
    OperationStatus,
};

/// A hook called after each state change.
pub type SimHook = Arc<dyn Fn(SimEvent) + Send + Sync>;

/// Timer-driven or test-driven.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SimMode {
    /// Real clock; a driver task advances instances.
    Auto,
    /// Manual clock; tests advance it.
    Explicit,
}

/// Settings of a simulator.
#[derive(Debug, Clone)]
pub struct SimConfig {
    /// Auto or Explicit.
    pub mode: SimMode,
    /// Transition times.
    pub timings: SimTimings,
    /// Faults from the start.
    pub faults: Vec<FaultRule>,
    /// URL prefix for selfLinks (`http://127.0.0.1:PORT/compute/v1`).
    pub base_url: String,
    /// The discovery document to check request bodies against, if any.
    pub schema: Option<Arc<schema::Discovery>>,
}

impl Default for SimConfig {
    fn default() -> Self {
        SimConfig {
            mode: SimMode::Explicit,
            timings: SimTimings::ZERO,
            faults: Vec::new(),
            base_url: "https://compute.googleapis.com/compute/v1".into(),
            schema: None,
        }
    }
}

/// An error the simulator answers with, in Google's shape.
#[derive(Debug, Clone, PartialEq)]
pub struct SimError {
    /// HTTP status.
    pub code: u16,
    /// Reason (`notFound`, `alreadyExists`, `invalid`, `conditionNotMet`, `rateLimitExceeded`, ...).
    pub reason: &'static str,
    /// Message.
    pub message: String,
}

impl SimError {
    fn new(code: u16, reason: &'static str, message: impl Into<String>) -> Self {
        SimError {
            code,
            reason,
            message: message.into(),
        }
    }
    fn injected(code: u16) -> Self {
        match code {
            429 => SimError::new(429, "rateLimitExceeded", "Rate Limit Exceeded (injected)"),
            403 => SimError::new(403, "rateLimitExceeded", "Rate Limit Exceeded (injected)"),
            500 => SimError::new(500, "backendError", "Internal Error (injected)"),
            502 => SimError::new(502, "backendError", "Bad Gateway (injected)"),
            504 => SimError::new(504, "backendError", "Deadline Exceeded (injected)"),
            _ => SimError::new(503, "backendError", "Service Unavailable (injected)"),
        }
    }
}

struct Inner {
    state: Mutex<State>,
    clock: SimClock,
    config: SimConfig,
    faults: Mutex<Vec<FaultRule>>,
    hooks: RwLock<Vec<SimHook>>,
    quota_window: Mutex<(std::time::Instant, u32)>,
}

/// The simulator. Cheap to clone.
#[derive(Clone)]
pub struct Sim {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for Sim {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Sim")
            .field("mode", &self.inner.config.mode)
            .finish()
    }
}

impl Sim {
    /// A simulator; in `Auto` mode call [`Sim::spawn_driver`] inside a runtime.
    pub fn new(config: SimConfig) -> Self {
        let clock = match config.mode {
            SimMode::Auto => SimClock::real(),
            SimMode::Explicit => SimClock::manual(),
        };
        Sim {
            inner: Arc::new(Inner {
                state: Mutex::new(State::default()),
                clock,
                faults: Mutex::new(config.faults.clone()),
                config,
                hooks: RwLock::new(Vec::new()),
                quota_window: Mutex::new((std::time::Instant::now(), 0)),
            }),
        }
    }

    /// The axum router serving `/compute/v1/...` and `/sim/...`.
    pub fn router(&self) -> axum::Router {
        server::router(self.clone())
    }

    /// Advances instances on a timer (Auto mode). Stops when the simulator is dropped.
    pub fn spawn_driver(&self) -> tokio::task::JoinHandle<()> {
        let weak = Arc::downgrade(&self.inner);
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(Duration::from_millis(50));
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
            loop {
                tick.tick().await;
                let Some(inner) = weak.upgrade() else { return };
                Sim { inner }.step();
            }
        })
    }

    /// Registers a hook for state changes.
    pub fn on_event(&self, hook: SimHook) {
        if let Ok(mut hooks) = self.inner.hooks.write() {
            hooks.push(hook);
        }
    }

    /// Moves a manual clock forward and applies due transitions.
    pub fn advance(&self, by: Duration) {
        self.inner.clock.advance(by.as_millis() as u64);
        self.step();
    }

    /// Applies due transitions and runs hooks.
    pub fn step(&self) {
        let events = {
            let mut st = self.lock();
            let now = self.inner.clock.now_ms();
            st.step(now, self.inner.config.timings, &self.inner.clock)
        };
        self.emit(events);
    }

    /// Replaces the fault rules.
    pub fn set_faults(&self, rules: Vec<FaultRule>) {
        if let Ok(mut f) = self.inner.faults.lock() {
            *f = rules;
        }
    }

    /// Current fault rules.
    pub fn faults(&self) -> Vec<FaultRule> {
        self.inner
            .faults
            .lock()
            .map(|f| f.clone())
            .unwrap_or_default()
    }

    /// Counters.
    pub fn stats(&self) -> SimStats {
        self.lock().stats.clone()
    }

    /// Every instance, all zones (tests and `/sim/instances`).
    pub fn instances(&self) -> Vec<Instance> {
        let st = self.lock();
        let mut all: Vec<Instance> = st
            .zones
            .values()
            .flat_map(|z| z.values().map(|i| i.body.clone()))
            .collect();
        all.sort_by(|a, b| a.name.cmp(&b.name));
        all
    }

    /// Power-off from inside the guest (`systemctl poweroff`): RUNNING → STOPPING → TERMINATED.
    pub fn guest_poweroff(&self, zone: &str, name: &str) -> Result<(), SimError> {
        self.stop_instance(zone, name).map(|_| ())
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        // A panic while holding the lock is a simulator bug; keep serving with the data as is.
        self.inner
            .state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn emit(&self, events: Vec<SimEvent>) {
        if events.is_empty() {
            return;
        }
        let hooks = self
            .inner
            .hooks
            .read()
            .map(|h| h.clone())
            .unwrap_or_default();
        for event in events {
            for hook in &hooks {
                hook(event.clone());
            }
        }
    }

    /// Decides the faults for one call; counts it.
    pub(crate) fn inject(&self, method: &str, zone: &str) -> Injected {
        let mut injected = Injected::default();
        let mut faults = match self.inner.faults.lock() {
            Ok(f) => f,
            Err(p) => p.into_inner(),
        };
        for rule in faults.iter_mut().filter(|r| r.matches(method, zone)) {
            injected.delay_ms += rule.latency_ms;
            if rule.stockout && method == "insert" {
                injected.stockout = true;
            }
            if injected.error.is_some() {
                continue;
            }
            if rule.fail_next > 0 {
                rule.fail_next -= 1;
                injected.error = Some(rule.codes.first().copied().unwrap_or(503));
                continue;
            }
            if rule.timeout_rate > 0.0 && rand::random::<f64>() < rule.timeout_rate {
                injected.delay_ms += rule.hang_ms.max(1);
                injected.error = Some(504);
                injected.after_effect = rand::random::<bool>();
                continue;
            }
            if rule.error_rate > 0.0 && rand::random::<f64>() < rule.error_rate {
                let codes = if rule.codes.is_empty() {
                    vec![503]
                } else {
                    rule.codes.clone()
                };
                injected.error = Some(codes[rand::random_range(0..codes.len())]);
                // Half of injected mutation errors happen after the work is done: a lost
                // response, which only requestId deduplication makes safe to retry.
                injected.after_effect = rand::random::<bool>();
            }
            if rule.quota_per_second > 0 && method == "insert" {
                let mut window = self
                    .inner
                    .quota_window
                    .lock()
                    .unwrap_or_else(|p| p.into_inner());
                if window.0.elapsed() >= Duration::from_secs(1) {
                    *window = (std::time::Instant::now(), 0);
                }
                window.1 += 1;
                if window.1 > rule.quota_per_second {
                    injected.error = Some(403);
                    injected.after_effect = false;
                }
            }
        }
        drop(faults);
        let mut st = self.lock();
        *st.stats.calls.entry(method.to_string()).or_default() += 1;
        if injected.error.is_some() {
            *st.stats.injected.entry(method.to_string()).or_default() += 1;
        }
        injected
    }

    fn zone_url(&self, project: &str, zone: &str) -> String {
        format!(
            "{}/projects/{project}/zones/{zone}",
            self.inner.config.base_url
        )
    }

    fn new_operation(
        &self,
        st: &mut State,
        project: &str,
        zone: &str,
        kind: &str,
        target: &Instance,
        delay_ms: u64,
        error: Option<OperationErrorItem>,
    ) -> Operation {
        let now = self.inner.clock.now_ms();
        let id = st.next_id();
        let name = format!("operation-{}-{id}", now);
        let zone_url = self.zone_url(project, zone);
        let op = Operation {
            kind: Some("compute#operation".into()),
            id: Some(id.to_string()),
            name: name.clone(),
            zone: Some(zone_url.clone()),
            operation_type: Some(kind.to_string()),
            target_link: Some(format!("{zone_url}/instances/{}", target.name)),
            target_id: target.id.clone(),
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
                zone: zone.to_string(),
                done_at_ms: now + delay_ms,
                error,
            },
        );
        let mut view = st
            .operation_view(&name, now, &self.inner.clock)
            .unwrap_or_default();
        view.name = name;
        view
    }

    /// `instances.insert`.
    pub fn insert_instance(
        &self,
        project: &str,
        zone: &str,
        mut body: Instance,
        request_id: Option<&str>,
        stockout: bool,
    ) -> Result<Operation, SimError> {
        if let Some(rid) = request_id {
            if uuid::Uuid::parse_str(rid)
                .map(|u| u.is_nil())
                .unwrap_or(true)
            {
                return Err(SimError::new(
                    400,
                    "invalid",
                    format!(
                        "Invalid value for field 'requestId': '{rid}'. Must be a valid, non-zero UUID."
                    ),
                ));
            }
        }
        validate::check_insert(zone, &body).map_err(|m| SimError::new(400, "invalid", m))?;
        let now = self.inner.clock.now_ms();
        let timings = self.inner.config.timings;
        let events;
        let op = {
            let mut st = self.lock();
            if let Some(op_name) = request_id.and_then(|r| st.request_ids.get(r)).cloned() {
                st.stats.deduplicated_inserts += 1;
                return st
                    .operation_view(&op_name, now, &self.inner.clock)
                    .ok_or_else(|| SimError::new(500, "backendError", "lost operation"));
            }
            if st
                .zones
                .get(zone)
                .is_some_and(|z| z.contains_key(&body.name))
            {
                return Err(SimError::new(
                    409,
                    "alreadyExists",
                    format!(
                        "The resource 'projects/{project}/zones/{zone}/instances/{}' already exists",
                        body.name
                    ),
                ));
            }
            let op = if stockout {
                let err = OperationErrorItem {
                    code: "ZONE_RESOURCE_POOL_EXHAUSTED".into(),
                    message: Some(format!(
                        "The zone 'projects/{project}/zones/{zone}' does not have enough resources available to fulfill the request. Try a different zone, or try again later."
                    )),
                    location: None,
                };
                self.new_operation(
                    &mut st,
                    project,
                    zone,
                    "insert",
                    &body,
                    timings.provisioning_ms,
                    Some(err),
                )
            } else {
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
                let md = body.metadata.get_or_insert_with(Metadata::default);
                md.kind = Some("compute#metadata".into());
                md.fingerprint = Some(fingerprint(&md.items));
                let op = self.new_operation(
                    &mut st,
                    project,
                    zone,
                    "insert",
                    &body,
                    timings.provisioning_ms,
                    None,
                );
                st.zones.entry(zone.to_string()).or_default().insert(
                    body.name.clone(),
                    SimInstance {
                        body: body.clone(),
                        since_ms: now,
                        deleting: false,
                    },
                );
                st.moving.insert((zone.to_string(), body.name.clone()));
                st.stats.instances_created += 1;
                op
            };
            if let Some(rid) = request_id {
                st.request_ids.insert(rid.to_string(), op.name.clone());
            }
            events = st.step(now, timings, &self.inner.clock);
            op
        };
        // The insert itself is an event for hooks (PROVISIONING), then whatever step did.
        if !stockout {
            if let Some(inst) = self
                .get_instance(zone, &body.name)
                .ok()
                .filter(|_| events.is_empty())
            {
                self.emit(vec![SimEvent {
                    zone: zone.to_string(),
                    instance: inst,
                    deleted: false,
                }]);
            }
        }
        self.emit(events);
        Ok(op)
    }

    /// `instances.get`.
    pub fn get_instance(&self, zone: &str, name: &str) -> Result<Instance, SimError> {
        let st = self.lock();
        st.zones
            .get(zone)
            .and_then(|z| z.get(name))
            .map(|i| i.body.clone())
            .ok_or_else(|| not_found(zone, name))
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
    ) -> Result<InstanceList, SimError> {
        let after = match page_token {
            Some(t) => Some(decode_token(t).ok_or_else(|| {
                SimError::new(400, "invalid", "Invalid value for field 'pageToken'.")
            })?),
            None => None,
        };
        let st = self.lock();
        let mut items = Vec::new();
        let mut next = None;
        if let Some(instances) = st.zones.get(zone) {
            let range = match &after {
                Some(a) => instances
                    .range::<String, _>((std::ops::Bound::Excluded(a), std::ops::Bound::Unbounded)),
                None => instances.range::<String, _>(..),
            };
            for (name, inst) in range {
                if !filter.matches(&inst.body) {
                    continue;
                }
                if items.len() == max_results {
                    next = items.last().map(|i: &Instance| encode_token(&i.name));
                    break;
                }
                items.push(inst.body.clone());
                let _ = name;
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
        let (op, events) = {
            let mut st = self.lock();
            let inst = st
                .zones
                .get_mut(zone)
                .and_then(|z| z.get_mut(name))
                .ok_or_else(|| not_found(zone, name))?;
            if !inst.deleting {
                inst.deleting = true;
                if inst.body.status != Some(InstanceStatus::Terminated) {
                    inst.body.status = Some(InstanceStatus::Stopping);
                    inst.since_ms = now;
                } else {
                    // A stopped instance goes at once.
                    inst.body.status = Some(InstanceStatus::Stopping);
                    inst.since_ms = now.saturating_sub(timings.stopping_ms);
                }
            }
            let body = inst.body.clone();
            st.moving.insert((zone.to_string(), name.to_string()));
            let op = self.new_operation(
                &mut st,
                project,
                zone,
                "delete",
                &body,
                timings.stopping_ms,
                None,
            );
            let events = st.step(now, timings, &self.inner.clock);
            (op, events)
        };
        self.emit(events);
        Ok(op)
    }

    fn stop_instance(&self, zone: &str, name: &str) -> Result<Instance, SimError> {
        let now = self.inner.clock.now_ms();
        let timings = self.inner.config.timings;
        let (body, events) = {
            let mut st = self.lock();
            let inst = st
                .zones
                .get_mut(zone)
                .and_then(|z| z.get_mut(name))
                .ok_or_else(|| not_found(zone, name))?;
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
            let events = st.step(now, timings, &self.inner.clock);
            (body, events)
        };
        let mut all = vec![SimEvent {
            zone: zone.to_string(),
            instance: body.clone(),
            deleted: false,
        }];
        all.extend(events);
        self.emit(all);
        Ok(body)
    }

    /// `instances.stop`.
    pub fn stop(&self, project: &str, zone: &str, name: &str) -> Result<Operation, SimError> {
        let body = self.stop_instance(zone, name)?;
        let mut st = self.lock();
        Ok(self.new_operation(
            &mut st,
            project,
            zone,
            "stop",
            &body,
            self.inner.config.timings.stopping_ms,
            None,
        ))
    }

    /// `instances.setLabels` with fingerprint check.
    pub fn set_labels(
        &self,
        project: &str,
        zone: &str,
        name: &str,
        labels: std::collections::BTreeMap<String, String>,
        fp: Option<&str>,
    ) -> Result<Operation, SimError> {
        validate::check_labels(&labels).map_err(|m| SimError::new(400, "invalid", m))?;
        let mut st = self.lock();
        let inst = st
            .zones
            .get_mut(zone)
            .and_then(|z| z.get_mut(name))
            .ok_or_else(|| not_found(zone, name))?;
        if fp != inst.body.label_fingerprint.as_deref() {
            return Err(SimError::new(
                412,
                "conditionNotMet",
                "Supplied fingerprint does not match current fingerprint.",
            ));
        }
        inst.body.label_fingerprint = Some(fingerprint(&labels));
        inst.body.labels = labels;
        let body = inst.body.clone();
        Ok(self.new_operation(&mut st, project, zone, "setLabels", &body, 0, None))
    }

    /// `instances.setMetadata` with fingerprint check.
    pub fn set_metadata(
        &self,
        project: &str,
        zone: &str,
        name: &str,
        mut md: Metadata,
    ) -> Result<Operation, SimError> {
        validate::check_metadata(&md).map_err(|m| SimError::new(400, "invalid", m))?;
        let mut st = self.lock();
        let inst = st
            .zones
            .get_mut(zone)
            .and_then(|z| z.get_mut(name))
            .ok_or_else(|| not_found(zone, name))?;
        let current = inst
            .body
            .metadata
            .as_ref()
            .and_then(|m| m.fingerprint.clone());
        if md.fingerprint != current {
            return Err(SimError::new(
                412,
                "conditionNotMet",
                "Supplied fingerprint does not match current metadata fingerprint.",
            ));
        }
        md.kind = Some("compute#metadata".into());
        md.fingerprint = Some(fingerprint(&md.items));
        inst.body.metadata = Some(md);
        let body = inst.body.clone();
        Ok(self.new_operation(&mut st, project, zone, "setMetadata", &body, 0, None))
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

    pub(crate) fn schema(&self) -> Option<&Arc<schema::Discovery>> {
        self.inner.config.schema.as_ref()
    }
}

fn not_found(zone: &str, name: &str) -> SimError {
    SimError::new(
        404,
        "notFound",
        format!("The resource 'projects/zones/{zone}/instances/{name}' was not found"),
    )
}

/// A content fingerprint, base64 like Compute Engine's.
fn fingerprint<T: serde::Serialize>(value: &T) -> String {
    use sha2::Digest;
    let bytes = serde_json::to_vec(value).unwrap_or_default();
    let digest = sha2::Sha256::digest(&bytes);
    base64_encode(&digest[..8])
}

fn encode_token(name: &str) -> String {
    base64_encode(name.as_bytes())
}

fn decode_token(token: &str) -> Option<String> {
    String::from_utf8(base64_decode(token)?).ok()
}

/// URL-safe base64 without padding.
pub fn base64_encode(bytes: &[u8]) -> String {
    use base64::Engine;
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

/// Inverse of [`base64_encode`].
pub fn base64_decode(s: &str) -> Option<Vec<u8>> {
    use base64::Engine;
    base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(s)
        .ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64_round_trip() {
        for s in ["", "a", "ab", "abc", "k8s-default-hello-abc123"] {
            assert_eq!(
                base64_decode(&base64_encode(s.as_bytes())).as_deref(),
                Some(s.as_bytes())
            );
        }
    }
}
