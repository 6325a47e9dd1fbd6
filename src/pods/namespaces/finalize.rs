//! The cascade of a deleted namespace, as Kubernetes' namespace controller runs it: delete its
//! pods (each VM first, then the record: [`Pods::delete`]), its ResourceQuotas and its quota
//! usage, and once nothing is left remove the `kubernetes` finalizer, which deletes the
//! namespace.
//!
//! # Guarantees
//! Every step is idempotent and the namespace record goes last, so a crash anywhere leaves a
//! Terminating namespace that the next run repairs: `DELETE` starts the cascade in the
//! background, and every collection pass (`POST /gc`) runs it again for each namespace still
//! Terminating ([`Pods::collect_namespaces`]). Pod creates are refused from the moment the
//! namespace is Terminating; one admitted just before is found by the re-list that precedes
//! the final step, or, when its record lands after that, deletes itself: every create reads
//! its namespace again after its record is written ([`Pods::still_admits`]).

use std::collections::BTreeMap;
use std::time::Duration;

use futures_util::stream::{self, StreamExt};
use k8s_openapi::api::core::v1::Namespace;

use super::FINALIZER;
use super::stranded::NamespacesSeen;
use crate::error::{Error, Result};
use crate::objects::Change;
use crate::pods::crud::read::ListOptions;
use crate::pods::{DryRun, Pods};

/// Pods of one namespace deleted at once.
const PARALLEL_DELETES: usize = 8;

/// Runs of the cascade right after `DELETE` (over about half a minute) before leaving it to
/// collection.
const BACKGROUND_TRIES: u32 = 10;

/// What one collection pass did to namespaces.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct NamespaceSweep {
    /// Terminating namespaces whose cascade finished (they are gone).
    pub(crate) finalized: Vec<String>,
    /// Terminating namespaces whose cascade is still under way (or failed; retried next pass).
    pub(crate) terminating: Vec<String>,
    /// Namespaces from before namespaces were objects whose record was written.
    pub(crate) adopted: Vec<String>,
    /// Pods (`namespace/name`) deleted because the namespace they were admitted into is gone.
    pub(crate) stranded_deleted: Vec<String>,
}

impl Pods {
    /// Runs the cascade of a Terminating namespace; true when the namespace is gone.
    ///
    /// # Errors
    /// The first failure of a step (the pass is retried whole later).
    pub(crate) async fn finalize_namespace(&self, name: &str) -> Result<bool> {
        let opts = ListOptions {
            index_only: true,
            ..Default::default()
        };
        let pods = self.list(Some(name), &opts).await?;
        let results: Vec<Result<()>> = stream::iter(pods.items)
            .map(|rec| async move {
                let pod = rec.pod.metadata.name.clone().unwrap_or_default();
                match self.delete(name, &pod, Some(0), DryRun::No).await {
                    Ok(_) | Err(Error::NotFound { .. }) => Ok(()),
                    Err(e) => Err(e),
                }
            })
            .buffer_unordered(PARALLEL_DELETES)
            .collect()
            .await;
        results.into_iter().collect::<Result<Vec<()>>>()?;
        self.delete_quotas_of(name).await?;
        if !self.list(Some(name), &opts).await?.items.is_empty() {
            return Ok(false);
        }
        let left = self
            .namespace_objects
            .modify(None, name, |ns| {
                if ns.metadata.deletion_timestamp.is_none() {
                    return Ok(Change::Keep);
                }
                if let Some(f) = ns.spec.as_mut().and_then(|s| s.finalizers.as_mut()) {
                    f.retain(|f| f != FINALIZER);
                }
                // Another finalizer (an admin's) keeps the namespace until it is removed.
                if ns
                    .metadata
                    .finalizers
                    .as_ref()
                    .is_some_and(|f| !f.is_empty())
                {
                    return Ok(Change::Write);
                }
                Ok(Change::Delete)
            })
            .await;
        match left {
            Ok(None) | Err(Error::NotFound { .. }) => Ok(true),
            Ok(Some(_)) => Ok(false),
            Err(e) => Err(e),
        }
    }

    /// The cascade right after `DELETE`, retried for a while (a VM still being created may
    /// refuse its deletion for some seconds); what it leaves, collection finishes.
    pub(crate) async fn finalize_in_background(&self, name: &str) {
        for attempt in 0..BACKGROUND_TRIES {
            match self.finalize_namespace(name).await {
                Ok(true) => return,
                Ok(false) => {}
                Err(e) => {
                    tracing::info!(namespace = %name, attempt, error = %e.chain(), "namespace cascade: a step failed; retrying");
                }
            }
            let pause = Duration::from_millis(500 * (1 << attempt.min(3)));
            tokio::time::sleep(pause).await;
        }
        tracing::warn!(namespace = %name, "namespace cascade unfinished; the next collection pass resumes it");
    }

    /// Collection's part: every Terminating namespace's cascade, run again; the record of
    /// every namespace that has pods from before namespaces were recorded but no record
    /// (adoption, see the module docs of [`super`]); and the deletion of pods whose namespace
    /// is gone ([`super::stranded`]). `seen` is what the walk of the records, taken before this
    /// call lists the namespaces, found.
    ///
    /// # Errors
    /// The store's, listing namespaces. A failing cascade is reported, not an error.
    pub(crate) async fn collect_namespaces(&self, seen: &NamespacesSeen) -> Result<NamespaceSweep> {
        let stored = self.namespace_objects.list(None).await?;
        let mut sweep = NamespaceSweep::default();
        let mut current: BTreeMap<String, Option<jiff::Timestamp>> = stored
            .items
            .iter()
            .filter_map(|ns| Some((ns.metadata.name.clone()?, super::stranded::incarnation(ns))))
            .collect();
        let unrecorded: Vec<String> = seen
            .legacy
            .iter()
            .filter(|name| !current.contains_key(*name))
            .cloned()
            .collect();
        for name in unrecorded {
            match self.adopt_namespace(&name).await {
                Ok(ns) => {
                    current.insert(name.clone(), super::stranded::incarnation(&ns));
                    sweep.adopted.push(name);
                }
                Err(e) => {
                    tracing::warn!(namespace = %name, error = %e.chain(), "could not adopt a namespace")
                }
            }
        }
        for (name, gone) in super::stranded::stale(seen, &current) {
            let now = current.get(&name).copied().flatten();
            sweep
                .stranded_deleted
                .extend(self.delete_stranded(&name, &gone, now).await);
        }
        for ns in stored.items.iter().filter(|ns| terminating(ns)) {
            let name = ns.metadata.name.clone().unwrap_or_default();
            match self.finalize_namespace(&name).await {
                Ok(true) => sweep.finalized.push(name),
                Ok(false) => sweep.terminating.push(name),
                Err(e) => {
                    tracing::warn!(namespace = %name, error = %e.chain(), "namespace cascade failed; retried next pass");
                    sweep.terminating.push(name);
                }
            }
        }
        Ok(sweep)
    }
}

fn terminating(ns: &Namespace) -> bool {
    ns.metadata.deletion_timestamp.is_some()
}
