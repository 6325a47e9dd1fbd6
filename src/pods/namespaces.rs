//! Namespaces, read side: which namespaces exist, as Kubernetes `Namespace` objects.
//!
//! k8sless has no namespace records. A namespace exists when it holds at least one pod, and
//! `default` always exists (as on every Kubernetes cluster). Creating a pod into a new namespace
//! makes it appear; deleting its last pod makes it disappear again. Whether namespaces can be
//! created and deleted on their own is not decided here (that would add records); this module
//! only reads what the pod records say.
//!
//! Each object is what kube-apiserver shows for a namespace nobody customised: the
//! `kubernetes.io/metadata.name` label (which kube-apiserver sets on every namespace),
//! `spec.finalizers: [kubernetes]`, `status.phase: Active`. Its `creationTimestamp` is that of
//! its oldest pod (absent for `default` while it has none); its `uid` is a v5 UUID of the name,
//! so the same namespace always has the same uid. There is no per-namespace `resourceVersion`:
//! nothing about a namespace itself is ever written.
//!
//! # Caveats
//! Listing reads every pod record (through [`Pods::list`]); fine for the pod counts one project
//! runs at a time, and what the next issue's namespace records would replace.

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

/// The namespaces that exist, and the list's resourceVersion.
#[derive(Debug, Clone)]
pub struct NamespaceList {
    /// In name order.
    pub items: Vec<Namespace>,
    /// The highest pod resourceVersion seen (the list's `resourceVersion`).
    pub resource_version: i64,
}

impl Pods {
    /// `default` plus every namespace that has at least one pod, in name order.
    ///
    /// # Errors
    /// The store's, when listing the pod records fails.
    pub async fn namespaces(&self) -> Result<NamespaceList> {
        let page = self.list(None, &ListOptions::default()).await?;
        let mut oldest: BTreeMap<String, Option<Time>> = BTreeMap::new();
        oldest.insert(DEFAULT_NAMESPACE.to_string(), None);
        for rec in &page.items {
            let meta = &rec.pod.metadata;
            let ns = meta.namespace.as_deref().unwrap_or(DEFAULT_NAMESPACE);
            let entry = oldest.entry(ns.to_string()).or_default();
            *entry = earliest(entry.take(), meta.creation_timestamp.clone());
        }
        Ok(NamespaceList {
            items: oldest
                .into_iter()
                .map(|(name, created)| namespace_object(&name, created))
                .collect(),
            resource_version: page.resource_version,
        })
    }

    /// One namespace: `default`, or one that has pods.
    ///
    /// # Errors
    /// [`Error::NotFound`] (`namespaces "x" not found`) for any other name; the store's when
    /// listing fails.
    pub async fn namespace(&self, name: &str) -> Result<Namespace> {
        let page = self.list(Some(name), &ListOptions::default()).await?;
        if page.items.is_empty() && name != DEFAULT_NAMESPACE {
            return Err(Error::NotFound {
                kind: "namespaces",
                name: name.to_string(),
            });
        }
        let created = page.items.iter().fold(None, |acc, r| {
            earliest(acc, r.pod.metadata.creation_timestamp.clone())
        });
        Ok(namespace_object(name, created))
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
            finalizers: Some(vec!["kubernetes".to_string()]),
        }),
        status: Some(NamespaceStatus {
            phase: Some("Active".to_string()),
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
