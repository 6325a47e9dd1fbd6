//! `kubectl logs` from the pod's kubelet while its VM runs: kube-apiserver's own path
//! (pkg/registry/core/pod/rest/log.go `LogREST.Get` → `LogLocation`, which proxies to
//! kubelet's `/containerLogs/{namespace}/{pod}/{container}` with the `PodLogOptions` as query
//! parameters). kubelet applies every option itself (follow, previous, sinceSeconds,
//! sinceTime, timestamps, tailLines, limitBytes), and a followed line reaches the client as
//! soon as kubelet writes it: no polling, no Cloud Logging quota.
//!
//! The sources after it ([`super::LogSources`]: the archive once the pod finished, Cloud
//! Logging) answer when this one cannot: the deployment does not reach kubelets, the pod
//! finished (its VM uploads the archive and powers off), the pod has no PKI, or kubelet does
//! not answer. A kubelet that answers 400 (a previous container that never ran, a container
//! waiting to start) is the answer, as kube-apiserver passes it on
//! (`NewGenericHttpResponseChecker`: the status and kubelet's text).

use std::collections::HashMap;

use hyper::body::Incoming;

use crate::error::{Error, Result};
use crate::kubelet::KubeletError;
use crate::pods::Pods;
use crate::pods::record;

/// The `PodLogOptions` kube-apiserver forwards to kubelet, in its order.
const FORWARDED: &[&str] = &[
    "follow",
    "previous",
    "sinceSeconds",
    "sinceTime",
    "timestamps",
    "tailLines",
    "limitBytes",
];

/// kubelet's query for the client's options (only those kubelet knows).
pub(crate) fn kubelet_query(q: &HashMap<String, String>) -> String {
    let mut out: Vec<(String, String)> = Vec::new();
    for k in FORWARDED {
        if let Some(v) = q.get(*k) {
            out.push((k.to_string(), v.clone()));
        }
    }
    serde_urlencoded::to_string(&out).unwrap_or_default()
}

impl Pods {
    /// The container's log body from kubelet, streaming, or `None` when kubelet is not the
    /// source to ask (see the module docs).
    ///
    /// # Errors
    /// 400 with kubelet's text when kubelet refuses the options.
    pub(crate) async fn kubelet_logs(
        &self,
        namespace: &str,
        name: &str,
        container: &str,
        q: &HashMap<String, String>,
    ) -> Result<Option<hyper::Response<Incoming>>> {
        if !self.kubelet.enabled() {
            return Ok(None);
        }
        let rec = record::load(&self.store, namespace, name).await?;
        if rec.kubelet_pki.is_none() || rec.is_finished() || rec.vm.deleted_at.is_some() {
            return Ok(None);
        }
        let client = match self.kubelet_of(&rec).await {
            Ok(c) => c,
            Err(e) => {
                tracing::info!(pod = %format!("{namespace}/{name}"), error = %e.chain(), "kubelet not reachable for logs; using the other sources");
                return Ok(None);
            }
        };
        let path = format!(
            "/containerLogs/{}/{}/{}?{}",
            enc(namespace),
            enc(name),
            enc(container),
            kubelet_query(q)
        );
        match client.get(&path).await {
            Ok(r) => Ok(Some(r)),
            Err(KubeletError::Status {
                status: 400, body, ..
            }) => Err(Error::bad_request(body)),
            Err(e) => {
                let e = Error::from(e);
                tracing::info!(pod = %format!("{namespace}/{name}"), error = %e.chain(), "kubelet did not serve logs; using the other sources");
                Ok(None)
            }
        }
    }
}

/// How long a followed kubelet stream that ended waits for the pod's status to say so.
const SETTLE_WAIT: std::time::Duration = std::time::Duration::from_secs(10);
const SETTLE_POLL: std::time::Duration = std::time::Duration::from_millis(200);

impl Pods {
    /// Waits (at most [`SETTLE_WAIT`]) until the pod's status says `container` ended, or the
    /// pod is gone. kubelet ends a followed log the moment the container exits, while the
    /// status here travels through the guest's report and Pub/Sub; clients that look at the
    /// status when the stream ends (Airflow's KubernetesPodOperator logs "log read interrupted
    /// but container still running" and follows again) then see what they would see on a
    /// cluster.
    pub(crate) async fn settle_after_follow(&self, namespace: &str, name: &str, container: &str) {
        let deadline = tokio::time::Instant::now() + SETTLE_WAIT;
        loop {
            match record::load(&self.store, namespace, name).await {
                Ok(rec) if !super::follow::progress(&rec.pod, container).ended => {}
                _ => return,
            }
            if tokio::time::Instant::now() >= deadline {
                return;
            }
            tokio::time::sleep(SETTLE_POLL).await;
        }
    }
}

/// A path segment, percent-encoded (names are DNS labels, but never trust that here).
fn enc(s: &str) -> String {
    percent_encoding::utf8_percent_encode(s, percent_encoding::NON_ALPHANUMERIC).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_kubelets_options_are_forwarded() {
        let q: HashMap<String, String> = [
            ("follow", "true"),
            ("container", "c"),
            ("tailLines", "3"),
            ("pretty", "x"),
            ("sinceTime", "2026-01-01T00:00:00Z"),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
        assert_eq!(
            kubelet_query(&q),
            "follow=true&sinceTime=2026-01-01T00%3A00%3A00Z&tailLines=3"
        );
    }
}
