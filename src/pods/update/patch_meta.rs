//! Which Pod lists a strategic merge patch merges, and by which key.
//!
//! Kubernetes declares this in its Go types (`patchStrategy:"merge"`, `patchMergeKey:"name"`)
//! and publishes it as `x-kubernetes-patch-strategy` / `x-kubernetes-patch-merge-key` in its
//! OpenAPI document; k8s-openapi does not carry it. [`POD_PATCH_META`] is that data for every type
//! reachable from Pod, checked by a test against the published Kubernetes document. It is the
//! one source for both our strategic merge patch ([`super::strategic`]) and the extensions of
//! our OpenAPI document, which kubectl reads to compute the patches it sends us.

/// How one list field of a Kubernetes type is patched (its Go `patchStrategy`/`patchMergeKey`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct ListPatchMeta {
    /// The OpenAPI schema name of the type holding the field.
    pub schema: &'static str,
    /// The JSON field name.
    pub field: &'static str,
    /// `merge`, or `merge,retainKeys`.
    pub strategy: &'static str,
    /// The key identifying list elements (absent for lists of scalars).
    pub merge_key: Option<&'static str>,
}

pub(crate) const POD: &str = "io.k8s.api.core.v1.Pod";
const META: &str = "io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta";
const SPEC: &str = "io.k8s.api.core.v1.PodSpec";
const STATUS: &str = "io.k8s.api.core.v1.PodStatus";
const CONTAINER: &str = "io.k8s.api.core.v1.Container";
const EPHEMERAL: &str = "io.k8s.api.core.v1.EphemeralContainer";
const CONTAINER_STATUS: &str = "io.k8s.api.core.v1.ContainerStatus";

const fn meta(
    schema: &'static str,
    field: &'static str,
    strategy: &'static str,
    key: &'static str,
) -> ListPatchMeta {
    ListPatchMeta {
        schema,
        field,
        strategy,
        merge_key: if key.is_empty() { None } else { Some(key) },
    }
}

/// Every list with a patch strategy in the types reachable from Pod (Kubernetes 1.33).
pub(crate) const POD_PATCH_META: &[ListPatchMeta] = &[
    meta(META, "finalizers", "merge", ""),
    meta(META, "ownerReferences", "merge", "uid"),
    meta(SPEC, "containers", "merge", "name"),
    meta(SPEC, "initContainers", "merge", "name"),
    meta(SPEC, "ephemeralContainers", "merge", "name"),
    meta(SPEC, "volumes", "merge,retainKeys", "name"),
    meta(SPEC, "imagePullSecrets", "merge", "name"),
    meta(SPEC, "hostAliases", "merge", "ip"),
    meta(SPEC, "topologySpreadConstraints", "merge", "topologyKey"),
    meta(SPEC, "schedulingGates", "merge", "name"),
    meta(SPEC, "resourceClaims", "merge,retainKeys", "name"),
    meta(CONTAINER, "env", "merge", "name"),
    meta(CONTAINER, "ports", "merge", "containerPort"),
    meta(CONTAINER, "volumeMounts", "merge", "mountPath"),
    meta(CONTAINER, "volumeDevices", "merge", "devicePath"),
    meta(EPHEMERAL, "env", "merge", "name"),
    meta(EPHEMERAL, "ports", "merge", "containerPort"),
    meta(EPHEMERAL, "volumeMounts", "merge", "mountPath"),
    meta(EPHEMERAL, "volumeDevices", "merge", "devicePath"),
    meta(STATUS, "conditions", "merge", "type"),
    meta(STATUS, "podIPs", "merge", "ip"),
    meta(STATUS, "hostIPs", "merge", "ip"),
    meta(STATUS, "resourceClaimStatuses", "merge,retainKeys", "name"),
    meta(CONTAINER_STATUS, "volumeMounts", "merge", "mountPath"),
    meta(
        CONTAINER_STATUS,
        "allocatedResourcesStatus",
        "merge",
        "name",
    ),
];

/// The schema of field `field` of `schema` (for a list, of its elements), where it leads to a
/// type that has list patch metadata somewhere below it; `None` elsewhere.
pub(crate) fn child_schema(schema: &str, field: &str) -> Option<&'static str> {
    Some(match (schema, field) {
        (POD, "metadata") => META,
        (POD, "spec") => SPEC,
        (POD, "status") => STATUS,
        (SPEC, "containers" | "initContainers") => CONTAINER,
        (SPEC, "ephemeralContainers") => EPHEMERAL,
        (STATUS, "containerStatuses" | "initContainerStatuses" | "ephemeralContainerStatuses") => {
            CONTAINER_STATUS
        }
        _ => return None,
    })
}

/// The patch metadata of list field `field` of `schema`, if it merges.
pub(crate) fn list_meta(schema: Option<&str>, field: &str) -> Option<&'static ListPatchMeta> {
    let schema = schema?;
    POD_PATCH_META
        .iter()
        .find(|m| m.schema == schema && m.field == field)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::Value;

    /// The table must hold exactly the patch extensions Kubernetes publishes for the types
    /// reachable from Pod, and [`child_schema`] must lead to every type that has one.
    #[test]
    fn patch_meta_matches_the_kubernetes_openapi() {
        let Some(text) = crate::testing::fixture_text("kubernetes-1.35-api-v1-openapi.json") else {
            return;
        };
        let doc: Value = serde_json::from_str(&text).expect("fixture parses");
        let schemas = &doc["components"]["schemas"];
        let published = published_patch_meta(schemas);
        let ours: Vec<_> = POD_PATCH_META
            .iter()
            .map(|m| {
                (
                    m.schema.to_string(),
                    m.field.to_string(),
                    m.strategy.to_string(),
                    m.merge_key.map(String::from),
                )
            })
            .collect();
        for entry in &published {
            assert!(
                ours.contains(entry),
                "missing from POD_PATCH_META: {entry:?}"
            );
        }
        let reached = reached_from_pod(schemas);
        for entry in &ours {
            assert!(
                published.contains(entry),
                "not published by Kubernetes: {entry:?}"
            );
            assert!(
                reached.contains(&entry.0),
                "no path from Pod to {}",
                entry.0
            );
        }
    }

    type Entry = (String, String, String, Option<String>);

    /// The patch extensions published for the schemas reachable from Pod, checking on the way
    /// that [`child_schema`] names the schema each field refers to.
    fn published_patch_meta(schemas: &Value) -> Vec<Entry> {
        let mut stack = vec![POD.to_string()];
        let mut seen = std::collections::BTreeSet::new();
        let mut published = Vec::new();
        while let Some(name) = stack.pop() {
            if !seen.insert(name.clone()) {
                continue;
            }
            let Some(props) = schemas[&name]["properties"].as_object() else {
                continue;
            };
            for (field, prop) in props {
                if let Some(strategy) = prop["x-kubernetes-patch-strategy"].as_str() {
                    published.push((
                        name.clone(),
                        field.clone(),
                        strategy.to_string(),
                        prop["x-kubernetes-patch-merge-key"]
                            .as_str()
                            .map(String::from),
                    ));
                }
                let text = prop.to_string();
                for part in text.split("#/components/schemas/").skip(1) {
                    let target = part.split('"').next().unwrap_or_default().to_string();
                    if let Some(child) = child_schema(&name, field) {
                        assert_eq!(child, target, "{name}.{field}");
                    }
                    stack.push(target);
                }
            }
        }
        published
    }

    /// The schemas [`child_schema`] leads to from Pod.
    fn reached_from_pod(schemas: &Value) -> Vec<String> {
        let mut reached = vec![POD.to_string()];
        let mut i = 0;
        while let Some(name) = reached.get(i).cloned() {
            for field in schemas[&name]["properties"]
                .as_object()
                .map(|p| p.keys().cloned().collect::<Vec<_>>())
                .unwrap_or_default()
            {
                if let Some(child) =
                    child_schema(&name, &field).filter(|c| !reached.iter().any(|r| r == c))
                {
                    reached.push(child.to_string());
                }
            }
            i += 1;
        }
        reached
    }
}
