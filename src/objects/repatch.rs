//! A patch written on the version it was applied to, applied again to the new version when
//! another write got there first: what `PATCH` of a namespace and of a quota share.

use std::future::Future;

use super::{CAS_TRIES, Objects, StoredObject};
use crate::error::{Error, Result};

impl<K: StoredObject> Objects<K> {
    /// Reads the object, applies `patch` to it and hands the result to `write`; when `write`
    /// loses the compare-and-swap, does it all again on the new version. A patch that sets its
    /// own `resourceVersion` is a precondition instead: its conflict is the client's (409).
    ///
    /// # Errors
    /// `patch`'s and `write`'s; 404; 503 naming `what` after [`CAS_TRIES`] lost swaps.
    pub(crate) async fn patch_retried<T, Fut>(
        &self,
        namespace: Option<&str>,
        name: &str,
        what: &str,
        patch: impl Fn(&K) -> Result<K>,
        write: impl Fn(K) -> Fut,
    ) -> Result<T>
    where
        Fut: Future<Output = Result<T>>,
    {
        for _ in 0..CAS_TRIES {
            let stored = self.get(namespace, name).await?;
            let patched = patch(&stored)?;
            let own_precondition =
                patched.metadata().resource_version != stored.metadata().resource_version;
            match write(patched).await {
                Err(Error::Conflict { .. }) if !own_precondition => continue,
                other => return other,
            }
        }
        Err(Error::unavailable(format!(
            "{what} is being changed concurrently; retry"
        )))
    }
}
