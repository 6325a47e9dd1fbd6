//! A pod's life after its create (docs/lifecycle.md): guest reports merged into the record
//! ([`report`]), collection's periodic pass over VMs and records ([`collect`], deciding with
//! the pure rules of [`decide`] and (re)inserting VMs with [`reinsert`]), and Compute Engine
//! incidents that end a pod from outside ([`terminate`]). Every status change these make is a
//! function of [`transitions`].

pub(crate) mod collect;
pub(crate) mod collect_summary;
pub(crate) mod decide;
pub(crate) mod reinsert;
pub(crate) mod report;
pub(crate) mod terminate;
pub(crate) mod transitions;

use crate::error::{Error, Result};
use report::Merge;

/// `outcome` once the record change that decided it is done (`change`, as
/// [`crate::pods::record::modify`] returns it); a pod that no longer exists is acknowledged
/// and ignored, as Pub/Sub and Eventarc deliveries must be.
pub(crate) fn once_stored<T>(change: Result<T>, outcome: Merge) -> Result<Merge> {
    match change {
        Ok(_) => Ok(outcome),
        Err(Error::NotFound { .. }) => Ok(Merge::Ignored("the pod no longer exists")),
        Err(e) => Err(e),
    }
}
