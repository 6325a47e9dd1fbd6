//! RBAC, the Kubernetes way (docs/teams.md): what a request asks ([`request_info`]), what a
//! rule allows and the built-in ClusterRoles ([`rules`]), the indexed policy and its check
//! ([`policy`]), and the authorizer every API request passes, with its kube-apiserver denial
//! ([`authorizer`]).

pub(crate) mod authorizer;
#[cfg(test)]
mod bench;
pub(crate) mod objects;
pub(crate) mod policy;
pub(crate) mod request_info;
pub(crate) mod rules;
pub(crate) mod write;

pub(crate) use authorizer::{Authorizer, forbidden};
pub(crate) use request_info::{RequestInfo, resolve};
