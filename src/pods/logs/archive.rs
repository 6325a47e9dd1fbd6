//! Logs the guest archives in the bucket when the pod finishes, at
//! `logs/<namespace>/<pod>/<container>.log`, so they outlive the VM.

use std::sync::Arc;

use async_trait::async_trait;

use super::{LogLine, LogSource};
use crate::error::Result;
use crate::store::{RecordStore, StoreError};

/// Object name of an archived log.
pub fn archive_key(namespace: &str, pod: &str, container: &str) -> String {
    format!("logs/{namespace}/{pod}/{container}.log")
}

/// Logs the guest archived in the bucket.
#[derive(Debug, Clone)]
pub struct ArchivedLogs {
    /// The bucket (same store as the records).
    pub store: Arc<dyn RecordStore>,
}

#[async_trait]
impl LogSource for ArchivedLogs {
    async fn lines(
        &self,
        namespace: &str,
        pod: &str,
        container: &str,
    ) -> Result<Option<Vec<LogLine>>> {
        match self
            .store
            .get(&archive_key(namespace, pod, container))
            .await
        {
            Ok(r) => {
                let text = String::from_utf8_lossy(&r.data);
                Ok(Some(
                    text.lines()
                        .map(|l| LogLine {
                            time: None,
                            text: l.to_string(),
                        })
                        .collect(),
                ))
            }
            Err(StoreError::NotFound { .. }) => Ok(None),
            Err(e) => Err(crate::error::Error::pod_store(e, pod)),
        }
    }
}
