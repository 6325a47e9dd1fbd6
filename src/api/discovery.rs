//! Version and API discovery documents: what kubectl reads before any pod request.
//!
//! kubectl (client-go 1.33) starts with `GET /api` and `GET /apis`, asking first for aggregated
//! discovery (`apidiscovery.k8s.io/v2` `APIGroupDiscoveryList`) and falling back to the legacy
//! documents (`APIVersions`, `APIGroupList`, then `GET /api/v1` for an `APIResourceList`). It
//! decides which one it got from the response `Content-Type` alone, so the aggregated answer
//! must carry [`AGGREGATED_DISCOVERY_CONTENT_TYPE`]. Both forms are built here from one table of
//! resources (`RESOURCES`), so they cannot disagree.
//!
//! The named groups (RBAC, the self reviews, `metrics.k8s.io` for `kubectl top pod`) are
//! `discovery_groups.rs`'. In the core group: `pods` (with the `log` and `status`
//! subresources), `events` (read-only, for `kubectl describe`), `namespaces` (cluster-scoped)
//! and `resourcequotas`. `deletecollection` is deliberately not advertised: we do
//! not implement it, and kubectl only uses verbs that discovery lists.
//!
//! Every document answers with or without a trailing slash (`/version/`, `/api/`, `/api/v1/`,
//! `/apis/`, as kube-apiserver does; kr8s asks for `/version/` first) and to `HEAD`. The legacy
//! documents are the k8s-openapi types (`APIVersions`, `APIGroupList`, `APIResourceList`,
//! `version::Info`); the aggregated form has no type there and is built as JSON.
//!
//! `GET /version` reports Kubernetes 1.33 (the API level we implement); gcloud's kubectl
//! dispatcher uses it to pick its bundled kubectl 1.33.

use k8s_openapi::apimachinery::pkg::apis::meta::v1::{APIResource, APIResourceList, APIVersions};
use k8s_openapi::apimachinery::pkg::version::Info;
use serde_json::{Value, json};

use super::accept::negotiate;

/// The Kubernetes release whose Pod API we implement: (major, minor, gitVersion).
pub(crate) const KUBERNETES_VERSION: (&str, &str, &str) = ("1", "33", "v1.33.0-k8sless");

/// The `Content-Type` of an aggregated discovery response. client-go checks its `g`, `v` and
/// `as` parameters to tell it from a legacy `APIVersions` / `APIGroupList` body.
pub(crate) const AGGREGATED_DISCOVERY_CONTENT_TYPE: &str =
    "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList";

/// One resource or subresource of the core group, as discovery describes it.
struct Resource {
    /// `pods`, or `pods/log` for a subresource.
    name: &'static str,
    singular: &'static str,
    kind: &'static str,
    namespaced: bool,
    verbs: &'static [&'static str],
    short_names: &'static [&'static str],
    categories: &'static [&'static str],
}

/// Everything we serve under `/api/v1`, parents before their subresources.
const RESOURCES: &[Resource] = &[
    Resource {
        name: "events",
        singular: "event",
        kind: "Event",
        namespaced: true,
        verbs: &["get", "list", "watch"],
        short_names: &["ev"],
        categories: &[],
    },
    Resource {
        name: "namespaces",
        singular: "namespace",
        kind: "Namespace",
        namespaced: false,
        verbs: &[
            "create", "delete", "get", "list", "patch", "update", "watch",
        ],
        short_names: &["ns"],
        categories: &[],
    },
    Resource {
        name: "resourcequotas",
        singular: "resourcequota",
        kind: "ResourceQuota",
        namespaced: true,
        verbs: &["create", "delete", "get", "list", "patch", "update"],
        short_names: &["quota"],
        categories: &[],
    },
    Resource {
        name: "pods",
        singular: "pod",
        kind: "Pod",
        namespaced: true,
        verbs: &[
            "create", "delete", "get", "list", "patch", "update", "watch",
        ],
        short_names: &["po"],
        categories: &["all"],
    },
    Resource {
        name: "pods/log",
        singular: "",
        kind: "Pod",
        namespaced: true,
        verbs: &["get"],
        short_names: &[],
        categories: &[],
    },
    Resource {
        name: "pods/status",
        singular: "",
        kind: "Pod",
        namespaced: true,
        verbs: &["get", "patch", "update"],
        short_names: &[],
        categories: &[],
    },
];

fn strings(items: &[&str]) -> Vec<String> {
    items.iter().map(|s| (*s).to_string()).collect()
}

fn non_empty(items: &[&str]) -> Option<Vec<String>> {
    (!items.is_empty()).then(|| strings(items))
}

/// A resource as the legacy `APIResourceList` documents describe it, core group or named.
pub(super) fn api_resource(
    name: &str,
    singular: &str,
    kind: &str,
    namespaced: bool,
    verbs: &[&str],
) -> APIResource {
    APIResource {
        name: name.into(),
        singular_name: singular.into(),
        namespaced,
        kind: kind.into(),
        verbs: strings(verbs),
        ..Default::default()
    }
}

fn to_value<T: serde::Serialize>(document: &T) -> Value {
    serde_json::to_value(document).unwrap_or(Value::Null)
}

/// `GET /version`: the `version.Info` document.
pub(crate) fn version_info() -> Value {
    let (major, minor, git_version) = KUBERNETES_VERSION;
    let arch = match std::env::consts::ARCH {
        "x86_64" => "amd64",
        "aarch64" => "arm64",
        other => other,
    };
    to_value(&Info {
        major: major.into(),
        minor: minor.into(),
        emulation_major: Some(major.into()),
        emulation_minor: Some(minor.into()),
        min_compatibility_major: Some(major.into()),
        min_compatibility_minor: Some(minor.into()),
        git_version: git_version.into(),
        git_commit: String::new(),
        git_tree_state: "clean".into(),
        build_date: "1970-01-01T00:00:00Z".into(),
        go_version: String::new(),
        compiler: "rustc".into(),
        platform: format!("{}/{}", std::env::consts::OS, arch),
    })
}

/// `GET /api` (legacy form): the `APIVersions` document listing `v1`.
pub(crate) fn api_versions() -> Value {
    to_value(&APIVersions {
        versions: vec!["v1".into()],
        server_address_by_client_cidrs: vec![],
    })
}

/// `GET /api/v1`: the `APIResourceList` of the core group.
pub(crate) fn api_resource_list_v1() -> Value {
    let resources = RESOURCES
        .iter()
        .map(|r| APIResource {
            short_names: non_empty(r.short_names),
            categories: non_empty(r.categories),
            ..api_resource(r.name, r.singular, r.kind, r.namespaced, r.verbs)
        })
        .collect();
    to_value(&APIResourceList {
        group_version: "v1".into(),
        resources,
    })
}

/// `GET /api` (aggregated form): an `APIGroupDiscoveryList` holding the core group, `v1`,
/// with each resource's subresources nested under it. Serve with
/// [`AGGREGATED_DISCOVERY_CONTENT_TYPE`].
pub(crate) fn aggregated_discovery_v2() -> Value {
    let resources: Vec<Value> = RESOURCES
        .iter()
        .filter(|r| !r.name.contains('/'))
        .map(|r| {
            let prefix = format!("{}/", r.name);
            let subresources: Vec<Value> = RESOURCES
                .iter()
                .filter_map(|s| {
                    let sub = s.name.strip_prefix(&prefix)?;
                    Some(json!({
                        "subresource": sub,
                        "responseKind": { "group": "", "version": "v1", "kind": s.kind },
                        "verbs": s.verbs,
                    }))
                })
                .collect();
            let mut entry = json!({
                "resource": r.name,
                "responseKind": { "group": "", "version": "v1", "kind": r.kind },
                "scope": if r.namespaced { "Namespaced" } else { "Cluster" },
                "singularResource": r.singular,
                "verbs": r.verbs,
            });
            if !r.short_names.is_empty() {
                entry["shortNames"] = json!(r.short_names);
            }
            if !r.categories.is_empty() {
                entry["categories"] = json!(r.categories);
            }
            if !subresources.is_empty() {
                entry["subresources"] = Value::Array(subresources);
            }
            entry
        })
        .collect();
    json!({
        "kind": "APIGroupDiscoveryList",
        "apiVersion": "apidiscovery.k8s.io/v2",
        "metadata": {},
        "items": [{
            "metadata": { "creationTimestamp": null },
            "versions": [{ "version": "v1", "resources": resources, "freshness": "Current" }],
        }],
    })
}

/// Whether `GET /api` or `GET /apis` should answer in aggregated form, given the request's
/// `Accept` header: true when the client's most preferred range that we can produce is
/// `apidiscovery.k8s.io/v2` `APIGroupDiscoveryList` (extra parameters such as
/// `profile=nopeer` are fine: we have no peers). Ranges we cannot produce (protobuf, `v2beta1`)
/// are skipped; plain JSON, or nothing we can produce, means the legacy form.
pub(crate) fn wants_aggregated(accept: &str) -> bool {
    negotiate(accept, |range| {
        if range.is_json_as("APIGroupDiscoveryList", "apidiscovery.k8s.io", "v2") {
            Some(true)
        } else if range.accepts_plain_json() {
            Some(false)
        } else {
            None
        }
    })
    .unwrap_or(false)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// What client-go 1.33 sends for `/api` and `/apis`.
    const KUBECTL_ACCEPT: &str = "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList,application/json;g=apidiscovery.k8s.io;v=v2beta1;as=APIGroupDiscoveryList,application/json";

    #[test]
    fn negotiates_aggregated_discovery() {
        assert!(wants_aggregated(KUBECTL_ACCEPT));
        assert!(wants_aggregated(
            "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList;profile=nopeer,application/json"
        ));
        assert!(wants_aggregated(
            "application/vnd.kubernetes.protobuf;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList,application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList"
        ));
        assert!(!wants_aggregated("application/json"));
        assert!(!wants_aggregated(""));
        assert!(!wants_aggregated(
            "application/json;g=apidiscovery.k8s.io;v=v2beta1;as=APIGroupDiscoveryList,application/json"
        ));
        assert!(!wants_aggregated(
            "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList;q=0.5,application/json"
        ));
    }

    #[test]
    fn content_type_carries_the_gvk_client_go_checks() {
        let ranges = super::super::accept::media_ranges(AGGREGATED_DISCOVERY_CONTENT_TYPE);
        assert!(ranges[0].is_json_as("APIGroupDiscoveryList", "apidiscovery.k8s.io", "v2"));
    }

    #[test]
    fn version_reports_1_33() {
        let v = version_info();
        assert_eq!(v["major"], "1");
        assert_eq!(v["minor"], "33");
        assert_eq!(v["gitVersion"], "v1.33.0-k8sless");
        assert!(v["platform"].as_str().is_some_and(|p| p.contains('/')));
    }

    #[test]
    fn legacy_resource_list_describes_pods_and_events() {
        let list = api_resource_list_v1();
        assert_eq!(list["groupVersion"], "v1");
        let find = |name: &str| {
            list["resources"]
                .as_array()
                .and_then(|rs| rs.iter().find(|r| r["name"] == name))
                .cloned()
        };
        let pods = find("pods").expect("pods listed");
        assert_eq!(pods["shortNames"], json!(["po"]));
        assert_eq!(pods["categories"], json!(["all"]));
        assert_eq!(pods["singularName"], "pod");
        assert_eq!(
            pods["verbs"],
            json!([
                "create", "delete", "get", "list", "patch", "update", "watch"
            ])
        );
        assert_eq!(find("pods/log").expect("log")["verbs"], json!(["get"]));
        assert_eq!(
            find("pods/status").expect("status")["verbs"],
            json!(["get", "patch", "update"])
        );
        assert_eq!(
            find("events").expect("events")["verbs"],
            json!(["get", "list", "watch"])
        );
        for r in list["resources"].as_array().expect("array") {
            assert_eq!(r["namespaced"], r["name"] != "namespaces", "{}", r["name"]);
        }
        let ns = find("namespaces").expect("namespaces listed");
        assert_eq!(ns["kind"], "Namespace");
        assert_eq!(ns["shortNames"], json!(["ns"]));
        assert_eq!(list["kind"], "APIResourceList");
    }

    #[test]
    fn aggregated_and_legacy_forms_agree() {
        let agg = aggregated_discovery_v2();
        assert_eq!(agg["apiVersion"], "apidiscovery.k8s.io/v2");
        let version = &agg["items"][0]["versions"][0];
        assert_eq!(version["version"], "v1");
        let resources = version["resources"].as_array().expect("resources");
        let pods = resources
            .iter()
            .find(|r| r["resource"] == "pods")
            .expect("pods");
        assert_eq!(pods["scope"], "Namespaced");
        assert_eq!(
            pods["responseKind"],
            json!({"group": "", "version": "v1", "kind": "Pod"})
        );
        let subs = crate::testing::strs_of(&pods["subresources"], "subresource");
        assert_eq!(subs, ["log", "status"]);
        // Every legacy entry appears in the aggregated form with the same verbs.
        for legacy in api_resource_list_v1()["resources"]
            .as_array()
            .expect("array")
        {
            let name = legacy["name"].as_str().expect("name");
            let verbs =
                match name.split_once('/') {
                    None => resources
                        .iter()
                        .find(|r| r["resource"] == name)
                        .map(|r| r["verbs"].clone()),
                    Some((parent, sub)) => resources
                        .iter()
                        .find(|r| r["resource"] == parent)
                        .and_then(|r| {
                            r["subresources"]
                                .as_array()?
                                .iter()
                                .find(|s| s["subresource"] == sub)
                                .map(|s| s["verbs"].clone())
                        }),
                };
            assert_eq!(verbs.as_ref(), Some(&legacy["verbs"]), "{name}");
        }
        assert_eq!(api_versions()["versions"], json!(["v1"]));
        assert_eq!(api_versions()["kind"], "APIVersions");
        let namespaces = resources
            .iter()
            .find(|r| r["resource"] == "namespaces")
            .expect("namespaces");
        assert_eq!(namespaces["scope"], "Cluster");
    }
}
