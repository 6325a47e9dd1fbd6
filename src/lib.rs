//! k8sless: the Kubernetes Pod API without a cluster. Each pod runs on its own one-time
//! Compute Engine VM; see docs/architecture.md for the layout and the flows.

#![warn(missing_docs, unreachable_pub)]

pub mod api;
pub(crate) mod auth;
pub(crate) mod codec;
pub mod config;
pub mod error;
pub mod gce;
pub mod guest;
pub mod logging;
pub mod pods;
pub(crate) mod push;
pub mod retry;
pub mod sim;
pub mod store;
pub mod telemetry;
pub mod testing;
pub mod tls;
pub mod translate;
