//! Lists and watches of the objects k8sless keeps whole (Namespaces, RBAC's Roles and
//! bindings): the selectors every kind takes ([`ObjectQuery`]), and `?watch=true` as a poll.
//!
//! A watch sends the current objects as `ADDED` events, then every [`POLL`] lists them again
//! and sends `ADDED`, `MODIFIED` (a new resourceVersion) and `DELETED` against the last poll,
//! until `timeoutSeconds` (default 30 s, at most [`WATCH_LIMIT`]) ends the stream and the
//! client re-lists and re-watches, as client-go's reflector does after any watch's end. These
//! kinds change rarely and a watch lives minutes at most, so one listing a second per open
//! watch is the whole cost; pods have their own shared poller (`pods::watch`).

use std::collections::{BTreeMap, HashMap};
use std::future::Future;
use std::time::Duration;

use axum::body::Body;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use futures_util::{StreamExt, stream};
use k8s_openapi::Metadata;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{ObjectMeta, WatchEvent};
use serde::Serialize;

use crate::error::Result;
use crate::pods::selector::{FieldSelector, LabelSelector, OBJECT_FIELDS};

/// How often an open watch lists the objects again.
const POLL: Duration = Duration::from_secs(1);

/// The longest a watch stays open.
const WATCH_LIMIT: Duration = Duration::from_secs(300);

/// A watch's length when the client names none.
const WATCH_DEFAULT: Duration = Duration::from_secs(30);

/// What a list or watch of such objects asks: its selectors, and whether and how long to watch.
#[derive(Debug, Clone, Default)]
pub(crate) struct ObjectQuery {
    labels: LabelSelector,
    fields: FieldSelector,
    /// `Some(timeout)` for `?watch=true`.
    pub(crate) watch: Option<Duration>,
    /// The client sent a `resourceVersion` to resume from (it listed first, as kubectl does).
    pub(crate) resumed: bool,
}

impl ObjectQuery {
    /// Reads `labelSelector`, `fieldSelector` (`metadata.name`, `metadata.namespace`),
    /// `watch`, `timeoutSeconds` and `resourceVersion`.
    ///
    /// # Errors
    /// 400 for a selector or timeout that does not parse, worded as kube-apiserver's.
    pub(crate) fn parse(query: &HashMap<String, String>) -> Result<Self> {
        let labels = match query.get("labelSelector") {
            Some(s) => LabelSelector::parse(s)?,
            None => LabelSelector::default(),
        };
        let fields = match query.get("fieldSelector") {
            Some(s) => FieldSelector::parse_of(s, OBJECT_FIELDS)?,
            None => FieldSelector::default(),
        };
        let watch = if super::extract::flag(query, "watch") {
            Some(super::extract::timeout_seconds(query, WATCH_DEFAULT)?.min(WATCH_LIMIT))
        } else {
            None
        };
        Ok(ObjectQuery {
            labels,
            fields,
            watch,
            resumed: query
                .get("resourceVersion")
                .is_some_and(|v| !v.is_empty() && v != "0"),
        })
    }

    /// Whether an object is selected.
    pub(crate) fn matches(&self, meta: &ObjectMeta) -> bool {
        self.labels.matches(meta.labels.as_ref()) && self.fields.matches_meta(meta)
    }

    /// The objects selected, in the order given.
    pub(crate) fn select<K: Metadata<Ty = ObjectMeta>>(&self, mut items: Vec<K>) -> Vec<K> {
        items.retain(|k| self.matches(k.metadata()));
        items
    }

    /// The name `fieldSelector=metadata.name=x` pins (what `kubectl delete` and `wait` send).
    pub(crate) fn pinned_name(&self) -> Option<&str> {
        self.fields.pinned("metadata.name")
    }
}

/// Objects by namespace and name, as the last poll saw them.
type Known<K> = BTreeMap<(String, String), K>;

fn keyed<K: Metadata<Ty = ObjectMeta>>(items: Vec<K>) -> Known<K> {
    items
        .into_iter()
        .map(|k| {
            let m = k.metadata();
            let key = (
                m.namespace.clone().unwrap_or_default(),
                m.name.clone().unwrap_or_default(),
            );
            (key, k)
        })
        .collect()
}

fn line<K: Serialize>(event: &WatchEvent<K>, out: &mut Vec<u8>) {
    if let Ok(bytes) = serde_json::to_vec(event) {
        out.extend_from_slice(&bytes);
        out.push(b'\n');
    }
}

/// The events that turn `before` into `now`, as newline-separated JSON.
fn diff<K: Metadata<Ty = ObjectMeta> + Serialize + Clone>(
    before: &Known<K>,
    now: &Known<K>,
) -> Vec<u8> {
    let mut out = Vec::new();
    for (key, k) in now {
        match before.get(key) {
            None => line(&WatchEvent::Added(k.clone()), &mut out),
            Some(old) if old.metadata().resource_version != k.metadata().resource_version => {
                line(&WatchEvent::Modified(k.clone()), &mut out);
            }
            Some(_) => {}
        }
    }
    for (key, old) in before {
        if !now.contains_key(key) {
            line(&WatchEvent::Deleted(old.clone()), &mut out);
        }
    }
    out
}

/// The watch stream: `items` (already listed and selected) as `ADDED`, then `gone` as
/// `DELETED` when the caller knows the client is waiting for an object that went between its
/// list and this watch (these kinds leave no tombstones), then each poll's changes. `list`
/// lists again; a failed listing ends the stream, and the client re-lists.
pub(crate) fn watch<K, L, F>(
    query: ObjectQuery,
    items: Vec<K>,
    gone: Option<K>,
    list: L,
) -> Response
where
    K: Metadata<Ty = ObjectMeta> + Serialize + Clone + Send + 'static,
    L: Fn() -> F + Send + 'static,
    F: Future<Output = Result<Vec<K>>> + Send,
{
    let deadline = tokio::time::Instant::now() + query.watch.unwrap_or(WATCH_DEFAULT);
    let first = keyed(items);
    let mut opening = diff(&Known::new(), &first);
    if let Some(gone) = gone {
        line(&WatchEvent::Deleted(gone), &mut opening);
    }
    let polls = stream::unfold(
        (list, query, first),
        move |(list, query, mut known)| async move {
            // Only a poll that saw a change yields: no empty chunks on the wire.
            loop {
                let now = tokio::time::Instant::now();
                if now >= deadline {
                    return None;
                }
                tokio::time::sleep(POLL.min(deadline - now)).await;
                if tokio::time::Instant::now() >= deadline {
                    return None;
                }
                let current = keyed(query.select(list().await.ok()?));
                let events = diff(&known, &current);
                known = current;
                if !events.is_empty() {
                    return Some((
                        Ok::<_, std::io::Error>(Bytes::from(events)),
                        (list, query, known),
                    ));
                }
            }
        },
    );
    let body = stream::once(async move { Ok(Bytes::from(opening)) }).chain(polls);
    (
        StatusCode::OK,
        [(header::CONTENT_TYPE, "application/json;stream=watch")],
        Body::from_stream(body),
    )
        .into_response()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pods::namespaces::namespace_object;

    fn kinds(text: &[u8]) -> Vec<String> {
        std::str::from_utf8(text)
            .expect("utf-8")
            .lines()
            .map(|l| {
                serde_json::from_str::<serde_json::Value>(l).expect("event")["type"]
                    .as_str()
                    .unwrap_or("")
                    .to_string()
            })
            .collect()
    }

    #[test]
    fn changes_are_added_modified_and_deleted_events() {
        let a = namespace_object("a", None);
        let mut a2 = a.clone();
        a2.metadata.resource_version = Some("7".into());
        let before = keyed(vec![a, namespace_object("b", None)]);
        let now = keyed(vec![a2, namespace_object("c", None)]);
        assert_eq!(
            kinds(&diff(&before, &now)),
            ["MODIFIED", "ADDED", "DELETED"]
        );
        assert!(diff(&now, &now).is_empty());
    }

    #[test]
    fn selectors_take_labels_and_the_metadata_fields_only() {
        let q = |pairs: &[(&str, &str)]| {
            let query = pairs
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect();
            ObjectQuery::parse(&query)
        };
        let mut labelled = namespace_object("team-a", None);
        labelled.metadata.labels = Some([("team".to_string(), "a".to_string())].into());
        let items = vec![namespace_object("default", None), labelled];
        let by_label = q(&[("labelSelector", "team=a")]).expect("parses");
        assert_eq!(by_label.select(items.clone()).len(), 1);
        let by_name = q(&[("fieldSelector", "metadata.name=default")]).expect("parses");
        assert_eq!(by_name.pinned_name(), Some("default"));
        assert_eq!(by_name.select(items.clone()).len(), 1);
        let not_name = q(&[("fieldSelector", "metadata.name!=default")]).expect("parses");
        assert_eq!(not_name.select(items).len(), 1);
        let err = q(&[("fieldSelector", "status.phase=Active")]).expect_err("not a field");
        assert_eq!(err.to_string(), "field label not supported: status.phase");
        let watch = q(&[("watch", "true"), ("timeoutSeconds", "9999")]).expect("parses");
        assert_eq!(watch.watch, Some(WATCH_LIMIT));
        assert!(q(&[("watch", "1"), ("timeoutSeconds", "x")]).is_err());
    }
}
