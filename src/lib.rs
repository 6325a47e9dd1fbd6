//! k8sless: the Kubernetes Pod API without a cluster. Each pod runs on its own one-time
//! Compute Engine VM; see docs/architecture.md for the layout, the flows and the layer rules
//! (checked by tests/layers.rs).
//!
//! Public: [`cli`] (what `src/main.rs` runs), [`sim`] (the Compute Engine simulator, also a
//! subcommand) and [`testing`] (the in-process stack and the surface `tests/` use). Every other
//! module is `pub(crate)`, so `unreachable_pub` and the dead-code lints see the whole crate.

#![warn(missing_docs, unreachable_pub)]

pub(crate) mod api;
pub(crate) mod auth;
pub mod cli;
pub(crate) mod codec;
pub(crate) mod config;
pub(crate) mod error;
pub(crate) mod gce;
pub(crate) mod guest;
pub(crate) mod http;
pub(crate) mod kubelet;
pub(crate) mod logging;
pub(crate) mod objects;
pub(crate) mod pods;
pub(crate) mod push;
pub(crate) mod rbac;
pub(crate) mod retry;
pub mod sim;
pub(crate) mod store;
pub(crate) mod stream;
pub(crate) mod telemetry;
pub mod testing;
pub(crate) mod tls;
pub(crate) mod translate;
