//! `GET /api/v1/namespaces?watch=true`: the current namespaces as `ADDED` events, then every
//! [`POLL`] the namespaces again, sent as `ADDED`, `MODIFIED` (a new resourceVersion) and
//! `DELETED` against the last poll, until `timeoutSeconds` (default 30 s, at most 5 minutes)
//! ends the stream and the client re-lists and re-watches. `kubectl delete namespace` waits on
//! such a watch for the DELETED event. Namespaces change rarely and a watch lives at most
//! minutes, so one listing a second per open watch is the whole cost.

use std::collections::BTreeMap;
use std::time::Duration;

use axum::body::Body;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use futures_util::stream;
use k8s_openapi::api::core::v1::Namespace;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::WatchEvent;

use crate::pods::Pods;

/// How often an open watch lists the namespaces again.
const POLL: Duration = Duration::from_secs(1);

type Known = BTreeMap<String, Namespace>;

fn line(event: &WatchEvent<Namespace>, out: &mut Vec<u8>) {
    if let Ok(bytes) = serde_json::to_vec(event) {
        out.extend_from_slice(&bytes);
        out.push(b'\n');
    }
}

/// The events that turn `before` into `now`, as newline-separated JSON.
fn diff(before: &Known, now: &Known) -> Vec<u8> {
    let mut out = Vec::new();
    for (name, ns) in now {
        match before.get(name) {
            None => line(&WatchEvent::Added(ns.clone()), &mut out),
            Some(old) if old.metadata.resource_version != ns.metadata.resource_version => {
                line(&WatchEvent::Modified(ns.clone()), &mut out);
            }
            Some(_) => {}
        }
    }
    for (name, old) in before {
        if !now.contains_key(name) {
            line(&WatchEvent::Deleted(old.clone()), &mut out);
        }
    }
    out
}

fn by_name(items: Vec<Namespace>, name: Option<&str>) -> Known {
    items
        .into_iter()
        .filter(|ns| name.is_none_or(|n| ns.metadata.name.as_deref() == Some(n)))
        .map(|ns| (ns.metadata.name.clone().unwrap_or_default(), ns))
        .collect()
}

/// The watch stream, starting from `items` (already listed and filtered).
pub(crate) fn watch(
    pods: Pods,
    name: Option<String>,
    items: Vec<Namespace>,
    timeout: Duration,
    resumed: bool,
) -> Response {
    let deadline = tokio::time::Instant::now() + timeout;
    let first = by_name(items, name.as_deref());
    let mut opening = diff(&Known::new(), &first);
    // A watch resumed from a list (`resourceVersion` set) on one name that is gone now: its
    // client listed the namespace, which went in between (namespaces leave no tombstones), so
    // it is told of the deletion; this is what `kubectl delete namespace` waits for.
    if let (true, Some(gone), true) = (resumed, name.as_deref(), first.is_empty()) {
        line(
            &WatchEvent::Deleted(crate::pods::namespaces::namespace_object(gone, None)),
            &mut opening,
        );
    }
    let polls = stream::unfold(
        (pods, name, first),
        move |(pods, name, mut known)| async move {
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
                // A failed listing ends the stream: the client re-lists, as after any watch's end.
                let listed = pods.namespaces().await.ok()?;
                let current = by_name(listed.items, name.as_deref());
                let events = diff(&known, &current);
                known = current;
                if !events.is_empty() {
                    return Some((
                        Ok::<_, std::io::Error>(Bytes::from(events)),
                        (pods, name, known),
                    ));
                }
            }
        },
    );
    use futures_util::StreamExt;
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

    #[test]
    fn changes_are_added_modified_and_deleted_events() {
        let a = namespace_object("a", None);
        let mut a2 = a.clone();
        a2.metadata.resource_version = Some("7".into());
        let before = by_name(vec![a, namespace_object("b", None)], None);
        let now = by_name(vec![a2, namespace_object("c", None)], None);
        let text = String::from_utf8(diff(&before, &now)).expect("utf-8");
        let kinds: Vec<String> = text
            .lines()
            .map(|l| {
                serde_json::from_str::<serde_json::Value>(l).expect("event")["type"]
                    .as_str()
                    .unwrap_or("")
                    .to_string()
            })
            .collect();
        assert_eq!(kinds, ["MODIFIED", "ADDED", "DELETED"]);
        assert!(diff(&now, &now).is_empty());
    }
}
