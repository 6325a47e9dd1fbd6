//! The ResourceQuota objects: create, read, list, replace, patch, delete, with `status.hard`
//! (the spec's) and `status.used` (the namespace's usage, read when the quota is) filled in
//! as `kubectl describe quota` shows them.

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::{ResourceQuota, ResourceQuotaStatus};
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;
use serde_json::Value;

use super::charge::{self, Amounts};
use crate::error::{Cause, Error, Result};
use crate::objects::ObjectList;
use crate::pods::update::object_patch::patch_object;
use crate::pods::update::replace::PatchKind;
use crate::pods::{DryRun, Pods};

/// What k8sless accepts in a quota: resources it counts, quantities that parse, no scopes.
fn validate(q: &ResourceQuota) -> Result<()> {
    let mut causes = Vec::new();
    let spec = q.spec.as_ref();
    for (k, v) in spec.and_then(|s| s.hard.as_ref()).into_iter().flatten() {
        let field = format!("spec.hard[{k}]");
        if charge::canonical(k).is_none() {
            let names: Vec<String> = charge::SUPPORTED
                .iter()
                .map(|(n, _)| format!("{n:?}"))
                .collect();
            causes.push(Cause::not_supported(
                field,
                format!("{k:?}: supported values: {}", names.join(", ")),
            ));
            continue;
        }
        match crate::pods::quantity::parse_milli(&v.0) {
            Err(e) => causes.push(Cause::invalid(field, format!("{:?}: {e}", v.0))),
            Ok(_) if v.0.trim_start().starts_with('-') => causes.push(Cause::invalid(
                field,
                format!("{:?}: must be greater than or equal to 0", v.0),
            )),
            Ok(_) => {}
        }
    }
    if spec.is_some_and(|s| {
        s.scopes.as_ref().is_some_and(|x| !x.is_empty()) || s.scope_selector.is_some()
    }) {
        causes.push(Cause::forbidden(
            "spec.scopes",
            "quota scopes are not supported by k8sless: a quota counts every pod of its namespace",
        ));
    }
    Error::invalid_unless_empty("ResourceQuota", q.metadata.name.as_deref(), causes)
}

/// Fills `status` from the spec and the namespace's usage totals.
fn with_status(mut q: ResourceQuota, used: &Amounts) -> ResourceQuota {
    let hard = q
        .spec
        .as_ref()
        .and_then(|s| s.hard.clone())
        .unwrap_or_default();
    let used_q: BTreeMap<String, Quantity> = hard
        .keys()
        .filter_map(|k| {
            let c = charge::canonical(k)?;
            Some((
                k.clone(),
                Quantity(charge::format(c, used.get(c).copied().unwrap_or(0))),
            ))
        })
        .collect();
    q.status = Some(ResourceQuotaStatus {
        hard: Some(hard),
        used: Some(used_q),
    });
    q
}

impl Pods {
    /// `GET .../resourcequotas/{name}`.
    ///
    /// # Errors
    /// 404; the store's.
    pub async fn quota(&self, namespace: &str, name: &str) -> Result<ResourceQuota> {
        let q = self.quota_objects.get(Some(namespace), name).await?;
        self.with_usage(namespace, q).await
    }

    /// `q` with its status: its `hard`, and the namespace's usage now.
    async fn with_usage(&self, namespace: &str, q: ResourceQuota) -> Result<ResourceQuota> {
        let used = self.usage(namespace).await?.totals();
        Ok(with_status(q, &used))
    }

    /// `GET .../resourcequotas` (one namespace, or all with `None`).
    ///
    /// # Errors
    /// The store's.
    pub(crate) async fn quotas(
        &self,
        namespace: Option<&str>,
    ) -> Result<ObjectList<ResourceQuota>> {
        let mut list = self.quota_objects.list(namespace).await?;
        let mut totals: BTreeMap<String, Amounts> = BTreeMap::new();
        let mut items = Vec::with_capacity(list.items.len());
        for q in list.items.drain(..) {
            let ns = q.metadata.namespace.clone().unwrap_or_default();
            if !totals.contains_key(&ns) {
                totals.insert(ns.clone(), self.usage(&ns).await?.totals());
            }
            items.push(with_status(q, &totals[&ns]));
        }
        list.items = items;
        Ok(list)
    }

    /// `POST .../resourcequotas`: the namespace's pods that already count are charged at once.
    ///
    /// # Errors
    /// 404 for a namespace that does not exist; 422; 409; the store's.
    pub async fn create_quota(
        &self,
        namespace: &str,
        mut q: ResourceQuota,
        dry_run: DryRun,
    ) -> Result<ResourceQuota> {
        let name = q.metadata.name.clone().unwrap_or_default();
        self.admit_namespace(namespace, "resourcequotas", &name, dry_run)
            .await?;
        q.status = None;
        validate(&q)?;
        if dry_run == DryRun::All {
            return Ok(with_status(q, &Amounts::new()));
        }
        let created = self.quota_objects.create(Some(namespace), q).await?;
        self.repair_usage(namespace, None).await?;
        self.with_usage(namespace, created).await
    }

    /// `PUT .../resourcequotas/{name}` (the status stays computed).
    ///
    /// # Errors
    /// 404; 409 on a stale resourceVersion; 422; the store's.
    pub async fn replace_quota(
        &self,
        namespace: &str,
        name: &str,
        mut q: ResourceQuota,
    ) -> Result<ResourceQuota> {
        q.status = None;
        validate(&q)?;
        let replaced = self.quota_objects.replace(Some(namespace), name, q).await?;
        self.with_usage(namespace, replaced).await
    }

    /// `PATCH .../resourcequotas/{name}`.
    ///
    /// # Errors
    /// 400/422 for a patch that does not apply; 404; 409; the store's.
    pub async fn patch_quota(
        &self,
        namespace: &str,
        name: &str,
        kind: PatchKind,
        patch: Value,
    ) -> Result<ResourceQuota> {
        self.quota_objects
            .patch_retried(
                Some(namespace),
                name,
                &format!("resourcequota {namespace}/{name}"),
                |stored| patch_object(stored, &kind, &patch),
                |patched| self.replace_quota(namespace, name, patched),
            )
            .await
    }

    /// `DELETE .../resourcequotas/{name}`; the usage object goes with the last quota.
    ///
    /// # Errors
    /// 404; 409 on a stale resourceVersion; the store's.
    pub async fn delete_quota(
        &self,
        namespace: &str,
        name: &str,
        resource_version: Option<&str>,
    ) -> Result<ResourceQuota> {
        let deleted = self
            .quota_objects
            .delete(Some(namespace), name, resource_version)
            .await?;
        if self
            .quota_objects
            .list(Some(namespace))
            .await?
            .items
            .is_empty()
        {
            self.delete_usage(namespace, None).await?;
        }
        Ok(deleted)
    }

    /// Deletes every quota of a namespace and its usage (the namespace cascade).
    ///
    /// # Errors
    /// The store's.
    pub(crate) async fn delete_quotas_of(&self, namespace: &str) -> Result<()> {
        for q in self.quota_objects.list(Some(namespace)).await?.items {
            let name = q.metadata.name.unwrap_or_default();
            match self
                .quota_objects
                .delete(Some(namespace), &name, None)
                .await
            {
                Ok(_) | Err(Error::NotFound { .. }) => {}
                Err(e) => return Err(e),
            }
        }
        self.delete_usage(namespace, None).await
    }
}
