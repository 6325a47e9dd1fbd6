//! Writing namespaces: create, replace, patch, delete (which marks the namespace Terminating
//! and starts its cascade, [`super::finalize`]), adopting a namespace that has pods but no
//! record, and [`Pods::admit_namespace`]: the check of every pod create.
//!
//! Wording is kube-apiserver's: its namespace strategy (label `kubernetes.io/metadata.name`,
//! finalizer `kubernetes`, phase Active) and its NamespaceLifecycle admission plugin
//! (`namespaces "x" not found`, `unable to create new content in namespace x because it is
//! being terminated`, `this namespace may not be deleted`).

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::{Namespace, NamespaceSpec, NamespaceStatus};
use serde_json::Value;

use super::{ACTIVE, DEFAULT_NAMESPACE, FINALIZER, NAME_LABEL, TERMINATING, policy};
use crate::error::{Error, Result};
use crate::objects::{Change, not_found};
use crate::pods::update::object_patch::patch_object;
use crate::pods::update::replace::PatchKind;
use crate::pods::{DryRun, Pods, k8s_time, now};

/// What kube-apiserver's namespace strategy sets on every namespace it stores: the name label,
/// the `kubernetes` finalizer, phase Active (for a new one).
fn server_fields(ns: &mut Namespace, name: &str) {
    ns.metadata
        .labels
        .get_or_insert_with(BTreeMap::new)
        .insert(NAME_LABEL.to_string(), name.to_string());
    let spec = ns.spec.get_or_insert_with(NamespaceSpec::default);
    let finalizers = spec.finalizers.get_or_insert_with(Vec::new);
    if !finalizers.iter().any(|f| f == FINALIZER) {
        finalizers.push(FINALIZER.to_string());
    }
    if ns.status.is_none() {
        ns.status = Some(NamespaceStatus {
            phase: Some(ACTIVE.to_string()),
            ..Default::default()
        });
    }
}

fn is_terminating(ns: &Namespace) -> bool {
    ns.metadata.deletion_timestamp.is_some()
        || ns.status.as_ref().and_then(|s| s.phase.as_deref()) == Some(TERMINATING)
}

impl Pods {
    /// `POST /api/v1/namespaces`.
    ///
    /// # Errors
    /// 422 for a bad name or policy annotation; 409 AlreadyExists; the store's.
    pub async fn create_namespace(&self, mut ns: Namespace, dry_run: DryRun) -> Result<Namespace> {
        let name = ns.metadata.name.clone().unwrap_or_default();
        ns.status = None;
        server_fields(&mut ns, &name);
        policy::validate(&ns)?;
        if dry_run == DryRun::All {
            return Ok(ns);
        }
        self.namespace_objects.create(None, ns).await
    }

    /// `PUT /api/v1/namespaces/{name}`: status and `spec.finalizers` stay the stored ones.
    ///
    /// # Errors
    /// 404; 409 on a stale resourceVersion; 422; the store's.
    pub async fn replace_namespace(&self, name: &str, mut ns: Namespace) -> Result<Namespace> {
        self.adopt_namespace(name).await?;
        server_fields(&mut ns, name);
        policy::validate(&ns)?;
        self.namespace_objects.replace(None, name, ns).await
    }

    /// `PATCH /api/v1/namespaces/{name}` (what `kubectl annotate` and `label` send).
    ///
    /// # Errors
    /// 400/422 for a patch that does not apply; 404; 409 on a stale resourceVersion; the
    /// store's.
    pub async fn patch_namespace(
        &self,
        name: &str,
        kind: PatchKind,
        patch: Value,
    ) -> Result<Namespace> {
        self.adopt_namespace(name).await?;
        self.namespace_objects
            .patch_retried(
                None,
                name,
                &format!("namespace {name:?}"),
                |stored| patch_object(stored, &kind, &patch),
                |mut patched: Namespace| async move {
                    server_fields(&mut patched, name);
                    policy::validate(&patched)?;
                    self.namespace_objects.replace(None, name, patched).await
                },
            )
            .await
    }

    /// `DELETE /api/v1/namespaces/{name}`: marks it Terminating (deletionTimestamp, phase
    /// Terminating) and answers at once, as kube-apiserver does; its pods, their VMs and its
    /// quotas go in the background and, whatever interrupts that, on the next collection pass.
    ///
    /// # Errors
    /// 403 for `default`; 404; 409 on a stale resourceVersion; the store's.
    pub async fn delete_namespace(
        &self,
        name: &str,
        resource_version: Option<&str>,
        dry_run: DryRun,
    ) -> Result<Namespace> {
        if name == DEFAULT_NAMESPACE {
            return Err(Error::Forbidden {
                message: format!(
                    "namespaces \"{name}\" is forbidden: this namespace may not be deleted"
                ),
            });
        }
        self.adopt_namespace(name).await?;
        if dry_run == DryRun::All {
            return self.namespace_objects.get(None, name).await;
        }
        let marked = self
            .namespace_objects
            .modify(None, name, |ns| {
                if let Some(rv) = resource_version {
                    if ns.metadata.resource_version.as_deref() != Some(rv) {
                        return Err(crate::objects::conflict("namespaces", name));
                    }
                }
                if is_terminating(ns) {
                    return Ok(Change::Keep);
                }
                ns.metadata.deletion_timestamp = Some(k8s_time(now()));
                ns.status.get_or_insert_with(Default::default).phase = Some(TERMINATING.into());
                Ok(Change::Write)
            })
            .await?
            .ok_or_else(|| not_found::<Namespace>(name))?;
        let pods = self.clone();
        let owned = name.to_string();
        tokio::spawn(async move { pods.finalize_in_background(&owned).await });
        Ok(marked)
    }

    /// Writes the record of a namespace that exists without one (`default`, or one with pods),
    /// so writes and deletion work on it as on any other. Nothing for a recorded namespace.
    ///
    /// # Errors
    /// 404 when the namespace does not exist at all; the store's.
    pub(crate) async fn adopt_namespace(&self, name: &str) -> Result<Namespace> {
        match self.namespace_objects.get(None, name).await {
            Err(Error::NotFound { .. }) => {}
            other => return other,
        }
        let Some(ns) = self.unrecorded_namespace(name).await? else {
            return Err(not_found::<Namespace>(name));
        };
        self.store_unrecorded(ns).await
    }

    /// Stores a namespace object built here (adopted, or created on first use) with the uid
    /// and creationTimestamp it already reads with; a concurrent writer's record wins.
    async fn store_unrecorded(&self, ns: Namespace) -> Result<Namespace> {
        let name = ns.metadata.name.clone().unwrap_or_default();
        match self.namespace_objects.create_built(None, ns).await {
            Err(Error::AlreadyExists { .. }) => self.namespace_objects.get(None, &name).await,
            other => other,
        }
    }

    /// After a pod's record is written: whether its namespace still takes new content (not
    /// Terminating, not gone). A store failure answers yes: the cascade's own re-list, and
    /// collection, remain.
    pub(crate) async fn still_admits(&self, namespace: &str) -> bool {
        match self.namespace_objects.get(None, namespace).await {
            Ok(ns) => !is_terminating(&ns),
            Err(Error::NotFound { .. }) => false,
            Err(e) => {
                tracing::warn!(namespace, error = %e.chain(), "could not read the namespace again after a create");
                true
            }
        }
    }

    /// The namespace an object (a pod, a quota, a Role) is being created in, as
    /// NamespaceLifecycle admits it: 404 when it does not exist (unless `--create-namespaces`,
    /// or it is `default`, or it has pods from before namespaces were objects: then its record
    /// is written), 403 while Terminating. `resource` is the new object's plural resource as
    /// kube-apiserver names it in the 403 (`pods`, `roles.rbac.authorization.k8s.io`), `name`
    /// its name (empty when generated).
    ///
    /// # Errors
    /// 404 `namespaces "x" not found`; 403 for a Terminating namespace; the store's.
    pub(crate) async fn admit_namespace(
        &self,
        namespace: &str,
        resource: &str,
        name: &str,
        dry_run: DryRun,
    ) -> Result<Namespace> {
        let ns = match self.namespace_objects.get(None, namespace).await {
            Err(Error::NotFound { .. }) => match self.unrecorded_namespace(namespace).await? {
                Some(ns) if dry_run == DryRun::All => ns,
                Some(ns) => self.store_unrecorded(ns).await?,
                None if self.create_namespaces => {
                    let ns = super::namespace_object(namespace, Some(k8s_time(now())));
                    if dry_run == DryRun::All {
                        return Ok(ns);
                    }
                    self.store_unrecorded(ns).await?
                }
                None => return Err(not_found::<Namespace>(namespace)),
            },
            other => other?,
        };
        if is_terminating(&ns) {
            let subject = if name.is_empty() {
                resource.to_string()
            } else {
                format!("{resource} \"{name}\"")
            };
            return Err(Error::Forbidden {
                message: format!(
                    "{subject} is forbidden: unable to create new content in namespace {namespace} because it is being terminated"
                ),
            });
        }
        Ok(ns)
    }
}
