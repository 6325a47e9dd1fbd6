//! Compute Engine: the typed REST client, its error type, URL builders (no I/O) and the
//! machine-type catalog shared with the simulator and the Pod → VM translation. Retries go
//! through [`crate::retry`], the loop the Storage client uses too.
//!
//! Only [`types`] (the REST resources) and the client's surface re-exported here are public;
//! the rest is crate-internal.

pub(crate) mod catalog;
pub(crate) mod client;
pub(crate) mod error;
pub(crate) mod request;
pub mod types;

pub use client::{Client, ClientConfig, Inserted};
pub use error::GceError;
pub use request::ListFilter;
