//! Container logs behind one interface, for `kubectl logs`.
//!
//! While the pod's VM runs, kubelet itself ([`kubelet`]: streamed as kubelet sends it, every
//! option applied by kubelet); when it cannot answer, the sources below.
//!
//! Sources, asked in order until one knows the container. The service is given its list at
//! start-up: the log archived in Cloud Storage at `logs/<ns>/<pod>/<uid>/<container>.log`
//! when the pod finishes ([`archive`], so logs outlive the VM; the guest uploads it to the
//! service, [`upload`]) and Cloud Logging (`cloud_logging::CloudLogging`, which finds the
//! VM's instance id in the pod record). The archive answers only once the record's phase is
//! Succeeded or Failed, so while the pod runs live logs win over an early upload. The dev and test harness ([`crate::testing`]) puts the simulated guests' lines
//! first; production code knows nothing of the simulator.
//!
//! [`follow`] streams a container's lines as they come, until it ends.

pub(crate) mod archive;
pub(crate) mod cloud;
pub(crate) mod follow;
pub(crate) mod kubelet;
pub(crate) mod upload;

use std::sync::Arc;

use async_trait::async_trait;

pub use archive::{ArchivedLogs, MAX_LOG_BYTES, archive_key, legacy_archive_key};

use crate::error::Result;

/// One line.
#[derive(Debug, Clone, PartialEq)]
pub struct LogLine {
    /// When it was written, if the source knows.
    pub time: Option<jiff::Timestamp>,
    /// The text, without a trailing newline.
    pub text: String,
}

/// What a source answers a follower that has handed on every line up to a time.
#[derive(Debug, Clone, PartialEq)]
pub enum Newer {
    /// The lines written at or after that time, oldest first (one read, maybe not all of
    /// them): the follower drops those it handed on already.
    From(Vec<LogLine>),
    /// Every line, as [`LogSource::lines`] (the source cannot read from a time): the
    /// follower skips as many as it handed on.
    All(Vec<LogLine>),
}

/// One container of one pod: what a log source is asked for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ContainerRef<'a> {
    /// The pod's namespace.
    pub namespace: &'a str,
    /// The pod's name.
    pub pod: &'a str,
    /// The container's name.
    pub container: &'a str,
}

impl<'a> ContainerRef<'a> {
    /// `namespace/pod`'s `container`.
    pub fn new(namespace: &'a str, pod: &'a str, container: &'a str) -> Self {
        ContainerRef {
            namespace,
            pod,
            container,
        }
    }
}

/// Where logs come from.
#[async_trait]
pub trait LogSource: Send + Sync + std::fmt::Debug {
    /// The container's lines, oldest first, or `None` when this source has nothing for it.
    async fn lines(&self, c: ContainerRef<'_>) -> Result<Option<Vec<LogLine>>>;

    /// The container's lines from `from` on, for a follower; by default every line.
    async fn lines_from(
        &self,
        c: ContainerRef<'_>,
        from: jiff::Timestamp,
    ) -> Result<Option<Newer>> {
        let _ = from;
        Ok(self.lines(c).await?.map(Newer::All))
    }
}

/// Asks each source in turn.
#[derive(Debug, Clone, Default)]
pub struct LogSources(pub Vec<Arc<dyn LogSource>>);

impl LogSources {
    /// The first source's answer that knows the container.
    pub async fn lines(&self, c: ContainerRef<'_>) -> Result<Option<Vec<LogLine>>> {
        for source in &self.0 {
            if let Some(lines) = source.lines(c).await? {
                return Ok(Some(lines));
            }
        }
        Ok(None)
    }

    /// The first source's answer from `from` on that knows the container.
    pub async fn lines_from(
        &self,
        c: ContainerRef<'_>,
        from: jiff::Timestamp,
    ) -> Result<Option<Newer>> {
        for source in &self.0 {
            if let Some(lines) = source.lines_from(c, from).await? {
                return Ok(Some(lines));
            }
        }
        Ok(None)
    }
}
