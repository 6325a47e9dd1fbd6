//! Fault drills (issue 9), and hostile bodies (issue 13, drills/hostile.rs): creates under Compute Engine faults, the service killed with SIGKILL
//! mid-create, record store failures and compare-and-swap races, duplicated and shuffled
//! Pub/Sub deliveries. Each drill prints one summary line to stderr (shown in CI output).
//!
//! Invariants checked after collection: every accepted pod has exactly one VM (counted by the
//! `k8sless-uid` label) or a terminal phase, no pod has two VMs, and no VM lacks a record.
//!
//! Files: tests/drills/census.rs (what the drills share), then one file per drill.

mod common;

mod drills {
    pub mod census;
    pub mod compute_faults;
    pub mod hostile;
    pub mod reports;
    pub mod sigkill;
    pub mod store_races;
}
