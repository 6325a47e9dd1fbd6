//! The simulated guests' log lines, and the log source that serves them to `kubectl logs`
//! (wired in by [`crate::testing`] only; production code never sees the simulator).

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use async_trait::async_trait;

use crate::pods::logs::{ContainerRef, LogLine, LogSource};
use crate::pods::now;

/// Timestamped lines by `namespace/name/container`.
type Lines = HashMap<String, Vec<(jiff::Timestamp, String)>>;

/// Where else a line goes: `(namespace, pod, container, line)` (the kubelet stand-in's log
/// files, so `kubectl logs` through kubelet shows the simulated lines).
pub type SimLogMirror = Arc<dyn Fn(&str, &str, &str, &str) + Send + Sync>;

/// Log lines per `namespace/name/container`.
#[derive(Default, Clone)]
pub struct SimLogs {
    inner: Arc<Mutex<Lines>>,
    mirror: Arc<Mutex<Option<SimLogMirror>>>,
}

impl std::fmt::Debug for SimLogs {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SimLogs").finish_non_exhaustive()
    }
}

impl SimLogs {
    /// Sends every line also to `mirror`.
    pub fn mirror_to(&self, mirror: SimLogMirror) {
        *self.mirror.lock().unwrap_or_else(|p| p.into_inner()) = Some(mirror);
    }

    /// Appends a line.
    pub fn push(&self, namespace: &str, name: &str, container: &str, line: String) {
        let mirror = self
            .mirror
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone();
        if let Some(m) = mirror {
            m(namespace, name, container, &line);
        }
        let mut m = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        m.entry(format!("{namespace}/{name}/{container}"))
            .or_default()
            .push((now(), line));
    }

    /// Sets a container's lines to `lines`, not mirrored (the stand-in's own log, kept for
    /// after the VM is gone, as a guest archives it).
    pub fn archive(
        &self,
        namespace: &str,
        name: &str,
        container: &str,
        lines: Vec<(jiff::Timestamp, String)>,
    ) {
        let mut m = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        m.insert(format!("{namespace}/{name}/{container}"), lines);
    }

    /// The lines so far.
    pub fn lines(
        &self,
        namespace: &str,
        name: &str,
        container: &str,
    ) -> Option<Vec<(jiff::Timestamp, String)>> {
        let m = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        m.get(&format!("{namespace}/{name}/{container}")).cloned()
    }
}

#[async_trait]
impl LogSource for SimLogs {
    async fn lines(&self, c: ContainerRef<'_>) -> crate::error::Result<Option<Vec<LogLine>>> {
        Ok(
            SimLogs::lines(self, c.namespace, c.pod, c.container).map(|v| {
                v.into_iter()
                    .map(|(t, text)| LogLine {
                        time: Some(t),
                        text,
                    })
                    .collect()
            }),
        )
    }
}
