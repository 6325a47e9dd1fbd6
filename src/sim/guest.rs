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

use std::sync::Arc;
use std::time::Duration;

use k8s_openapi::api::core::v1::{
    ContainerState, ContainerStateRunning, ContainerStateTerminated, ContainerStateWaiting,
    ContainerStatus, Pod, PodCondition, PodStatus,
};

use super::{Sim, SimEvent};
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

pub use super::logs::SimLogs;

/// Installs the guest hook on `sim`.
pub fn install(sim: &Sim, sink: ReportSink, logs: SimLogs) {
    let sim2 = sim.clone();
    let handle = tokio::runtime::Handle::current();
    sim.on_event(Arc::new(move |event: SimEvent| {
        if event.deleted || event.instance.status != Some(InstanceStatus::Running) {
            return;
        }
        let (sim, sink, logs) = (sim2.clone(), sink.clone(), logs.clone());
        handle.spawn(async move {
            if let Err(e) = run(sim, sink, logs, event).await {
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

async fn run(sim: Sim, sink: ReportSink, logs: SimLogs, event: SimEvent) -> Result<(), String> {
    let zone = event.zone.clone();
    let vm = event.instance.name.clone();
    let manifest = event
        .instance
        .metadata_value("k8sless-manifest")
        .ok_or("no k8sless-manifest in metadata")?;
    let pod: Pod = serde_json::from_str(manifest).map_err(|e| format!("manifest: {e}"))?;
    let ns = pod.metadata.namespace.clone().unwrap_or_default();
    let name = pod.metadata.name.clone().unwrap_or_default();
    let uid = pod.metadata.uid.clone().unwrap_or_default();
    let annotations = pod.metadata.annotations.clone().unwrap_or_default();
    let spec = pod.spec.clone().unwrap_or_default();
    let outcome = annotations
        .get(ANNOTATION_OUTCOME)
        .cloned()
        .unwrap_or_else(|| "Succeeded".into());
    let forever = spec.restart_policy.as_deref() == Some("Always")
        && !annotations.contains_key(ANNOTATION_DURATION);
    let duration = annotations
        .get(ANNOTATION_DURATION)
        .and_then(|d| crate::config::parse_duration(d).ok())
        .unwrap_or(Duration::from_secs(5));
    let host_ip = event
        .instance
        .network_interfaces
        .first()
        .and_then(|n| n.network_ip.clone())
        .unwrap_or_else(|| "10.128.0.2".into());
    let instance = ReportInstance {
        name: vm.clone(),
        id: event.instance.id.clone().unwrap_or_default(),
        zone: zone.clone(),
    };
    let mut seq = 0u64;
    let started_at = k8s_time(now());
    let mut send = |status: PodStatus, last: bool| {
        seq += 1;
        let report = Report {
            api_version: "k8sless.dev/v1".into(),
            kind: "PodReport".into(),
            uid: uid.clone(),
            namespace: ns.clone(),
            name: name.clone(),
            instance: instance.clone(),
            sequence: seq,
            r#final: last,
            node_lost: false,
            observed_at: Some(now().to_string()),
            identity_token: None,
            status,
        };
        sink(report)
    };
    let alive = |sim: &Sim| {
        sim.get_instance(&zone, &vm)
            .is_ok_and(|i| i.status == Some(InstanceStatus::Running))
    };
    let base = |phase: &str, statuses: Vec<ContainerStatus>, conds: Vec<PodCondition>| PodStatus {
        phase: Some(phase.into()),
        host_ip: Some(host_ip.clone()),
        pod_ip: Some(host_ip.clone()),
        start_time: Some(started_at.clone()),
        container_statuses: Some(statuses),
        conditions: Some(conds),
        ..Default::default()
    };
    let images: Vec<(String, String)> = spec
        .containers
        .iter()
        .map(|c| (c.name.clone(), c.image.clone().unwrap_or_default()))
        .collect();

    // Pending: images being pulled.
    let creating: Vec<ContainerStatus> = images
        .iter()
        .map(|(n, i)| {
            let reason = if outcome == "ImagePullBackOff" {
                "ErrImagePull"
            } else {
                "ContainerCreating"
            };
            container_status(
                n,
                i,
                ContainerState {
                    waiting: Some(ContainerStateWaiting {
                        reason: Some(reason.into()),
                        message: None,
                    }),
                    ..Default::default()
                },
                false,
                false,
            )
        })
        .collect();
    send(
        base(
            "Pending",
            creating,
            vec![
                condition("Initialized", true),
                condition("ContainersReady", false),
                condition("Ready", false),
            ],
        ),
        false,
    )
    .await?;
    tokio::time::sleep(Duration::from_millis(500)).await;
    if outcome == "ImagePullBackOff" {
        let backoff: Vec<ContainerStatus> = images
            .iter()
            .map(|(n, i)| {
                container_status(
                    n,
                    i,
                    ContainerState {
                        waiting: Some(ContainerStateWaiting {
                            reason: Some("ImagePullBackOff".into()),
                            message: Some(format!("Back-off pulling image \"{i}\" (simulated)")),
                        }),
                        ..Default::default()
                    },
                    false,
                    false,
                )
            })
            .collect();
        send(
            base(
                "Pending",
                backoff,
                vec![condition("Initialized", true), condition("Ready", false)],
            ),
            false,
        )
        .await?;
        return Ok(());
    }

    // Running.
    let running: Vec<ContainerStatus> = images
        .iter()
        .map(|(n, i)| {
            container_status(
                n,
                i,
                ContainerState {
                    running: Some(ContainerStateRunning {
                        started_at: Some(k8s_time(now())),
                    }),
                    ..Default::default()
                },
                true,
                true,
            )
        })
        .collect();
    send(
        base(
            "Running",
            running,
            vec![
                condition("Initialized", true),
                condition("ContainersReady", true),
                condition("Ready", true),
            ],
        ),
        false,
    )
    .await?;
    let tick = Duration::from_secs(1);
    let mut elapsed = Duration::ZERO;
    let mut line = 0u64;
    while forever || elapsed < duration {
        for (c, image) in &images {
            line += 1;
            logs.push(
                &ns,
                &name,
                c,
                format!("[simulated by k8sless dev] container {c} ({image}) log line {line}"),
            );
        }
        tokio::time::sleep(
            tick.min(
                duration
                    .saturating_sub(elapsed)
                    .max(Duration::from_millis(10)),
            ),
        )
        .await;
        elapsed += tick;
        if !alive(&sim) {
            return Ok(());
        }
    }

    // Terminated.
    let (phase, code, reason) = match outcome.as_str() {
        "Failed" => ("Failed", 1, "Error"),
        "OOMKilled" => ("Failed", 137, "OOMKilled"),
        _ => ("Succeeded", 0, "Completed"),
    };
    let finished = k8s_time(now());
    let done: Vec<ContainerStatus> = images
        .iter()
        .map(|(n, i)| {
            logs.push(
                &ns,
                &name,
                n,
                format!("[simulated by k8sless dev] container {n} exited with code {code}"),
            );
            container_status(
                n,
                i,
                ContainerState {
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
                false,
            )
        })
        .collect();
    send(
        base(
            phase,
            done,
            vec![
                condition("Initialized", true),
                condition("ContainersReady", false),
                condition("Ready", false),
            ],
        ),
        true,
    )
    .await?;
    // Power off, as the real guest does once its final report is acknowledged.
    let _ = sim.guest_poweroff(&zone, &vm);
    Ok(())
}
