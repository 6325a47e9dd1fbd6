//! One simulated VM's kubelet: its TLS configuration, its pod, and the pod's containers as
//! real processes whose output goes to CRI log files, as containerd writes them
//! (`<RFC 3339 time> <stream> <F|P> <text>`, one file per container and restart:
//! `<dir>/<container>/<restart>.log`, kubelet's own layout under `/var/log/pods`).

use std::collections::HashMap;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};

use super::SimNodeTls;

/// One container's state as the stand-in knows it.
#[derive(Debug, Clone, Default)]
pub struct SimContainer {
    /// Restarts so far (the current log file is `<restart>.log`).
    pub restarts: u32,
    /// The running process, if any.
    pub pid: Option<u32>,
    /// Exit code of the last process that ended.
    pub exit_code: Option<i32>,
    /// When the current process started.
    pub started: Option<jiff::Timestamp>,
    /// When the last process ended.
    pub finished: Option<jiff::Timestamp>,
    /// Set when the process runs in the sandbox ([`super::sandbox`]): `pid` is then its
    /// container's PID 1, and exec enters its namespaces.
    pub isolation: Option<super::sandbox::Isolation>,
}

/// A VM's kubelet.
pub struct SimNode {
    /// VM name.
    pub vm: String,
    /// The pod's namespace.
    pub namespace: String,
    /// The pod's name.
    pub pod: String,
    dir: PathBuf,
    server: Arc<rustls::ServerConfig>,
    pub(super) containers: Mutex<HashMap<String, SimContainer>>,
    /// Container names in spec order (from the manifest), for `/stats/summary`.
    names: Mutex<Vec<String>>,
    /// Serializes appends, so lines of concurrent writers never interleave.
    write: Mutex<()>,
    /// The previous CPU sample per container: (when, core-nanoseconds).
    cpu_samples: Mutex<HashMap<String, (jiff::Timestamp, u64)>>,
    /// Set when the VM is gone: every process of the node is killed.
    pub(super) stop: tokio::sync::watch::Sender<bool>,
    /// Counts changes of the containers' states (a process started or ended).
    pub(super) changes: tokio::sync::watch::Sender<u64>,
}

impl std::fmt::Debug for SimNode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SimNode")
            .field("vm", &self.vm)
            .field("pod", &format!("{}/{}", self.namespace, self.pod))
            .finish_non_exhaustive()
    }
}

/// kubelet's TLS for this VM: its serving pair, and client certificates required and
/// verified against the pod's CA only.
fn server_config(tls: &SimNodeTls) -> Result<Arc<rustls::ServerConfig>, String> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let ca = CertificateDer::from_pem_slice(tls.client_ca.as_bytes()).map_err(|e| e.to_string())?;
    let mut roots = rustls::RootCertStore::empty();
    roots.add(ca).map_err(|e| e.to_string())?;
    let verifier = rustls::server::WebPkiClientVerifier::builder_with_provider(
        Arc::new(roots),
        provider.clone(),
    )
    .build()
    .map_err(|e| e.to_string())?;
    let cert =
        CertificateDer::from_pem_slice(tls.serving_cert.as_bytes()).map_err(|e| e.to_string())?;
    let key =
        PrivateKeyDer::from_pem_slice(tls.serving_key.as_bytes()).map_err(|e| e.to_string())?;
    let config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| e.to_string())?
        .with_client_cert_verifier(verifier)
        .with_single_cert(vec![cert], key)
        .map_err(|e| e.to_string())?;
    Ok(Arc::new(config))
}

impl SimNode {
    pub(super) fn new(
        vm: &str,
        namespace: &str,
        pod: &str,
        dir: PathBuf,
        tls: &SimNodeTls,
    ) -> Result<SimNode, String> {
        std::fs::create_dir_all(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
        Ok(SimNode {
            vm: vm.into(),
            namespace: namespace.into(),
            pod: pod.into(),
            dir,
            server: server_config(tls)?,
            containers: Mutex::default(),
            names: Mutex::default(),
            write: Mutex::default(),
            cpu_samples: Mutex::default(),
            stop: tokio::sync::watch::channel(false).0,
            changes: tokio::sync::watch::channel(0).0,
        })
    }

    pub(super) fn server_config(&self) -> Arc<rustls::ServerConfig> {
        self.server.clone()
    }

    /// Takes the container names from the static pod manifest.
    pub(super) fn set_manifest(&self, manifest: &str) {
        let Ok(pod) = serde_json::from_str::<k8s_openapi::api::core::v1::Pod>(manifest) else {
            return;
        };
        let names: Vec<String> = crate::pods::bounds::spec_containers(&pod)
            .into_iter()
            .map(str::to_string)
            .collect();
        let mut containers = self.containers.lock().unwrap_or_else(|p| p.into_inner());
        for n in &names {
            containers.entry(n.clone()).or_default();
        }
        *self.names.lock().unwrap_or_else(|p| p.into_inner()) = names;
    }

    /// The containers, in spec order (then any others), with their state.
    pub fn containers(&self) -> Vec<(String, SimContainer)> {
        let names = self.names.lock().unwrap_or_else(|p| p.into_inner()).clone();
        let containers = self.containers.lock().unwrap_or_else(|p| p.into_inner());
        let mut out: Vec<(String, SimContainer)> = names
            .iter()
            .filter_map(|n| containers.get(n).map(|c| (n.clone(), c.clone())))
            .collect();
        for (n, c) in containers.iter() {
            if !names.contains(n) {
                out.push((n.clone(), c.clone()));
            }
        }
        out
    }

    /// One container's state, if known.
    pub fn container(&self, name: &str) -> Option<SimContainer> {
        let containers = self.containers.lock().unwrap_or_else(|p| p.into_inner());
        containers.get(name).cloned()
    }

    /// The CRI log file of `container`'s `restart`-th run.
    pub fn log_path(&self, container: &str, restart: u32) -> PathBuf {
        self.dir.join(container).join(format!("{restart}.log"))
    }

    /// Appends one line of `stream` (`stdout` or `stderr`) to `container`'s current log, in
    /// CRI format, stamped now.
    pub fn write_line(&self, container: &str, stream: &str, text: &str) {
        let restart = {
            let mut containers = self.containers.lock().unwrap_or_else(|p| p.into_inner());
            containers
                .entry(container.to_string())
                .or_default()
                .restarts
        };
        let path = self.log_path(container, restart);
        let _guard = self.write.lock().unwrap_or_else(|p| p.into_inner());
        if let Err(e) = append_cri(&path, jiff::Timestamp::now(), stream, text) {
            tracing::warn!(path = %path.display(), error = %e, "kubelet stand-in: log write failed");
        }
    }

    /// Runs `script` with `sh -c` as `container`'s process in the node's directory, not in the
    /// sandbox (a restart when one ran before), its stdout and stderr written to the
    /// container's log line by line as they come ([`SimNode::start`] is the general form).
    pub fn run(self: &Arc<Self>, container: &str, script: &str) -> std::io::Result<u32> {
        let launch = super::container::Launch {
            command: vec!["sh".into(), "-c".into(), script.into()],
            ..Default::default()
        };
        let child = self.spawn(container, &launch)?;
        let pid = child.id().unwrap_or(0);
        self.begin(container, child, pid, None)?;
        Ok(pid)
    }

    /// Nanocores used by `container` since its previous sample (since its start for the
    /// first), given its cumulative CPU time `ns` now.
    pub(super) fn cpu_rate(&self, container: &str, ns: u64, now: jiff::Timestamp) -> u64 {
        let started = self
            .container(container)
            .and_then(|c| c.started)
            .unwrap_or(now);
        let mut samples = self.cpu_samples.lock().unwrap_or_else(|p| p.into_inner());
        let (then, before) = samples
            .insert(container.to_string(), (now, ns))
            .unwrap_or((started, 0));
        let elapsed = now.duration_since(then).as_nanos().max(1) as u128;
        (u128::from(ns.saturating_sub(before)) * 1_000_000_000 / elapsed) as u64
    }

    /// Kills every process (the VM is gone).
    pub(super) fn stop_all(&self) {
        self.stop.send_replace(true);
    }

    /// Whether `container` runs now: its process, when it was given one ([`SimNode::run`]);
    /// else (a simulated guest's container, which has only lines) while the VM is up.
    pub fn running(&self, container: &str) -> bool {
        if *self.stop.borrow() {
            return false;
        }
        match self.container(container) {
            Some(c) if c.started.is_some() => c.pid.is_some(),
            _ => true,
        }
    }

    /// The node's scratch directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }
}

/// Appends one CRI log line.
fn append_cri(path: &Path, at: jiff::Timestamp, stream: &str, text: &str) -> std::io::Result<()> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)?;
    }
    let mut f = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)?;
    let line = format!("{} {stream} F {text}\n", cri_time(at));
    f.write_all(line.as_bytes())
}

/// containerd's timestamp: RFC 3339 with nanoseconds (Go's `time.RFC3339Nano`).
pub(super) fn cri_time(at: jiff::Timestamp) -> String {
    at.strftime("%Y-%m-%dT%H:%M:%S.%9fZ").to_string()
}
