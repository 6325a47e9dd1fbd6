//! A simulated guest whose containers are real processes on the kubelet stand-in's node, each
//! in the sandbox ([`crate::sim::kubelet::sandbox`]): every container's status follows its
//! process (running with `startedAt`; terminated with its exit code, `Completed` or `Error`,
//! `startedAt` and `finishedAt`), and once none runs the pod's phase follows `restartPolicy`
//! as kubelet's `getPhase` (pkg/kubelet/kubelet_pods.go) computes it: `Never`, Succeeded when
//! every container exited 0 and Failed otherwise; `OnFailure`, failed containers restarted
//! until all exited 0; `Always`, every container restarted. A restart waits kubelet's
//! back-off (none for the first, then 10 s doubling to 5 min, `CrashLoopBackOff` meanwhile).
//! Each change is one report on the usual path; the logs are archived before the final one
//! (as a guest uploads them), then the VM powers off.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use k8s_openapi::api::core::v1::{
    Container, ContainerState, ContainerStateRunning, ContainerStateTerminated, ContainerStatus,
    Pod,
};
use tokio::time::Instant;

use super::{ANNOTATION_DURATION, ANNOTATION_OUTCOME, Guest, initialized, waiting};
use crate::pods::k8s_time;
use crate::sim::kubelet::container::Launch;
use crate::sim::kubelet::node::SimContainer;
use crate::sim::kubelet::sandbox::{self, Isolation, Mount};
use crate::sim::kubelet::{SimKubelet, SimNode};

/// kubelet's crash-loop back-off: the first delay and the cap (`MaxContainerBackOff`).
const BACKOFF_FIRST: Duration = Duration::from_secs(10);
const BACKOFF_MAX: Duration = Duration::from_secs(300);
/// How often the guest looks at the VM when nothing changes (deleted, powered off).
const TICK: Duration = Duration::from_secs(1);

/// What the guest keeps per container beyond the node's state.
#[derive(Debug, Default)]
struct Track {
    /// The last termination, shown as `lastState` after a restart.
    last: Option<ContainerStateTerminated>,
    /// When the next start is due (a restart in back-off).
    due: Option<Instant>,
    /// Why the process could not start.
    start_error: Option<String>,
}

impl Guest {
    /// The node and each container's launch, when the stand-in plays this VM and can run
    /// every container (else `None`, with the reason logged: the pod is simulated as before).
    pub(super) fn processes(&self, kubelet: &SimKubelet) -> Option<(Arc<SimNode>, Vec<Launch>)> {
        let node = kubelet.node(&self.vm)?;
        let annotations = self.pod.metadata.annotations.clone().unwrap_or_default();
        if annotations.contains_key(ANNOTATION_DURATION)
            || annotations.contains_key(ANNOTATION_OUTCOME)
        {
            return None;
        }
        match launches(&self.pod, &node) {
            Ok(l) => Some((node, l)),
            Err(why) => {
                tracing::info!(pod = %format!("{}/{}", self.namespace, self.name), reason = %why, "simulated guest: containers simulated, not run");
                None
            }
        }
    }

    /// Runs the containers and reports each change until the pod ends (or its VM goes).
    pub(super) async fn play_processes(
        &mut self,
        node: Arc<SimNode>,
        launches: Vec<Launch>,
    ) -> Result<(), String> {
        let policy = self.restart_policy();
        let names: Vec<String> = self.images.iter().map(|(n, _)| n.clone()).collect();
        let mut tracks: HashMap<String, Track> = HashMap::new();
        let mut changes = node.changes();
        for (name, launch) in names.iter().zip(&launches) {
            start(&node, name, launch, tracks.entry(name.clone()).or_default()).await;
        }
        let mut sent: Option<(String, Vec<ContainerStatus>)> = None;
        loop {
            let now = Instant::now();
            for (name, launch) in names.iter().zip(&launches) {
                let t = tracks.entry(name.clone()).or_default();
                let c = node.container(name);
                schedule(&policy, c.clone(), t, now);
                if t.due.is_some_and(|d| d <= now) {
                    t.due = None;
                    t.last = c.and_then(|c| terminated(&c, t.start_error.as_deref()));
                    start(&node, name, launch, t).await;
                }
            }
            let statuses = self.process_statuses(&node, &tracks);
            let phase = phase(&policy, &statuses, &tracks);
            let last = phase == "Succeeded" || phase == "Failed";
            if sent.as_ref() != Some(&(phase.to_string(), statuses.clone())) {
                if last {
                    self.archive_logs(&node);
                }
                let conditions = initialized(statuses.iter().all(|s| s.ready));
                self.send(phase, statuses.clone(), conditions, last).await?;
                sent = Some((phase.to_string(), statuses));
            }
            if last {
                let _ = self.sim.guest_poweroff(&self.zone, &self.vm);
                return Ok(());
            }
            let next = tracks.values().filter_map(|t| t.due).min();
            let wake = next.map_or(TICK, |d| d.saturating_duration_since(now).min(TICK));
            let _ = tokio::time::timeout(wake, changes.changed()).await;
            if !self.alive() {
                return Ok(());
            }
        }
    }

    fn restart_policy(&self) -> String {
        let spec = self.pod.spec.as_ref();
        spec.and_then(|s| s.restart_policy.clone())
            .unwrap_or_else(|| "Always".into())
    }

    /// Every container's status from its process, in spec order.
    fn process_statuses(
        &self,
        node: &SimNode,
        tracks: &HashMap<String, Track>,
    ) -> Vec<ContainerStatus> {
        let empty = Track::default();
        self.images
            .iter()
            .map(|(name, image)| {
                let t = tracks.get(name).unwrap_or(&empty);
                let c = node.container(name).unwrap_or_default();
                container_status(name, image, &c, t)
            })
            .collect()
    }

    /// The stand-in's log of each container, kept for after the VM is gone.
    fn archive_logs(&self, node: &SimNode) {
        for (name, _) in &self.images {
            let lines = node.log_lines(name);
            self.logs.archive(&self.namespace, &self.name, name, lines);
        }
    }
}

/// Starts `name`'s process; a failure is kept as the container's start error.
async fn start(node: &Arc<SimNode>, name: &str, launch: &Launch, t: &mut Track) {
    t.start_error = node.start(name, launch).await.err().map(|e| e.to_string());
}

/// Schedules a restart of an ended container when `policy` asks for one: at once the first
/// time, then after kubelet's doubling back-off.
fn schedule(policy: &str, c: Option<SimContainer>, t: &mut Track, now: Instant) {
    let Some(c) = c else { return };
    let ended = c.pid.is_none() && (c.exit_code.is_some() || t.start_error.is_some());
    let failed = t.start_error.is_some() || c.exit_code.is_some_and(|code| code != 0);
    let restart = match policy {
        "Always" => true,
        "OnFailure" => failed,
        _ => false,
    };
    if !ended || !restart || t.due.is_some() {
        return;
    }
    let delay = match c.restarts {
        0 => Duration::ZERO,
        n => BACKOFF_FIRST
            .saturating_mul(1 << (n - 1).min(8))
            .min(BACKOFF_MAX),
    };
    t.due = Some(now + delay);
}

/// The terminated state of `c`'s last process (or of its failed start).
fn terminated(c: &SimContainer, start_error: Option<&str>) -> Option<ContainerStateTerminated> {
    if let Some(message) = start_error {
        return Some(ContainerStateTerminated {
            exit_code: 128,
            reason: Some("StartError".into()),
            message: Some(message.into()),
            ..Default::default()
        });
    }
    let code = c.exit_code.filter(|_| c.pid.is_none())?;
    Some(ContainerStateTerminated {
        exit_code: code,
        reason: Some(if code == 0 { "Completed" } else { "Error" }.into()),
        started_at: c.started.map(k8s_time),
        finished_at: c.finished.map(k8s_time),
        ..Default::default()
    })
}

fn container_status(name: &str, image: &str, c: &SimContainer, t: &Track) -> ContainerStatus {
    let running = c.pid.is_some();
    let state = if running {
        ContainerState {
            running: Some(ContainerStateRunning {
                started_at: c.started.map(k8s_time),
            }),
            ..Default::default()
        }
    } else if t.due.is_some() {
        let message = format!("back-off restarting failed container={name}");
        waiting("CrashLoopBackOff", Some(message))
    } else if let Some(done) = terminated(c, t.start_error.as_deref()) {
        ContainerState {
            terminated: Some(done),
            ..Default::default()
        }
    } else {
        waiting("ContainerCreating", None)
    };
    let last_state = if t.due.is_some() {
        terminated(c, t.start_error.as_deref())
    } else {
        t.last.clone()
    };
    ContainerStatus {
        name: name.into(),
        image: image.into(),
        image_id: format!("sim://{image}"),
        container_id: Some(format!("containerd://sim-{name}-{}", c.restarts)),
        ready: running,
        started: Some(running),
        restart_count: i32::try_from(c.restarts).unwrap_or(i32::MAX),
        state: Some(state),
        last_state: last_state.map(|l| ContainerState {
            terminated: Some(l),
            ..Default::default()
        }),
        ..Default::default()
    }
}

/// The pod's phase from its containers' states (kubelet's `getPhase`, without init or sidecar
/// containers).
fn phase(
    policy: &str,
    statuses: &[ContainerStatus],
    tracks: &HashMap<String, Track>,
) -> &'static str {
    let state = |s: &ContainerStatus| s.state.clone().unwrap_or_default();
    if statuses.iter().any(|s| state(s).running.is_some()) {
        return "Running";
    }
    if tracks.values().any(|t| t.due.is_some()) {
        return "Running";
    }
    let codes: Vec<Option<i32>> = statuses
        .iter()
        .map(|s| state(s).terminated.map(|t| t.exit_code))
        .collect();
    if codes.iter().any(Option::is_none) {
        return "Pending";
    }
    let all_ok = codes.iter().all(|c| *c == Some(0));
    match (policy, all_ok) {
        ("Always", _) => "Running",
        (_, true) => "Succeeded",
        ("OnFailure", false) => "Running",
        _ => "Failed",
    }
}

/// Each container's launch in the sandbox, or why the stand-in cannot run the pod.
pub(crate) fn launches(pod: &Pod, node: &SimNode) -> Result<Vec<Launch>, String> {
    let isolation = sandbox::available()?;
    let spec = pod.spec.clone().unwrap_or_default();
    if spec.init_containers.as_ref().is_some_and(|c| !c.is_empty()) {
        return Err("init containers are not run by the stand-in".into());
    }
    if spec.share_process_namespace == Some(true) {
        return Err("shareProcessNamespace is not reproduced by the stand-in".into());
    }
    let mut volumes = HashMap::new();
    for v in spec.volumes.iter().flatten() {
        if v.empty_dir.is_none() {
            return Err(format!("volume {:?} is not an emptyDir", v.name));
        }
        volumes.insert(v.name.clone(), node.volume_dir(&v.name));
    }
    spec.containers
        .iter()
        .map(|c| launch(c, &volumes, isolation))
        .collect()
}

fn launch(
    c: &Container,
    volumes: &HashMap<String, std::path::PathBuf>,
    isolation: Isolation,
) -> Result<Launch, String> {
    let command: Vec<String> = c
        .command
        .iter()
        .flatten()
        .chain(c.args.iter().flatten())
        .cloned()
        .collect();
    let Some(program) = c.command.as_ref().and_then(|c| c.first()) else {
        return Err(format!(
            "container {:?} has no command (images are not pulled)",
            c.name
        ));
    };
    if sandbox::find_program(program).is_none() {
        return Err(format!("{program:?} is not on this machine"));
    }
    let mut mounts = Vec::new();
    for m in c.volume_mounts.iter().flatten() {
        let host = volumes
            .get(&m.name)
            .ok_or_else(|| format!("no volume {:?}", m.name))?;
        if m.sub_path.is_some()
            || m.sub_path_expr.is_some()
            || !sandbox::valid_container_path(&m.mount_path)
        {
            return Err(format!(
                "mount {:?} at {:?} is not reproduced",
                m.name, m.mount_path
            ));
        }
        mounts.push(Mount {
            host: host.clone(),
            path: m.mount_path.clone(),
        });
    }
    let mut env = Vec::new();
    for e in c.env.iter().flatten() {
        if e.value_from.is_some() {
            return Err(format!("env {:?} has valueFrom", e.name));
        }
        env.push((e.name.clone(), e.value.clone().unwrap_or_default()));
    }
    if let Some(wd) = &c.working_dir {
        if !sandbox::valid_container_path(wd) {
            return Err(format!("workingDir {wd:?} is not reproduced"));
        }
    }
    Ok(Launch {
        command,
        env,
        working_dir: c.working_dir.clone(),
        mounts,
        sandbox: Some(isolation),
    })
}

#[cfg(test)]
#[path = "processes_tests.rs"]
mod tests;
