//! The pod operations behind the API: create, read, list, delete, and merging status
//! reports. Handlers parse requests and call these; these call the record store and the
//! Compute Engine client. Nothing here knows HTTP.

pub mod clock;
pub mod cloud_logging;
pub mod collect;
pub mod create;
pub mod defaults;
pub mod delete;
pub mod identity;
mod list_order;
pub mod logs;
pub mod names;
pub mod namespaces;
pub mod patch;
pub mod patch_meta;
pub mod plan;
pub mod quantity;
pub mod read;
pub mod record;
pub mod reinsert;
pub mod replace;
pub mod report;
pub mod selector;
pub mod strategic;
pub mod terminate;
pub mod update;
pub mod validate;

use std::sync::Arc;

use crate::gce;
use crate::store::RecordStore;
use crate::translate::VmSettings;

/// The pod service: its dependencies, shared by every request.
#[derive(Debug, Clone)]
pub struct Pods {
    /// Pod records.
    pub store: Arc<dyn RecordStore>,
    /// Compute Engine.
    pub compute: Arc<gce::Client>,
    /// Pod → VM settings.
    pub vm: Arc<VmSettings>,
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
pub fn now() -> jiff::Timestamp {
    jiff::Timestamp::now()
}

/// Kubernetes `Time` from a timestamp (whole seconds, as the API server stores).
pub fn k8s_time(t: jiff::Timestamp) -> k8s_openapi::apimachinery::pkg::apis::meta::v1::Time {
    let secs = t.as_second();
    k8s_openapi::apimachinery::pkg::apis::meta::v1::Time(
        jiff::Timestamp::from_second(secs).unwrap_or(t),
    )
}
