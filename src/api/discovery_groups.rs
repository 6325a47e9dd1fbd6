//! Discovery of the named API groups (`/apis`): RBAC (`rbac.authorization.k8s.io/v1`), the
//! self reviews (`authorization.k8s.io/v1` `selfsubjectaccessreviews` and
//! `selfsubjectrulesreviews`,
//! `authentication.k8s.io/v1` `selfsubjectreviews`). kubectl resolves `rolebindings` or
//! `kubectl auth can-i` through these documents, so both forms (aggregated and legacy) come
//! from the one table [`GROUPS`], as the core group's do in `discovery.rs`.

use k8s_openapi::apimachinery::pkg::apis::meta::v1::{
    APIGroup, APIGroupList, APIResourceList, GroupVersionForDiscovery,
};
use serde_json::{Value, json};

use super::discovery::api_resource;

/// One resource of a named group.
pub(crate) struct GroupResource {
    pub(crate) name: &'static str,
    pub(crate) singular: &'static str,
    pub(crate) kind: &'static str,
    pub(crate) namespaced: bool,
    pub(crate) verbs: &'static [&'static str],
}

/// A named group, one version.
pub(crate) struct Group {
    pub(crate) name: &'static str,
    pub(crate) version: &'static str,
    pub(crate) resources: &'static [GroupResource],
}

const OBJECT_VERBS: &[&str] = &["create", "delete", "get", "list", "patch", "update"];

/// Every named group served.
pub(crate) const GROUPS: &[Group] = &[
    Group {
        name: "authentication.k8s.io",
        version: "v1",
        resources: &[GroupResource {
            name: "selfsubjectreviews",
            singular: "selfsubjectreview",
            kind: "SelfSubjectReview",
            namespaced: false,
            verbs: &["create"],
        }],
    },
    Group {
        name: "authorization.k8s.io",
        version: "v1",
        resources: &[
            GroupResource {
                name: "selfsubjectaccessreviews",
                singular: "selfsubjectaccessreview",
                kind: "SelfSubjectAccessReview",
                namespaced: false,
                verbs: &["create"],
            },
            GroupResource {
                name: "selfsubjectrulesreviews",
                singular: "selfsubjectrulesreview",
                kind: "SelfSubjectRulesReview",
                namespaced: false,
                verbs: &["create"],
            },
        ],
    },
    // `kubectl top pod`: PodMetrics from each pod's kubelet (`pods::metrics`). Listed whether
    // or not this deployment reaches kubelets, so `kubectl top` reaches the endpoint and its
    // 405 says what is missing, rather than "Metrics API not available". No `nodes`: k8sless
    // has no nodes to list.
    Group {
        name: "metrics.k8s.io",
        version: "v1beta1",
        resources: &[GroupResource {
            name: "pods",
            singular: "",
            kind: "PodMetrics",
            namespaced: true,
            verbs: &["get", "list"],
        }],
    },
    Group {
        name: "rbac.authorization.k8s.io",
        version: "v1",
        resources: &[
            GroupResource {
                name: "clusterrolebindings",
                singular: "clusterrolebinding",
                kind: "ClusterRoleBinding",
                namespaced: false,
                verbs: OBJECT_VERBS,
            },
            GroupResource {
                name: "clusterroles",
                singular: "clusterrole",
                kind: "ClusterRole",
                namespaced: false,
                verbs: OBJECT_VERBS,
            },
            GroupResource {
                name: "rolebindings",
                singular: "rolebinding",
                kind: "RoleBinding",
                namespaced: true,
                verbs: OBJECT_VERBS,
            },
            GroupResource {
                name: "roles",
                singular: "role",
                kind: "Role",
                namespaced: true,
                verbs: OBJECT_VERBS,
            },
        ],
    },
];

fn group_version(g: &Group) -> GroupVersionForDiscovery {
    GroupVersionForDiscovery {
        group_version: format!("{}/{}", g.name, g.version),
        version: g.version.into(),
    }
}

fn api_group(g: &Group) -> APIGroup {
    APIGroup {
        name: g.name.into(),
        preferred_version: Some(group_version(g)),
        versions: vec![group_version(g)],
        server_address_by_client_cidrs: None,
    }
}

/// `GET /apis` (legacy form).
pub(crate) fn api_group_list() -> Value {
    serde_json::to_value(APIGroupList {
        groups: GROUPS.iter().map(api_group).collect(),
    })
    .unwrap_or_default()
}

/// `GET /apis/<group>`, when served.
pub(crate) fn api_group_of(name: &str) -> Option<Value> {
    let g = GROUPS.iter().find(|g| g.name == name)?;
    serde_json::to_value(api_group(g)).ok()
}

/// `GET /apis/<group>/<version>`, when served.
pub(crate) fn api_resource_list(group: &str, version: &str) -> Option<Value> {
    let g = GROUPS
        .iter()
        .find(|g| g.name == group && g.version == version)?;
    let resources = g
        .resources
        .iter()
        .map(|r| api_resource(r.name, r.singular, r.kind, r.namespaced, r.verbs))
        .collect();
    serde_json::to_value(APIResourceList {
        group_version: format!("{}/{}", g.name, g.version),
        resources,
    })
    .ok()
}

/// `GET /apis` (aggregated form): an `APIGroupDiscoveryList` of every named group.
pub(crate) fn aggregated() -> Value {
    let items: Vec<Value> = GROUPS
        .iter()
        .map(|g| {
            let resources: Vec<Value> = g
                .resources
                .iter()
                .map(|r| {
                    json!({
                        "resource": r.name,
                        "responseKind": { "group": g.name, "version": g.version, "kind": r.kind },
                        "scope": if r.namespaced { "Namespaced" } else { "Cluster" },
                        "singularResource": r.singular,
                        "verbs": r.verbs,
                    })
                })
                .collect();
            json!({
                "metadata": { "name": g.name, "creationTimestamp": null },
                "versions": [{ "version": g.version, "resources": resources, "freshness": "Current" }],
            })
        })
        .collect();
    json!({
        "kind": "APIGroupDiscoveryList",
        "apiVersion": "apidiscovery.k8s.io/v2",
        "metadata": {},
        "items": items,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn both_forms_list_every_group_and_resource() {
        let legacy = api_group_list();
        let names: Vec<&str> = legacy["groups"]
            .as_array()
            .expect("groups")
            .iter()
            .filter_map(|g| g["name"].as_str())
            .collect();
        assert_eq!(
            names,
            [
                "authentication.k8s.io",
                "authorization.k8s.io",
                "metrics.k8s.io",
                "rbac.authorization.k8s.io"
            ]
        );
        let agg = aggregated();
        for g in GROUPS {
            let item = agg["items"]
                .as_array()
                .and_then(|items| items.iter().find(|i| i["metadata"]["name"] == g.name))
                .expect("group in aggregated form");
            let list = api_resource_list(g.name, g.version).expect("resource list");
            assert_eq!(list["groupVersion"], format!("{}/{}", g.name, g.version));
            let agg_names: Vec<&Value> = item["versions"][0]["resources"]
                .as_array()
                .expect("resources")
                .iter()
                .map(|r| &r["resource"])
                .collect();
            let legacy_names: Vec<&Value> = list["resources"]
                .as_array()
                .expect("resources")
                .iter()
                .map(|r| &r["name"])
                .collect();
            assert_eq!(agg_names, legacy_names);
        }
        let rb = api_resource_list("rbac.authorization.k8s.io", "v1").expect("rbac");
        assert_eq!(rb["resources"][2]["name"], "rolebindings");
        assert_eq!(rb["resources"][2]["namespaced"], true);
        assert!(api_resource_list("rbac.authorization.k8s.io", "v2").is_none());
        assert_eq!(
            api_group_of("rbac.authorization.k8s.io").expect("group")["preferredVersion"]["groupVersion"],
            "rbac.authorization.k8s.io/v1"
        );
    }
}
