//! Cloud Logging as a [`LogSource`]: the pod record names the VM's instance id and
//! when it was inserted; the container's entries since then are its lines. A follower reads
//! one page from the last line it handed on ([`LogSource::lines_from`]).

use std::time::Duration;

use async_trait::async_trait;

use crate::error::Result;
use crate::logging::client::{CloudLogging, Entry, filter};
use crate::pods::logs::{ContainerRef, LogLine, LogSource, Newer};
use crate::pods::record;

/// How long before the VM's insert the window starts (clock skew, early boot).
const WINDOW_SLACK: Duration = Duration::from_secs(300);

fn line(entry: Entry) -> LogLine {
    LogLine {
        time: entry.timestamp,
        text: entry.text(),
    }
}

impl CloudLogging {
    /// The filter for `container` of the pod's current VM since a little before it was
    /// inserted, or from `from`; `None` when the record names no VM instance yet.
    async fn filter_of(
        &self,
        c: ContainerRef<'_>,
        from: Option<jiff::Timestamp>,
    ) -> Result<Option<String>> {
        let Some(rec) = record::load_if_exists(&self.store, c.namespace, c.pod).await? else {
            return Ok(None);
        };
        let ContainerRef {
            namespace,
            pod,
            container,
        } = c;
        let Some(instance_id) = rec.vm.instance_id.as_deref().filter(|i| !i.is_empty()) else {
            return Ok(None);
        };
        let since = from.or_else(|| {
            rec.vm
                .inserted_at
                .or_else(|| rec.pod.metadata.creation_timestamp.as_ref().map(|t| t.0))
                .and_then(|t| t.checked_sub(WINDOW_SLACK).ok())
        });
        Ok(Some(filter(
            self.project(),
            instance_id,
            namespace,
            pod,
            container,
            since,
        )))
    }
}

#[async_trait]
impl LogSource for CloudLogging {
    async fn lines(&self, c: ContainerRef<'_>) -> Result<Option<Vec<LogLine>>> {
        let Some(f) = self.filter_of(c, None).await? else {
            return Ok(None);
        };
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

    /// One page from `from` on (`timestamp>=`): a follower polls this, so each poll is one
    /// `entries:list` call whatever the log's length.
    async fn lines_from(
        &self,
        c: ContainerRef<'_>,
        from: jiff::Timestamp,
    ) -> Result<Option<Newer>> {
        let Some(f) = self.filter_of(c, Some(from)).await? else {
            return Ok(None);
        };
        let entries = self.one_page(&f, "timestamp asc").await?;
        Ok(Some(Newer::From(entries.into_iter().map(line).collect())))
    }
}
