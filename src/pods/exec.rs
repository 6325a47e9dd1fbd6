//! exec and attach: from a pod and a request to an upgraded connection to the pod's kubelet.
//! The pod must have a VM and a running container; the service then dials kubelet with the
//! pod's own mutual TLS ([`Pods::kubelet_of`]) and upgrades to SPDY/3.1 with v4, as
//! kube-apiserver does, because kubelet's WebSocket server stops at v4 and so cannot
//! half-close stdin.
//!
//! # Errors
//! As kube-apiserver words them: `pods "x" not found`; `pod x does not have a host assigned`
//! (no VM yet); `a container name must be specified ...`; `container c is not valid for pod
//! x`; a finished pod, `cannot exec into a container in a completed pod; current phase is
//! Succeeded` (kubectl's own words, which it checks before asking); a container not started,
//! kubelet's `container not found ("c")`. No kubelet path configured (`--kubelet-access
//! none`): the 405 of [`Pods::require_kubelet`], saying what is missing.

use std::sync::Arc;

use k8s_openapi::api::core::v1::Pod;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use super::Pods;
use super::phase::Phase;
use super::record::PodRecord;
use crate::error::{Error, Result};
use crate::stream::StreamOptions;
use crate::stream::spdy::upgrade::{self, Prefixed, UpgradeError};

/// Sessions one instance proxies at once; more are refused with 503 (each holds two sockets
/// and a few tasks; Cloud Run's request concurrency is the other bound).
pub(crate) const MAX_SESSIONS: usize = 256;

/// The bound on sessions this instance proxies (exec, attach and port-forward share it; the
/// kubelet connection comes from [`Pods::kubelet_of`]: the pod's own mutual TLS), and the
/// port-forward sessions of each pod ([`super::portforward`]).
#[derive(Debug, Clone)]
pub struct Exec {
    pub(crate) sessions: Arc<Semaphore>,
    pub(crate) forwards: super::portforward::Forwards,
}

impl Default for Exec {
    fn default() -> Self {
        Exec {
            sessions: Arc::new(Semaphore::new(MAX_SESSIONS)),
            forwards: super::portforward::Forwards::default(),
        }
    }
}

/// The kubelet connection of a session: mutual TLS to the pod's kubelet.
pub(crate) type KubeletIo = tokio_rustls::client::TlsStream<tokio::net::TcpStream>;

/// What the client asked: `exec` (with a command) or `attach`.
#[derive(Debug, Clone)]
pub(crate) struct ExecRequest {
    /// `exec` or `attach` (kubelet's path segment too).
    pub(crate) verb: &'static str,
    /// The container asked for, if any.
    pub(crate) container: Option<String>,
    /// The command (exec only).
    pub(crate) command: Vec<String>,
    /// The streams.
    pub(crate) opts: StreamOptions,
}

/// A session's kubelet side, upgraded; the permit is held while it lives.
pub(crate) struct KubeletSession {
    /// SPDY/3.1 with v4, ready for [`crate::stream::spdy::dial`].
    pub(crate) io: Prefixed<KubeletIo>,
    /// One of [`MAX_SESSIONS`].
    pub(crate) permit: OwnedSemaphorePermit,
}

impl Exec {
    /// One of this instance's [`MAX_SESSIONS`], or 503.
    pub(crate) fn permit(&self) -> Result<OwnedSemaphorePermit> {
        self.sessions.clone().try_acquire_owned().map_err(|_| {
            Error::unavailable(format!(
                "this instance already proxies {MAX_SESSIONS} exec, attach and port-forward sessions; retry"
            ))
        })
    }
}

/// kubelet's refusal of an upgrade as the client's error: its 4xx words as a 400 (kubelet
/// names what is wrong: no such container, no such pod), anything else 503.
pub(crate) fn kubelet_refused(e: UpgradeError) -> Error {
    match e {
        UpgradeError::Refused { status, body } if (400..500).contains(&status) => {
            Error::bad_request(body)
        }
        other => Error::unavailable_from("the pod's kubelet did not accept the stream", other),
    }
}

impl Pods {
    /// Checks the pod and opens the kubelet side of an exec or attach.
    pub(crate) async fn exec_open(
        &self,
        exec: &Exec,
        namespace: &str,
        name: &str,
        req: &ExecRequest,
    ) -> Result<KubeletSession> {
        self.require_kubelet(req.verb)?;
        let rec = self.get_record(namespace, name).await?;
        let container = container_of(&rec.pod, name, req.container.as_ref())?;
        ready_for_exec(&rec, name, &container)?;
        let permit = exec.permit()?;
        let (client, io) = self.dial_kubelet(&rec).await?;
        let path = kubelet_path(req, namespace, name, &container);
        let io = upgrade::upgrade(io, &client.host_header(), &path)
            .await
            .map_err(kubelet_refused)?;
        Ok(KubeletSession { io, permit })
    }
}

fn ready_for_exec(rec: &PodRecord, name: &str, container: &str) -> Result<()> {
    let phase = rec.phase();
    if phase.is_finished() {
        return Err(Error::bad_request(format!(
            "cannot exec into a container in a completed pod; current phase is {}",
            phase.as_str()
        )));
    }
    require_host(rec, name)?;
    let running = rec
        .pod
        .status
        .as_ref()
        .and_then(|s| s.container_statuses.as_ref())
        .into_iter()
        .flatten()
        .any(|c| c.name == container && c.state.as_ref().is_some_and(|s| s.running.is_some()));
    if phase != Phase::Running || !running {
        return Err(Error::bad_request(format!(
            "container not found (\"{container}\")"
        )));
    }
    Ok(())
}

/// kube-apiserver's check before it proxies any streaming verb: the pod has a node (here, a VM).
pub(crate) fn require_host(rec: &PodRecord, name: &str) -> Result<()> {
    let node = rec.pod.spec.as_ref().and_then(|s| s.node_name.as_deref());
    if node.unwrap_or_default().is_empty() {
        return Err(Error::bad_request(format!(
            "pod {name} does not have a host assigned"
        )));
    }
    Ok(())
}

/// kubelet's path and query: `/{verb}/{namespace}/{pod}/{container}?command=..&input=1..`.
fn kubelet_path(req: &ExecRequest, namespace: &str, name: &str, container: &str) -> String {
    let mut q = form_urlencoded_pairs(&req.command);
    for (key, on) in [
        ("input", req.opts.stdin),
        ("output", req.opts.stdout),
        ("error", req.opts.stderr),
        ("tty", req.opts.tty),
    ] {
        if on {
            q.push((key, "1".to_string()));
        }
    }
    let query = serde_urlencoded::to_string(&q).unwrap_or_default();
    format!("/{}/{namespace}/{name}/{container}?{query}", req.verb)
}

fn form_urlencoded_pairs(command: &[String]) -> Vec<(&'static str, String)> {
    command.iter().map(|c| ("command", c.clone())).collect()
}

/// Picks the container as the API server does for logs, exec and attach: the one named, else
/// the only one.
pub(crate) fn container_of(pod: &Pod, name: &str, asked: Option<&String>) -> Result<String> {
    let all = crate::pods::bounds::spec_containers(pod);
    let app: Vec<&str> = pod
        .spec
        .iter()
        .flat_map(|s| s.containers.iter().map(|c| c.name.as_str()))
        .collect();
    match asked.filter(|a| !a.is_empty()) {
        Some(c) if all.contains(&c.as_str()) => Ok(c.clone()),
        Some(c) => Err(Error::bad_request(format!(
            "container {c} is not valid for pod {name}"
        ))),
        None if app.len() == 1 => Ok(app[0].to_string()),
        None => Err(Error::bad_request(format!(
            "a container name must be specified for pod {name}, choose one of: [{}]",
            app.join(" ")
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kubelets_path_carries_the_command_and_the_streams() {
        let req = ExecRequest {
            verb: "exec",
            container: None,
            command: vec!["sh".into(), "-c".into(), "exit 3".into()],
            opts: StreamOptions {
                stdin: true,
                stdout: true,
                stderr: true,
                tty: false,
            },
        };
        assert_eq!(
            kubelet_path(&req, "default", "web", "app"),
            "/exec/default/web/app?command=sh&command=-c&command=exit+3&input=1&output=1&error=1"
        );
    }
}
