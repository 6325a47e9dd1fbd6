//! `kubectl logs -f`: a container's lines as they come, until the container ends.
//!
//! Sources have no change feed, so the follower polls every `every` (the setting
//! `--log-follow-interval`, 5 s by default: Cloud Logging allows 60 `entries:list` calls per
//! minute per project, https://cloud.google.com/logging/quotas, so one follower makes about
//! 12). The first read is every line; later ones ask only for the lines from the last line
//! handed on ([`LogSources::lines_from`]: one page of Cloud Logging per poll), or every line
//! again when the source cannot read from a time (then the count handed on is skipped). Each
//! poll also checks the pod's status to see whether the container ended; then the follower
//! reads what is left, hands it on and stops.
//!
//! # Guarantees
//! No line is handed on twice: a failed read hands on nothing and keeps the position. The
//! follower stops as soon as the receiver is dropped (the client went away). While sources
//! answer unavailable (429, 503), the wait doubles, up to [`MAX_BACKOFF`].
//!
//! # Caveats
//! Lines are placed by their timestamp: a read from a time returns the lines at that time
//! again, and the follower drops as many of them as it handed on. More lines with one
//! timestamp than one page holds would stall the follower at that timestamp.

use std::time::Duration;

use k8s_openapi::api::core::v1::Pod;
use tokio::sync::mpsc;

use super::{ContainerRef, LogLine, LogSources, Newer};
use crate::error::Error;
use crate::pods::Pods;

/// The longest wait between two polls while the sources answer unavailable.
pub(crate) const MAX_BACKOFF: Duration = Duration::from_secs(30);

/// Reads once the container ended, until one hands on nothing (one page each from Cloud
/// Logging, so up to this many pages of lines written since the last poll).
const FINAL_READS: usize = 10;

/// How far a container has got, per its pod's status.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ContainerProgress {
    /// It has started (running or terminated).
    pub(crate) started: bool,
    /// It has ended, or its pod has.
    pub(crate) ended: bool,
    /// Why it waits, when it waits with a reason.
    pub(crate) waiting: Option<String>,
}

/// How far `container` of `pod` has got.
pub(crate) fn progress(pod: &Pod, container: &str) -> ContainerProgress {
    let status = pod.status.as_ref();
    let cs = status
        .into_iter()
        .flat_map(|s| {
            s.init_container_statuses
                .iter()
                .flatten()
                .chain(s.container_statuses.iter().flatten())
        })
        .find(|c| c.name == container);
    let finished_pod = matches!(
        status.and_then(|s| s.phase.as_deref()),
        Some("Succeeded" | "Failed")
    );
    let (started, ended, waiting) = match cs.and_then(|c| c.state.as_ref()) {
        Some(s) if s.running.is_some() => (true, finished_pod, None),
        Some(s) if s.terminated.is_some() => (true, true, None),
        Some(s) => (
            false,
            finished_pod,
            s.waiting.as_ref().and_then(|w| w.reason.clone()),
        ),
        None => (false, finished_pod, None),
    };
    ContainerProgress {
        started,
        ended,
        waiting,
    }
}

/// The container followed.
#[derive(Debug, Clone)]
pub(crate) struct Target {
    /// Namespace.
    pub(crate) namespace: String,
    /// Pod name.
    pub(crate) pod: String,
    /// Container name.
    pub(crate) container: String,
}

impl Target {
    fn container_ref(&self) -> ContainerRef<'_> {
        ContainerRef::new(&self.namespace, &self.pod, &self.container)
    }
}

/// Lines handed on at once.
#[derive(Debug, Clone)]
pub(crate) struct Batch {
    /// The first batch: every line the sources had when following began.
    pub(crate) first: bool,
    /// Lines, oldest first.
    pub(crate) lines: Vec<LogLine>,
}

/// Follows `target`, polling every `every`: batches of new lines, until the container ends
/// or the receiver is dropped.
pub(crate) fn follow(
    pods: Pods,
    logs: LogSources,
    target: Target,
    every: Duration,
) -> mpsc::Receiver<Batch> {
    let (tx, rx) = mpsc::channel::<Batch>(16);
    tokio::spawn(async move { run(&pods, &logs, &target, every, &tx).await });
    rx
}

/// Where the follower is: how many lines it handed on, and the time of the last one with how
/// many lines it handed on at exactly that time.
#[derive(Debug, Default)]
struct Cursor {
    sent: usize,
    last: Option<(jiff::Timestamp, usize)>,
}

/// The time of the last line and how many lines at its end have it.
fn tail(lines: &[LogLine]) -> Option<(jiff::Timestamp, usize)> {
    let t = lines.last()?.time?;
    Some((
        t,
        lines.iter().rev().take_while(|l| l.time == Some(t)).count(),
    ))
}

impl Cursor {
    /// The lines not handed on yet of an answer (`None`: no source knows the container yet).
    fn take(&mut self, answer: Option<Newer>) -> Vec<LogLine> {
        match answer.unwrap_or(Newer::All(Vec::new())) {
            Newer::All(lines) => {
                let new = lines[self.sent.min(lines.len())..].to_vec();
                self.sent = self.sent.max(lines.len());
                self.last = tail(&lines);
                new
            }
            Newer::From(lines) => {
                let mut seen = self.last.map_or(0, |(_, n)| n);
                let at = self.last.map(|(t, _)| t);
                let new: Vec<LogLine> = lines
                    .into_iter()
                    .filter(|l| match (l.time, at) {
                        (Some(t), Some(a)) if t < a => false,
                        (Some(t), Some(a)) if t == a && seen > 0 => {
                            seen -= 1;
                            false
                        }
                        _ => true,
                    })
                    .collect();
                self.sent += new.len();
                for l in &new {
                    self.last = match (l.time, self.last) {
                        (Some(t), Some((a, n))) if t == a => Some((t, n + 1)),
                        (Some(t), _) => Some((t, 1)),
                        (None, _) => None,
                    };
                }
                new
            }
        }
    }

    /// One read: every line at first or without a time to read from, else from the last.
    async fn read(&self, logs: &LogSources, t: &Target) -> crate::error::Result<Option<Newer>> {
        match self.last {
            Some((from, _)) => logs.lines_from(t.container_ref(), from).await,
            None => Ok(logs.lines(t.container_ref()).await?.map(Newer::All)),
        }
    }
}

async fn run(
    pods: &Pods,
    logs: &LogSources,
    t: &Target,
    every: Duration,
    tx: &mpsc::Sender<Batch>,
) {
    let mut cursor = Cursor::default();
    let mut first = true;
    let mut wait = every;
    loop {
        // A failed read hands on nothing and keeps the position, so nothing is sent twice.
        match cursor.read(logs, t).await {
            Ok(answer) => {
                wait = every;
                let lines = cursor.take(answer);
                let batch = Batch { first, lines };
                first = false;
                if !batch.lines.is_empty() && tx.send(batch).await.is_err() {
                    return;
                }
            }
            Err(Error::Unavailable { .. }) => wait = (wait * 2).min(MAX_BACKOFF.max(every)),
            Err(_) => wait = every,
        }
        let done = match pods.get(&t.namespace, &t.pod).await {
            Ok(p) => progress(&p, &t.container).ended,
            Err(_) => true,
        };
        if done {
            for _ in 0..FINAL_READS {
                let Ok(answer) = cursor.read(logs, t).await else {
                    return;
                };
                let every_line = !matches!(answer, Some(Newer::From(_)));
                let lines = cursor.take(answer);
                if lines.is_empty() {
                    return;
                }
                if tx.send(Batch { first, lines }).await.is_err() {
                    return;
                }
                first = false;
                if every_line {
                    return;
                }
            }
            return;
        }
        tokio::select! {
            _ = tokio::time::sleep(wait) => {}
            _ = tx.closed() => return,
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};

    use async_trait::async_trait;

    use super::*;
    use crate::error::Result;
    use crate::pods::logs::LogSource;
    use crate::pods::record::{self, PodRecord};
    use crate::store::{MemoryStore, RecordStore};

    fn at(s: u64) -> jiff::Timestamp {
        jiff::Timestamp::from_second(1_800_000_000 + s as i64).expect("time")
    }

    fn line(s: u64, text: &str) -> LogLine {
        LogLine {
            time: Some(at(s)),
            text: text.into(),
        }
    }

    /// Counts its calls; answers one line, or 503 when `unavailable`.
    #[derive(Debug, Default)]
    struct Counting {
        lines: AtomicUsize,
        from: AtomicUsize,
        unavailable: bool,
    }

    impl Counting {
        fn calls(&self) -> usize {
            self.lines.load(Ordering::SeqCst) + self.from.load(Ordering::SeqCst)
        }
    }

    #[async_trait]
    impl LogSource for Counting {
        async fn lines(&self, _: ContainerRef<'_>) -> Result<Option<Vec<LogLine>>> {
            self.lines.fetch_add(1, Ordering::SeqCst);
            if self.unavailable {
                return Err(Error::unavailable("Cloud Logging answered 429"));
            }
            Ok(Some(vec![line(0, "one")]))
        }

        async fn lines_from(
            &self,
            _: ContainerRef<'_>,
            from: jiff::Timestamp,
        ) -> Result<Option<Newer>> {
            self.from.fetch_add(1, Ordering::SeqCst);
            assert_eq!(from, at(0), "from the last line handed on");
            Ok(Some(Newer::From(vec![line(0, "one")])))
        }
    }

    /// A running pod `default/p` with container `main`, in memory.
    async fn running_pods() -> Pods {
        let store: Arc<dyn RecordStore> = Arc::new(MemoryStore::new());
        let pod = serde_json::from_value(serde_json::json!({
            "metadata": {"name": "p", "namespace": "default", "uid": "u1"},
            "spec": {"containers": [{"name": "main", "image": "busybox"}]},
            "status": {"phase": "Running", "containerStatuses": [{"name": "main", "image": "busybox",
                "imageID": "", "ready": true, "restartCount": 0, "state": {"running": {}}}]}
        }))
        .expect("pod");
        let rec = PodRecord::new(pod, Default::default());
        store
            .create(&record::key("default", "p"), rec.encode().expect("encode"))
            .await
            .expect("create");
        crate::testing::offline_pods(store)
    }

    fn target() -> Target {
        Target {
            namespace: "default".into(),
            pod: "p".into(),
            container: "main".into(),
        }
    }

    #[tokio::test(start_paused = true)]
    async fn polls_at_the_interval_and_reads_from_the_last_line() {
        let source = Arc::new(Counting::default());
        let logs = LogSources(vec![source.clone()]);
        let mut rx = follow(running_pods().await, logs, target(), Duration::from_secs(5));
        let first = rx.recv().await.expect("first batch");
        assert!(first.first);
        assert_eq!(first.lines, vec![line(0, "one")]);
        tokio::time::sleep(Duration::from_secs(20)).await;
        assert!(source.calls() <= 5, "{} calls in 20 s", source.calls());
        assert!(source.calls() >= 4, "{} calls in 20 s", source.calls());
        assert_eq!(
            source.lines.load(Ordering::SeqCst),
            1,
            "every line once, then from the last"
        );
        assert!(
            rx.try_recv().is_err(),
            "the same line is not handed on again"
        );
    }

    #[tokio::test(start_paused = true)]
    async fn backs_off_while_unavailable() {
        let source = Arc::new(Counting {
            unavailable: true,
            ..Default::default()
        });
        let logs = LogSources(vec![source.clone()]);
        let _rx = follow(running_pods().await, logs, target(), Duration::from_secs(5));
        // Waits of 10, 20, 30, 30 s after the first failure: calls at 0, 10, 30, 60, 90.
        tokio::time::sleep(Duration::from_secs(59)).await;
        assert_eq!(source.calls(), 3);
        tokio::time::sleep(Duration::from_secs(30)).await;
        assert_eq!(source.calls(), 4, "the wait stops doubling at 30 s");
    }

    #[test]
    fn lines_at_the_last_time_are_not_handed_on_twice() {
        let mut c = Cursor::default();
        let first = c.take(Some(Newer::All(vec![
            line(1, "a"),
            line(2, "b"),
            line(2, "c"),
        ])));
        assert_eq!(first.len(), 3);
        assert_eq!(c.last, Some((at(2), 2)));
        // From the time of the last line: "b" and "c" again, then a new line at that time.
        let next = c.take(Some(Newer::From(vec![
            line(2, "b"),
            line(2, "c"),
            line(2, "d"),
            line(3, "e"),
        ])));
        assert_eq!(next, vec![line(2, "d"), line(3, "e")]);
        assert_eq!((c.sent, c.last), (5, Some((at(3), 1))));
        // A source that answers every line (the archive): the count handed on is skipped.
        let rest = c.take(Some(Newer::All(
            ["a", "b", "c", "d", "e", "f"]
                .iter()
                .map(|t| LogLine {
                    time: None,
                    text: (*t).into(),
                })
                .collect(),
        )));
        assert_eq!(rest.len(), 1);
        assert_eq!(rest[0].text, "f");
        assert_eq!(c.last, None, "no time to read from: every line next time");
    }
}
