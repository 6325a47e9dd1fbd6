//! [`offline_pods`]: a [`Pods`] whose Compute Engine client reaches nothing, for the unit tests
//! of flows that never call it (`src/pods/watch/tests.rs`, `src/pods/logs/follow.rs`).

use std::sync::Arc;
use std::time::Duration;

use crate::pods::Pods;
use crate::store::RecordStore;

/// [`Pods`] on `store` with the default settings and a Compute Engine client pointed at the
/// discard port (`127.0.0.1:9`): for tests of flows that never reach Compute Engine.
pub fn offline_pods(store: Arc<dyn RecordStore>) -> Pods {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let compute = crate::gce::Client::new(
        crate::gce::ClientConfig {
            endpoint: "http://127.0.0.1:9/compute/v1".into(),
            project: "p".into(),
            zones: vec![],
            mutations_per_second: 0.0,
            timeout: Duration::from_secs(1),
            retry: crate::retry::RetryPolicy::default(),
        },
        crate::auth::TokenSource::Anonymous,
    )
    .expect("client");
    let args = super::default_args();
    Pods::new(store, Arc::new(compute), Arc::new(args.vm_settings()))
}
