//! `GET .../pods/{name}/log` (text/plain) with Kubernetes' options: container, follow,
//! tailLines, sinceSeconds, sinceTime, timestamps, limitBytes, previous.

use std::collections::HashMap;
use std::convert::Infallible;

use axum::body::{Body, Bytes};
use axum::extract::{Path, RawQuery, State};
use axum::http::{StatusCode, header};
use axum::response::Response;
use futures_util::StreamExt;
use http_body_util::BodyExt;

use super::{AppState, extract, respond};
use crate::error::{Error, Result};
use crate::pods::exec::container_of;
use crate::pods::logs::follow::{self, Batch, Target, progress};
use crate::pods::logs::{ContainerRef, LogLine};

/// `GET /api/v1/namespaces/{namespace}/pods/{name}/log`.
pub(crate) async fn pod_log(
    State(state): State<AppState>,
    Path((namespace, name)): Path<(String, String)>,
    RawQuery(q): RawQuery,
) -> Response {
    respond(log(state, namespace, name, q).await)
}

#[derive(Debug, Clone)]
struct Options {
    follow: bool,
    tail: Option<usize>,
    since: Option<jiff::Timestamp>,
    timestamps: bool,
    limit_bytes: Option<usize>,
}

use super::extract::flag;

fn number<T: std::str::FromStr>(q: &HashMap<String, String>, k: &str) -> Result<Option<T>> {
    q.get(k)
        .map(|v| {
            v.parse::<T>()
                .map_err(|_| Error::bad_request(format!("invalid {k} {v:?}")))
        })
        .transpose()
}

/// A line's time as kubelet writes it with `timestamps=true`: RFC 3339 in UTC with nine
/// fractional digits, zero-padded (kubelet's `timeFormatOut`, `2006-01-02T15:04:05.000000000Z07:00`),
/// so every line's timestamp has the same width as on a cluster.
fn kubelet_timestamp(t: jiff::Timestamp) -> String {
    format!(
        "{}.{:09}Z",
        t.strftime("%Y-%m-%dT%H:%M:%S"),
        t.subsec_nanosecond().max(0)
    )
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
                .map(kubelet_timestamp)
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

/// The options after the container: `previous`, `since*`, `tailLines`, `limitBytes`, ...
fn options(q: &HashMap<String, String>) -> Result<Options> {
    let since = match (number::<i64>(q, "sinceSeconds")?, q.get("sinceTime")) {
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
    Ok(Options {
        follow: flag(q, "follow"),
        tail: number::<i64>(q, "tailLines")?.map(|n| n.max(0) as usize),
        since,
        timestamps: flag(q, "timestamps"),
        limit_bytes: number::<i64>(q, "limitBytes")?.map(|n| n.max(0) as usize),
    })
}

fn text_response(body: Body) -> Result<Response> {
    Response::builder()
        .status(StatusCode::OK)
        .header(header::CONTENT_TYPE, "text/plain")
        .body(body)
        .map_err(|e| Error::internal(e.to_string()))
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
    let opts = options(&q)?;
    let now = progress(&pod, &container);
    // kubelet first once the container started (kubelet applies every option itself), then
    // the sources; before that, a VM still booting would only cost a connect time-out.
    if now.started {
        if let Some(kubelet) = state
            .pods
            .kubelet_logs(&namespace, &name, &container, &q)
            .await?
        {
            if !opts.follow {
                return text_response(Body::new(kubelet.into_body()));
            }
            // A followed stream ends once the status, too, says the container ended.
            let pods = state.pods.clone();
            let settle = futures_util::stream::once(async move {
                pods.settle_after_follow(&namespace, &name, &container)
                    .await;
                None
            })
            .filter_map(std::future::ready);
            let body = kubelet.into_body().into_data_stream().chain(settle);
            return text_response(Body::from_stream(body));
        }
    }
    if flag(&q, "previous") {
        return Err(Error::bad_request(format!(
            "previous terminated container \"{container}\" in pod \"{name}\" not found"
        )));
    }
    let lines = state
        .logs
        .lines(ContainerRef::new(&namespace, &name, &container))
        .await?;
    if !now.started && lines.is_none() {
        let why = now.waiting.unwrap_or_else(|| "ContainerCreating".into());
        return Err(Error::bad_request(format!(
            "container \"{container}\" in pod \"{name}\" is waiting to start: {why}"
        )));
    }
    if !opts.follow || now.ended {
        return text_response(Body::from(render(lines.as_deref().unwrap_or(&[]), &opts)));
    }
    let target = Target {
        namespace,
        pod: name,
        container,
    };
    followed(&state, target, opts)
}

/// Follow: what exists (tail, since and limit applied), then new lines as they come.
fn followed(state: &AppState, target: Target, opts: Options) -> Result<Response> {
    let batches = follow::follow(
        state.pods.clone(),
        state.logs.clone(),
        target,
        state.log_follow_interval,
    );
    let later = Options {
        tail: None,
        limit_bytes: None,
        ..opts.clone()
    };
    let stream = futures_util::stream::unfold(batches, move |mut rx| {
        let (opts, later) = (opts.clone(), later.clone());
        async move {
            loop {
                let Batch { first, lines } = rx.recv().await?;
                let chunk = render(&lines, if first { &opts } else { &later });
                if !chunk.is_empty() {
                    return Some((Ok::<_, Infallible>(Bytes::from(chunk)), rx));
                }
            }
        }
    });
    text_response(Body::from_stream(stream))
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::api::core::v1::Pod;

    fn pod(init: &[&str], app: &[&str]) -> Pod {
        let names = |n: &[&str]| -> Vec<serde_json::Value> {
            n.iter().map(|n| serde_json::json!({"name": n})).collect()
        };
        serde_json::from_value(serde_json::json!({
            "spec": {"initContainers": names(init), "containers": names(app)}
        }))
        .expect("pod")
    }

    fn pick(p: &Pod, asked: Option<&str>) -> std::result::Result<String, String> {
        container_of(p, "p", asked.map(str::to_string).as_ref()).map_err(|e| e.to_string())
    }

    #[test]
    fn timestamps_have_nine_digits_as_kubelet_writes_them() {
        let at = |s: &str| s.parse::<jiff::Timestamp>().expect("time");
        assert_eq!(
            kubelet_timestamp(at("2026-12-01T17:00:00.5Z")),
            "2026-12-01T17:00:00.500000000Z"
        );
        assert_eq!(
            kubelet_timestamp(at("2026-12-01T17:00:00Z")),
            "2026-12-01T17:00:00.000000000Z"
        );
        assert_eq!(
            kubelet_timestamp(at("2026-12-01T17:00:00.123456789Z")),
            "2026-12-01T17:00:00.123456789Z"
        );
    }

    #[test]
    fn a_container_is_picked_as_the_api_server_picks_it() {
        let two = pod(&["init"], &["a", "b"]);
        assert_eq!(pick(&two, Some("init")).as_deref(), Ok("init"));
        assert_eq!(pick(&two, Some("b")).as_deref(), Ok("b"));
        assert_eq!(
            pick(&two, Some("c")),
            Err("container c is not valid for pod p".to_string())
        );
        assert_eq!(
            pick(&two, None),
            Err("a container name must be specified for pod p, choose one of: [a b]".to_string())
        );
        // One app container: it, even beside an init container; an empty name is no name.
        let one = pod(&["init"], &["a"]);
        assert_eq!(pick(&one, None).as_deref(), Ok("a"));
        assert_eq!(pick(&one, Some("")).as_deref(), Ok("a"));
    }
}
