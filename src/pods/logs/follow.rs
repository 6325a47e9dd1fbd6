//! `kubectl logs -f`: a container's lines as they come, until the container ends.
//!
//! Sources have no change feed, so the follower polls: it reads the container's lines every
//! [`POLL`] and hands on those it has not handed on yet, and checks the pod's status to
//! see whether the container ended; then it reads once more, hands on the rest and stops.
//!
//! # Guarantees
//! No line is handed on twice: a failed read hands on nothing and keeps the count. The
//! follower stops as soon as the receiver is dropped (the client went away).

use std::time::Duration;

use k8s_openapi::api::core::v1::Pod;
use tokio::sync::mpsc;

use super::{LogLine, LogSources};
use crate::pods::Pods;

/// How often the follower reads the lines and the pod.
const POLL: Duration = Duration::from_millis(500);

/// How far a container has got, per its pod's status.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ContainerProgress {
    /// It has started (running or terminated).
    pub(crate) started: bool,
    /// It has ended, or its pod has.
    pub(crate) ended: bool,
    /// Why it waits, when it waits with a reason.
    pub(crate) waiting: Option<String>,
}

/// How far `container` of `pod` has got.
pub(crate) fn progress(pod: &Pod, container: &str) -> ContainerProgress {
    let status = pod.status.as_ref();
    let cs = status
        .into_iter()
        .flat_map(|s| {
            s.init_container_statuses
                .iter()
                .flatten()
                .chain(s.container_statuses.iter().flatten())
        })
        .find(|c| c.name == container);
    let finished_pod = matches!(
        status.and_then(|s| s.phase.as_deref()),
        Some("Succeeded" | "Failed")
    );
    let (started, ended, waiting) = match cs.and_then(|c| c.state.as_ref()) {
        Some(s) if s.running.is_some() => (true, finished_pod, None),
        Some(s) if s.terminated.is_some() => (true, true, None),
        Some(s) => (
            false,
            finished_pod,
            s.waiting.as_ref().and_then(|w| w.reason.clone()),
        ),
        None => (false, finished_pod, None),
    };
    ContainerProgress {
        started,
        ended,
        waiting,
    }
}

/// The container followed.
#[derive(Debug, Clone)]
pub(crate) struct Target {
    /// Namespace.
    pub(crate) namespace: String,
    /// Pod name.
    pub(crate) pod: String,
    /// Container name.
    pub(crate) container: String,
}

/// Lines handed on at once.
#[derive(Debug, Clone)]
pub(crate) struct Batch {
    /// The first batch: every line the sources had when following began.
    pub(crate) first: bool,
    /// Lines, oldest first.
    pub(crate) lines: Vec<LogLine>,
}

/// Follows `target`: batches of new lines, until the container ends or the receiver is
/// dropped.
pub(crate) fn follow(pods: Pods, logs: LogSources, target: Target) -> mpsc::Receiver<Batch> {
    let (tx, rx) = mpsc::channel::<Batch>(16);
    tokio::spawn(async move { run(&pods, &logs, &target, &tx).await });
    rx
}

async fn run(pods: &Pods, logs: &LogSources, t: &Target, tx: &mpsc::Sender<Batch>) {
    let mut sent = 0usize;
    let mut first = true;
    let mut lines_seen = Vec::new();
    loop {
        // A failed read hands on nothing and keeps the count, so nothing is sent twice.
        let lines = match logs.lines(&t.namespace, &t.pod, &t.container).await {
            Ok(l) => l.unwrap_or_default(),
            Err(_) => lines_seen.clone(),
        };
        let batch = Batch {
            first,
            lines: lines[if first { 0 } else { sent.min(lines.len()) }..].to_vec(),
        };
        first = false;
        sent = sent.max(lines.len());
        lines_seen = lines;
        if !batch.lines.is_empty() && tx.send(batch).await.is_err() {
            return;
        }
        let done = match pods.get(&t.namespace, &t.pod).await {
            Ok(p) => progress(&p, &t.container).ended,
            Err(_) => true,
        };
        if done {
            let lines = logs
                .lines(&t.namespace, &t.pod, &t.container)
                .await
                .ok()
                .flatten()
                .unwrap_or_default();
            if lines.len() > sent {
                let rest = Batch {
                    first: false,
                    lines: lines[sent..].to_vec(),
                };
                let _ = tx.send(rest).await;
            }
            return;
        }
        tokio::select! {
            _ = tokio::time::sleep(POLL) => {}
            _ = tx.closed() => return,
        }
    }
}
