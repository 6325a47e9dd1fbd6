//! Cloud Logging as a [`LogSource`]: the pod record names the VM's instance id and
//! when it was inserted; the container's entries since then are its lines.

use std::time::Duration;

use async_trait::async_trait;

use crate::logging::client::{CloudLogging, Entry, filter};
use crate::error::{Error, Result};
use crate::pods::logs::{LogLine, LogSource};
use crate::pods::record;

/// How long before the VM's insert the window starts (clock skew, early boot).
const WINDOW_SLACK: Duration = Duration::from_secs(300);

fn line(entry: Entry) -> LogLine {
    LogLine {
        time: entry.timestamp,
        text: entry.text(),
    }
}

#[async_trait]
impl LogSource for CloudLogging {
    async fn lines(
        &self,
        namespace: &str,
        pod: &str,
        container: &str,
    ) -> Result<Option<Vec<LogLine>>> {
        let rec = match record::load(&self.store, namespace, pod).await {
            Ok(r) => r,
            Err(Error::NotFound { .. }) => return Ok(None),
            Err(e) => return Err(e),
        };
        let Some(instance_id) = rec.vm.instance_id.as_deref().filter(|i| !i.is_empty()) else {
            return Ok(None);
        };
        let since = rec
            .vm
            .inserted_at
            .or_else(|| rec.pod.metadata.creation_timestamp.as_ref().map(|t| t.0))
            .and_then(|t| t.checked_sub(WINDOW_SLACK).ok());
        let f = filter(instance_id, namespace, pod, container, since);
        let (entries, more) = self.pages(&f, "timestamp asc").await?;
        let entries = if more {
            // Longer than one call reads: keep the newest lines (what tail and follow want).
            let (mut newest, _) = self.pages(&f, "timestamp desc").await?;
            newest.reverse();
            newest
        } else {
            entries
        };
        Ok(Some(entries.into_iter().map(line).collect()))
    }
}
