//! A whole k8sless in one process: the API, the Compute Engine simulator on the same listener
//! (under `/compute/v1`), the production Compute client pointed at it, a record store, and
//! optionally simulated guests (which report through the real push handler, in process, as
//! Pub/Sub push JSON) and a periodic collector. Tests, benchmarks and `k8sless dev` all start
//! it here.
//!
//! This module is also the public surface of the crate for `tests/`: every other module is
//! `pub(crate)`, and what the integration tests need is re-exported below, in one block per
//! helper that added to it. Test code imports `k8sless::testing::…` (and `k8sless::sim::…`),
//! never an internal path, so modules can move without touching the suites.

//!
//! Files: [`stack`] (the stack itself), [`tools`] (what a test needs from its environment:
//! tools, peers, fixtures, and `K8SLESS_REQUIRE_TOOLS`), [`offline`] (a [`Pods`] without
//! Compute Engine), [`store_contract`] (what every record store must do, run on each).

pub mod latency_proxy;
mod offline;
mod served;
mod stack;
pub mod store_contract;
mod tools;

pub use offline::offline_pods;
pub use stack::{Stack, StackBuilder, default_args};
pub use tools::{fixture, fixture_text, missing, skip, tools_required};

/// The `field` string of each entry of the JSON array `list`, entries without one skipped
/// (column names, parameter names, subresources); empty when `list` is not an array.
pub fn strs_of<'a>(list: &'a serde_json::Value, field: &str) -> Vec<&'a str> {
    list.as_array()
        .into_iter()
        .flatten()
        .filter_map(|entry| entry[field].as_str())
        .collect()
}

/// The `#cloud-config` document cloud-init runs for `vm`: its `user-data` decoded per its
/// `user-data-encoding` (gzip and base64 as the service sends it); `None` without user-data.
///
/// # Panics
/// When the value does not decode (a test failure).
pub fn decoded_user_data(vm: &Instance) -> Option<String> {
    let value = vm.metadata_value("user-data")?;
    let encoding = vm.metadata_value(crate::guest::USER_DATA_ENCODING_KEY);
    Some(crate::guest::decode_user_data(value, encoding).expect("user-data decodes"))
}

// re-exports for tests (C) ------------------------------------------------------------------
// The items tests/ use, by the module that owns them. When a module moves, change the path
// here; the suites keep importing `k8sless::testing::…`.
pub use crate::api::extract::parse_value;
pub use crate::api::{AppParts, AppState, router};
pub use crate::auth::identity::IdentityMode;
pub use crate::auth::{TokenError, TokenSource};
pub use crate::codec::decode::{FieldValidation, decode_object};
pub use crate::config::ServiceArgs;
pub use crate::error::{Cause, Error};
pub use crate::gce::types::{
    AttachedDisk, AttachedDiskInitializeParams, Instance, InstanceStatus, Metadata, MetadataItem,
    NetworkInterface, Operation, OperationStatus,
};
pub use crate::gce::{Client, ClientConfig, GceError, Inserted, ListFilter};
pub use crate::kubelet::KubeletAccess;
pub use crate::logging::CloudLogging;
pub use crate::pods::crud::create::render;
pub use crate::pods::crud::defaults::apply as apply_defaults;
pub use crate::pods::lifecycle::report::{Report, ReportInstance};
pub use crate::pods::logs::{
    ArchivedLogs, ContainerRef, LogLine, LogSource, LogSources, MAX_LOG_BYTES, archive_key,
    legacy_archive_key,
};
pub use crate::pods::{Pods, k8s_time};
pub use crate::push::pubsub::encode_push;
pub use crate::retry::RetryPolicy;
pub use crate::store::{GcsStore, MemoryStore};
pub use crate::store::{RecordStore, StoreError};
pub use crate::tls::{SelfSigned, self_signed};
pub use crate::translate::{VmPlan, VmSettings, translate};

/// Pod records as the store holds them.
pub mod record {
    pub use crate::pods::record::{PodRecord, VmState, key, load, modify};
}

/// A pod's VM name, labels and insert request ids.
pub mod names {
    pub use crate::gce::labels::sanitize_value;
    pub use crate::translate::names::{
        LABEL_DEPLOYMENT, LABEL_MANAGED, LABEL_POD, LABEL_UID, request_id, vm_name, vm_name_prefix,
    };
}
// end of re-exports for tests (C) -----------------------------------------------------------

// re-exports for tests (L) ------------------------------------------------------------------
// A store wrapper in tests/watch_scale.rs implements the trait, so it needs its types.
pub use crate::store::{Page, Record};
// end of re-exports for tests (L) -----------------------------------------------------------
