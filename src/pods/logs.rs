//! Container logs behind one interface, for `kubectl logs`.
//!
//! Sources, asked in order until one knows the container: the simulated guests' lines (dev
//! mode), the log the guest archives in Cloud Storage at `logs/<ns>/<pod>/<container>.log`
//! when the pod finishes (so logs outlive the VM), and, while it runs, Cloud Logging
//! (`cloud_logging::CloudLogging`, which finds the VM's instance id in the pod record).

use std::sync::Arc;

use async_trait::async_trait;

use crate::error::Result;
use crate::pods::record;
use crate::sim::guest::SimLogs;
use crate::store::{RecordStore, StoreError};

/// One line.
#[derive(Debug, Clone, PartialEq)]
pub struct LogLine {
    /// When it was written, if the source knows.
    pub time: Option<jiff::Timestamp>,
    /// The text, without a trailing newline.
    pub text: String,
}

/// Where logs come from.
#[async_trait]
pub trait LogSource: Send + Sync + std::fmt::Debug {
    /// The container's lines, oldest first, or `None` when this source has nothing for it.
    async fn lines(
        &self,
        namespace: &str,
        pod: &str,
        container: &str,
    ) -> Result<Option<Vec<LogLine>>>;
}

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
            Err(e) => Err(record::store_error(e, pod)),
        }
    }
}

#[async_trait]
impl LogSource for SimLogs {
    async fn lines(
        &self,
        namespace: &str,
        pod: &str,
        container: &str,
    ) -> Result<Option<Vec<LogLine>>> {
        Ok(SimLogs::lines(self, namespace, pod, container).map(|v| {
            v.into_iter()
                .map(|(t, text)| LogLine {
                    time: Some(t),
                    text,
                })
                .collect()
        }))
    }
}

/// Asks each source in turn.
#[derive(Debug, Clone, Default)]
pub struct LogSources(pub Vec<Arc<dyn LogSource>>);

impl LogSources {
    /// The first source's answer that knows the container.
    pub async fn lines(
        &self,
        namespace: &str,
        pod: &str,
        container: &str,
    ) -> Result<Option<Vec<LogLine>>> {
        for source in &self.0 {
            if let Some(lines) = source.lines(namespace, pod, container).await? {
                return Ok(Some(lines));
            }
        }
        Ok(None)
    }
}
