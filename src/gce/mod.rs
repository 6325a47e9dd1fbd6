//! Compute Engine: the typed REST client, its error type, URL builders, retry policy and the
//! machine-type catalog shared with the simulator and the Pod → VM translation.

pub(crate) mod catalog;
pub(crate) mod client;
pub(crate) mod error;
pub(crate) mod labels;
pub(crate) mod request;
pub(crate) mod types;

pub use client::{Client, ClientConfig, Inserted};
pub use error::GceError;
pub use request::ListFilter;
