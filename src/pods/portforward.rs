//! port-forward: from a pod and the client's wire to kubelet's `/portForward/{namespace}/{pod}`,
//! upgraded as the client asked (SPDY for SPDY and for the WebSocket tunnel, WebSocket
//! channels with `?port=` for the Python client; [`crate::stream::portforward`]). The caller
//! then pipes the two connections: which ports, and every connection to them, are kubelet's
//! to serve, as they are behind kube-apiserver.
//!
//! # Guarantees
//! - The client reaches this pod's kubelet only, over the pod's own mutual TLS; the path is
//!   the service's, never the client's.
//! - Bounded: a session holds one of the instance's [`super::exec::MAX_SESSIONS`] (shared
//!   with exec and attach) and one of its pod's [`MAX_FORWARDS_PER_POD`]; the request's
//!   `ports` are at most [`MAX_PORTS`].
//!
//! # Errors
//! As kube-apiserver words them: `pods "x" not found`; `pod x does not have a host assigned`;
//! a finished pod, kubectl's own `unable to forward port because pod is not running. Current
//! status=Succeeded` (kubectl checks first; other clients get the same words); a bad `ports`
//! value, kubelet's `unable to parse "x" as a port`; kubelet's own refusal as a 400; kubelet
//! unreachable, 503. No kubelet path (`--kubelet-access none`): 405 saying what is missing.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use tokio::sync::OwnedSemaphorePermit;

use super::Pods;
use super::exec::{Exec, KubeletIo, kubelet_refused, require_host};
use crate::error::{Error, Result};
use crate::stream::portforward::{self, Wire};
use crate::stream::spdy::upgrade::{self, Prefixed, Switched};

/// Port-forward sessions one instance proxies to one pod at once (each `kubectl
/// port-forward` is one, however many connections it forwards).
pub(crate) const MAX_FORWARDS_PER_POD: usize = 32;
/// Ports one WebSocket request may name (two channels each; the channel is one byte).
pub(crate) const MAX_PORTS: usize = 64;

/// Port-forward sessions open per pod on this instance.
#[derive(Debug, Clone, Default)]
pub(crate) struct Forwards(Arc<Mutex<HashMap<String, usize>>>);

/// One pod's session slot, given back when dropped.
#[derive(Debug)]
pub(crate) struct ForwardSlot {
    forwards: Forwards,
    pod: String,
}

impl Forwards {
    fn take(&self, pod: &str) -> Result<ForwardSlot> {
        let mut open = self.0.lock().unwrap_or_else(|p| p.into_inner());
        let n = open.entry(pod.to_string()).or_default();
        if *n >= MAX_FORWARDS_PER_POD {
            return Err(Error::unavailable(format!(
                "this instance already forwards {MAX_FORWARDS_PER_POD} sessions to pod {pod}; close one or retry"
            )));
        }
        *n += 1;
        Ok(ForwardSlot {
            forwards: self.clone(),
            pod: pod.to_string(),
        })
    }
}

impl Drop for ForwardSlot {
    fn drop(&mut self) {
        let mut open = self.forwards.0.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(n) = open.get_mut(&self.pod) {
            *n = n.saturating_sub(1);
            if *n == 0 {
                open.remove(&self.pod);
            }
        }
    }
}

/// A session's kubelet side, upgraded; its bounds are held while it lives.
#[derive(Debug)]
pub(crate) struct KubeletForward {
    /// The upgraded connection to kubelet.
    pub(crate) io: Prefixed<KubeletIo>,
    /// kubelet's 101: what it chose.
    pub(crate) switched: Switched,
    /// One of the instance's sessions.
    pub(crate) permit: OwnedSemaphorePermit,
    /// One of the pod's.
    pub(crate) slot: ForwardSlot,
}

/// The `ports` of `PodPortForwardOptions`: repeated, each maybe a comma-separated list (as
/// the Python client sends and kubelet reads them), 1 to 65535.
pub(crate) fn parse_ports(query: Option<&str>) -> Result<Vec<u16>> {
    let pairs: Vec<(String, String)> = serde_urlencoded::from_str(query.unwrap_or_default())
        .map_err(|e| Error::bad_request(format!("invalid query: {e}")))?;
    let mut ports = Vec::new();
    for value in pairs.iter().filter(|(n, _)| n == "ports").map(|(_, v)| v) {
        for p in value.split(',') {
            let port: u16 = p
                .trim()
                .parse()
                .map_err(|_| Error::bad_request(format!("unable to parse {p:?} as a port")))?;
            if port == 0 {
                return Err(Error::bad_request(format!("port {p:?} must be > 0")));
            }
            ports.push(port);
        }
    }
    if ports.len() > MAX_PORTS {
        return Err(Error::bad_request(format!(
            "at most {MAX_PORTS} ports may be forwarded at once"
        )));
    }
    Ok(ports)
}

/// kubelet's path: `/portForward/{namespace}/{pod}`, with `?port=` when ports were asked
/// for (kube-apiserver's PortForwardLocation joins them with commas).
fn kubelet_path(namespace: &str, name: &str, ports: &[u16]) -> String {
    let path = format!("/portForward/{namespace}/{name}");
    if ports.is_empty() {
        return path;
    }
    let list: Vec<String> = ports.iter().map(u16::to_string).collect();
    format!("{path}?port={}", list.join(","))
}

impl Pods {
    /// Checks the pod and opens the kubelet side of a port-forward on `wire`.
    pub(crate) async fn portforward_open(
        &self,
        exec: &Exec,
        namespace: &str,
        name: &str,
        wire: &Wire,
        ports: &[u16],
    ) -> Result<KubeletForward> {
        self.require_kubelet("port-forward")?;
        let rec = self.get_record(namespace, name).await?;
        let phase = rec.phase();
        if phase.is_finished() {
            return Err(Error::bad_request(format!(
                "unable to forward port because pod is not running. Current status={}",
                phase.as_str()
            )));
        }
        require_host(&rec, name)?;
        let slot = exec.forwards.take(&format!("{namespace}/{name}"))?;
        let permit = exec.permit()?;
        let (client, io) = self.dial_kubelet(&rec).await?;
        let head = portforward::kubelet_head(
            wire,
            &client.host_header(),
            &kubelet_path(namespace, name, ports),
        );
        let (switched, io) = tokio::time::timeout(
            crate::kubelet::connect::ANSWER_TIMEOUT,
            upgrade::send(io, &head),
        )
        .await
        .map_err(|_| Error::unavailable("the pod's kubelet did not answer the upgrade in time"))?
        .map_err(kubelet_refused)?;
        Ok(KubeletForward {
            io,
            switched,
            permit,
            slot,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ports_are_read_as_kubelet_reads_them() {
        assert_eq!(
            parse_ports(Some("ports=8080&ports=80,443")).unwrap(),
            [8080, 80, 443]
        );
        assert!(parse_ports(None).unwrap().is_empty());
        let bad = parse_ports(Some("ports=http")).unwrap_err().to_string();
        assert!(bad.contains("unable to parse \"http\" as a port"), "{bad}");
        assert!(parse_ports(Some("ports=0")).is_err());
        assert!(parse_ports(Some("ports=70000")).is_err());
        assert_eq!(
            kubelet_path("default", "web", &[8080, 80]),
            "/portForward/default/web?port=8080,80"
        );
        assert_eq!(
            kubelet_path("default", "web", &[]),
            "/portForward/default/web"
        );
    }

    #[test]
    fn a_pod_has_a_bounded_number_of_sessions() {
        let forwards = Forwards::default();
        let slots: Vec<_> = (0..MAX_FORWARDS_PER_POD)
            .map(|_| forwards.take("default/web").unwrap())
            .collect();
        assert!(forwards.take("default/web").is_err());
        assert!(forwards.take("default/other").is_ok());
        drop(slots);
        assert!(forwards.take("default/web").is_ok());
    }
}
