//! Logs archived in the bucket when the pod finishes, at
//! `logs/<namespace>/<pod>/<uid>/<container>.log`, so they outlive the VM.
//!
//! The guest never writes the bucket: it sends each container's log to the service
//! (`PUT /guest/v1/...`, [`super::upload`]), which checks the VM's instance identity and
//! writes the object under the uid of the pod that VM runs. Keyed by uid, a later pod of the
//! same name never sees an earlier pod's log.
//!
//! # Objects written before uid keys
//! Guests before uid keys wrote `logs/<namespace>/<pod>/<container>.log` themselves. That key
//! is read only as a fallback, when the uid key is absent **and** the object was written
//! after the pod was created (a Cloud Storage generation is its write time in microseconds,
//! and so is the memory store's; `creationTimestamp` has whole seconds, so "after" is "at
//! least one second after the second it names"): an earlier pod of the same name wrote its
//! log before it was deleted, so before this pod existed, and its log is never shown.
//! Nothing writes that key any more; deleting a pod deletes both keys.
//!
//! # Caveats
//! The archive answers only once the record says the pod finished: while it runs, live logs
//! (Cloud Logging) win, even in the seconds between the upload and the final report.

use std::sync::Arc;

use async_trait::async_trait;
use k8s_openapi::api::core::v1::Pod;

use super::{ContainerRef, LogLine, LogSource};
use crate::error::{Error, Result};
use crate::pods::record::{self, PodRecord};
use crate::store::{RecordStore, StoreError};

/// The most of one container's log the archive keeps: the guest sends the newest 16 MiB,
/// half of Cloud Run's 32 MiB limit on an HTTP/1 request body.
pub const MAX_LOG_BYTES: usize = 16 * 1024 * 1024;

/// Object name of an archived log.
pub fn archive_key(namespace: &str, pod: &str, uid: &str, container: &str) -> String {
    format!("logs/{namespace}/{pod}/{uid}/{container}.log")
}

/// Object name guests used before uid keys (read as a fallback only, see the module docs).
pub fn legacy_archive_key(namespace: &str, pod: &str, container: &str) -> String {
    format!("logs/{namespace}/{pod}/{container}.log")
}

/// Every container name of the pod: init, regular and ephemeral.
pub(crate) fn container_names(pod: &Pod) -> Vec<String> {
    let Some(spec) = pod.spec.as_ref() else {
        return Vec::new();
    };
    let init = spec
        .init_containers
        .iter()
        .flatten()
        .map(|c| c.name.clone());
    let main = spec.containers.iter().map(|c| c.name.clone());
    let ephemeral = spec
        .ephemeral_containers
        .iter()
        .flatten()
        .map(|c| c.name.clone());
    init.chain(main).chain(ephemeral).collect()
}

/// Deletes every archived log of the pod of `rec` (both keys, every container). Best effort:
/// returns the keys it could not delete.
pub(crate) async fn delete_archived(store: &dyn RecordStore, rec: &PodRecord) -> Vec<String> {
    let meta = &rec.pod.metadata;
    let (ns, name) = (
        meta.namespace.as_deref().unwrap_or("default"),
        meta.name.as_deref().unwrap_or(""),
    );
    let uid = meta.uid.as_deref().unwrap_or("");
    let mut keys = Vec::new();
    for c in container_names(&rec.pod) {
        if !uid.is_empty() {
            keys.push(archive_key(ns, name, uid, &c));
        }
        keys.push(legacy_archive_key(ns, name, &c));
    }
    let mut failed = Vec::new();
    for key in keys {
        match store.delete(&key, None).await {
            Ok(()) | Err(StoreError::NotFound { .. }) => {}
            Err(e) => {
                tracing::warn!(%key, error = %e, "could not delete an archived log");
                failed.push(key);
            }
        }
    }
    failed
}

/// Logs archived in the bucket.
#[derive(Debug, Clone)]
pub struct ArchivedLogs {
    /// The bucket (same store as the records).
    pub store: Arc<dyn RecordStore>,
}

impl ArchivedLogs {
    async fn object(&self, key: &str, pod: &str) -> Result<Option<crate::store::Record>> {
        match self.store.get(key).await {
            Ok(r) => Ok(Some(r)),
            Err(StoreError::NotFound { .. }) => Ok(None),
            Err(e) => Err(Error::pod_store(e, pod)),
        }
    }
}

fn lines_of(data: &[u8]) -> Vec<LogLine> {
    String::from_utf8_lossy(data)
        .lines()
        .map(|l| LogLine {
            time: None,
            text: l.to_string(),
        })
        .collect()
}

#[async_trait]
impl LogSource for ArchivedLogs {
    async fn lines(&self, c: ContainerRef<'_>) -> Result<Option<Vec<LogLine>>> {
        let Some(rec) = record::load_if_exists(&self.store, c.namespace, c.pod).await? else {
            return Ok(None);
        };
        // While the pod runs, live logs win.
        if !rec.is_finished() {
            return Ok(None);
        }
        let uid = rec.pod.metadata.uid.as_deref().unwrap_or("");
        if !uid.is_empty() {
            if let Some(r) = self
                .object(&archive_key(c.namespace, c.pod, uid, c.container), c.pod)
                .await?
            {
                return Ok(Some(lines_of(&r.data)));
            }
        }
        let Some(created) = rec.pod.metadata.creation_timestamp.as_ref().map(|t| t.0) else {
            return Ok(None);
        };
        match self
            .object(&legacy_archive_key(c.namespace, c.pod, c.container), c.pod)
            .await?
        {
            Some(r) if r.generation >= created.as_microsecond() + 1_000_000 => {
                Ok(Some(lines_of(&r.data)))
            }
            _ => Ok(None),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pods::record::VmState;
    use crate::store::MemoryStore;

    async fn finished_pod(store: &Arc<dyn RecordStore>, created_ago_s: i64) {
        let created = jiff::Timestamp::now() - jiff::SignedDuration::from_secs(created_ago_s);
        let pod: Pod = serde_json::from_value(serde_json::json!({
            "metadata": {"name": "p", "namespace": "default", "uid": "u1",
                "creationTimestamp": created.to_string()},
            "spec": {"containers": [{"name": "c", "image": "busybox"}]},
            "status": {"phase": "Succeeded"}
        }))
        .expect("pod");
        let rec = PodRecord::new(pod, VmState::default());
        store
            .put(
                &record::key("default", "p"),
                rec.encode().expect("encode"),
                "application/json",
            )
            .await
            .expect("record");
    }

    /// Writes `text` at `key`, then the first line `logs` show of `default/p`'s `c`.
    async fn first_line_after(
        logs: &ArchivedLogs,
        store: &Arc<dyn RecordStore>,
        key: &str,
        text: &str,
    ) -> Option<String> {
        store
            .put(key, text.to_owned().into(), "text/plain")
            .await
            .expect("put");
        let lines = logs
            .lines(ContainerRef::new("default", "p", "c"))
            .await
            .expect("read")?;
        Some(lines.first().expect("a line").text.clone())
    }

    #[tokio::test]
    async fn a_name_only_log_is_read_only_when_written_after_the_pod_was_created() {
        let store: Arc<dyn RecordStore> = Arc::new(MemoryStore::new());
        let logs = ArchivedLogs {
            store: store.clone(),
        };
        let legacy = legacy_archive_key("default", "p", "c");
        // A pod created 10 s ago, whose (old) guest wrote the name-only key just now: shown.
        finished_pod(&store, 10).await;
        let first = first_line_after(&logs, &store, &legacy, "old guest\n").await;
        assert_eq!(first.as_deref(), Some("old guest"));
        // The uid key wins over it.
        let key = archive_key("default", "p", "u1", "c");
        let first = first_line_after(&logs, &store, &key, "by uid\n").await;
        assert_eq!(first.as_deref(), Some("by uid"));
        // A pod (re)created after the name-only object was written: not shown.
        store.delete(&key, None).await.expect("delete");
        finished_pod(&store, -5).await;
        assert!(
            logs.lines(ContainerRef::new("default", "p", "c"))
                .await
                .expect("read")
                .is_none()
        );
    }
}
