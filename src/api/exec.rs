//! `GET|POST .../pods/{name}/exec` and `.../attach`: the query of `PodExecOptions` and
//! `PodAttachOptions` (`command` repeated, `container`, `stdin`, `stdout`, `stderr`, `tty`),
//! the client's protocol negotiated (WebSocket v5 or v4, SPDY/3.1 with v4), the pod's kubelet
//! reached through `pods::` and the two joined (docs/exec.md). Port-forward stays a 405.

use axum::extract::{Path, Request, State};
use axum::response::Response;
use axum::routing::{MethodRouter, get};

use super::{AppState, respond};
use crate::error::{Error, Result};
use crate::pods::exec::ExecRequest;
use crate::stream::accept::{self, AcceptError};
use crate::stream::{StreamOptions, ws};

/// `GET|POST .../pods/{name}/exec` and `.../attach`: one handler, `verb` naming the
/// subresource its route serves.
pub(crate) fn pod_connect(verb: &'static str) -> MethodRouter<AppState> {
    let handler = move |State(state): State<AppState>,
                        Path((namespace, name)): Path<(String, String)>,
                        request: Request| async move {
        respond(connect(state, verb, namespace, name, request).await)
    };
    get(handler).post(handler)
}

fn on(v: &str) -> bool {
    matches!(v, "1" | "t" | "T" | "true" | "True" | "TRUE")
}

/// The options from the query (repeated `command`, so not the map of `extract::query`).
fn options(verb: &'static str, query: Option<&str>) -> Result<ExecRequest> {
    let pairs: Vec<(String, String)> = serde_urlencoded::from_str(query.unwrap_or_default())
        .map_err(|e| Error::bad_request(format!("invalid query: {e}")))?;
    let flag = |k: &str| pairs.iter().any(|(n, v)| n == k && on(v));
    let opts = StreamOptions {
        stdin: flag("stdin"),
        stdout: flag("stdout"),
        stderr: flag("stderr"),
        tty: flag("tty"),
    };
    if !(opts.stdin || opts.stdout || opts.stderr) {
        return Err(Error::bad_request(
            "you must specify at least 1 of stdin, stdout, stderr",
        ));
    }
    let command: Vec<String> = pairs
        .iter()
        .filter(|(n, _)| n == "command")
        .map(|(_, v)| v.clone())
        .collect();
    Ok(ExecRequest {
        verb,
        container: pairs
            .iter()
            .find(|(n, _)| n == "container")
            .map(|(_, v)| v.clone()),
        command: if verb == "exec" { command } else { Vec::new() },
        opts,
    })
}

/// A request the streaming verbs cannot take: 400 when it is no upgrade, 403 when no protocol
/// the client offers is one k8sless speaks (kube-apiserver's answers).
pub(super) fn refused(e: AcceptError) -> Error {
    match e {
        AcceptError::NotUpgrade => Error::bad_request(e.to_string()),
        AcceptError::NoProtocol { .. } => Error::Forbidden {
            message: e.to_string(),
        },
    }
}

async fn connect(
    state: AppState,
    verb: &'static str,
    namespace: String,
    name: String,
    request: Request,
) -> Result<Response> {
    let req = options(verb, request.uri().query())?;
    let wire = accept::negotiate(request.headers(), &ws::PROTOCOLS).map_err(refused)?;
    let kubelet = state
        .pods
        .exec_open(&state.exec, &namespace, &name, &req)
        .await?;
    // The access log line of the upgrade; docs/kubectl.md's protocol table reads these.
    tracing::info!(verb, protocol = %wire, "stream session");
    let (ends, process) = crate::stream::session();
    let opts = req.opts;
    tokio::spawn(async move {
        let permit = kubelet.permit;
        if let Err(e) = crate::stream::spdy::dial(kubelet.io, opts, process).await {
            tracing::info!(error = %crate::error::chain_of(&e), "exec session to kubelet ended");
        }
        drop(permit);
    });
    Ok(accept::accept(request, wire, opts, ends).await)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_query_is_podexecoptions() {
        let r = options(
            "exec",
            Some(
                "command=sh&command=-c&command=exit%203&container=app&stdin=true&stdout=1&tty=true",
            ),
        )
        .unwrap();
        assert_eq!(r.command, ["sh", "-c", "exit 3"]);
        assert_eq!(r.container.as_deref(), Some("app"));
        assert_eq!(
            r.opts,
            StreamOptions {
                stdin: true,
                stdout: true,
                stderr: false,
                tty: true
            }
        );
        assert!(
            options("exec", Some("command=ls"))
                .unwrap_err()
                .to_string()
                .contains("at least 1 of stdin")
        );
        assert!(
            options("attach", Some("stdout=true"))
                .unwrap()
                .command
                .is_empty()
        );
    }
}
