//! The stand-in's `exec` and `attach`: kubelet's paths (`/exec/{namespace}/{pod}/{container}`
//! and `/attach/...`, query `command` repeated and `input`, `output`, `error`, `tty` = `1`),
//! over kubelet's protocols: SPDY/3.1 and WebSocket up to `v4.channel.k8s.io` (kubelet's
//! streaming server has no v5; kube-apiserver, and k8sless, speak SPDY to it for the half-close).
//!
//! What runs is a real process: inside the container's namespaces and root when its process
//! runs in the sandbox ([`super::sandbox`], `nsenter`), else in the VM's scratch directory, with
//! the environment of [`super::runner`]; `attach` starts `/bin/sh` there,
//! standing in for the container's main process (docs/simulator.md says what this does not
//! cover).

use std::sync::Arc;

use axum::Router;
use axum::extract::{Path, Request, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{MethodRouter, any};

use super::SimNode;
use super::runner;
use super::sandbox;
use crate::stream::accept;
use crate::stream::{StreamOptions, V4};

/// kubelet's exec and attach paths, merged into the stand-in's routes.
pub(super) fn routes() -> Router<Arc<SimNode>> {
    Router::new()
        .route("/exec/{namespace}/{pod}/{container}", connect(false))
        .route("/attach/{namespace}/{pod}/{container}", connect(true))
}

/// kubelet's query: `command` repeated, the streams as `1`.
#[derive(Debug, Default, PartialEq)]
pub(crate) struct KubeletQuery {
    pub(crate) command: Vec<String>,
    pub(crate) opts: StreamOptions,
}

pub(crate) fn parse_query(raw: Option<&str>) -> KubeletQuery {
    let pairs: Vec<(String, String)> =
        serde_urlencoded::from_str(raw.unwrap_or_default()).unwrap_or_default();
    let on = |k: &str| {
        pairs
            .iter()
            .any(|(n, v)| n == k && (v == "1" || v == "true"))
    };
    KubeletQuery {
        command: pairs
            .iter()
            .filter(|(n, _)| n == "command")
            .map(|(_, v)| v.clone())
            .collect(),
        opts: StreamOptions {
            stdin: on("input"),
            stdout: on("output"),
            stderr: on("error"),
            tty: on("tty"),
        },
    }
}

/// The handler of `/exec/...` or (`attach`) `/attach/...`: attach joins the container's
/// main process, which in the stand-in is a shell.
fn connect(attach: bool) -> MethodRouter<Arc<SimNode>> {
    any(
        move |State(node): State<Arc<SimNode>>,
              Path(path): Path<(String, String, String)>,
              request: Request| async move {
            let q = parse_query(request.uri().query());
            let command = if attach {
                vec!["/bin/sh".into()]
            } else {
                q.command
            };
            serve(node, path, command, q.opts, request).await
        },
    )
}

fn refuse(code: StatusCode, message: impl Into<String>) -> Response {
    (code, message.into()).into_response()
}

async fn serve(
    node: Arc<SimNode>,
    (namespace, pod, container): (String, String, String),
    command: Vec<String>,
    opts: StreamOptions,
    request: Request,
) -> Response {
    if !(opts.stdin || opts.stdout || opts.stderr) {
        return refuse(
            StatusCode::BAD_REQUEST,
            "you must specify at least 1 of stdin, stdout, stderr",
        );
    }
    // This VM's kubelet knows one pod, and its containers from the manifest (kubelet's words).
    if namespace != node.namespace || pod != node.pod {
        return refuse(
            StatusCode::NOT_FOUND,
            format!("pod not found (\"{namespace}/{pod}\")"),
        );
    }
    // A container whose process ended is not found either: kubelet looks among the running
    // ones (`findContainer` on `GetPods(false)`).
    let Some(state) = node
        .container(&container)
        .filter(|_| node.running(&container))
    else {
        return refuse(
            StatusCode::NOT_FOUND,
            format!("container not found (\"{container}\")"),
        );
    };
    // In the sandbox the command runs inside the container's namespaces and root.
    let command = match (state.isolation, state.pid) {
        (Some(isolation), Some(pid)) => sandbox::enter_command(isolation, pid, &command),
        _ => command,
    };
    let wire = match accept::negotiate(request.headers(), &[V4]) {
        Ok(w) => w,
        Err(e) => return refuse(e.code(), e.to_string()),
    };
    let dir = node.dir().to_path_buf();
    if let Err(e) = tokio::fs::create_dir_all(&dir).await {
        return refuse(
            StatusCode::INTERNAL_SERVER_ERROR,
            format!("scratch directory {}: {e}", dir.display()),
        );
    }
    let (ends, process) = crate::stream::session();
    tokio::spawn(async move { runner::run(command, &dir, &pod, opts, process).await });
    accept::accept(request, wire, opts, ends).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kubelets_query_names_the_streams() {
        let q = parse_query(Some(
            "command=sh&command=-c&command=exit+3&input=1&output=1&error=1&tty=0",
        ));
        assert_eq!(q.command, ["sh", "-c", "exit 3"]);
        assert_eq!(
            q.opts,
            StreamOptions {
                stdin: true,
                stdout: true,
                stderr: true,
                tty: false
            }
        );
        assert_eq!(parse_query(None), KubeletQuery::default());
    }
}

#[cfg(test)]
#[path = "exec_tests.rs"]
pub(super) mod stream_tests;
