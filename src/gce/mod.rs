//! Compute Engine: the typed REST client, its error type, URL builders, retry policy and the
//! machine-type catalog shared with the simulator and the Pod → VM translation.

pub mod catalog;
pub mod client;
pub mod error;
pub mod labels;
pub mod request;
pub mod types;

pub use client::{Client, ClientConfig, Inserted};
pub use error::GceError;
pub use request::ListFilter;
