//! Server-side apply (`kubectl apply --server-side`): create the pod when absent, else merge the
//! applied configuration into it with the pod's strategic merge rules.
//!
//! # Caveats
//! k8sless keeps no `managedFields`: a field dropped from the applied configuration is not
//! removed, and conflicts between field managers are not detected. For pods, whose spec is
//! immutable after creation, that leaves metadata: remove a label with `kubectl label pod x key-`.

use k8s_openapi::api::core::v1::Pod;
use serde_json::Value;

use super::replace::{Part, PatchKind};
use crate::error::{Error, Result};
use crate::pods::{DryRun, Pods};

/// What server-side apply did.
#[derive(Debug, Clone)]
pub struct Applied {
    /// The pod as stored (or as it would be, for a dry run).
    pub pod: Pod,
    /// Whether the pod was created (201) rather than patched (200).
    pub created: bool,
}

impl Pods {
    /// Applies `configuration` (the body as JSON; `pod` is the same decoded) to pod `name`.
    ///
    /// # Errors
    /// 400 when the body names another pod; then what create or patch answer.
    pub async fn apply(
        &self,
        namespace: &str,
        name: &str,
        pod: Pod,
        configuration: Value,
        dry_run: DryRun,
    ) -> Result<Applied> {
        if pod.metadata.name.as_deref().is_some_and(|n| n != name) {
            return Err(Error::bad_request(format!(
                "the name of the object ({}) does not match the name on the URL ({name})",
                pod.metadata.name.as_deref().unwrap_or("")
            )));
        }
        match self.get(namespace, name).await {
            Err(Error::NotFound { .. }) => {
                let pod = self.create(Some(namespace), pod, dry_run).await?;
                Ok(Applied { pod, created: true })
            }
            Err(e) => Err(e),
            Ok(_) => {
                let patched = self
                    .patch(
                        namespace,
                        name,
                        PatchKind::Strategic,
                        configuration,
                        Part::Main,
                        dry_run,
                    )
                    .await?;
                Ok(Applied {
                    pod: patched.pod,
                    created: false,
                })
            }
        }
    }
}
