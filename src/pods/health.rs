//! Whether the pod service can serve: its record store answers.

use super::Pods;
use crate::store::StoreError;

impl Pods {
    /// `Ok` when the record store answers (`/readyz`).
    pub(crate) async fn ready(&self) -> Result<(), StoreError> {
        self.store.ready().await
    }
}
