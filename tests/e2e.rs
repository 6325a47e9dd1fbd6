//! The end-to-end driver: every suite below talks to k8sless over HTTP with real clients
//! (reqwest, curl, kubectl, the Python Kubernetes client) and real peers where present
//! (fake-gcs-server, the Pub/Sub emulator). Suites that need a tool skip with a printed
//! reason when it is absent, unless K8SLESS_REQUIRE_TOOLS=1 (CI), which makes that a failure.

mod common;

mod e2e {
    pub mod discovery;
    pub mod gce;
    pub mod gce_fidelity;
    pub mod gcs;
    pub mod google_contracts;
    pub mod k8s_schema;
    pub mod kubectl;
    pub mod kubectl_exec;
    pub mod kubectl_portforward;
    pub mod kubectl_tenancy;
    pub mod kubelet;
    pub mod list_snapshot;
    pub mod namespace_repair;
    pub mod namespaces;
    pub mod pod_input;
    pub mod pods;
    pub mod processes;
    pub mod teams;
    pub mod tls;
    pub mod translate;
}
