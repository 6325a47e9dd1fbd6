//! Changing an existing pod: `PUT` ([`replace`]), the three `PATCH` formats ([`patch`]: JSON
//! patch and merge patch through the `json-patch` crate, [`strategic`] merge patch with
//! [`patch_meta`] and [`list_order`]), server-side apply ([`apply`]), and [`rules`]: what
//! Kubernetes lets an update change.

pub(crate) mod apply;
pub(crate) mod list_order;
pub(crate) mod object_patch;
pub(crate) mod patch;
pub(crate) mod patch_meta;
pub(crate) mod replace;
pub(crate) mod rules;
pub(crate) mod strategic;
