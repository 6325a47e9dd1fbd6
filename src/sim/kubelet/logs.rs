//! `GET /containerLogs/{namespace}/{pod}/{container}`, as kubelet serves it
//! (pkg/kubelet/server/server.go `getContainerLogs`; the CRI log reader in
//! pkg/kubelet/kuberuntime/logs): the options are `v1.PodLogOptions` as query parameters
//! (`follow`, `previous`, `sinceSeconds`, `sinceTime`, `timestamps`, `tailLines`,
//! `limitBytes`); the body is each line's text (with its CRI timestamp first when
//! `timestamps=true`); `follow` streams new lines until the container's process ends.
//! Errors are kubelet's: 404 `pod "x" does not exist` and `container "c" not found in pod
//! "x"`, 422 for invalid options, 400 for a previous container that never ran.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::body::{Body, Bytes};
use axum::extract::{Path as UrlPath, RawQuery, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use tokio::io::{AsyncReadExt, AsyncSeekExt};

use super::node::SimNode;

/// How often a follower looks for new lines (kubelet's CRI reader waits on fsnotify; a short
/// poll keeps a line's delay far under a second).
const FOLLOW_POLL: Duration = Duration::from_millis(5);

pub(super) fn routes() -> Router<Arc<SimNode>> {
    Router::new().route(
        "/containerLogs/{namespace}/{pod}/{container}",
        get(container_logs),
    )
}

/// The parsed `PodLogOptions`.
#[derive(Debug, Clone, Default)]
struct Options {
    follow: bool,
    previous: bool,
    since: Option<jiff::Timestamp>,
    timestamps: bool,
    tail: Option<usize>,
    limit_bytes: Option<usize>,
}

/// A boolean query parameter as kubelet decodes it (apimachinery's
/// `Convert_Slice_string_To_bool`): present and not `0`, `false` or `no` (any case) is true, so
/// the Python client's `follow=True` follows.
fn flag(q: &HashMap<String, String>, k: &str) -> bool {
    q.get(k).is_some_and(|v| {
        !(v == "0" || v.eq_ignore_ascii_case("false") || v.eq_ignore_ascii_case("no"))
    })
}

fn options(q: &HashMap<String, String>) -> Option<Options> {
    let int = |k: &str| q.get(k).map(|v| v.parse::<i64>().ok());
    let since_seconds = int("sinceSeconds");
    let tail = int("tailLines");
    let limit = int("limitBytes");
    // `ValidatePodLogOptions`: tailLines >= 0, limitBytes >= 1, sinceSeconds >= 1, and not
    // both sinceSeconds and sinceTime.
    if matches!(since_seconds, Some(None) | Some(Some(..=0)))
        || matches!(tail, Some(None) | Some(Some(..0)))
        || matches!(limit, Some(None) | Some(Some(..=0)))
        || (since_seconds.is_some() && q.contains_key("sinceTime"))
    {
        return None;
    }
    let since = match (since_seconds.flatten(), q.get("sinceTime")) {
        (Some(s), _) => jiff::Timestamp::now()
            .checked_sub(jiff::SignedDuration::from_secs(s))
            .ok(),
        (None, Some(t)) => Some(t.parse().ok()?),
        (None, None) => None,
    };
    Some(Options {
        follow: flag(q, "follow"),
        previous: flag(q, "previous"),
        since,
        timestamps: flag(q, "timestamps"),
        tail: tail.flatten().map(|n| n as usize),
        limit_bytes: limit.flatten().map(|n| n as usize),
    })
}

fn error(status: StatusCode, message: String) -> Response {
    (status, message).into_response()
}

async fn container_logs(
    State(node): State<Arc<SimNode>>,
    UrlPath((namespace, pod, container)): UrlPath<(String, String, String)>,
    RawQuery(q): RawQuery,
) -> Response {
    let q: HashMap<String, String> =
        serde_urlencoded::from_str(q.as_deref().unwrap_or("")).unwrap_or_default();
    let Some(opts) = options(&q) else {
        return error(
            StatusCode::UNPROCESSABLE_ENTITY,
            r#"{"message": "Invalid request."}"#.into(),
        );
    };
    if namespace != node.namespace || pod != node.pod {
        return error(StatusCode::NOT_FOUND, format!("pod {pod:?} does not exist"));
    }
    let Some(state) = node.container(&container) else {
        return error(
            StatusCode::NOT_FOUND,
            format!("container {container:?} not found in pod {pod:?}"),
        );
    };
    let restart = if opts.previous {
        match state.restarts.checked_sub(1) {
            Some(r) => r,
            None => {
                return error(
                    StatusCode::BAD_REQUEST,
                    format!("previous terminated container {container:?} in pod {pod:?} not found"),
                );
            }
        }
    } else {
        state.restarts
    };
    let path = node.log_path(&container, restart);
    let follow = opts.follow && !opts.previous;
    let (tx, rx) = tokio::sync::mpsc::channel::<Bytes>(16);
    tokio::spawn(stream_log(node, container, path, opts, follow, tx));
    let body = futures_util::stream::unfold(rx, |mut rx| async move {
        rx.recv()
            .await
            .map(|b| (Ok::<_, std::convert::Infallible>(b), rx))
    });
    Response::builder()
        .status(StatusCode::OK)
        .header("content-type", "text/plain")
        .body(Body::from_stream(body))
        .unwrap_or_else(|_| StatusCode::INTERNAL_SERVER_ERROR.into_response())
}

/// One CRI line, parsed: time, and text (a `P`artial line is joined with what follows).
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct CriLine {
    /// containerd's timestamp.
    pub time: jiff::Timestamp,
    /// The text, without the newline.
    pub text: String,
}

/// Parses complete CRI lines of `buf` into `out`, joining partial ones in `pending`; answers
/// the bytes consumed (a trailing line without its newline is left for the next read).
pub(crate) fn parse_cri(
    buf: &[u8],
    pending: &mut Option<CriLine>,
    out: &mut Vec<CriLine>,
) -> usize {
    let mut used = 0;
    while let Some(nl) = buf[used..].iter().position(|b| *b == b'\n') {
        let line = String::from_utf8_lossy(&buf[used..used + nl]).to_string();
        used += nl + 1;
        let mut parts = line.splitn(4, ' ');
        let (Some(time), Some(_stream), Some(tag)) = (parts.next(), parts.next(), parts.next())
        else {
            continue;
        };
        let text = parts.next().unwrap_or("");
        let Ok(time) = time.parse::<jiff::Timestamp>() else {
            continue;
        };
        let joined = match pending.take() {
            Some(mut p) => {
                p.text.push_str(text);
                p
            }
            None => CriLine {
                time,
                text: text.to_string(),
            },
        };
        if tag == "P" {
            *pending = Some(joined);
        } else {
            out.push(joined);
        }
    }
    used
}

/// Writes what `opts` selects of `path`, then (following) new lines until the container's
/// process has ended and the file has nothing more; stops when the client goes away.
async fn stream_log(
    node: Arc<SimNode>,
    container: String,
    path: PathBuf,
    opts: Options,
    follow: bool,
    tx: tokio::sync::mpsc::Sender<Bytes>,
) {
    let mut remaining = opts.limit_bytes.unwrap_or(usize::MAX);
    let mut offset = 0u64;
    let mut pending = None;
    let mut carry = Vec::new();
    let mut first = true;
    loop {
        // Whether the process had ended is asked before the read: a line written between a
        // read and the question would otherwise be lost (kubelet, too, drains the file after
        // the container exits).
        let ended = !node.running(&container);
        let mut lines = Vec::new();
        let read = read_from(&path, offset).await;
        carry.extend_from_slice(&read);
        offset += read.len() as u64;
        let used = parse_cri(&carry, &mut pending, &mut lines);
        carry.drain(..used);
        lines.retain(|l| opts.since.is_none_or(|s| l.time >= s));
        if first {
            if let Some(n) = opts.tail {
                let skip = lines.len().saturating_sub(n);
                lines.drain(..skip);
            }
            first = false;
        }
        let mut chunk = String::new();
        for l in &lines {
            if opts.timestamps {
                // kubelet writes nine digits always (`RFC3339NanoFixed`, pkg/kubelet/kuberuntime/logs).
                chunk.push_str(&super::node::cri_time(l.time));
                chunk.push(' ');
            }
            chunk.push_str(&l.text);
            chunk.push('\n');
        }
        if !chunk.is_empty() {
            let mut bytes = chunk.into_bytes();
            bytes.truncate(remaining);
            remaining -= bytes.len();
            if tx.send(Bytes::from(bytes)).await.is_err() || remaining == 0 {
                return;
            }
        }
        if !follow || (ended && read.is_empty()) {
            return;
        }
        if tx.is_closed() {
            return;
        }
        tokio::time::sleep(FOLLOW_POLL).await;
    }
}

/// The file's bytes from `offset` (at most 1 MiB a read; nothing when it does not exist).
async fn read_from(path: &Path, offset: u64) -> Vec<u8> {
    let Ok(mut f) = tokio::fs::File::open(path).await else {
        return Vec::new();
    };
    if f.seek(std::io::SeekFrom::Start(offset)).await.is_err() {
        return Vec::new();
    }
    let mut buf = Vec::new();
    let _ = (&mut f).take(1 << 20).read_to_end(&mut buf).await;
    buf
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cri_lines_parse_and_join_partials() {
        let text = b"2026-01-01T00:00:00.000000001Z stdout F one\n\
            2026-01-01T00:00:01Z stdout P par\n2026-01-01T00:00:01Z stdout F tial\n\
            2026-01-01T00:00:02Z stderr F half";
        let (mut pending, mut out) = (None, Vec::new());
        let used = parse_cri(text, &mut pending, &mut out);
        assert_eq!(out.len(), 2);
        assert_eq!(out[0].text, "one");
        assert_eq!(out[1].text, "partial");
        assert_eq!(&text[used..], b"2026-01-01T00:00:02Z stderr F half");
    }

    #[test]
    fn options_are_validated_as_kubelet_does() {
        let q = |s: &str| serde_urlencoded::from_str::<HashMap<String, String>>(s).unwrap();
        assert!(options(&q("tailLines=-1")).is_none());
        assert!(options(&q("limitBytes=0")).is_none());
        assert!(options(&q("sinceSeconds=0")).is_none());
        assert!(options(&q("sinceSeconds=5&sinceTime=2026-01-01T00:00:00Z")).is_none());
        let o = options(&q("follow=true&tailLines=2&timestamps=true")).unwrap();
        assert!(o.follow && o.timestamps);
        assert_eq!(o.tail, Some(2));
        // The Python client's booleans; Go's false spellings.
        let o = options(&q("follow=True&timestamps=True&previous=False")).unwrap();
        assert!(o.follow && o.timestamps && !o.previous);
        let o = options(&q("follow=0&timestamps=no")).unwrap();
        assert!(!o.follow && !o.timestamps);
    }

    #[test]
    fn timestamps_have_nine_digits_as_kubelets() {
        let t: jiff::Timestamp = "2026-12-01T14:43:46.51539887Z".parse().unwrap();
        assert_eq!(
            super::super::node::cri_time(t),
            "2026-12-01T14:43:46.515398870Z"
        );
    }
}
