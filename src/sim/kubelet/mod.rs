//! A kubelet stand-in for tests and `dev`: one HTTPS server on a loopback port that plays the
//! kubelet of every simulated VM, with kubelet's own endpoints and its authentication.
//!
//! Each VM registers ([`SimKubelet::register`], or [`SimKubelet::install`] on a simulator: a VM
//! that reaches RUNNING with the `k8sless-kubelet-*` metadata the service gave it is
//! registered, a deleted or stopped one forgotten). A connection names its VM by the TLS
//! server name (SNI, `VM.ZONE.c.PROJECT.internal`, the first label being the VM); the
//! stand-in then completes the handshake with **that VM's** configuration: its serving
//! certificate, and a client verifier whose only root is that pod's CA (rustls'
//! `WebPkiClientVerifier`, which requires a client certificate). A client with no certificate,
//! or one from another pod's CA, fails the handshake, as it would on the real kubelet with
//! `authentication.x509.clientCAFile` and anonymous access off.
//!
//! Endpoints, each in its own file and merged by [`routes`]: [`logs`] (`/containerLogs`), [`stats`]
//! (`/stats/summary`), `exec` (`/exec` and `/attach` over SPDY/3.1 and WebSocket v4, real
//! processes in the VM's directory, a pty for `tty`), `portforward` (`/portForward` over SPDY
//! and WebSocket channels, to `localhost:PORT`: the stand-in has no per-pod network
//! namespace, so a pod's port is the test machine's loopback port). Containers are real processes ([`node::SimNode::run`]) whose stdout
//! and stderr the stand-in writes to CRI log files in a scratch directory, as containerd does,
//! and `/containerLogs` reads those files as kubelet does; [`container`] starts them, each in
//! its own mount and PID namespace ([`sandbox`]) when the simulated guest runs a pod's commands.

pub mod container;
mod exec;
pub mod logs;
pub mod node;
mod portforward;
mod portforward_ws;
mod pty;
mod runner;
pub mod sandbox;
pub mod stats;

use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::{Arc, RwLock};

use axum::Router;
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;
use tower::ServiceExt as _;

pub use node::SimNode;

use super::{Sim, SimChange};
use crate::gce::types::{Instance, InstanceStatus};

/// The stand-in: its address and the VMs it plays.
#[derive(Debug, Clone)]
pub struct SimKubelet {
    addr: SocketAddr,
    scratch: Arc<Scratch>,
    nodes: Arc<RwLock<HashMap<String, Arc<SimNode>>>>,
}

/// The scratch directory, removed with the last handle on the stand-in.
#[derive(Debug)]
struct Scratch(PathBuf);

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Name prefix of the stand-in's scratch directories under the system's temporary directory.
const SCRATCH_PREFIX: &str = "k8sless-kubelet-";

/// A fresh scratch directory for a stand-in of this process, `k8sless-kubelet-<pid>-<uuid>`
/// under the system's temporary directory. A process that is killed (a `dev` stopped by
/// SIGKILL, a test binary that exits without dropping its runtime) never removes its own, so
/// this also removes those of processes that no longer run (and, of the older unnamed ones,
/// those untouched for a day).
pub fn scratch_dir() -> PathBuf {
    let tmp = std::env::temp_dir();
    if let Ok(entries) = std::fs::read_dir(&tmp) {
        for entry in entries.flatten() {
            let name = entry.file_name();
            let Some(rest) = name.to_str().and_then(|n| n.strip_prefix(SCRATCH_PREFIX)) else {
                continue;
            };
            if stale_scratch(rest, &entry) {
                let _ = std::fs::remove_dir_all(entry.path());
            }
        }
    }
    tmp.join(format!(
        "{SCRATCH_PREFIX}{}-{}",
        std::process::id(),
        uuid::Uuid::new_v4()
    ))
}

/// Whether a scratch directory (its name after the prefix) belongs to no running process.
fn stale_scratch(rest: &str, entry: &std::fs::DirEntry) -> bool {
    match rest.split_once('-').map(|(pid, _)| pid.parse::<u32>()) {
        Some(Ok(pid)) => !std::path::Path::new(&format!("/proc/{pid}")).exists(),
        _ => entry
            .metadata()
            .and_then(|m| m.modified())
            .ok()
            .and_then(|t| t.elapsed().ok())
            .is_some_and(|age| age > std::time::Duration::from_secs(24 * 3600)),
    }
}

/// What a VM's metadata must carry for the stand-in to play its kubelet.
#[derive(Debug, Clone)]
pub struct SimNodeTls {
    /// The pod's CA (kubelet's `clientCAFile`).
    pub client_ca: String,
    /// kubelet's serving certificate.
    pub serving_cert: String,
    /// Its key.
    pub serving_key: String,
}

impl SimKubelet {
    /// Starts the stand-in on `127.0.0.1:0`, with VMs' files under `scratch` (removed when the
    /// last handle goes, with the runtime that serves it).
    pub async fn start(scratch: PathBuf) -> std::io::Result<SimKubelet> {
        let listener = TcpListener::bind("127.0.0.1:0").await?;
        let kubelet = SimKubelet {
            addr: listener.local_addr()?,
            scratch: Arc::new(Scratch(scratch)),
            nodes: Arc::default(),
        };
        let serving = kubelet.clone();
        tokio::spawn(async move {
            loop {
                let Ok((tcp, _)) = listener.accept().await else {
                    continue;
                };
                let kubelet = serving.clone();
                tokio::spawn(async move {
                    if let Err(e) = kubelet.serve(tcp).await {
                        tracing::debug!(error = %e, "kubelet stand-in: connection refused");
                    }
                });
            }
        });
        Ok(kubelet)
    }

    /// Where it listens (the service's `--kubelet-address` in tests and `dev`).
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The VM's node, if registered.
    pub fn node(&self, vm: &str) -> Option<Arc<SimNode>> {
        let nodes = self.nodes.read().unwrap_or_else(|p| p.into_inner());
        nodes.get(vm).cloned()
    }

    /// The node playing pod `namespace/pod`'s kubelet, if any.
    pub fn node_of_pod(&self, namespace: &str, pod: &str) -> Option<Arc<SimNode>> {
        let nodes = self.nodes.read().unwrap_or_else(|p| p.into_inner());
        nodes
            .values()
            .find(|n| n.namespace == namespace && n.pod == pod)
            .cloned()
    }

    /// Writes the simulated guests' lines (`logs`) to the log files of their pods' nodes.
    pub fn mirror(&self, logs: &crate::sim::guest::SimLogs) {
        let kubelet = self.clone();
        logs.mirror_to(Arc::new(move |namespace, pod, container, line| {
            if let Some(node) = kubelet.node_of_pod(namespace, pod) {
                node.write_line(container, "stdout", line);
            }
        }));
    }

    /// Plays `vm`'s kubelet for pod `namespace/pod`, with the certificates its metadata carries.
    pub fn register(
        &self,
        vm: &str,
        namespace: &str,
        pod: &str,
        tls: &SimNodeTls,
    ) -> Result<Arc<SimNode>, String> {
        let dir = self.scratch.0.join(vm);
        let node = Arc::new(SimNode::new(vm, namespace, pod, dir, tls)?);
        let mut nodes = self.nodes.write().unwrap_or_else(|p| p.into_inner());
        Ok(nodes.entry(vm.to_string()).or_insert(node).clone())
    }

    /// Forgets `vm` (its VM is gone): its processes are killed with it.
    pub fn unregister(&self, vm: &str) {
        let mut nodes = self.nodes.write().unwrap_or_else(|p| p.into_inner());
        if let Some(node) = nodes.remove(vm) {
            node.stop_all();
        }
    }

    /// Registers every simulated VM that reaches RUNNING with kubelet certificates in its
    /// metadata, and forgets those deleted or stopped.
    pub fn install(&self, sim: &Sim) {
        let kubelet = self.clone();
        sim.on_change(Arc::new(move |change: SimChange| {
            let vm = change.instance.name.clone();
            if change.deleted
                || matches!(
                    change.instance.status,
                    Some(InstanceStatus::Stopping | InstanceStatus::Terminated)
                )
            {
                kubelet.unregister(&vm);
                return;
            }
            if change.instance.status == Some(InstanceStatus::Running) {
                if let Err(e) = kubelet.register_instance(&change.instance) {
                    tracing::debug!(vm = %vm, error = %e, "kubelet stand-in: VM not played");
                }
            }
        }));
    }

    /// Registers a VM from its instance body (its `k8sless-kubelet-*` and `k8sless-config`
    /// metadata).
    pub fn register_instance(&self, instance: &Instance) -> Result<Arc<SimNode>, String> {
        let item = |k: &str| {
            instance
                .metadata_value(k)
                .map(str::to_string)
                .ok_or_else(|| format!("no {k} in metadata"))
        };
        let tls = SimNodeTls {
            client_ca: item("k8sless-kubelet-client-ca")?,
            serving_cert: item("k8sless-kubelet-serving-cert")?,
            serving_key: item("k8sless-kubelet-serving-key")?,
        };
        let config: serde_json::Value = serde_json::from_str(&item("k8sless-config")?)
            .map_err(|e| format!("k8sless-config: {e}"))?;
        let field = |k: &str| config[k].as_str().unwrap_or_default().to_string();
        let node = self.register(&instance.name, &field("namespace"), &field("name"), &tls)?;
        if let Ok(manifest) = item("k8sless-manifest") {
            node.set_manifest(&manifest);
        }
        Ok(node)
    }

    /// One connection: the VM by SNI, that VM's TLS, then HTTP/1.1 on its routes.
    async fn serve(&self, tcp: tokio::net::TcpStream) -> Result<(), String> {
        let _ = tcp.set_nodelay(true);
        let start = tokio_rustls::LazyConfigAcceptor::new(rustls::server::Acceptor::default(), tcp)
            .await
            .map_err(|e| format!("client hello: {e}"))?;
        let sni = start.client_hello().server_name().unwrap_or("").to_string();
        let vm = sni.split('.').next().unwrap_or("");
        let node = self
            .node(vm)
            .ok_or_else(|| format!("no VM {vm:?} (server name {sni:?})"))?;
        let tls = start
            .into_stream(node.server_config())
            .await
            .map_err(|e| format!("TLS handshake for {vm}: {e}"))?;
        let router = routes().with_state(node);
        let service =
            hyper::service::service_fn(move |req: hyper::Request<hyper::body::Incoming>| {
                router.clone().oneshot(req.map(axum::body::Body::new))
            });
        hyper::server::conn::http1::Builder::new()
            .serve_connection(TokioIo::new(tls), service)
            .with_upgrades()
            .await
            .map_err(|e| format!("HTTP: {e}"))
    }
}

/// kubelet's endpoints, each module adding its own.
fn routes() -> Router<Arc<SimNode>> {
    Router::new()
        .merge(logs::routes())
        .merge(stats::routes())
        .merge(exec::routes())
        .merge(portforward::routes())
}

#[cfg(test)]
mod tests;
