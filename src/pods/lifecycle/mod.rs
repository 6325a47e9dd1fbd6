//! A pod's life after its create (docs/lifecycle.md): guest reports merged into the record
//! ([`report`]), collection's periodic pass over VMs and records ([`collect`], deciding with
//! the pure rules of [`decide`] and (re)inserting VMs with [`reinsert`]), and Compute Engine
//! incidents that end a pod from outside ([`terminate`]). Every status change these make is a
//! function of [`transitions`].

pub(crate) mod collect_summary;
pub(crate) mod collect;
pub(crate) mod decide;
pub(crate) mod reinsert;
pub(crate) mod report;
pub(crate) mod terminate;
pub(crate) mod transitions;
