//! Kubernetes API objects kept whole in the record store: Namespaces, ResourceQuotas, and any
//! other kind that is just an object (RBAC's Roles and bindings), as opposed to pods, whose
//! record also carries their VM ([`crate::pods::record`]).
//!
//! One object per key, `<resource>/<name>.json` for cluster-scoped kinds and
//! `<resource>/<namespace>/<name>.json` for namespaced ones (`<resource>` is the kind's
//! [`StoredObject::RESOURCE`], e.g. `namespaces`, `roles.rbac.authorization.k8s.io`). The
//! object is stored as the API returns it, without its `resourceVersion`: that is the object
//! generation, set on every read, and every write is a compare-and-swap on it, so any number
//! of service instances can write at once.
//!
//! [`Objects`] is the typed access: create (server fields, name and metadata rules), get,
//! list, replace (`PUT`: a stale `resourceVersion` is 409 Conflict), [`Objects::modify`]
//! (read-change-swap, retried, the one loop every internal writer uses) and delete.
//! Failures are [`Error`]s worded as kube-apiserver words them: `namespaces "x" not found`,
//! `namespaces "x" already exists`, `Operation cannot be fulfilled on namespaces "x": the
//! object has been modified; ...`.

pub(crate) mod kinds;
pub(crate) mod meta;
pub(crate) mod names;
mod repatch;

use std::marker::PhantomData;
use std::sync::Arc;

use bytes::Bytes;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{ObjectMeta, Time};
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::error::{Error, Result};
use crate::store::{Pager, Record, RecordStore, StoreError};
use meta::NameRule;

/// Attempts of one read-change-swap before giving up with 503 (each lost swap means another
/// writer landed in between).
pub(crate) const CAS_TRIES: usize = 16;

/// Largest stored object (the annotations alone may hold 256 KiB, as in Kubernetes).
pub(crate) const OBJECT_MAX: usize = 512 * 1024;

/// Most objects one listing returns; beyond it the listing is refused rather than unbounded.
pub(crate) const LIST_MAX: usize = 10_000;

/// A kind kept in the store by [`Objects`].
pub(crate) trait StoredObject:
    k8s_openapi::Resource
    + k8s_openapi::Metadata<Ty = ObjectMeta>
    + Serialize
    + DeserializeOwned
    + Clone
    + Send
    + Sync
    + 'static
{
    /// The plural resource, qualified by its group as kube-apiserver's messages are
    /// (`namespaces`, `resourcequotas`, `roles.rbac.authorization.k8s.io`); also the key prefix.
    const RESOURCE: &'static str;
    /// Whether objects live in a namespace.
    const NAMESPACED: bool;
    /// The syntax of its names.
    const NAME_RULE: NameRule;

    /// The kind as kube-apiserver names it in a 422 (`RoleBinding.rbac.authorization.k8s.io
    /// "x" is invalid`): qualified by its group, plain for the core group's kinds.
    const QUALIFIED_KIND: &'static str = <Self as k8s_openapi::Resource>::KIND;

    /// Kind-specific rules for a new object (after the metadata's): field causes.
    fn validate(&self) -> Vec<crate::error::Cause> {
        Vec::new()
    }

    /// Kind-specific rules of a `PUT` or patch against the stored object (a binding's
    /// `roleRef` may not change): field causes.
    fn validate_update(&self, stored: &Self) -> Vec<crate::error::Cause> {
        let _ = stored;
        Vec::new()
    }

    /// Before a `PUT` is written: carry over from `stored` what the main resource may not
    /// change (e.g. a Namespace's status). The default keeps nothing but the server fields.
    fn keep_on_replace(&mut self, stored: &Self) {
        let _ = stored;
    }
}

/// What a change given to a read-modify-write decided ([`Objects::modify`], and pod records'
/// `modify_or_delete`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Change {
    /// Leave the stored object as it is.
    Keep,
    /// Write the changed object.
    Write,
    /// Delete the object.
    Delete,
}

/// A listing: the objects in key order, and the highest resourceVersion among them.
#[derive(Debug, Clone)]
pub(crate) struct ObjectList<K> {
    /// In key order (namespace, then name).
    pub(crate) items: Vec<K>,
    /// The largest generation listed (0 when empty): the list's `resourceVersion`.
    pub(crate) resource_version: i64,
}

/// Typed access to the objects of kind `K`.
#[derive(Debug)]
pub(crate) struct Objects<K> {
    store: Arc<dyn RecordStore>,
    kind: PhantomData<fn() -> K>,
}

impl<K> Clone for Objects<K> {
    fn clone(&self) -> Self {
        Objects {
            store: self.store.clone(),
            kind: PhantomData,
        }
    }
}

/// Object name of `name` (in `namespace` for namespaced kinds).
pub(crate) fn key<K: StoredObject>(namespace: Option<&str>, name: &str) -> String {
    match namespace {
        Some(ns) => format!("{}/{ns}/{name}.json", K::RESOURCE),
        None => format!("{}/{name}.json", K::RESOURCE),
    }
}

/// Prefix of the objects of a namespace (or of all of them).
pub(crate) fn prefix<K: StoredObject>(namespace: Option<&str>) -> String {
    match namespace {
        Some(ns) => format!("{}/{ns}/", K::RESOURCE),
        None => format!("{}/", K::RESOURCE),
    }
}

/// The 409 kube-apiserver answers a write on a stale resourceVersion.
pub(crate) fn conflict(resource: &str, name: &str) -> Error {
    Error::Conflict {
        message: format!(
            "Operation cannot be fulfilled on {resource} \"{name}\": the object has been modified; please apply your changes to the latest version and try again"
        ),
    }
}

/// A store failure on object `name` of kind `K`, by meaning.
fn store_error<K: StoredObject>(err: StoreError, name: &str) -> Error {
    match err {
        StoreError::AlreadyExists { .. } => Error::AlreadyExists {
            kind: K::RESOURCE,
            name: name.to_string(),
        },
        StoreError::NotFound { .. } => not_found::<K>(name),
        StoreError::Conflict { .. } => conflict(K::RESOURCE, name),
        err @ StoreError::Unavailable { .. } => Error::unavailable_from(
            "the record store (Cloud Storage) is unavailable; retry shortly",
            err,
        ),
        err @ StoreError::Internal { .. } => Error::internal_from(
            format!("the record store failed on {} {name}", K::RESOURCE),
            err,
        ),
    }
}

/// 404 `<resource> "name" not found`.
pub(crate) fn not_found<K: StoredObject>(name: &str) -> Error {
    Error::NotFound {
        kind: K::RESOURCE,
        name: name.to_string(),
    }
}

fn decode<K: StoredObject>(record: &Record) -> Result<K> {
    let mut obj: K = serde_json::from_slice(&record.data)
        .map_err(|e| Error::internal_from(format!("object {} is corrupt", record.key), e))?;
    obj.metadata_mut().resource_version = Some(record.generation.to_string());
    Ok(obj)
}

fn encode<K: StoredObject>(obj: &K) -> Result<Bytes> {
    let mut copy = obj.clone();
    copy.metadata_mut().resource_version = None;
    let bytes = serde_json::to_vec(&copy)
        .map_err(|e| Error::internal_from(format!("encoding {}", K::RESOURCE), e))?;
    if bytes.len() > OBJECT_MAX {
        return Err(Error::TooLarge { limit: OBJECT_MAX });
    }
    Ok(Bytes::from(bytes))
}

/// The generation a client's `resourceVersion` names; 400 for one that is not a number.
fn parse_resource_version(rv: &str) -> Result<i64> {
    rv.parse::<i64>()
        .map_err(|_| Error::bad_request(format!("invalid resourceVersion {rv:?}")))
}

impl<K: StoredObject> Objects<K> {
    /// Objects of kind `K` in `store`.
    pub(crate) fn new(store: Arc<dyn RecordStore>) -> Self {
        Objects {
            store,
            kind: PhantomData,
        }
    }

    fn scope<'a>(&self, namespace: Option<&'a str>) -> Result<Option<&'a str>> {
        match (K::NAMESPACED, namespace) {
            (true, Some(ns)) => Ok(Some(ns)),
            (false, _) => Ok(None),
            (true, None) => Err(Error::internal(format!(
                "{} are namespaced: a namespace is required",
                K::RESOURCE
            ))),
        }
    }

    /// Reads one object.
    ///
    /// # Errors
    /// 404 `<resource> "name" not found`; the store's.
    pub(crate) async fn get(&self, namespace: Option<&str>, name: &str) -> Result<K> {
        let key = key::<K>(self.scope(namespace)?, name);
        let record = self
            .store
            .get(&key)
            .await
            .map_err(|e| store_error::<K>(e, name))?;
        decode(&record)
    }

    /// Every object of a namespace (`None`: of all namespaces, or of a cluster-scoped kind),
    /// in key order; records that cannot be read are logged and skipped.
    ///
    /// # Errors
    /// The store's; 503 beyond [`LIST_MAX`] objects.
    pub(crate) async fn list(&self, namespace: Option<&str>) -> Result<ObjectList<K>> {
        let namespace = if K::NAMESPACED { namespace } else { None };
        let prefix = prefix::<K>(namespace);
        let mut pages = Pager::new(self.store.as_ref(), prefix.clone(), 1000);
        let mut out = ObjectList {
            items: Vec::new(),
            resource_version: 0,
        };
        while let Some(page) = pages
            .next_page()
            .await
            .map_err(|e| store_error::<K>(e, &prefix))?
        {
            for u in &page.unreadable {
                tracing::error!(key = %u.key, error = %u.error, "skipping an unreadable object");
            }
            for record in &page.records {
                out.resource_version = out.resource_version.max(record.generation);
                match decode::<K>(record) {
                    Ok(obj) => out.items.push(obj),
                    Err(e) => {
                        tracing::error!(key = %record.key, error = %e.chain(), "skipping a corrupt object")
                    }
                }
            }
            if out.items.len() > LIST_MAX {
                return Err(Error::unavailable(format!(
                    "more than {LIST_MAX} {} are stored; k8sless lists at most that many",
                    K::RESOURCE
                )));
            }
        }
        Ok(out)
    }

    /// Creates `obj` (in `namespace` for a namespaced kind): sets its uid, creationTimestamp
    /// and namespace, clears what only the server writes, validates its metadata and the
    /// kind's rules, and writes it if the name is free.
    ///
    /// # Errors
    /// 400 for a body namespace that is not the path's; 422 with causes; 409 AlreadyExists;
    /// 413; the store's.
    pub(crate) async fn create(&self, namespace: Option<&str>, mut obj: K) -> Result<K> {
        let namespace = self.scope(namespace)?;
        let m = obj.metadata_mut();
        m.uid = Some(uuid::Uuid::new_v4().to_string());
        m.creation_timestamp = Some(Time(jiff::Timestamp::now()));
        prepare_new(&mut obj, namespace)?;
        self.write_new(namespace, obj).await
    }

    /// Like [`create`](Self::create), for an object the server built itself: its uid and
    /// creationTimestamp are kept when set (a namespace adopted from its pods keeps the uid it
    /// always read with).
    ///
    /// # Errors
    /// As [`create`](Self::create).
    pub(crate) async fn create_built(&self, namespace: Option<&str>, mut obj: K) -> Result<K> {
        let namespace = self.scope(namespace)?;
        let m = obj.metadata_mut();
        if m.uid.is_none() {
            m.uid = Some(uuid::Uuid::new_v4().to_string());
        }
        if m.creation_timestamp.is_none() {
            m.creation_timestamp = Some(Time(jiff::Timestamp::now()));
        }
        prepare_new(&mut obj, namespace)?;
        self.write_new(namespace, obj).await
    }

    async fn write_new(&self, namespace: Option<&str>, mut obj: K) -> Result<K> {
        let name = obj.metadata().name.clone().unwrap_or_default();
        let key = key::<K>(namespace, &name);
        let generation = self
            .store
            .create(&key, encode(&obj)?)
            .await
            .map_err(|e| store_error::<K>(e, &name))?;
        obj.metadata_mut().resource_version = Some(generation.to_string());
        Ok(obj)
    }

    /// Replaces the object (`PUT`): on the client's `resourceVersion` when it sends one (a
    /// stale one is 409 Conflict, as kube-apiserver answers), else on the latest. The uid,
    /// creationTimestamp and deletionTimestamp stay the stored ones, and the kind keeps what
    /// its main resource may not change ([`StoredObject::keep_on_replace`]).
    ///
    /// # Errors
    /// 400 for a name or namespace that is not the path's; 404; 409; 422; the store's.
    pub(crate) async fn replace(&self, namespace: Option<&str>, name: &str, obj: K) -> Result<K> {
        let namespace = self.scope(namespace)?;
        check_identity(obj.metadata(), namespace, name)?;
        let wanted = match obj.metadata().resource_version.as_deref() {
            Some(rv) if !rv.is_empty() => Some(parse_resource_version(rv)?),
            _ => None,
        };
        let mut causes = Vec::new();
        meta::labels_and_annotations(obj.metadata(), &mut causes);
        causes.extend(obj.validate());
        Error::invalid_unless_empty(K::QUALIFIED_KIND, Some(name), causes)?;
        self.modify(namespace, name, |stored| {
            if wanted.is_some_and(|w| Some(w.to_string()) != stored.metadata().resource_version) {
                return Err(conflict(K::RESOURCE, name));
            }
            Error::invalid_unless_empty(
                K::QUALIFIED_KIND,
                Some(name),
                obj.validate_update(stored),
            )?;
            let mut next = obj.clone();
            next.keep_on_replace(stored);
            let (old, new) = (stored.metadata(), next.metadata_mut());
            new.uid.clone_from(&old.uid);
            new.creation_timestamp.clone_from(&old.creation_timestamp);
            new.deletion_timestamp.clone_from(&old.deletion_timestamp);
            new.namespace.clone_from(&old.namespace);
            new.name = Some(name.to_string());
            new.resource_version.clone_from(&old.resource_version);
            *stored = next;
            Ok(Change::Write)
        })
        .await?
        .ok_or_else(|| not_found::<K>(name))
    }

    /// Read, let `change` change the object and say what to do with it, then write or delete
    /// it on the generation read; on a lost swap, read again and change again. Returns the
    /// object as changed (with its new resourceVersion), or `None` when it was deleted.
    ///
    /// # Errors
    /// What `change` returns; 404; the store's; 503 after [`CAS_TRIES`] lost swaps.
    pub(crate) async fn modify<F>(
        &self,
        namespace: Option<&str>,
        name: &str,
        mut change: F,
    ) -> Result<Option<K>>
    where
        F: FnMut(&mut K) -> Result<Change>,
    {
        let key = key::<K>(self.scope(namespace)?, name);
        for _ in 0..CAS_TRIES {
            let stored = self
                .store
                .get(&key)
                .await
                .map_err(|e| store_error::<K>(e, name))?;
            let mut obj = decode::<K>(&stored)?;
            let written = match change(&mut obj)? {
                Change::Keep => return Ok(Some(obj)),
                Change::Write => self
                    .store
                    .update(&key, encode(&obj)?, stored.generation)
                    .await
                    .map(Some),
                Change::Delete => self
                    .store
                    .delete(&key, Some(stored.generation))
                    .await
                    .map(|()| None),
            };
            match written {
                Ok(Some(generation)) => {
                    obj.metadata_mut().resource_version = Some(generation.to_string());
                    return Ok(Some(obj));
                }
                Ok(None) => return Ok(None),
                Err(StoreError::Conflict { .. }) => continue,
                Err(e) => return Err(store_error::<K>(e, name)),
            }
        }
        Err(Error::unavailable(format!(
            "{} {name:?} is being changed concurrently; retry",
            K::RESOURCE
        )))
    }

    /// Deletes the object (at `resource_version` when given: a stale one is 409) and returns
    /// it as it was.
    ///
    /// # Errors
    /// 404; 409; the store's.
    pub(crate) async fn delete(
        &self,
        namespace: Option<&str>,
        name: &str,
        resource_version: Option<&str>,
    ) -> Result<K> {
        let wanted = resource_version.map(parse_resource_version).transpose()?;
        let mut deleted = None;
        self.modify(namespace, name, |stored| {
            if wanted.is_some_and(|w| Some(w.to_string()) != stored.metadata().resource_version) {
                return Err(conflict(K::RESOURCE, name));
            }
            deleted = Some(stored.clone());
            Ok(Change::Delete)
        })
        .await?;
        deleted.ok_or_else(|| not_found::<K>(name))
    }
}

/// The server fields (but the uid and creationTimestamp, set by the caller) and rules of a
/// new object.
fn prepare_new<K: StoredObject>(obj: &mut K, namespace: Option<&str>) -> Result<()> {
    let m = obj.metadata_mut();
    if let (Some(path), Some(body)) = (namespace, m.namespace.as_deref()) {
        if !body.is_empty() && body != path {
            return Err(Error::bad_request(
                "the namespace of the provided object does not match the namespace sent on the request",
            ));
        }
    }
    m.namespace = namespace.map(str::to_string);
    m.resource_version = None;
    m.deletion_timestamp = None;
    m.deletion_grace_period_seconds = None;
    m.generation = None;
    m.managed_fields = None;
    let mut causes = Vec::new();
    meta::name(obj.metadata(), K::NAME_RULE, &mut causes);
    meta::labels_and_annotations(obj.metadata(), &mut causes);
    causes.extend(obj.validate());
    Error::invalid_unless_empty(K::QUALIFIED_KIND, obj.metadata().name.as_deref(), causes)
}

/// A `PUT` body names the object of its path (kube-apiserver's 400 wording).
fn check_identity(m: &ObjectMeta, namespace: Option<&str>, name: &str) -> Result<()> {
    if let Some(body) = m.name.as_deref().filter(|n| !n.is_empty()) {
        if body != name {
            return Err(Error::bad_request(format!(
                "the name of the object ({body}) does not match the name on the URL ({name})"
            )));
        }
    }
    if let (Some(path), Some(body)) = (namespace, m.namespace.as_deref()) {
        if !body.is_empty() && body != path {
            return Err(Error::bad_request(
                "the namespace of the provided object does not match the namespace sent on the request",
            ));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests;
