//! Stranded pods: pods that outlived their namespace: collection's repair of the one step a namespace's
//! cascade cannot see.
//!
//! A create admitted while its namespace was Active writes its record, then reads the
//! namespace again and deletes the pod if it went Terminating meanwhile
//! ([`Pods::still_admits`]). An instance that dies between those two steps, while the cascade's
//! last re-list had already passed, leaves a record in a namespace that is gone (or, deleted
//! and created again, in a new namespace of the same name). Kubernetes never shows such a pod:
//! a namespace goes only once its content is gone. Here every pod record carries the
//! `creationTimestamp` of the namespace object it was admitted into
//! ([`PodRecord::namespace_created`]); collection deletes a pod whose namespace no longer has
//! that creationTimestamp (or no object at all), VM first, as the cascade would have, and such a
//! pod never makes a namespace exist again (only pods from before namespaces were recorded are
//! adopted: the namespaces' Migration).
//!
//! # Guarantees
//! - Never a pod of the namespace as it is: collection lists the pods first and the namespaces
//!   after, and a pod's namespace object existed before its record was written, so every pod it
//!   listed belongs to an incarnation that the later namespace list shows, unless that
//!   incarnation was deleted in between.
//! - Each deletion is conditional on the record read at the swap still carrying the stale
//!   stamp, so a pod of the same name created since in the new namespace is left alone.
//! - Where the namespace exists, only a pod created before it was is taken for stranded,
//!   whatever its stamp says: a stamp gone wrong cannot delete a namespace's own pods.
//!
//! # Caveats
//! Until the next collection pass (a minute), such a pod still reads and lists in a namespace
//! of its name. Two incarnations created within the same second share a stamp (Kubernetes
//! timestamps have whole seconds).

use std::collections::{BTreeMap, BTreeSet};

use jiff::Timestamp;
use k8s_openapi::api::core::v1::Namespace;

use crate::pods::crud::read::ListOptions;
use crate::pods::record::PodRecord;
use crate::pods::{DryRun, Pods};

/// The incarnation of a namespace a pod admitted into it carries: its creationTimestamp in
/// whole seconds, as the namespace's record stores it (Kubernetes times have whole seconds;
/// an object just built here may hold a finer one until it is read back).
pub(crate) fn incarnation(ns: &Namespace) -> Option<Timestamp> {
    let at = ns.metadata.creation_timestamp.as_ref()?.0;
    Timestamp::from_second(at.as_second()).ok()
}

/// What collection's walk of the records saw of namespaces.
#[derive(Debug, Default)]
pub(crate) struct NamespacesSeen {
    /// Namespaces with records from before namespaces were recorded (candidates for adoption).
    pub(crate) legacy: BTreeSet<String>,
    /// Each namespace's distinct incarnations that its pods were admitted into.
    pub(crate) stamps: BTreeMap<String, BTreeSet<Timestamp>>,
}

impl NamespacesSeen {
    /// Notes one listed record.
    pub(crate) fn saw(&mut self, rec: &PodRecord) {
        let Some(ns) = rec.pod.metadata.namespace.as_deref() else {
            return;
        };
        match rec.namespace_created {
            None => {
                self.legacy.insert(ns.to_string());
            }
            Some(at) => {
                self.stamps.entry(ns.to_string()).or_default().insert(at);
            }
        }
    }
}

/// The incarnations among `seen` that no longer exist, per namespace: `current` holds each
/// recorded namespace's creationTimestamp (after adoption).
pub(crate) fn stale(
    seen: &NamespacesSeen,
    current: &BTreeMap<String, Option<Timestamp>>,
) -> BTreeMap<String, BTreeSet<Timestamp>> {
    seen.stamps
        .iter()
        .filter_map(|(ns, stamps)| {
            let now = current.get(ns).copied().flatten();
            let gone: BTreeSet<Timestamp> =
                stamps.iter().copied().filter(|s| Some(*s) != now).collect();
            (!gone.is_empty()).then(|| (ns.clone(), gone))
        })
        .collect()
}

impl Pods {
    /// Deletes the pods of `namespace` admitted into one of the `gone` incarnations; answers
    /// `namespace/name` of each deleted. A failure is logged and retried by the next pass.
    /// `current`: the namespace's incarnation now, if it exists; a pod created after it is
    /// never taken for stranded whatever its stamp says (a stamp that went wrong must not
    /// delete a namespace's pods).
    pub(crate) async fn delete_stranded(
        &self,
        namespace: &str,
        gone: &BTreeSet<Timestamp>,
        current: Option<Timestamp>,
    ) -> Vec<String> {
        let opts = ListOptions {
            index_only: true,
            ..Default::default()
        };
        let page = match self.list(Some(namespace), &opts).await {
            Ok(page) => page,
            Err(e) => {
                tracing::warn!(namespace, error = %e.chain(), "could not list the pods of a namespace that is gone");
                return Vec::new();
            }
        };
        let is_stranded = |rec: &PodRecord| {
            let created = rec.pod.metadata.creation_timestamp.as_ref().map(|t| t.0);
            let before_current = match (current, created) {
                (None, _) => true,
                (Some(now), Some(created)) => created.as_second() < now.as_second(),
                (Some(_), None) => false,
            };
            before_current && rec.namespace_created.is_some_and(|t| gone.contains(&t))
        };
        let mut deleted = Vec::new();
        for rec in page.items.iter().filter(|r| is_stranded(r)) {
            let name = rec.pod.metadata.name.clone().unwrap_or_default();
            match self
                .delete_if(namespace, &name, Some(0), DryRun::No, is_stranded)
                .await
            {
                Ok((_, true)) => {
                    tracing::warn!(namespace, pod = %name, "deleted a pod whose namespace was deleted before it (a create interrupted between its record and its namespace check)");
                    deleted.push(format!("{namespace}/{name}"));
                }
                Ok((_, false)) | Err(crate::error::Error::NotFound { .. }) => {}
                Err(e) => {
                    tracing::warn!(namespace, pod = %name, error = %e.chain(), "could not delete a pod whose namespace is gone; retried next pass");
                }
            }
        }
        deleted
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: i64) -> Timestamp {
        Timestamp::from_second(s).unwrap()
    }

    #[test]
    fn an_incarnation_has_whole_seconds() {
        let mut ns = Namespace::default();
        let fine: Timestamp = "2026-12-01T17:00:00.75Z".parse().unwrap();
        ns.metadata.creation_timestamp =
            Some(k8s_openapi::apimachinery::pkg::apis::meta::v1::Time(fine));
        assert_eq!(incarnation(&ns), Some(at(fine.as_second())));
        assert_eq!(incarnation(&Namespace::default()), None);
    }

    #[test]
    fn only_incarnations_that_no_longer_exist_are_stale() {
        let seen = NamespacesSeen {
            legacy: BTreeSet::new(),
            stamps: BTreeMap::from([
                ("kept".to_string(), BTreeSet::from([at(10)])),
                ("gone".to_string(), BTreeSet::from([at(10)])),
                ("again".to_string(), BTreeSet::from([at(10), at(20)])),
            ]),
        };
        let current = BTreeMap::from([
            ("kept".to_string(), Some(at(10))),
            ("again".to_string(), Some(at(20))),
        ]);
        let stale = stale(&seen, &current);
        assert_eq!(
            stale,
            BTreeMap::from([
                ("gone".to_string(), BTreeSet::from([at(10)])),
                ("again".to_string(), BTreeSet::from([at(10)])),
            ])
        );
    }
}
