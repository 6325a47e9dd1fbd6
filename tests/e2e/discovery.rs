//! Discovery as kube-apiserver answers it (trailing slashes, HEAD, `/openapi/v2` absent),
//! the read-only namespaces, and `hostNetwork: false` accepted with a Warning (issue 14).

use serde_json::{Value, json};

use super::k8s_schema::assert_valid;
use crate::common::{self, http, labelled_pod as pod};

async fn get(base: &str, path: &str, accept: &str) -> (u16, reqwest::header::HeaderMap, Value) {
    let r = http()
        .get(format!("{base}{path}"))
        .header("Accept", accept)
        .send()
        .await
        .expect("get");
    let code = r.status().as_u16();
    let headers = r.headers().clone();
    (code, headers, r.json().await.unwrap_or(Value::Null))
}

#[tokio::test]
async fn discovery_answers_with_and_without_trailing_slash_and_to_head() {
    let stack = common::stack().await;
    for (path, kind) in [
        ("/version", None),
        ("/api", Some("APIVersions")),
        ("/api/v1", Some("APIResourceList")),
        ("/apis", Some("APIGroupList")),
    ] {
        let (code, _, plain) = get(&stack.base, path, "application/json").await;
        assert_eq!(code, 200, "GET {path}");
        let slashed = format!("{path}/");
        let (code, _, with_slash) = get(&stack.base, &slashed, "application/json").await;
        assert_eq!(code, 200, "GET {slashed}");
        assert_eq!(plain, with_slash, "{path} and {slashed} differ");
        if let Some(kind) = kind {
            assert_eq!(plain["kind"], kind, "{path}");
        } else {
            assert_eq!(plain["gitVersion"], "v1.33.0-k8sless");
        }
        for p in [path, slashed.as_str()] {
            let r = http()
                .head(format!("{}{p}", stack.base))
                .send()
                .await
                .expect("head");
            assert_eq!(r.status().as_u16(), 200, "HEAD {p}");
        }
    }
    // kube-apiserver serves /openapi/v2; we serve only v3, and answer v2 as any absent path:
    // a 404 Status (kubectl then uses v3).
    let (code, _, status) = get(&stack.base, "/openapi/v2", "application/json").await;
    assert_eq!(code, 404);
    assert_eq!(status["kind"], "Status");
    assert_eq!(status["reason"], "NotFound");
}

#[tokio::test]
async fn namespaces_are_default_those_with_pods_and_those_created() {
    let stack = common::stack().await;
    let (code, _, list) = get(&stack.base, "/api/v1/namespaces", "application/json").await;
    assert_eq!(code, 200);
    assert_valid("io.k8s.api.core.v1.NamespaceList", &list);
    let names = |l: &Value| -> Vec<String> {
        l["items"]
            .as_array()
            .expect("items")
            .iter()
            .filter_map(|n| n["metadata"]["name"].as_str().map(String::from))
            .collect()
    };
    assert_eq!(names(&list), ["default"]);

    let r = http()
        .post(format!("{}/api/v1/namespaces/team-a/pods", stack.base))
        .json(&pod("in-team-a"))
        .send()
        .await
        .expect("post");
    assert_eq!(r.status().as_u16(), 201);
    let (_, _, list) = get(&stack.base, "/api/v1/namespaces", "application/json").await;
    assert_eq!(names(&list), ["default", "team-a"]);
    let (code, _, ns) = get(&stack.base, "/api/v1/namespaces/team-a", "application/json").await;
    assert_eq!(code, 200);
    assert_valid("io.k8s.api.core.v1.Namespace", &ns);
    assert_eq!(ns["status"]["phase"], "Active");
    assert_eq!(
        ns["metadata"]["labels"]["kubernetes.io/metadata.name"],
        "team-a"
    );
    assert!(ns["metadata"]["creationTimestamp"].is_string());
    let (code, _, _) = get(
        &stack.base,
        "/api/v1/namespaces/default",
        "application/json",
    )
    .await;
    assert_eq!(code, 200);
    let (code, _, status) = get(&stack.base, "/api/v1/namespaces/nope", "application/json").await;
    assert_eq!(code, 404);
    assert_eq!(status["message"], "namespaces \"nope\" not found");
    assert_eq!(status["details"]["kind"], "namespaces");

    // A created namespace is an object of its own (the Namespace schema holds).
    let r = http()
        .post(format!("{}/api/v1/namespaces", stack.base))
        .json(&json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "new"}}))
        .send()
        .await
        .expect("post");
    assert_eq!(r.status().as_u16(), 201);
    let created: Value = r.json().await.expect("namespace");
    assert_valid("io.k8s.api.core.v1.Namespace", &created);
    let (_, _, list) = get(&stack.base, "/api/v1/namespaces", "application/json").await;
    assert_eq!(names(&list), ["default", "new", "team-a"]);

    let table_accept = "application/json;as=Table;v=v1;g=meta.k8s.io,application/json";
    let (code, headers, table) = get(&stack.base, "/api/v1/namespaces", table_accept).await;
    assert_eq!(code, 200);
    assert!(
        headers["content-type"]
            .to_str()
            .is_ok_and(|c| c.contains("as=Table"))
    );
    assert_eq!(table["rows"][2]["cells"][0], "team-a");
    assert_eq!(table["rows"][2]["cells"][1], "Active");

    let (code, _, discovery) = get(&stack.base, "/api/v1", "application/json").await;
    assert_eq!(code, 200);
    let entry = resource(&discovery, "namespaces");
    assert_eq!(entry["namespaced"], false);
    assert_eq!(
        entry["verbs"],
        json!([
            "create", "delete", "get", "list", "patch", "update", "watch"
        ])
    );
    let quotas = resource(&discovery, "resourcequotas");
    assert_eq!(quotas["namespaced"], true);
    assert_eq!(quotas["shortNames"], json!(["quota"]));
}

/// The entry for `name` in an `APIResourceList`.
fn resource<'a>(list: &'a Value, name: &str) -> &'a Value {
    let resources = list["resources"].as_array().expect("resources");
    let found = resources.iter().find(|r| r["name"] == name);
    found.unwrap_or_else(|| panic!("{name} in discovery"))
}

#[tokio::test]
async fn namespace_watch_lists_then_ends() {
    let stack = common::stack().await;
    let r = http()
        .get(format!(
            "{}/api/v1/namespaces?watch=true&timeoutSeconds=1",
            stack.base
        ))
        .send()
        .await
        .expect("watch");
    assert_eq!(r.status().as_u16(), 200);
    let body = r.text().await.expect("body");
    let events: Vec<Value> = body
        .lines()
        .map(|l| serde_json::from_str(l).expect("event"))
        .collect();
    assert_eq!(events.len(), 1, "{body}");
    assert_eq!(events[0]["type"], "ADDED");
    assert_eq!(events[0]["object"]["metadata"]["name"], "default");
}

#[tokio::test]
async fn host_network_false_is_accepted_with_a_warning_and_kept() {
    let stack = common::stack().await;
    let mut body = pod("no-host-net");
    body["spec"]["hostNetwork"] = false.into();
    let path = "/api/v1/namespaces/default/pods";
    let r = common::request(&stack.base, reqwest::Method::POST, path, Some(body)).await;
    assert_eq!(r.status().as_u16(), 201);
    let warnings: Vec<String> = r
        .headers()
        .get_all("warning")
        .iter()
        .filter_map(|v| v.to_str().ok().map(String::from))
        .collect();
    assert!(
        warnings
            .iter()
            .any(|w| w.starts_with("299 - ") && w.contains("runs on its VM's network")),
        "{warnings:?}"
    );
    let created: Value = r.json().await.expect("json");
    assert_eq!(created["spec"]["hostNetwork"], false);
    // The VM's kubelet gets hostNetwork: true: the pod runs on the VM's network.
    let instance = common::vm_of(&stack, &created).expect("instance");
    let manifest = instance
        .metadata_value("k8sless-manifest")
        .expect("manifest")
        .to_string();
    let manifest: Value = serde_json::from_str(&manifest).expect("manifest json");
    assert_eq!(manifest["spec"]["hostNetwork"], true);
}
