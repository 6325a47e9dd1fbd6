//! Bodies to objects, with Kubernetes semantics, for every layer that reads them: the API
//! (request bodies), the pod service (patched documents) and the CLI (`k8sless render`).
//!
//! Nothing here knows HTTP: callers pass the media type as a string. [`decode`] turns JSON or
//! YAML bytes into a `serde_json::Value` and a `Value` into a typed object, applying
//! `fieldValidation`, within [`bounded`]'s memory budget; [`strict`] finds the fields a schema
//! does not declare; [`text`] cuts strings on character boundaries; [`protobuf`] reads the
//! Kubernetes protobuf bodies kubectl's typed clients send for a few kinds.

pub(crate) mod bounded;
pub(crate) mod decode;
pub(crate) mod protobuf;
pub(crate) mod strict;
pub(crate) mod text;
