//! Simulated guests for `dev` mode and tests: when a simulated VM reaches RUNNING, a task plays
//! the part of kubelet and the reporter: it reads the pod from the VM's metadata, reports
//! Pending → Running → Succeeded (or Failed), writes synthetic log lines that say they are
//! simulated, then powers the VM off, as the real guest does.
//!
//! The pod's annotations choose what happens:
//! - `k8sless.dev/simulate-duration`: how long the containers run (default `5s`);
//! - `k8sless.dev/simulate-outcome`: `Succeeded` (default), `Failed` (exit code 1),
//!   `OOMKilled` (exit code 137) or `ImagePullBackOff` (never starts);
//! - `restartPolicy: Always` pods with no duration annotation run until deleted.
//!
//! With the kubelet stand-in ([`crate::sim::kubelet`]) and neither annotation, a pod whose
//! containers the stand-in can run (each has a `command` found on the host, only `emptyDir`
//! volumes, the sandbox is available: [`processes`]) is played with **real processes**
//! instead: each container's status follows its process, and the pod's phase follows
//! `restartPolicy` once they end, as kubelet reports them.

mod processes;

use std::sync::Arc;
use std::time::Duration;

use k8s_openapi::api::core::v1::{
    ContainerState, ContainerStateRunning, ContainerStateTerminated, ContainerStateWaiting,
    ContainerStatus, Pod, PodCondition, PodStatus,
};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;

use super::kubelet::SimKubelet;
use super::{Sim, SimChange};
use crate::gce::types::InstanceStatus;
use crate::pods::lifecycle::report::{Report, ReportInstance};
use crate::pods::{k8s_time, now};

/// Annotation: how long containers run.
pub const ANNOTATION_DURATION: &str = "k8sless.dev/simulate-duration";
/// Annotation: how the pod ends.
pub const ANNOTATION_OUTCOME: &str = "k8sless.dev/simulate-outcome";

/// Where simulated guests send their reports (dev mode: the pod service, or the push path).
pub type ReportSink = Arc<
    dyn Fn(Report) -> futures_util::future::BoxFuture<'static, Result<(), String>> + Send + Sync,
>;

pub use super::logs::{SimLogMirror, SimLogs};
/// A container's log lines, with when each was written.
pub type SimLogLines = Vec<(jiff::Timestamp, String)>;

/// Installs the guest hook on `sim`; with `kubelet`, pods it can run are played with real
/// processes on their VM's node.
pub fn install(sim: &Sim, sink: ReportSink, logs: SimLogs, kubelet: Option<SimKubelet>) {
    if let (Some(_), Err(why)) = (&kubelet, super::kubelet::sandbox::available()) {
        tracing::warn!(reason = %why, "simulated guests: no sandbox for real processes; every pod is simulated");
    }
    let sim2 = sim.clone();
    let handle = tokio::runtime::Handle::current();
    sim.on_change(Arc::new(move |change: SimChange| {
        if change.deleted || change.instance.status != Some(InstanceStatus::Running) {
            return;
        }
        let (sim, sink, logs) = (sim2.clone(), sink.clone(), logs.clone());
        let kubelet = kubelet.clone();
        handle.spawn(async move {
            if let Err(e) = run(sim, sink, logs, kubelet, change).await {
                tracing::warn!(error = %e, "simulated guest stopped");
            }
        });
    }));
}

fn container_status(
    name: &str,
    image: &str,
    state: ContainerState,
    ready: bool,
    started: bool,
) -> ContainerStatus {
    ContainerStatus {
        name: name.into(),
        image: image.into(),
        image_id: format!("sim://{image}"),
        container_id: Some(format!("containerd://sim-{name}")),
        ready,
        started: Some(started),
        restart_count: 0,
        state: Some(state),
        ..Default::default()
    }
}

fn condition(type_: &str, ok: bool) -> PodCondition {
    PodCondition {
        type_: type_.into(),
        status: if ok { "True" } else { "False" }.into(),
        last_transition_time: Some(k8s_time(now())),
        ..Default::default()
    }
}

/// The conditions of an initialized pod whose containers are `ready` or not.
fn initialized(ready: bool) -> Vec<PodCondition> {
    vec![
        condition("Initialized", true),
        condition("ContainersReady", ready),
        condition("Ready", ready),
    ]
}

/// One simulated guest: the pod it runs, where, and what it has reported so far.
struct Guest {
    sim: Sim,
    sink: ReportSink,
    logs: SimLogs,
    zone: String,
    vm: String,
    namespace: String,
    name: String,
    uid: String,
    instance: ReportInstance,
    /// The `simulate-outcome` annotation (`Succeeded` by default).
    outcome: String,
    /// `restartPolicy: Always` with no duration: runs until deleted.
    forever: bool,
    duration: Duration,
    host_ip: String,
    started_at: Time,
    /// Container name and image, in spec order.
    images: Vec<(String, String)>,
    sequence: u64,
    /// The pod, as the VM's metadata carries it.
    pod: Pod,
}

/// Plays the pod on a VM that just reached RUNNING: Pending, then Running (or an image pull
/// back-off), log lines while it runs, the final report, and a power-off.
async fn run(
    sim: Sim,
    sink: ReportSink,
    logs: SimLogs,
    kubelet: Option<SimKubelet>,
    change: SimChange,
) -> Result<(), String> {
    let mut guest = Guest::new(sim, sink, logs, change)?;
    let played = kubelet.as_ref().and_then(|k| guest.processes(k));
    guest.report_pending().await?;
    if let Some((node, launches)) = played {
        return guest.play_processes(node, launches).await;
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    if guest.outcome == "ImagePullBackOff" {
        return guest.report_image_pull_backoff().await;
    }
    guest.report_running().await?;
    if !guest.write_logs_while_running().await {
        return Ok(());
    }
    guest.report_terminated().await?;
    // Power off, as the real guest does once its final report is acknowledged.
    let _ = guest.sim.guest_poweroff(&guest.zone, &guest.vm);
    Ok(())
}

impl Guest {
    /// Reads the pod from the VM's `k8sless-manifest` metadata.
    fn new(sim: Sim, sink: ReportSink, logs: SimLogs, change: SimChange) -> Result<Self, String> {
        let vm = change.instance.name.clone();
        let manifest = change
            .instance
            .metadata_value("k8sless-manifest")
            .ok_or("no k8sless-manifest in metadata")?;
        let pod: Pod = serde_json::from_str(manifest).map_err(|e| format!("manifest: {e}"))?;
        let annotations = pod.metadata.annotations.clone().unwrap_or_default();
        let spec = pod.spec.clone().unwrap_or_default();
        let host_ip = change
            .instance
            .network_interfaces
            .first()
            .and_then(|n| n.network_ip.clone())
            .unwrap_or_else(|| "10.128.0.2".into());
        Ok(Guest {
            instance: ReportInstance {
                name: vm.clone(),
                id: change.instance.id.clone().unwrap_or_default(),
                zone: change.zone.clone(),
            },
            sim,
            sink,
            logs,
            zone: change.zone,
            vm,
            namespace: pod.metadata.namespace.clone().unwrap_or_default(),
            name: pod.metadata.name.clone().unwrap_or_default(),
            uid: pod.metadata.uid.clone().unwrap_or_default(),
            outcome: annotations
                .get(ANNOTATION_OUTCOME)
                .cloned()
                .unwrap_or_else(|| "Succeeded".into()),
            forever: spec.restart_policy.as_deref() == Some("Always")
                && !annotations.contains_key(ANNOTATION_DURATION),
            duration: annotations
                .get(ANNOTATION_DURATION)
                .and_then(|d| crate::config::parse_duration(d).ok())
                .unwrap_or(Duration::from_secs(5)),
            host_ip,
            started_at: k8s_time(now()),
            images: spec
                .containers
                .iter()
                .map(|c| (c.name.clone(), c.image.clone().unwrap_or_default()))
                .collect(),
            sequence: 0,
            pod,
        })
    }

    /// Sends one report with `phase`, the container statuses and the conditions.
    async fn send(
        &mut self,
        phase: &str,
        statuses: Vec<ContainerStatus>,
        conditions: Vec<PodCondition>,
        last: bool,
    ) -> Result<(), String> {
        self.sequence += 1;
        let status = PodStatus {
            phase: Some(phase.into()),
            host_ip: Some(self.host_ip.clone()),
            pod_ip: Some(self.host_ip.clone()),
            start_time: Some(self.started_at.clone()),
            container_statuses: Some(statuses),
            conditions: Some(conditions),
            ..Default::default()
        };
        let report = Report {
            api_version: "k8sless.dev/v1".into(),
            kind: "PodReport".into(),
            uid: self.uid.clone(),
            namespace: self.namespace.clone(),
            name: self.name.clone(),
            instance: self.instance.clone(),
            sequence: self.sequence,
            r#final: last,
            node_lost: false,
            observed_at: Some(now().to_string()),
            identity_token: None,
            status,
            // The first report carries the node facts, as a real guest's does (simulated ones).
            node_facts: (self.sequence == 1).then(|| {
                serde_json::to_value(crate::guest::facts::NodeFacts::simulated(
                    crate::guest::DEFAULT_KUBELET_VERSION,
                ))
                .unwrap_or_default()
            }),
        };
        (self.sink)(report).await
    }

    /// Every container in `state`.
    fn statuses(
        &self,
        state: impl Fn(&str) -> ContainerState,
        running: bool,
    ) -> Vec<ContainerStatus> {
        self.images
            .iter()
            .map(|(n, i)| container_status(n, i, state(i), running, running))
            .collect()
    }

    /// Pending: images being pulled (or failing to).
    async fn report_pending(&mut self) -> Result<(), String> {
        let reason = if self.outcome == "ImagePullBackOff" {
            "ErrImagePull"
        } else {
            "ContainerCreating"
        };
        let creating = self.statuses(|_| waiting(reason, None), false);
        let conditions = initialized(false);
        self.send("Pending", creating, conditions, false).await
    }

    /// The pull keeps failing; the pod stays Pending.
    async fn report_image_pull_backoff(&mut self) -> Result<(), String> {
        let backoff = self.statuses(
            |image| {
                let message = format!("Back-off pulling image \"{image}\" (simulated)");
                waiting("ImagePullBackOff", Some(message))
            },
            false,
        );
        let conditions = vec![condition("Initialized", true), condition("Ready", false)];
        self.send("Pending", backoff, conditions, false).await
    }

    async fn report_running(&mut self) -> Result<(), String> {
        let running = self.statuses(
            |_| ContainerState {
                running: Some(ContainerStateRunning {
                    started_at: Some(k8s_time(now())),
                }),
                ..Default::default()
            },
            true,
        );
        let conditions = initialized(true);
        self.send("Running", running, conditions, false).await
    }

    /// A log line per container per second until the duration is over; false when the VM
    /// stopped running meanwhile (deleted or powered off).
    async fn write_logs_while_running(&self) -> bool {
        let tick = Duration::from_secs(1);
        let mut elapsed = Duration::ZERO;
        let mut line = 0u64;
        while self.forever || elapsed < self.duration {
            for (c, image) in &self.images {
                line += 1;
                self.log(
                    c,
                    format!("[simulated by k8sless dev] container {c} ({image}) log line {line}"),
                );
            }
            let left = self.duration.saturating_sub(elapsed);
            tokio::time::sleep(tick.min(left.max(Duration::from_millis(10)))).await;
            elapsed += tick;
            if !self.alive() {
                return false;
            }
        }
        true
    }

    /// The containers exit as the outcome annotation says; the final report.
    async fn report_terminated(&mut self) -> Result<(), String> {
        let (phase, code, reason) = match self.outcome.as_str() {
            "Failed" => ("Failed", 1, "Error"),
            "OOMKilled" => ("Failed", 137, "OOMKilled"),
            _ => ("Succeeded", 0, "Completed"),
        };
        for (c, _) in &self.images {
            self.log(
                c,
                format!("[simulated by k8sless dev] container {c} exited with code {code}"),
            );
        }
        let finished = k8s_time(now());
        let started_at = self.started_at.clone();
        let done = self.statuses(
            |_| ContainerState {
                terminated: Some(ContainerStateTerminated {
                    exit_code: code,
                    reason: Some(reason.into()),
                    started_at: Some(started_at.clone()),
                    finished_at: Some(finished.clone()),
                    ..Default::default()
                }),
                ..Default::default()
            },
            false,
        );
        let conditions = initialized(false);
        self.send(phase, done, conditions, true).await
    }

    fn log(&self, container: &str, line: String) {
        self.logs.push(&self.namespace, &self.name, container, line);
    }

    fn alive(&self) -> bool {
        self.sim
            .get_instance(&self.zone, &self.vm)
            .is_ok_and(|i| i.status == Some(InstanceStatus::Running))
    }
}

fn waiting(reason: &str, message: Option<String>) -> ContainerState {
    ContainerState {
        waiting: Some(ContainerStateWaiting {
            reason: Some(reason.into()),
            message,
        }),
        ..Default::default()
    }
}
