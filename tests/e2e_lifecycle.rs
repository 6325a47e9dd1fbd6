//! End-to-end lifecycle tests against the in-process stack (API + simulator, explicit clock,
//! no simulated guests: the tests play the guest, Pub/Sub, Cloud Scheduler and Eventarc, with
//! tokens signed by the test key of tests/keys and verification on).

mod common;

#[path = "e2e_lifecycle/collect.rs"]
mod collect;
#[path = "e2e_lifecycle/dev.rs"]
mod dev;
#[path = "e2e_lifecycle/events.rs"]
mod events;
#[path = "e2e_lifecycle/hostile.rs"]
mod hostile;
#[path = "e2e_lifecycle/logs.rs"]
mod logs;
#[path = "e2e_lifecycle/reports.rs"]
mod reports;
