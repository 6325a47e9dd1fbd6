//! Volumes: names unique DNS-1123 labels; only emptyDir and downwardAPI, with what to use
//! instead of each kind a one-time VM cannot provide.

use std::collections::HashSet;

use k8s_openapi::api::core::v1::Volume;

use crate::error::Cause;
use crate::pods::crud::names;

/// Checks the volumes; returns their names, for the containers' volumeMounts.
pub(super) fn volumes(volumes: &[Volume], causes: &mut Vec<Cause>) -> HashSet<String> {
    let mut seen = HashSet::new();
    for (i, v) in volumes.iter().enumerate() {
        let path = format!("spec.volumes[{i}]");
        if let Err(e) = names::dns1123_label(&v.name) {
            causes.push(Cause::invalid(
                format!("{path}.name"),
                format!("{:?}: {e}", v.name),
            ));
        }
        if !seen.insert(v.name.clone()) {
            causes.push(Cause::duplicate(
                format!("{path}.name"),
                format!("{:?}", v.name),
            ));
        }
        let unsupported: Option<(&str, &str)> = if v.config_map.is_some() {
            Some((
                "configMap",
                "ConfigMaps do not exist in k8sless; bake the files into the image, pass them as env values, or fetch them at start (e.g. from Cloud Storage with the VM's service account)",
            ))
        } else if v.secret.is_some() {
            Some((
                "secret",
                "Kubernetes Secrets do not exist in k8sless; read secrets from Secret Manager in the container with the VM's service account (annotation iam.gke.io/gcp-service-account)",
            ))
        } else if v.persistent_volume_claim.is_some() {
            Some((
                "persistentVolumeClaim",
                "there are no PersistentVolumes in k8sless; use an emptyDir (the VM's boot disk, sized by the ephemeral-storage request) and copy results to Cloud Storage",
            ))
        } else if v.projected.is_some() {
            Some((
                "projected",
                "projected volumes need ConfigMaps, Secrets or service account tokens, which k8sless does not have; use downwardAPI or emptyDir",
            ))
        } else if v.host_path.is_some() {
            Some((
                "hostPath",
                "the VM's filesystem is Container-Optimized OS' and is not for pods; use an emptyDir",
            ))
        } else if v.ephemeral.is_some() {
            Some((
                "ephemeral",
                "generic ephemeral volumes need PersistentVolumeClaims; use an emptyDir sized with the ephemeral-storage request",
            ))
        } else if v.empty_dir.is_none() && v.downward_api.is_none() {
            Some((
                "volume",
                "only emptyDir and downwardAPI volumes are supported by k8sless",
            ))
        } else {
            None
        };
        if let Some((kind, what)) = unsupported {
            causes.push(Cause::forbidden(
                format!("{path}.{kind}"),
                format!("{kind} volumes are not supported: {what}"),
            ));
        }
    }
    seen
}

#[cfg(test)]
mod tests {
    use serde_json::{Value, json};

    use super::super::tests::{LABEL, check_rules};

    fn vol(v: Value) -> Value {
        json!({ "spec": { "volumes": [v] } })
    }

    #[test]
    fn names() {
        check_rules(vec![
            (
                vol(json!({ "name": "data-1", "emptyDir": {} })),
                vol(json!({ "name": "Data", "emptyDir": {} })),
                &format!("spec.volumes[0].name: Invalid value: \"Data\": {LABEL}"),
            ),
            (
                json!({ "spec": { "volumes": [
                    { "name": "a", "emptyDir": {} }, { "name": "b", "emptyDir": {} }
                ] } }),
                json!({ "spec": { "volumes": [
                    { "name": "a", "emptyDir": {} }, { "name": "a", "emptyDir": {} }
                ] } }),
                "spec.volumes[1].name: Duplicate value: \"a\"",
            ),
        ]);
    }

    #[test]
    fn only_empty_dir_and_downward_api() {
        let ok = vol(json!({ "name": "d", "downwardAPI": { "items": [] } }));
        check_rules(vec![
            (
                ok.clone(),
                vol(json!({ "name": "d", "configMap": { "name": "m" } })),
                "spec.volumes[0].configMap: Forbidden: configMap volumes are not supported: ConfigMaps do not exist in k8sless; bake the files into the image, pass them as env values, or fetch them at start (e.g. from Cloud Storage with the VM's service account)",
            ),
            (
                ok.clone(),
                vol(json!({ "name": "d", "secret": { "secretName": "s" } })),
                "spec.volumes[0].secret: Forbidden: secret volumes are not supported: Kubernetes Secrets do not exist in k8sless; read secrets from Secret Manager in the container with the VM's service account (annotation iam.gke.io/gcp-service-account)",
            ),
            (
                ok.clone(),
                vol(json!({ "name": "d", "persistentVolumeClaim": { "claimName": "c" } })),
                "spec.volumes[0].persistentVolumeClaim: Forbidden: persistentVolumeClaim volumes are not supported: there are no PersistentVolumes in k8sless; use an emptyDir (the VM's boot disk, sized by the ephemeral-storage request) and copy results to Cloud Storage",
            ),
            (
                ok.clone(),
                vol(json!({ "name": "d", "projected": { "sources": [] } })),
                "spec.volumes[0].projected: Forbidden: projected volumes are not supported: projected volumes need ConfigMaps, Secrets or service account tokens, which k8sless does not have; use downwardAPI or emptyDir",
            ),
            (
                ok.clone(),
                vol(json!({ "name": "d", "hostPath": { "path": "/" } })),
                "spec.volumes[0].hostPath: Forbidden: hostPath volumes are not supported: the VM's filesystem is Container-Optimized OS' and is not for pods; use an emptyDir",
            ),
            (
                ok.clone(),
                vol(json!({ "name": "d", "ephemeral": {} })),
                "spec.volumes[0].ephemeral: Forbidden: ephemeral volumes are not supported: generic ephemeral volumes need PersistentVolumeClaims; use an emptyDir sized with the ephemeral-storage request",
            ),
            (
                vol(json!({ "name": "d", "emptyDir": { "sizeLimit": "1Gi" } })),
                vol(json!({ "name": "d", "nfs": { "server": "s", "path": "/" } })),
                "spec.volumes[0].volume: Forbidden: volume volumes are not supported: only emptyDir and downwardAPI volumes are supported by k8sless",
            ),
        ]);
    }
}
