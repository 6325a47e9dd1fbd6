//! Creating, reading, listing and deleting pods, and the Kubernetes rules they share (names,
//! defaults) plus the identity check of the VM that speaks for a pod.

pub(crate) mod ahead;
#[cfg(test)]
pub(crate) mod bench_fixture;
pub(crate) mod create;
pub(crate) mod decoded;
pub(crate) mod defaults;
pub(crate) mod delete;
pub(crate) mod identity;
pub(crate) use crate::objects::names;
pub(crate) mod read;
pub(crate) mod snapshot;
