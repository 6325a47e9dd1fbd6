//! Pages cut from a continue snapshot, and the next page cut ahead while the client reads
//! this one.
//!
//! A later page of a paged list costs the service one thing: decoding each of its records'
//! index (`pods::index`) and testing the selectors, about three quarters of the page's time
//! on the service (`api/table_bench.rs`) when the records were not decoded by an earlier list
//! ([`Decoded`]); nothing else changes between pages. The snapshot never
//! changes, so the next page's cut is known as soon as this page is: it is computed on a
//! blocking thread while this page travels and the client parses it, and the next request
//! with the same selectors and limit from the same key takes it instead of cutting again.
//!
//! # Guarantees
//! - A page is the same whether it was cut ahead or not: the same snapshot, start key,
//!   selectors and limit, by the same function ([`cut`]); the Table is still rendered at
//!   the request (AGE and restart ages are as of the answer).
//! - Bounded: at most one page cut ahead per snapshot (a newer one replaces it), dropped with
//!   the snapshot; a request that does not match it (another start, selector or limit) cuts
//!   its own page and leaves it.

use std::sync::{Arc, Mutex};

use tokio::task::JoinHandle;

use super::decoded::Decoded;
use super::read::ListOptions;
use super::snapshot::Snapshot;
use crate::pods::record::PodRecord;
use crate::pods::selector::{FieldSelector, LabelSelector};
use crate::store::Entry;

/// Up to `limit` matching records of a snapshot after a start key.
#[derive(Debug)]
pub(crate) struct Cut {
    /// The matching records, each with its entry's position in the snapshot.
    pub(crate) matched: Vec<(usize, Arc<PodRecord>)>,
    /// Whether listed records follow the last one (the page needs a continue token).
    pub(crate) more: bool,
}

/// The page being cut ahead, and what it was cut for.
#[derive(Debug)]
struct Pending {
    start: String,
    labels: LabelSelector,
    fields: FieldSelector,
    limit: usize,
    task: JoinHandle<Cut>,
}

/// A snapshot's page cut ahead, if any.
#[derive(Debug, Default)]
pub(crate) struct Ahead {
    pending: Mutex<Option<Pending>>,
}

impl Ahead {
    /// The page after `start` for `opts` and `limit`, taken if it was cut ahead for exactly
    /// those, else cut now.
    pub(crate) async fn take_or_cut(
        snap: &Snapshot,
        start: Option<&str>,
        opts: &ListOptions,
        limit: usize,
    ) -> Cut {
        if let Some(start) = start {
            let fits = |p: &Pending| {
                p.start == start
                    && p.limit == limit
                    && p.labels == opts.labels
                    && p.fields == opts.fields
            };
            // Taken only when it fits: another request leaves it for the walk it was cut for.
            let pending = {
                let mut slot = snap.ahead.pending.lock().unwrap_or_else(|p| p.into_inner());
                slot.take_if(|p| fits(p))
            };
            if let Some(p) = pending {
                // A task that panicked is cut again here.
                if let Ok(cut) = p.task.await {
                    return cut;
                }
            }
        }
        cut(snap, start, opts, limit)
    }

    /// Starts cutting the page of `snap` after `start` on a blocking thread.
    pub(crate) fn start(snap: &Arc<Snapshot>, start: &str, opts: &ListOptions, limit: usize) {
        let (task_snap, task_start, task_opts) = (snap.clone(), start.to_string(), opts.clone());
        let task = tokio::task::spawn_blocking(move || {
            cut(&task_snap, Some(&task_start), &task_opts, limit)
        });
        let pending = Pending {
            start: start.to_string(),
            labels: opts.labels.clone(),
            fields: opts.fields.clone(),
            limit,
            task,
        };
        *snap.ahead.pending.lock().unwrap_or_else(|p| p.into_inner()) = Some(pending);
    }
}

/// Up to `limit` records of `snap` after `start` that match `opts`.
pub(crate) fn cut(snap: &Snapshot, start: Option<&str>, opts: &ListOptions, limit: usize) -> Cut {
    let from = start.map_or(0, |s| snap.entries.partition_point(|e| e.key.as_str() <= s));
    let mut matched = Vec::new();
    let mut more = false;
    for (i, entry) in snap.entries.iter().enumerate().skip(from) {
        let Some(rec) = matching(&snap.decoded, entry, opts) else {
            continue;
        };
        matched.push((i, rec));
        if matched.len() == limit {
            more = i + 1 < snap.entries.len();
            break;
        }
    }
    Cut { matched, more }
}

/// The record `entry` stands for, if it matches the selectors (a corrupt one is logged).
pub(crate) fn matching(
    decoded: &Decoded,
    entry: &Entry,
    opts: &ListOptions,
) -> Option<Arc<PodRecord>> {
    let rec = match decoded.record(entry) {
        Ok(r) => r,
        Err(e) => {
            tracing::error!(key = %entry.key, error = %e, "skipping a corrupt pod record");
            return None;
        }
    };
    (opts.labels.matches(rec.pod.metadata.labels.as_ref()) && opts.fields.matches(&rec.pod))
        .then_some(rec)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pods::index;
    use crate::pods::record::{self, VmState};
    use k8s_openapi::api::core::v1::Pod;

    /// `n` indexed pods `p00`.. in namespace `ns`, labelled `even=true|false`.
    fn snapshot(n: usize) -> Arc<Snapshot> {
        let entries = (0..n)
            .map(|i| {
                let pod: Pod = serde_json::from_value(serde_json::json!({
                    "metadata": {"name": format!("p{i:02}"), "namespace": "ns",
                                 "labels": {"even": (i % 2 == 0).to_string()}},
                    "spec": {"containers": [{"name": "c", "image": "busybox"}]},
                }))
                .expect("pod");
                let rec = PodRecord::new(pod, VmState::default());
                Entry {
                    key: record::key("ns", &format!("p{i:02}")),
                    generation: i as i64 + 1,
                    index: index::of(&rec).map(Into::into),
                    data: None,
                }
            })
            .collect();
        Arc::new(Snapshot {
            id: 1,
            prefix: record::prefix(None),
            resource_version: n as i64,
            taken: 0,
            entries,
            ahead: Ahead::default(),
            decoded: Arc::default(),
        })
    }

    fn names(cut: &Cut) -> Vec<String> {
        cut.matched
            .iter()
            .map(|(_, r)| r.pod.metadata.name.clone().unwrap_or_default())
            .collect()
    }

    fn even(value: &str) -> ListOptions {
        ListOptions {
            labels: LabelSelector::parse(&format!("even={value}")).expect("selector"),
            ..Default::default()
        }
    }

    #[tokio::test]
    async fn a_page_cut_ahead_is_the_page_cut_now_and_only_for_what_it_was_cut_for() {
        let snap = snapshot(10);
        let start = snap.entries[1].key.clone();
        let all = ListOptions::default();
        let now = cut(&snap, Some(&start), &all, 3);
        assert_eq!(names(&now), ["p02", "p03", "p04"]);
        assert!(now.more);

        Ahead::start(&snap, &start, &all, 3);
        let taken = Ahead::take_or_cut(&snap, Some(&start), &all, 3).await;
        assert_eq!(names(&taken), names(&now));
        assert!(
            snap.ahead.pending.lock().expect("lock").is_none(),
            "taken once"
        );

        // Cut for other selectors, limit or start: not used, and left for its own walk.
        Ahead::start(&snap, &start, &even("true"), 3);
        let odd = Ahead::take_or_cut(&snap, Some(&start), &even("false"), 3).await;
        assert_eq!(names(&odd), ["p03", "p05", "p07"]);
        let evens = Ahead::take_or_cut(&snap, Some(&start), &even("true"), 3).await;
        assert_eq!(names(&evens), ["p02", "p04", "p06"]);
        Ahead::start(&snap, &start, &all, 3);
        let two = Ahead::take_or_cut(&snap, Some(&start), &all, 2).await;
        assert_eq!(names(&two), ["p02", "p03"]);
        Ahead::start(&snap, &start, &all, 3);
        let later = Ahead::take_or_cut(&snap, Some(&snap.entries[6].key), &all, 3).await;
        assert_eq!(names(&later), ["p07", "p08", "p09"]);
        assert!(!later.more, "the last page");
    }
}
