//! What `kubectl get pods` shows for one pod: READY, STATUS, RESTARTS, and ages.
//!
//! A reimplementation (from its behaviour, no code copied) of the Kubernetes API server's pod
//! printer, `printPod` in `pkg/printers/internalversion/printers.go`: READY counts ready
//! containers, restartable init containers (sidecars) included; STATUS starts from the phase or
//! the pod's `reason`, is replaced by the first failing or waiting init container
//! (`Init:Error`, `Init:0/1`, ...), then by the last container's waiting or terminated reason
//! (`CrashLoopBackOff`, `Completed`, `OOMKilled`, `ExitCode:3`), and finally by `Terminating` or
//! `Unknown` for a pod being deleted; RESTARTS counts restarts of the containers that decided the
//! status, with the time of the latest. Ages use apimachinery's `HumanDuration`.

use jiff::{SignedDuration, Timestamp};
use k8s_openapi::api::core::v1::{
    Container, ContainerStateTerminated, ContainerStatus, Pod, PodCondition, PodStatus,
};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;

/// The READY, STATUS and RESTARTS figures of one pod, as `kubectl get pods` shows them.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct PodSummary {
    /// Ready containers (including started, ready sidecars).
    pub ready: usize,
    /// Containers plus restartable init containers.
    pub total: usize,
    /// The STATUS column.
    pub reason: String,
    /// The restart count shown.
    pub restarts: i64,
    /// When the most recent counted restart happened, if known.
    pub last_restart: Option<Timestamp>,
}

impl PodSummary {
    /// Computes the summary the way the API server's pod printer does.
    pub(crate) fn of(pod: &Pod) -> Self {
        let spec = pod.spec.as_ref();
        let status = pod.status.as_ref();
        let init_specs = spec
            .and_then(|s| s.init_containers.as_deref())
            .unwrap_or_default();
        let phase = status.and_then(|s| s.phase.as_deref()).unwrap_or_default();
        let conditions = status
            .and_then(|s| s.conditions.as_deref())
            .unwrap_or_default();
        let sidecars = init_specs
            .iter()
            .filter(|c| is_sidecar(init_specs, &c.name))
            .count();
        let mut summary = PodSummary {
            ready: 0,
            total: spec.map_or(0, |s| s.containers.len()) + sidecars,
            reason: initial_reason(status, phase, conditions),
            restarts: 0,
            last_restart: None,
        };
        let init_statuses = status
            .and_then(|s| s.init_container_statuses.as_deref())
            .unwrap_or_default();
        let mut sidecar_restarts = Restarts::default();
        let initializing =
            summary.init_containers(init_statuses, init_specs, &mut sidecar_restarts);
        if !initializing || condition_true(conditions, "Initialized") {
            summary.restarts = sidecar_restarts.count;
            summary.last_restart = sidecar_restarts.last;
            let statuses = status
                .and_then(|s| s.container_statuses.as_deref())
                .unwrap_or_default();
            summary.containers(statuses, condition_true(conditions, "Ready"));
        }
        if pod.metadata.deletion_timestamp.is_some() {
            if status.and_then(|s| s.reason.as_deref()) == Some("NodeLost") {
                summary.reason = "Unknown".to_string();
            } else if phase != "Succeeded" && phase != "Failed" {
                summary.reason = "Terminating".to_string();
            }
        }
        summary
    }

    /// Walks the init containers in order: counts their restarts (sidecars' also into
    /// `sidecars`) and ready started sidecars, and takes the STATUS from the first one that
    /// has not completed. Returns whether the pod is still initializing.
    fn init_containers(
        &mut self,
        statuses: &[ContainerStatus],
        specs: &[Container],
        sidecars: &mut Restarts,
    ) -> bool {
        for (i, cs) in statuses.iter().enumerate() {
            self.restarts += i64::from(cs.restart_count);
            note_restart(cs, &mut self.last_restart);
            let sidecar = is_sidecar(specs, &cs.name);
            if sidecar {
                sidecars.add(cs);
            }
            let state = cs.state.as_ref();
            let terminated = state.and_then(|s| s.terminated.as_ref());
            let waiting_reason = state
                .and_then(|s| s.waiting.as_ref())
                .and_then(|w| w.reason.as_deref())
                .unwrap_or("");
            if terminated.is_some_and(|t| t.exit_code == 0) {
                continue;
            }
            if sidecar && cs.started == Some(true) {
                self.ready += usize::from(cs.ready);
                continue;
            }
            self.reason = if let Some(t) = terminated {
                format!("Init:{}", terminated_reason(t))
            } else if !waiting_reason.is_empty() && waiting_reason != "PodInitializing" {
                format!("Init:{waiting_reason}")
            } else {
                format!("Init:{i}/{}", specs.len())
            };
            return true;
        }
        false
    }

    /// Walks the app containers last to first: counts restarts and ready running containers,
    /// and takes the STATUS from waiting or terminated ones; a `Completed` pod with a running
    /// container shows `Running` or `NotReady` by the `Ready` condition.
    fn containers(&mut self, statuses: &[ContainerStatus], pod_ready: bool) {
        let mut has_running = false;
        for cs in statuses.iter().rev() {
            self.restarts += i64::from(cs.restart_count);
            note_restart(cs, &mut self.last_restart);
            let state = cs.state.as_ref();
            let waiting = state
                .and_then(|s| s.waiting.as_ref())
                .and_then(|w| w.reason.as_deref())
                .filter(|r| !r.is_empty());
            let terminated = state.and_then(|s| s.terminated.as_ref());
            if let Some(w) = waiting {
                self.reason = w.to_string();
            } else if let Some(t) = terminated {
                self.reason = terminated_reason(t);
            } else if cs.ready && state.is_some_and(|s| s.running.is_some()) {
                has_running = true;
                self.ready += 1;
            }
        }
        if self.reason == "Completed" && has_running {
            self.reason = if pod_ready { "Running" } else { "NotReady" }.to_string();
        }
    }
}

/// The pod's `reason`, else its phase; `SchedulingGated` while a scheduling gate holds it.
fn initial_reason(status: Option<&PodStatus>, phase: &str, conditions: &[PodCondition]) -> String {
    let gated = conditions
        .iter()
        .any(|c| c.type_ == "PodScheduled" && c.reason.as_deref() == Some("SchedulingGated"));
    if gated {
        return "SchedulingGated".to_string();
    }
    status
        .and_then(|s| s.reason.clone())
        .filter(|r| !r.is_empty())
        .unwrap_or_else(|| phase.to_string())
}

fn condition_true(conditions: &[PodCondition], type_: &str) -> bool {
    conditions
        .iter()
        .any(|c| c.type_ == type_ && c.status == "True")
}

/// A restartable init container (`restartPolicy: Always`).
fn is_sidecar(init_specs: &[Container], name: &str) -> bool {
    init_specs
        .iter()
        .any(|c| c.name == name && c.restart_policy.as_deref() == Some("Always"))
}

/// A terminated container's reason, else `Signal:N`, else `ExitCode:N`.
fn terminated_reason(t: &ContainerStateTerminated) -> String {
    match t.reason.as_deref().filter(|r| !r.is_empty()) {
        Some(r) => r.to_string(),
        None if t.signal.unwrap_or(0) != 0 => format!("Signal:{}", t.signal.unwrap_or(0)),
        None => format!("ExitCode:{}", t.exit_code),
    }
}

/// A restart count and the time of the latest counted restart.
#[derive(Debug, Default)]
struct Restarts {
    count: i64,
    last: Option<Timestamp>,
}

impl Restarts {
    fn add(&mut self, cs: &ContainerStatus) {
        self.count += i64::from(cs.restart_count);
        note_restart(cs, &mut self.last);
    }
}

fn note_restart(cs: &ContainerStatus, latest: &mut Option<Timestamp>) {
    let finished = cs
        .last_state
        .as_ref()
        .and_then(|s| s.terminated.as_ref())
        .and_then(|t| t.finished_at.as_ref());
    if let Some(Time(at)) = finished {
        if latest.is_none_or(|l| l < *at) {
            *latest = Some(*at);
        }
    }
}

/// `5h12m`, or `5h` where the smaller unit is none.
fn two_units(big: i64, unit: &str, small: i64, small_unit: &str) -> String {
    if small == 0 {
        format!("{big}{unit}")
    } else {
        format!("{big}{unit}{small}{small_unit}")
    }
}

/// A duration the way kubectl shows ages: "45s", "3m20s", "5h12m", "9d", "2y31d" (apimachinery's
/// `HumanDuration`: about two significant units, coarser as it grows). Up to a second in the
/// future reads "0s" (clock skew); further is `"<invalid>"`.
pub(crate) fn human_duration(d: SignedDuration) -> String {
    let seconds = d.as_secs();
    if seconds < -1 {
        return "<invalid>".to_string();
    }
    if seconds < 0 {
        return "0s".to_string();
    }
    if seconds < 60 * 2 {
        return format!("{seconds}s");
    }
    let minutes = seconds / 60;
    if minutes < 10 {
        return two_units(minutes, "m", seconds % 60, "s");
    }
    if minutes < 60 * 3 {
        return format!("{minutes}m");
    }
    let hours = seconds / 3600;
    if hours < 8 {
        return two_units(hours, "h", minutes % 60, "m");
    }
    if hours < 48 {
        return format!("{hours}h");
    }
    if hours < 24 * 8 {
        return two_units(hours / 24, "d", hours % 24, "h");
    }
    if hours < 24 * 365 * 2 {
        return format!("{}d", hours / 24);
    }
    if hours < 24 * 365 * 8 {
        return two_units(hours / 24 / 365, "y", (hours / 24) % 365, "d");
    }
    format!("{}y", hours / 24 / 365)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{Value, json};

    /// A pod from a spec shape (`one`, `two`, `init`, `sidecar`) and a JSON status.
    fn pod(shape: &str, status: &Value) -> Pod {
        let spec = match shape {
            "two" => json!({"containers": [{"name": "a"}, {"name": "b"}]}),
            "init" => json!({"initContainers": [{"name": "init"}], "containers": [{"name": "c"}]}),
            "sidecar" => json!({
                "initContainers": [{"name": "side", "restartPolicy": "Always"}],
                "containers": [{"name": "c"}]
            }),
            _ => json!({"containers": [{"name": "c"}]}),
        };
        serde_json::from_value(json!({"metadata": {"name": "p"}, "spec": spec, "status": status}))
            .expect("pod")
    }

    fn cs(name: &str, ready: bool, restarts: i32, state: Value) -> Value {
        json!({"name": name, "image": "i", "imageID": "", "ready": ready, "restartCount": restarts, "state": state})
    }

    fn running(name: &str, ready: bool) -> Value {
        cs(name, ready, 0, json!({"running": {}}))
    }

    fn waiting(name: &str, reason: &str) -> Value {
        cs(name, false, 0, json!({"waiting": {"reason": reason}}))
    }

    fn exited(name: &str, code: i32, reason: Option<&str>) -> Value {
        cs(
            name,
            false,
            0,
            json!({"terminated": {"exitCode": code, "reason": reason}}),
        )
    }

    #[test]
    fn status_column_matches_the_api_server_printer() {
        let ready = json!([{"type": "Ready", "status": "True"}]);
        let not_ready = json!([{"type": "Ready", "status": "False"}]);
        let gated =
            json!([{"type": "PodScheduled", "status": "False", "reason": "SchedulingGated"}]);
        let initialized =
            json!([{"type": "Initialized", "status": "True"}, {"type": "Ready", "status": "True"}]);
        let mut sidecar = running("side", true);
        sidecar["started"] = json!(true);
        // [case, spec shape, status, STATUS, READY]
        let cases = json!([
            ["no status yet", "one", {"phase": "Pending"}, "Pending", "0/1"],
            ["pulling", "one", {"phase": "Pending", "containerStatuses": [waiting("c", "ContainerCreating")]}, "ContainerCreating", "0/1"],
            ["running", "one", {"phase": "Running", "conditions": ready, "containerStatuses": [running("c", true)]}, "Running", "1/1"],
            ["completed", "one", {"phase": "Succeeded", "containerStatuses": [exited("c", 0, Some("Completed"))]}, "Completed", "0/1"],
            ["error", "one", {"phase": "Failed", "containerStatuses": [exited("c", 1, Some("Error"))]}, "Error", "0/1"],
            ["oom", "one", {"phase": "Running", "containerStatuses": [exited("c", 137, Some("OOMKilled"))]}, "OOMKilled", "0/1"],
            ["exit code", "one", {"phase": "Failed", "containerStatuses": [exited("c", 3, None)]}, "ExitCode:3", "0/1"],
            ["crash loop", "one", {"phase": "Running", "containerStatuses": [waiting("c", "CrashLoopBackOff")]}, "CrashLoopBackOff", "0/1"],
            ["pull backoff", "one", {"phase": "Pending", "containerStatuses": [waiting("c", "ImagePullBackOff")]}, "ImagePullBackOff", "0/1"],
            ["pull error", "one", {"phase": "Pending", "containerStatuses": [waiting("c", "ErrImagePull")]}, "ErrImagePull", "0/1"],
            ["init running", "init", {"phase": "Pending", "initContainerStatuses": [running("init", false)], "containerStatuses": [waiting("c", "PodInitializing")]}, "Init:0/1", "0/1"],
            ["init error", "init", {"phase": "Failed", "initContainerStatuses": [exited("init", 1, Some("Error"))]}, "Init:Error", "0/1"],
            ["init exit code", "init", {"phase": "Pending", "initContainerStatuses": [exited("init", 2, None)]}, "Init:ExitCode:2", "0/1"],
            ["init crash loop", "init", {"phase": "Pending", "initContainerStatuses": [waiting("init", "CrashLoopBackOff")]}, "Init:CrashLoopBackOff", "0/1"],
            ["initializing", "init", {"phase": "Pending", "initContainerStatuses": [exited("init", 0, Some("Completed"))], "containerStatuses": [waiting("c", "PodInitializing")]}, "PodInitializing", "0/1"],
            ["one done, one ready", "two", {"phase": "Running", "conditions": ready, "containerStatuses": [exited("a", 0, Some("Completed")), running("b", true)]}, "Running", "1/2"],
            ["one done, not ready", "two", {"phase": "Running", "conditions": not_ready, "containerStatuses": [exited("a", 0, Some("Completed")), running("b", true)]}, "NotReady", "1/2"],
            ["scheduling gated", "one", {"phase": "Pending", "conditions": gated}, "SchedulingGated", "0/1"],
            ["pod reason", "one", {"phase": "Failed", "reason": "DeadlineExceeded"}, "DeadlineExceeded", "0/1"],
            ["sidecar", "sidecar", {"phase": "Running", "conditions": initialized, "initContainerStatuses": [sidecar], "containerStatuses": [running("c", true)]}, "Running", "2/2"],
        ]);
        for case in cases.as_array().expect("cases") {
            let s = PodSummary::of(&pod(case[1].as_str().expect("shape"), &case[2]));
            assert_eq!(s.reason, case[3], "{}", case[0]);
            assert_eq!(format!("{}/{}", s.ready, s.total), case[4], "{}", case[0]);
        }
    }

    #[test]
    fn deletion_shows_terminating_or_unknown() {
        let now = Some(Time("2025-06-01T12:00:00Z".parse().expect("time")));
        let mut p = pod(
            "one",
            &json!({"phase": "Running", "containerStatuses": [running("c", true)]}),
        );
        p.metadata.deletion_timestamp.clone_from(&now);
        assert_eq!(PodSummary::of(&p).reason, "Terminating");
        p.status.as_mut().expect("status").reason = Some("NodeLost".into());
        assert_eq!(PodSummary::of(&p).reason, "Unknown");
        let done =
            json!({"phase": "Succeeded", "containerStatuses": [exited("c", 0, Some("Completed"))]});
        let mut done = pod("one", &done);
        done.metadata.deletion_timestamp = now;
        assert_eq!(PodSummary::of(&done).reason, "Completed");
    }

    #[test]
    fn restarts_count_the_containers_that_decide_the_status() {
        let last = json!({"terminated": {"exitCode": 1, "finishedAt": "2025-06-01T11:55:00Z"}});
        let mut crashed = cs(
            "c",
            false,
            2,
            json!({"waiting": {"reason": "CrashLoopBackOff"}}),
        );
        crashed["lastState"] = last.clone();
        let s = PodSummary::of(&pod("one", &json!({"containerStatuses": [crashed]})));
        assert_eq!(
            (s.restarts, s.last_restart),
            (2, Some("2025-06-01T11:55:00Z".parse().expect("ts")))
        );
        // While an ordinary init container runs, only init restarts count.
        let mut init = cs("init", false, 3, json!({"running": {}}));
        init["lastState"] = last;
        let s = PodSummary::of(&pod(
            "init",
            &json!({"initContainerStatuses": [init], "containerStatuses": [cs("c", false, 7, json!({}))]}),
        ));
        assert_eq!((s.reason.as_str(), s.restarts), ("Init:0/1", 3));
    }

    #[test]
    fn human_durations_match_apimachinery() {
        let cases = [
            (-5, "<invalid>"),
            (-1, "0s"),
            (0, "0s"),
            (119, "119s"),
            (120, "2m"),
            (150, "2m30s"),
            (600, "10m"),
            (3 * 3600 - 1, "179m"),
            (3 * 3600, "3h"),
            (3 * 3600 + 60, "3h1m"),
            (8 * 3600, "8h"),
            (47 * 3600, "47h"),
            (48 * 3600, "2d"),
            (49 * 3600, "2d1h"),
            (8 * 86400, "8d"),
            (729 * 86400, "729d"),
            (730 * 86400, "2y"),
            (731 * 86400, "2y1d"),
            (8 * 365 * 86400, "8y"),
        ];
        for (secs, want) in cases {
            assert_eq!(
                human_duration(SignedDuration::from_secs(secs)),
                want,
                "{secs}s"
            );
        }
    }
}
