//! `PATCH` of the objects k8sless keeps whole (Namespaces, ResourceQuotas): the JSON patch and
//! merge patch of [`super::patch`] on the object's JSON. A strategic merge patch is applied as
//! a merge patch: these kinds' metadata maps merge the same way, and their only lists
//! (`spec.finalizers`) have no merge key, so strategic merge replaces them as merge patch does;
//! `$patch` directives are not read.

use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::Value;

use super::patch::{apply_json_patch, apply_merge_patch, check_result};
use super::replace::{PatchKind, patch_error};
use crate::error::{Error, Result};

/// `current` with `patch` applied, decoded back into its type.
///
/// # Errors
/// 400 for a malformed patch or a result that is not a `K`; 422 for a patch that cannot apply;
/// 413 for a result past the patch bound.
pub(crate) fn patch_object<K: Serialize + DeserializeOwned>(
    current: &K,
    kind: &PatchKind,
    patch: &Value,
) -> Result<K> {
    let doc = serde_json::to_value(current).map_err(|e| Error::internal_from("encoding", e))?;
    let patched = match kind {
        PatchKind::Json => apply_json_patch(&doc, patch).map_err(patch_error)?,
        PatchKind::Merge | PatchKind::Strategic => {
            if !patch.is_object() {
                return Err(Error::bad_request("a merge patch must be a JSON object"));
            }
            apply_merge_patch(&doc, patch)
        }
    };
    check_result(&patched).map_err(patch_error)?;
    serde_json::from_value(patched)
        .map_err(|e| Error::bad_request(format!("the patched object does not decode: {e}")))
}
