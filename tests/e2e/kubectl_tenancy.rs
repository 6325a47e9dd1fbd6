//! Namespaces and ResourceQuota through real kubectl (each version of the kubectl suite):
//! `create namespace` and `create quota` (kubectl's typed client sends protobuf), `apply` of a
//! Namespace and a ResourceQuota (validated against the OpenAPI document), `annotate ns`,
//! `describe quota` (used and hard), the third pod over a 2-pod quota refused with
//! kube-apiserver's 403, a service account outside the namespace's policy refused with 422, and
//! `delete namespace` taking its pods and quota with it.

use std::time::{Duration, Instant};

use super::kubectl::Kubectl;

fn pod(name: &str, annotations: &str) -> String {
    format!(
        "apiVersion: v1\nkind: Pod\nmetadata:\n  name: {name}\n  annotations: {{{annotations}}}\nspec:\n  restartPolicy: Never\n  containers:\n  - name: c\n    image: busybox\n    command: [sleep, \"600\"]\n    resources: {{requests: {{cpu: \"1\"}}}}\n"
    )
}

pub(super) fn namespaces_and_quota(k: &Kubectl) {
    assert!(
        k.ok(&["create", "namespace", "team-a"])
            .contains("namespace/team-a created")
    );
    k.ok(&[
        "annotate",
        "namespace",
        "team-a",
        "k8sless.dev/allowed-service-accounts=batch@proj.iam.gserviceaccount.com",
    ]);
    assert!(
        k.ok(&["get", "ns"])
            .lines()
            .any(|l| l.starts_with("team-a ") && l.contains("Active"))
    );
    k.ok(&[
        "create",
        "quota",
        "team-quota",
        "-n",
        "team-a",
        "--hard=pods=2,requests.cpu=4,k8sless.dev/hourly-price=1",
    ]);
    for name in ["q1", "q2"] {
        let file = k.write(&format!("{name}.yaml"), &pod(name, ""));
        k.ok(&["apply", "-n", "team-a", "-f", &file]);
    }
    let file = k.write("q3.yaml", &pod("q3", ""));
    let refused = k.fails(&["apply", "-n", "team-a", "-f", &file]);
    assert!(
        refused.contains("pods \"q3\" is forbidden: exceeded quota: team-quota, requested: pods=1, used: pods=2, limited: pods=2"),
        "{refused}"
    );
    let described = k.ok(&["describe", "quota", "team-quota", "-n", "team-a"]);
    let row = |resource: &str| {
        described
            .lines()
            .find(|l| l.starts_with(resource))
            .map(|l| l.split_whitespace().skip(1).collect::<Vec<_>>())
            .unwrap_or_default()
    };
    assert_eq!(row("pods"), ["2", "2"], "{described}");
    assert_eq!(row("requests.cpu"), ["2", "4"], "{described}");
    assert_eq!(row("k8sless.dev/hourly-price").len(), 2, "{described}");

    // `apply` validates against the OpenAPI document (the namespace and quota PATCH operations).
    let team_b = k.write(
        "team-b.yaml",
        "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: team-b\n---\napiVersion: v1\nkind: ResourceQuota\nmetadata: {name: b-quota, namespace: team-b}\nspec: {hard: {pods: \"5\"}}\n",
    );
    let applied = k.ok(&["apply", "-f", &team_b]);
    assert!(
        applied.contains("namespace/team-b created")
            && applied.contains("resourcequota/b-quota created"),
        "{applied}"
    );
    let file = k.write(
        "sa.yaml",
        &pod(
            "sa",
            "iam.gke.io/gcp-service-account: evil@proj.iam.gserviceaccount.com",
        ),
    );
    let b1 = k.write("b1.yaml", &pod("b1", ""));
    k.ok(&["apply", "-n", "team-b", "-f", &b1]);
    let refused = k.fails(&["apply", "-n", "team-a", "-f", &file]);
    assert!(
        refused.contains("metadata.annotations[iam.gke.io/gcp-service-account]")
            && refused.contains("supported values: \"batch@proj.iam.gserviceaccount.com\""),
        "{refused}"
    );
    let out = k.run(&["delete", "namespace", "team-b", "--timeout=60s"]);
    let deleted = String::from_utf8_lossy(&out.stdout).to_string();
    if !out.status.success() {
        let ns = k.run(&["get", "namespace", "team-b", "-o", "yaml"]);
        let pods = k.run(&["get", "pods", "-n", "team-b", "-o", "yaml"]);
        panic!(
            "delete namespace: {}\nnamespace: {}{}\npods: {}",
            String::from_utf8_lossy(&out.stderr),
            String::from_utf8_lossy(&ns.stdout),
            String::from_utf8_lossy(&ns.stderr),
            String::from_utf8_lossy(&pods.stdout)
        );
    }
    assert!(
        deleted.contains("namespace \"team-b\" deleted"),
        "{deleted}"
    );
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let out = k.run(&["get", "namespace", "team-b"]);
        if String::from_utf8_lossy(&out.stderr).contains("namespaces \"team-b\" not found") {
            break;
        }
        assert!(Instant::now() < deadline, "team-b still listed");
        std::thread::sleep(Duration::from_millis(250));
    }
    let left = k.ok(&["get", "pods", "-n", "team-b", "-o", "name"]);
    assert!(left.trim().is_empty(), "{left}");
    let left = k.ok(&["get", "quota", "-n", "team-b", "-o", "name"]);
    assert!(left.trim().is_empty(), "{left}");
    k.ok(&["delete", "pods", "q1", "q2", "-n", "team-a", "--wait=false"]);

    // RBAC objects print kube-apiserver's columns.
    k.ok(&[
        "create",
        "rolebinding",
        "ci-view",
        "-n",
        "team-a",
        "--clusterrole=view",
        "--user=alice@example.com",
        "--serviceaccount=team-a:ci",
    ]);
    let bindings = k.ok(&["get", "rolebindings", "-n", "team-a", "-o", "wide"]);
    let header: Vec<&str> = bindings
        .lines()
        .next()
        .unwrap_or("")
        .split_whitespace()
        .collect();
    assert_eq!(
        header,
        ["NAME", "ROLE", "AGE", "USERS", "GROUPS", "SERVICEACCOUNTS"],
        "{bindings}"
    );
    let row = bindings
        .lines()
        .find(|l| l.starts_with("ci-view "))
        .unwrap_or("");
    assert!(row.contains(" ClusterRole/view "), "{bindings}");
    assert!(
        row.contains("alice@example.com") && row.ends_with("team-a:ci"),
        "{bindings}"
    );
    let roles = k.ok(&["get", "clusterroles", "view"]);
    assert!(
        roles.starts_with("NAME") && roles.contains("CREATED AT"),
        "{roles}"
    );
}
