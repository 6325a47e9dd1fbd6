//! The pod operations behind the API: create, read, list, delete, update, and merging status
//! reports. Handlers parse requests and call these; these call the record store and the
//! Compute Engine client. Nothing here knows HTTP.
//!
//! Each flow has its room: [`crud`] (create, read, list, delete), [`update`] (`PUT`, the three
//! `PATCH` formats, server-side apply and the rules of what may change), the lifecycle (reports,
//! collection, VM events) and logs. Every write of an existing record goes through
//! [`record::modify`].

pub(crate) mod bounds;
pub(crate) mod clock;
pub(crate) mod crud;
pub(crate) mod events;
pub(crate) mod exec;
mod health;
pub(crate) mod index;
mod kubelet;
pub(crate) mod lifecycle;
pub(crate) mod logs;
pub(crate) mod metrics;
pub(crate) mod namespaces;
pub(crate) mod phase;
pub(crate) mod portforward;
pub(crate) mod quantity;
pub(crate) mod quota;
pub(crate) mod record;
pub(crate) mod selector;
pub(crate) mod update;
pub(crate) mod validate;
pub(crate) mod watch;

use std::sync::Arc;

use k8s_openapi::api::core::v1::{Namespace, ResourceQuota};

use crate::gce;
use crate::kubelet::KubeletAccess;
use crate::objects::Objects;
use crate::store::RecordStore;
use crate::translate::VmSettings;

pub(crate) use crud::create::render;

/// The pod service: its dependencies, shared by every request.
#[derive(Debug, Clone)]
pub struct Pods {
    /// Pod records.
    store: Arc<dyn RecordStore>,
    /// Compute Engine.
    compute: Arc<gce::Client>,
    /// Pod → VM settings (project, zones, machine rules).
    settings: Arc<VmSettings>,
    /// The watch pollers this process shares between its watch streams.
    watches: Arc<watch::hub::WatchHub>,
    /// Namespace objects.
    namespace_objects: Objects<Namespace>,
    /// ResourceQuota objects.
    quota_objects: Objects<ResourceQuota>,
    /// Whether a pod created into a namespace that does not exist creates it
    /// (`--create-namespaces`), instead of 404 as Kubernetes answers.
    create_namespaces: bool,
    /// How kubelets are reached (`--kubelet-access`).
    kubelet: Arc<KubeletAccess>,
    /// The listings paged lists continue from (`crud::snapshot`).
    snapshots: Arc<crud::snapshot::Snapshots>,
    /// Pods kept serialized for `GET` (`crud::read::Encoded`).
    encoded: Arc<crud::read::Encoded>,
}

impl Pods {
    /// The service over these dependencies.
    pub fn new(
        store: Arc<dyn RecordStore>,
        compute: Arc<gce::Client>,
        settings: Arc<VmSettings>,
    ) -> Self {
        Pods {
            namespace_objects: Objects::new(store.clone()),
            quota_objects: Objects::new(store.clone()),
            store,
            compute,
            settings,
            watches: Arc::default(),
            create_namespaces: false,
            kubelet: Arc::default(),
            snapshots: Arc::default(),
            encoded: Arc::default(),
        }
    }

    /// The same service, reaching kubelets as `access` says.
    pub fn with_kubelet_access(self, access: KubeletAccess) -> Self {
        Pods {
            kubelet: Arc::new(access),
            ..self
        }
    }

    /// The same service creating namespaces on first use when `create` is true.
    pub fn with_create_namespaces(mut self, create: bool) -> Self {
        self.create_namespaces = create;
        self
    }

    /// The record store (for readiness checks and the test harness).
    pub fn store(&self) -> &Arc<dyn RecordStore> {
        &self.store
    }

    /// The Compute Engine client.
    pub fn compute(&self) -> &Arc<gce::Client> {
        &self.compute
    }

    /// Pod → VM settings.
    pub fn settings(&self) -> &Arc<VmSettings> {
        &self.settings
    }

    /// The same service on another Compute Engine client.
    pub fn with_compute(&self, compute: Arc<gce::Client>) -> Self {
        Pods {
            compute,
            ..self.clone()
        }
    }
}

/// `dryRun=All`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum DryRun {
    /// Do it.
    #[default]
    No,
    /// Validate and answer, write nothing.
    All,
}

/// Now, for timestamps.
pub(crate) fn now() -> jiff::Timestamp {
    jiff::Timestamp::now()
}

/// Kubernetes `Time` from a timestamp (whole seconds, as the API server stores).
pub fn k8s_time(t: jiff::Timestamp) -> k8s_openapi::apimachinery::pkg::apis::meta::v1::Time {
    let secs = t.as_second();
    k8s_openapi::apimachinery::pkg::apis::meta::v1::Time(
        jiff::Timestamp::from_second(secs).unwrap_or(t),
    )
}
