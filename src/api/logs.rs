//! `GET .../pods/{name}/log` (text/plain) with Kubernetes' options: container, follow,
//! tailLines, sinceSeconds, sinceTime, timestamps, limitBytes, previous.

use std::collections::HashMap;
use std::convert::Infallible;
use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::extract::{Path, RawQuery, State};
use axum::http::{StatusCode, header};
use axum::response::Response;
use k8s_openapi::api::core::v1::Pod;

use super::{AppState, extract, respond};
use crate::error::{Error, Result};
use crate::pods::logs::LogLine;

/// `GET /api/v1/namespaces/{namespace}/pods/{name}/log`.
pub async fn pod_log(
    State(state): State<AppState>,
    Path((namespace, name)): Path<(String, String)>,
    RawQuery(q): RawQuery,
) -> Response {
    respond(log(state, namespace, name, q).await)
}

struct Options {
    container: String,
    follow: bool,
    tail: Option<usize>,
    since: Option<jiff::Timestamp>,
    timestamps: bool,
    limit_bytes: Option<usize>,
}

/// A boolean query parameter as kube-apiserver parses it (Go's `strconv.ParseBool`): the Python
/// client of Airflow's pins sends `follow=True`.
fn flag(q: &HashMap<String, String>, k: &str) -> bool {
    q.get(k)
        .is_some_and(|v| matches!(v.as_str(), "1" | "t" | "T" | "true" | "True" | "TRUE"))
}

fn number<T: std::str::FromStr>(q: &HashMap<String, String>, k: &str) -> Result<Option<T>> {
    q.get(k)
        .map(|v| {
            v.parse::<T>()
                .map_err(|_| Error::bad_request(format!("invalid {k} {v:?}")))
        })
        .transpose()
}

/// Picks the container as the API server does.
fn container_of(pod: &Pod, name: &str, asked: Option<&String>) -> Result<String> {
    let spec = pod.spec.as_ref();
    let all: Vec<String> = spec
        .map(|s| {
            s.init_containers
                .iter()
                .flatten()
                .chain(s.containers.iter())
                .map(|c| c.name.clone())
                .collect()
        })
        .unwrap_or_default();
    let app: Vec<String> = spec
        .map(|s| s.containers.iter().map(|c| c.name.clone()).collect())
        .unwrap_or_default();
    match asked.filter(|a| !a.is_empty()) {
        Some(c) if all.contains(c) => Ok(c.clone()),
        Some(c) => Err(Error::bad_request(format!(
            "container {c} is not valid for pod {name}"
        ))),
        None if app.len() == 1 => Ok(app[0].clone()),
        None => Err(Error::bad_request(format!(
            "a container name must be specified for pod {name}, choose one of: [{}]",
            app.join(" ")
        ))),
    }
}

/// Whether the container has started, and whether it has ended (per the pod's status).
fn container_state(pod: &Pod, container: &str) -> (bool, bool, Option<String>) {
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
    match cs.and_then(|c| c.state.as_ref()) {
        Some(s) if s.running.is_some() => (true, finished_pod, None),
        Some(s) if s.terminated.is_some() => (true, true, None),
        Some(s) => (
            false,
            finished_pod,
            s.waiting.as_ref().and_then(|w| w.reason.clone()),
        ),
        None => (false, finished_pod, None),
    }
}

fn render(lines: &[LogLine], o: &Options) -> String {
    let mut selected: Vec<&LogLine> = lines
        .iter()
        .filter(|l| match (o.since, l.time) {
            (Some(since), Some(t)) => t >= since,
            _ => true,
        })
        .collect();
    if let Some(n) = o.tail {
        let skip = selected.len().saturating_sub(n);
        selected.drain(..skip);
    }
    let mut out = String::new();
    for l in selected {
        if o.timestamps {
            let t = l
                .time
                .map(|t| t.strftime("%Y-%m-%dT%H:%M:%S.%fZ").to_string())
                .unwrap_or_else(|| "0001-01-01T00:00:00.000000000Z".into());
            out.push_str(&t);
            out.push(' ');
        }
        out.push_str(&l.text);
        out.push('\n');
    }
    if let Some(limit) = o.limit_bytes {
        let mut cut = limit.min(out.len());
        while !out.is_char_boundary(cut) {
            cut -= 1;
        }
        out.truncate(cut);
    }
    out
}

async fn log(
    state: AppState,
    namespace: String,
    name: String,
    q: Option<String>,
) -> Result<Response> {
    let q = extract::query(q.as_deref())?;
    let pod = state.pods.get(&namespace, &name).await?;
    let container = container_of(&pod, &name, q.get("container"))?;
    if flag(&q, "previous") {
        return Err(Error::bad_request(format!(
            "previous terminated container \"{container}\" in pod \"{name}\" not found"
        )));
    }
    let since = match (number::<i64>(&q, "sinceSeconds")?, q.get("sinceTime")) {
        (Some(s), _) if s <= 0 => {
            return Err(Error::bad_request("sinceSeconds must be greater than 0"));
        }
        (Some(s), _) => jiff::Timestamp::now()
            .checked_sub(jiff::SignedDuration::from_secs(s))
            .ok(),
        (None, Some(t)) => Some(
            t.parse::<jiff::Timestamp>()
                .map_err(|_| Error::bad_request(format!("invalid sinceTime {t:?}")))?,
        ),
        (None, None) => None,
    };
    let opts = Options {
        container: container.clone(),
        follow: flag(&q, "follow"),
        tail: number::<i64>(&q, "tailLines")?.map(|n| n.max(0) as usize),
        since,
        timestamps: flag(&q, "timestamps"),
        limit_bytes: number::<i64>(&q, "limitBytes")?.map(|n| n.max(0) as usize),
    };
    let (started, ended, waiting) = container_state(&pod, &container);
    let lines = state.logs.lines(&namespace, &name, &container).await?;
    if !started && lines.is_none() {
        let why = waiting.unwrap_or_else(|| "ContainerCreating".into());
        return Err(Error::bad_request(format!(
            "container \"{container}\" in pod \"{name}\" is waiting to start: {why}"
        )));
    }
    let text_response = |body: Body| {
        Response::builder()
            .status(StatusCode::OK)
            .header(header::CONTENT_TYPE, "text/plain")
            .body(body)
            .map_err(|e| Error::internal(e.to_string()))
    };
    if !opts.follow || ended {
        return text_response(Body::from(render(lines.as_deref().unwrap_or(&[]), &opts)));
    }
    // Follow: send what exists, then new lines as they come, until the container ends.
    let (tx, rx) = tokio::sync::mpsc::channel::<Bytes>(16);
    tokio::spawn(async move {
        let mut sent = 0usize;
        let mut first = true;
        let mut lines_seen = Vec::new();
        loop {
            // A failed read sends nothing and keeps the count, so nothing is sent twice.
            let lines = match state.logs.lines(&namespace, &name, &opts.container).await {
                Ok(l) => l.unwrap_or_default(),
                Err(_) => lines_seen.clone(),
            };
            let chunk = if first {
                render(&lines, &opts)
            } else {
                render(
                    &lines[sent.min(lines.len())..],
                    &Options {
                        tail: None,
                        ..opts_clone(&opts)
                    },
                )
            };
            first = false;
            sent = sent.max(lines.len());
            lines_seen = lines;
            if !chunk.is_empty() && tx.send(Bytes::from(chunk)).await.is_err() {
                return;
            }
            let done = match state.pods.get(&namespace, &name).await {
                Ok(p) => container_state(&p, &opts.container).1,
                Err(_) => true,
            };
            if done {
                let lines = state
                    .logs
                    .lines(&namespace, &name, &opts.container)
                    .await
                    .ok()
                    .flatten()
                    .unwrap_or_default();
                if lines.len() > sent {
                    let _ = tx
                        .send(Bytes::from(render(
                            &lines[sent..],
                            &Options {
                                tail: None,
                                ..opts_clone(&opts)
                            },
                        )))
                        .await;
                }
                return;
            }
            tokio::select! {
                _ = tokio::time::sleep(Duration::from_millis(500)) => {}
                _ = tx.closed() => return,
            }
        }
    });
    let stream = futures_util::stream::unfold(rx, |mut rx| async move {
        rx.recv().await.map(|b| (Ok::<_, Infallible>(b), rx))
    });
    text_response(Body::from_stream(stream))
}

fn opts_clone(o: &Options) -> Options {
    Options {
        container: o.container.clone(),
        follow: o.follow,
        tail: o.tail,
        since: o.since,
        timestamps: o.timestamps,
        limit_bytes: None,
    }
}
