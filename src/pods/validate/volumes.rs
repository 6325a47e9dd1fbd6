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
        if let Some((kind, what)) = unsupported(v) {
            causes.push(Cause::forbidden(
                format!("{path}.{kind}"),
                format!("{kind} volumes are not supported: {what}"),
            ));
        }
    }
    seen
}

/// The first kind `v` is of that a one-time VM cannot provide, with what to use instead; `None`
/// for emptyDir and downwardAPI.
fn unsupported(v: &Volume) -> Option<(&'static str, &'static str)> {
    let kinds = [
        (
            v.config_map.is_some(),
            "configMap",
            "ConfigMaps do not exist in k8sless; bake the files into the image, pass them as env values, or fetch them at start (e.g. from Cloud Storage with the VM's service account)",
        ),
        (
            v.secret.is_some(),
            "secret",
            "Kubernetes Secrets do not exist in k8sless; read secrets from Secret Manager in the container with the VM's service account (annotation iam.gke.io/gcp-service-account)",
        ),
        (
            v.persistent_volume_claim.is_some(),
            "persistentVolumeClaim",
            "there are no PersistentVolumes in k8sless; use an emptyDir (the VM's boot disk, sized by the ephemeral-storage request) and copy results to Cloud Storage",
        ),
        (
            v.projected.is_some(),
            "projected",
            "projected volumes need ConfigMaps, Secrets or service account tokens, which k8sless does not have; use downwardAPI or emptyDir",
        ),
        (
            v.host_path.is_some(),
            "hostPath",
            "the VM's filesystem is Container-Optimized OS' and is not for pods; use an emptyDir",
        ),
        (
            v.ephemeral.is_some(),
            "ephemeral",
            "generic ephemeral volumes need PersistentVolumeClaims; use an emptyDir sized with the ephemeral-storage request",
        ),
        (
            v.empty_dir.is_none() && v.downward_api.is_none(),
            "volume",
            "only emptyDir and downwardAPI volumes are supported by k8sless",
        ),
    ];
    kinds
        .into_iter()
        .find(|(is, _, _)| *is)
        .map(|(_, kind, what)| (kind, what))
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
