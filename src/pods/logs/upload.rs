//! A guest's upload of one container's log (`PUT /guest/v1/...`): the service, not the VM,
//! writes the archive object, under the uid of the pod the uploading VM runs.
//!
//! # Guarantees
//! The object written is `logs/<ns>/<name>/<uid>/<container>.log` of the pod whose record
//! names the uploading VM (same checks as a report: project, instance name, zone and, once
//! known, instance id); an upload for another pod, an earlier pod of the same name, or a
//! container the pod does not have is refused (403, 403, 404) and writes nothing.
//!
//! # Caveats
//! With token verification off (`k8sless dev`) only the uid is checked.

use bytes::Bytes;

use super::archive::{MAX_LOG_BYTES, archive_key, container_names};
use crate::error::{Error, Result};
use crate::pods::Pods;
use crate::pods::crud::identity::{VmIdentity, vm_mismatch};
use crate::pods::record;

/// Which log a guest uploads.
#[derive(Debug, Clone)]
pub(crate) struct LogUpload<'a> {
    /// Namespace of the pod.
    pub(crate) namespace: &'a str,
    /// Name of the pod.
    pub(crate) name: &'a str,
    /// The pod's uid, as the guest's configuration says.
    pub(crate) uid: &'a str,
    /// The container.
    pub(crate) container: &'a str,
}

impl Pods {
    /// Archives one container's log sent by the pod's VM; returns the object name.
    ///
    /// # Errors
    /// 403 when `identity` is not the pod's VM or `uid` is not the pod's; 404 for a pod or
    /// container that does not exist; 413 over [`MAX_LOG_BYTES`]; 503 when the store is
    /// unavailable.
    pub(crate) async fn archive_log(
        &self,
        up: &LogUpload<'_>,
        identity: Option<&VmIdentity>,
        data: Bytes,
    ) -> Result<String> {
        let rec = record::load(self.store(), up.namespace, up.name).await?;
        let pod = format!("{}/{}", up.namespace, up.name);
        if rec.pod.metadata.uid.as_deref() != Some(up.uid) {
            return Err(Error::Forbidden {
                message: format!("pod {pod} is not the pod with uid {:?}", up.uid),
            });
        }
        if let Some(identity) = identity {
            if let Some(why) = vm_mismatch(&rec, identity, &self.settings().project, &pod) {
                return Err(Error::Forbidden { message: why });
            }
        }
        if !container_names(&rec.pod).iter().any(|c| c == up.container) {
            return Err(Error::NotFound {
                kind: "containers",
                name: up.container.to_string(),
            });
        }
        if data.len() > MAX_LOG_BYTES {
            return Err(Error::TooLarge {
                limit: MAX_LOG_BYTES,
            });
        }
        let key = archive_key(up.namespace, up.name, up.uid, up.container);
        self.store()
            .put(&key, data, "text/plain; charset=utf-8")
            .await
            .map_err(|e| Error::pod_store(e, up.name))?;
        Ok(key)
    }
}
