//! Namespaces: Kubernetes `Namespace` objects kept in the record store
//! (`namespaces/<name>.json`, through [`crate::objects::Objects`]), and the flows around them:
//! reading ([`Pods::namespaces`], [`Pods::namespace`]), writing ([`write`]: create, replace,
//! patch, delete, and the check every pod create makes), the cascade of a deleted namespace
//! ([`finalize`]) and what a namespace's pods may run ([`policy`]). docs/namespaces.md.
//!
//! `default` always exists: while it has no record it reads as the object kube-apiserver shows
//! for a namespace nobody customised, and its first write stores it.
//!
//! # Migration
//! Before namespaces were objects, a namespace existed while it held pods. Such a namespace
//! (pods, no record) still reads as before (Active, created when its oldest pod was) and still
//! takes pods; it is *adopted*, its record written, by its first write (pod create, annotate,
//! delete) or by the next collection pass, whichever comes first ([`Pods::adopt_namespaces`]).
//! Its uid, a v5 UUID of its name, stays the same when adopted. Pods created since carry the
//! creationTimestamp of the namespace they were admitted into and never make a namespace exist;
//! one whose namespace is gone is deleted by collection ([`stranded`]).
//!
//! # Caveats
//! Listing namespaces also lists every pod record's index, to show namespaces not adopted
//! yet; once collection has adopted them that listing finds nothing new.

pub(crate) mod finalize;
pub(crate) mod policy;
pub(crate) mod stranded;
pub(crate) mod write;

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::{Namespace, NamespaceSpec, NamespaceStatus};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{ObjectMeta, Time};

use super::Pods;
use super::crud::read::ListOptions;
use crate::error::{Error, Result};

/// The namespace that always exists.
pub(crate) const DEFAULT_NAMESPACE: &str = "default";

/// The label kube-apiserver puts on every namespace, holding its name.
pub(crate) const NAME_LABEL: &str = "kubernetes.io/metadata.name";

/// Fixed namespace of the namespace uids (a random v4 UUID, chosen once).
const UID_NAMESPACE: uuid::Uuid = uuid::uuid!("5b0f0c1e-7a43-4d36-9a55-2f1c8e6b9d41");

/// Active: a namespace that takes pods.
pub(crate) const ACTIVE: &str = "Active";
/// Terminating: a deleted namespace whose content is being deleted.
pub(crate) const TERMINATING: &str = "Terminating";
/// The finalizer kube-apiserver puts in every namespace's `spec.finalizers`: the namespace
/// goes once its content is gone.
pub(crate) const FINALIZER: &str = "kubernetes";

/// The namespaces that exist, and the list's resourceVersion.
#[derive(Debug, Clone)]
pub struct NamespaceList {
    /// In name order.
    pub items: Vec<Namespace>,
    /// The highest resourceVersion seen (the list's `resourceVersion`).
    pub resource_version: i64,
}

impl Pods {
    /// Every namespace: the stored ones, `default`, and those that have pods but no record yet
    /// (see the module's Migration), in name order.
    ///
    /// # Errors
    /// The store's.
    pub async fn namespaces(&self) -> Result<NamespaceList> {
        let stored = self.namespace_objects.list(None).await?;
        let opts = ListOptions {
            index_only: true,
            ..Default::default()
        };
        let page = self.list(None, &opts).await?;
        let mut found: BTreeMap<String, Namespace> = BTreeMap::new();
        let mut legacy: BTreeMap<String, Option<Time>> = BTreeMap::new();
        legacy.insert(DEFAULT_NAMESPACE.to_string(), None);
        // Only pods from before namespaces were recorded make a namespace exist; a later pod
        // whose namespace is gone is stranded (`stranded`).
        for rec in page.items.iter().filter(|r| r.is_from_before_namespaces()) {
            let meta = &rec.pod.metadata;
            let ns = meta.namespace.as_deref().unwrap_or(DEFAULT_NAMESPACE);
            let entry = legacy.entry(ns.to_string()).or_default();
            *entry = earliest(entry.take(), meta.creation_timestamp.clone());
        }
        for ns in stored.items {
            found.insert(ns.metadata.name.clone().unwrap_or_default(), ns);
        }
        for (name, created) in legacy {
            found
                .entry(name.clone())
                .or_insert_with(|| namespace_object(&name, created));
        }
        Ok(NamespaceList {
            items: found.into_values().collect(),
            resource_version: page.resource_version.max(stored.resource_version),
        })
    }

    /// One namespace: its record, or `default`, or one that has pods but no record yet.
    ///
    /// # Errors
    /// [`Error::NotFound`] (`namespaces "x" not found`) for any other name; the store's.
    pub async fn namespace(&self, name: &str) -> Result<Namespace> {
        match self.namespace_objects.get(None, name).await {
            Err(Error::NotFound { .. }) => self
                .unrecorded_namespace(name)
                .await?
                .ok_or_else(|| crate::objects::not_found::<Namespace>(name)),
            other => other,
        }
    }

    /// The object of a namespace that exists without a record: `default`, or one with pods.
    async fn unrecorded_namespace(&self, name: &str) -> Result<Option<Namespace>> {
        let opts = ListOptions {
            index_only: true,
            ..Default::default()
        };
        let page = self.list(Some(name), &opts).await?;
        let mut legacy = page
            .items
            .iter()
            .filter(|r| r.is_from_before_namespaces())
            .peekable();
        if legacy.peek().is_none() && name != DEFAULT_NAMESPACE {
            return Ok(None);
        }
        let created = legacy.fold(None, |acc, r| {
            earliest(acc, r.pod.metadata.creation_timestamp.clone())
        });
        Ok(Some(namespace_object(name, created)))
    }
}

fn earliest(a: Option<Time>, b: Option<Time>) -> Option<Time> {
    match (a, b) {
        (Some(a), Some(b)) => Some(if b.0 < a.0 { b } else { a }),
        (a, b) => a.or(b),
    }
}

/// The `Namespace` object of `name`, created at `created`.
pub(crate) fn namespace_object(name: &str, created: Option<Time>) -> Namespace {
    Namespace {
        metadata: ObjectMeta {
            name: Some(name.to_string()),
            uid: Some(uuid::Uuid::new_v5(&UID_NAMESPACE, name.as_bytes()).to_string()),
            creation_timestamp: created,
            labels: Some(BTreeMap::from([(NAME_LABEL.to_string(), name.to_string())])),
            ..Default::default()
        },
        spec: Some(NamespaceSpec {
            finalizers: Some(vec![FINALIZER.to_string()]),
        }),
        status: Some(NamespaceStatus {
            phase: Some(ACTIVE.to_string()),
            ..Default::default()
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(s: &str) -> Time {
        Time(s.parse().expect("timestamp"))
    }

    #[test]
    fn object_is_what_kube_apiserver_shows() {
        let ns = namespace_object("team-a", Some(t("2025-06-01T12:00:00Z")));
        let v = serde_json::to_value(&ns).expect("serializes");
        assert_eq!(v["apiVersion"], "v1");
        assert_eq!(v["kind"], "Namespace");
        assert_eq!(v["metadata"]["name"], "team-a");
        assert_eq!(v["metadata"]["labels"][NAME_LABEL], "team-a");
        assert_eq!(v["spec"]["finalizers"], serde_json::json!(["kubernetes"]));
        assert_eq!(v["status"]["phase"], "Active");
        assert_eq!(v["metadata"]["creationTimestamp"], "2025-06-01T12:00:00Z");
        assert_eq!(
            namespace_object("team-a", None).metadata.uid,
            ns.metadata.uid,
            "the uid is a function of the name"
        );
        assert_ne!(
            namespace_object("team-b", None).metadata.uid,
            ns.metadata.uid
        );
    }

    #[test]
    fn earliest_keeps_the_oldest() {
        let (a, b) = (t("2025-06-01T12:00:00Z"), t("2025-06-01T11:00:00Z"));
        assert_eq!(earliest(Some(a.clone()), Some(b.clone())), Some(b.clone()));
        assert_eq!(earliest(None, Some(a.clone())), Some(a.clone()));
        assert_eq!(earliest(Some(a.clone()), None), Some(a));
        assert_eq!(earliest(None, None), None);
    }
}
