//! Teams on one deployment, over HTTP (docs/teams.md): an admin (`--admins`) binds `edit` in
//! `team-a` to alice; alice works in `team-a` and nowhere else; bob is refused everywhere with
//! kube-apiserver's wording; `can-i` and `whoami` answer for each; no escalation through
//! bindings; `cloud-run` identity without a token is 401. kubectl and the Python client run
//! the same story in tests/clients/test_teams.py.
//!
//! Namespaces are objects (docs/namespaces.md) and are not created on a first pod here: the
//! admin creates `team-a` and `team-b` first, as on a `serve` deployment.

use reqwest::Method;
use serde_json::{Value, json};

use k8sless::testing::{StackBuilder, default_args};

use crate::common;

const ROOT: &str = "root@example.com";
const ALICE: &str = "alice@example.com";
const BOB: &str = "bob@example.com";

struct Caller {
    base: String,
    token: Option<String>,
}

impl Caller {
    fn of(base: &str, email: &str) -> Self {
        Caller {
            base: base.to_string(),
            token: Some(format!("dev:{email}")),
        }
    }

    async fn call(&self, method: Method, path: &str, body: Option<Value>) -> (u16, Value) {
        let mut req = common::http().request(method, format!("{}{path}", self.base));
        if let Some(t) = &self.token {
            req = req.bearer_auth(t);
        }
        if let Some(b) = body {
            req = req.json(&b);
        }
        let resp = req.send().await.expect("request");
        let code = resp.status().as_u16();
        let text = resp.text().await.unwrap_or_default();
        (
            code,
            serde_json::from_str(&text).unwrap_or(Value::String(text)),
        )
    }

    /// [`call`](Self::call) of a `GET`.
    async fn get(&self, path: &str) -> (u16, Value) {
        self.call(Method::GET, path, None).await
    }

    /// [`call`](Self::call) of a `POST` of `body`.
    async fn post(&self, path: &str, body: Value) -> (u16, Value) {
        self.call(Method::POST, path, Some(body)).await
    }

    /// Creates the RoleBinding `name` in `ns`, granting ClusterRole `role` to `user`.
    async fn bind(&self, ns: &str, name: &str, role: &str, user: &str) -> (u16, Value) {
        let path = rolebindings(ns);
        self.post(&path, binding(ns, name, role, user)).await
    }
}

fn binding(ns: &str, name: &str, role: &str, user: &str) -> Value {
    json!({
        "apiVersion": "rbac.authorization.k8s.io/v1", "kind": "RoleBinding",
        "metadata": {"name": name, "namespace": ns},
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": role},
        "subjects": [{"apiGroup": "rbac.authorization.k8s.io", "kind": "User", "name": user}],
    })
}

fn rolebindings(ns: &str) -> String {
    format!("/apis/rbac.authorization.k8s.io/v1/namespaces/{ns}/rolebindings")
}

fn can_i(verb: &str, resource: &str, subresource: &str, ns: &str) -> Value {
    json!({
        "apiVersion": "authorization.k8s.io/v1", "kind": "SelfSubjectAccessReview",
        "spec": {"resourceAttributes": {"verb": verb, "resource": resource, "subresource": subresource, "namespace": ns}},
    })
}

async fn allowed(c: &Caller, verb: &str, resource: &str, sub: &str, ns: &str) -> bool {
    let (code, body) = c
        .post(
            "/apis/authorization.k8s.io/v1/selfsubjectaccessreviews",
            can_i(verb, resource, sub, ns),
        )
        .await;
    assert_eq!(code, 201, "{body}");
    body["status"]["allowed"].as_bool().expect("allowed")
}

async fn whoami(c: &Caller) -> Value {
    let review = json!({"apiVersion": "authentication.k8s.io/v1", "kind": "SelfSubjectReview"});
    let (code, body) = c
        .post("/apis/authentication.k8s.io/v1/selfsubjectreviews", review)
        .await;
    assert_eq!(code, 201, "{body}");
    body["status"]["userInfo"].clone()
}

fn assert_denied(got: &(u16, Value), message: &str) {
    assert_eq!(got.0, 403, "{}", got.1);
    assert_eq!(got.1["reason"], "Forbidden", "{}", got.1);
    assert_eq!(got.1["message"], message, "{}", got.1);
}

/// A stack with team-a and team-b (made by the admin), and the admin's client.
async fn teams_stack() -> (k8sless::testing::Stack, Caller) {
    common::init();
    let mut args = default_args();
    args.admins = ROOT.into();
    args.create_namespaces = Some(false);
    let stack = StackBuilder::new(args).start().await.expect("stack");
    let root = Caller::of(&stack.base, ROOT);
    for ns in ["team-a", "team-b"] {
        let body = json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns}});
        let (code, body) = root.post("/api/v1/namespaces", body).await;
        assert_eq!(code, 201, "{body}");
    }
    (stack, root)
}

/// A stack with team-a and team-b, and alice bound to `edit` in team-a by the admin.
async fn alice_editing_team_a() -> (k8sless::testing::Stack, Caller, Caller) {
    let (stack, root) = teams_stack().await;
    let (alice, bob) = (Caller::of(&stack.base, ALICE), Caller::of(&stack.base, BOB));
    let pods_a = "/api/v1/namespaces/team-a/pods";
    // Before the binding alice is a stranger too.
    let before = alice.get(pods_a).await;
    assert_denied(
        &before,
        r#"pods is forbidden: User "alice@example.com" cannot list resource "pods" in API group "" in the namespace "team-a""#,
    );
    let (code, body) = root.bind("team-a", "alice-edit", "edit", ALICE).await;
    assert_eq!(code, 201, "{body}");
    assert_eq!(body["metadata"]["namespace"], "team-a");
    (stack, alice, bob)
}

#[tokio::test]
async fn alice_creates_lists_reads_and_deletes_in_team_a() {
    let (_stack, alice, _) = alice_editing_team_a().await;
    let pods_a = "/api/v1/namespaces/team-a/pods";
    let (code, body) = alice.post(pods_a, common::pod("web")).await;
    assert_eq!(code, 201, "{body}");
    let (code, body) = alice.get(pods_a).await;
    assert_eq!(code, 200, "{body}");
    assert_eq!(body["items"][0]["metadata"]["name"], "web");
    let (code, _) = alice.get(&format!("{pods_a}/web")).await;
    assert_eq!(code, 200);
    let log = alice.get(&format!("{pods_a}/web/log")).await;
    assert_ne!(log.0, 403, "edit reads logs: {}", log.1);
    let status = json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "web"}, "status": {"phase": "Succeeded"}});
    let put = alice
        .call(Method::PUT, &format!("{pods_a}/web/status"), Some(status))
        .await;
    assert_denied(
        &put,
        r#"pods "web" is forbidden: User "alice@example.com" cannot update resource "pods/status" in API group "" in the namespace "team-a""#,
    );
    let (code, body) = alice
        .call(Method::DELETE, &format!("{pods_a}/web"), None)
        .await;
    assert_eq!(code, 200, "{body}");
}

#[tokio::test]
async fn alice_is_refused_outside_team_a() {
    let (_stack, alice, _) = alice_editing_team_a().await;
    let ns = json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "alices"}});
    let quota = json!({"apiVersion": "v1", "kind": "ResourceQuota", "metadata": {"name": "q"}, "spec": {"hard": {"pods": "100"}}});
    // Each request alice may not make, and kube-apiserver's words for the refusal.
    let refused = [
        (
            Method::POST,
            "/api/v1/namespaces/team-b/pods",
            Some(common::pod("web")),
            r#"pods is forbidden: User "alice@example.com" cannot create resource "pods" in API group "" in the namespace "team-b""#,
        ),
        (
            Method::GET,
            "/api/v1/pods",
            None,
            r#"pods is forbidden: User "alice@example.com" cannot list resource "pods" in API group "" at the cluster scope"#,
        ),
        (
            Method::GET,
            "/api/v1/pods?watch=true",
            None,
            r#"pods is forbidden: User "alice@example.com" cannot watch resource "pods" in API group "" at the cluster scope"#,
        ),
        (
            Method::POST,
            "/api/v1/namespaces",
            Some(ns),
            r#"namespaces is forbidden: User "alice@example.com" cannot create resource "namespaces" in API group "" at the cluster scope"#,
        ),
        (
            Method::DELETE,
            "/api/v1/namespaces/team-a",
            None,
            r#"namespaces "team-a" is forbidden: User "alice@example.com" cannot delete resource "namespaces" in API group "" in the namespace "team-a""#,
        ),
        (
            Method::POST,
            "/api/v1/namespaces/team-a/resourcequotas",
            Some(quota),
            r#"resourcequotas is forbidden: User "alice@example.com" cannot create resource "resourcequotas" in API group "" in the namespace "team-a""#,
        ),
    ];
    for (method, path, body, message) in refused {
        assert_denied(&alice.call(method, path, body).await, message);
    }
    let (code, _) = alice.get("/api/v1/namespaces/team-a").await;
    assert_eq!(code, 200, "edit reads its own namespace");
}

#[tokio::test]
async fn bob_is_refused_everywhere() {
    let (_stack, _, bob) = alice_editing_team_a().await;
    let pods_a = "/api/v1/namespaces/team-a/pods";
    let bobs = bob.get(&format!("{pods_a}/web")).await;
    assert_denied(
        &bobs,
        r#"pods "web" is forbidden: User "bob@example.com" cannot get resource "pods" in API group "" in the namespace "team-a""#,
    );
    let bob_create = bob.post(pods_a, common::pod("mine")).await;
    assert_denied(
        &bob_create,
        r#"pods is forbidden: User "bob@example.com" cannot create resource "pods" in API group "" in the namespace "team-a""#,
    );
    assert_eq!(bob_create.1["details"]["kind"], "pods");
}

#[tokio::test]
async fn can_i_and_whoami_answer_for_each() {
    let (stack, root) = teams_stack().await;
    let (alice, bob) = (Caller::of(&stack.base, ALICE), Caller::of(&stack.base, BOB));
    root.bind("team-a", "alice-edit", "edit", ALICE).await;
    assert!(allowed(&alice, "create", "pods", "", "team-a").await);
    assert!(allowed(&alice, "get", "pods", "log", "team-a").await);
    assert!(!allowed(&alice, "update", "pods", "status", "team-a").await);
    assert!(!allowed(&alice, "create", "pods", "", "team-b").await);
    assert!(!allowed(&alice, "list", "pods", "", "").await);
    assert!(!allowed(&bob, "create", "pods", "", "team-a").await);
    assert!(allowed(&root, "update", "pods", "status", "team-b").await);
    assert_eq!(whoami(&alice).await["username"], ALICE);
    assert_eq!(whoami(&bob).await["username"], BOB);
    assert_eq!(
        whoami(&bob).await["groups"],
        json!(["system:authenticated"])
    );
    let dev_admin = Caller {
        base: stack.base.clone(),
        token: None,
    };
    assert_eq!(whoami(&dev_admin).await["username"], "dev-admin");
}

#[tokio::test]
async fn bindings_cannot_grant_what_their_author_lacks() {
    let (stack, root) = teams_stack().await;
    let carol = Caller::of(&stack.base, "carol@example.com");
    let alice = Caller::of(&stack.base, ALICE);
    let (code, body) = root
        .bind("team-a", "carol-admin", "admin", "carol@example.com")
        .await;
    assert_eq!(code, 201, "{body}");
    // A namespace admin hands out edit in their namespace...
    let (code, body) = carol.bind("team-a", "alice-edit", "edit", ALICE).await;
    assert_eq!(code, 201, "{body}");
    // ...but not cluster-admin there (it would let them write their own quota and pod statuses).
    let (code, body) = carol
        .bind("team-a", "me-root", "cluster-admin", "carol@example.com")
        .await;
    assert_eq!(code, 403, "{body}");
    let message = body["message"].as_str().unwrap_or("");
    assert!(
        message.starts_with(r#"rolebindings.rbac.authorization.k8s.io "me-root" is forbidden: user "carol@example.com" (groups=["system:authenticated"]) is attempting to grant RBAC permissions not currently held:"#),
        "{message}"
    );
    // Nor anything in a namespace that is not theirs, and edit grants no bindings at all.
    let (code, _) = carol.bind("team-b", "x", "edit", ALICE).await;
    assert_eq!(code, 403);
    let (code, _) = alice.bind("team-a", "y", "view", BOB).await;
    assert_eq!(code, 403);
    // Deleting the binding takes the permission away on the next request.
    let (code, body) = carol
        .call(
            Method::DELETE,
            &format!("{}/alice-edit", rolebindings("team-a")),
            None,
        )
        .await;
    assert_eq!(code, 200, "{body}");
    let (code, _) = alice.get("/api/v1/namespaces/team-a/pods").await;
    assert_eq!(code, 403);
}

#[tokio::test]
async fn the_built_in_cluster_roles_are_listed_and_cannot_be_changed() {
    let (_stack, root) = teams_stack().await;
    let (code, body) = root
        .get("/apis/rbac.authorization.k8s.io/v1/clusterroles")
        .await;
    assert_eq!(code, 200, "{body}");
    let names = common::item_names(&body);
    for builtin in ["admin", "cluster-admin", "edit", "view"] {
        assert!(names.contains(&builtin), "{names:?}");
    }
    let (code, _) = root
        .call(
            Method::DELETE,
            "/apis/rbac.authorization.k8s.io/v1/clusterroles/edit",
            None,
        )
        .await;
    assert_eq!(code, 405);
}

#[tokio::test]
async fn a_binding_to_a_missing_role_is_a_reason() {
    let (stack, root) = teams_stack().await;
    let bob = Caller::of(&stack.base, BOB);
    let mut b = binding("team-a", "bob-ghost", "ghost", BOB);
    b["roleRef"]["kind"] = "Role".into();
    let (code, body) = root.post(&rolebindings("team-a"), b).await;
    assert_eq!(code, 201, "{body}");
    let got = bob.get("/api/v1/namespaces/team-a/pods").await;
    assert_denied(
        &got,
        r#"pods is forbidden: User "bob@example.com" cannot list resource "pods" in API group "" in the namespace "team-a": RBAC: role.rbac.authorization.k8s.io "ghost" not found"#,
    );
    let mut bad = binding("team-a", "bad", "edit", BOB);
    bad["roleRef"]["kind"] = "Group".into();
    let (code, body) = root.post(&rolebindings("team-a"), bad).await;
    assert_eq!(code, 422, "{body}");
}

/// kube-apiserver's admission and update rules for bindings: NamespaceLifecycle's 404 for a
/// missing namespace, `cannot change roleRef` on PUT and on patch, and each cause's message with
/// its type in front (`Unsupported value: ...`), as `field.Error.ErrorBody` makes it.
#[tokio::test]
async fn bindings_keep_kube_apiservers_admission_and_update_rules() {
    let (stack, root) = teams_stack().await;
    let (code, body) = root.bind("nowhere", "x", "view", BOB).await;
    assert_eq!(code, 404, "{body}");
    assert_eq!(body["message"], r#"namespaces "nowhere" not found"#);

    let (code, body) = root.bind("team-a", "bob-view", "view", BOB).await;
    assert_eq!(code, 201, "{body}");
    let path = format!("{}/bob-view", rolebindings("team-a"));
    let mut changed = body.clone();
    changed["roleRef"]["name"] = "edit".into();
    let (code, body) = root.call(Method::PUT, &path, Some(changed)).await;
    assert_eq!(code, 422, "{body}");
    assert_eq!(
        body["message"],
        r#"RoleBinding.rbac.authorization.k8s.io "bob-view" is invalid: roleRef: Invalid value: rbac.RoleRef{APIGroup:"rbac.authorization.k8s.io", Kind:"ClusterRole", Name:"edit"}: cannot change roleRef"#
    );
    assert_eq!(body["details"]["causes"][0]["field"], "roleRef");
    let patch = json!({"roleRef": {"name": "admin"}});
    let resp = common::http()
        .patch(format!("{}{path}", stack.base))
        .bearer_auth(format!("dev:{ROOT}"))
        .header("content-type", "application/merge-patch+json")
        .body(patch.to_string())
        .send()
        .await
        .expect("patch");
    assert_eq!(resp.status().as_u16(), 422);
    // Subjects may change.
    let (_, stored) = root.get(&path).await;
    let mut more = stored.clone();
    more["subjects"][0]["name"] = ALICE.into();
    let (code, body) = root.call(Method::PUT, &path, Some(more)).await;
    assert_eq!(code, 200, "{body}");
    assert_eq!(body["roleRef"]["name"], "view");

    let mut bad = binding("team-a", "bad", "edit", BOB);
    bad["subjects"][0]["kind"] = "Robot".into();
    let (code, body) = root.post(&rolebindings("team-a"), bad).await;
    assert_eq!(code, 422, "{body}");
    assert_eq!(
        body["details"]["causes"][0]["message"],
        r#"Unsupported value: "Robot": supported values: "ServiceAccount", "User", "Group""#
    );
    assert_eq!(
        body["message"],
        r#"RoleBinding.rbac.authorization.k8s.io "bad" is invalid: subjects[0].kind: Unsupported value: "Robot": supported values: "ServiceAccount", "User", "Group""#
    );
}

/// RBAC lists take label and field selectors, and `?watch=true` streams the bindings present
/// as ADDED and a change made while it is open, as `kubectl get rolebindings -w` shows them.
#[tokio::test]
async fn bindings_are_selected_and_watched() {
    let (stack, root) = teams_stack().await;
    let mut labelled = binding("team-a", "bob-view", "view", BOB);
    labelled["metadata"]["labels"] = json!({"team": "a"});
    let (code, body) = root.post(&rolebindings("team-a"), labelled).await;
    assert_eq!(code, 201, "{body}");
    let (code, body) = root.bind("team-a", "alice-edit", "edit", ALICE).await;
    assert_eq!(code, 201, "{body}");
    let base = rolebindings("team-a");
    let (_, by_label) = root.get(&format!("{base}?labelSelector=team%3Da")).await;
    assert_eq!(common::item_names(&by_label), ["bob-view"], "{by_label}");
    let (_, by_name) = root
        .get(&format!("{base}?fieldSelector=metadata.name%3Dalice-edit"))
        .await;
    assert_eq!(common::item_names(&by_name), ["alice-edit"], "{by_name}");
    let (code, bad) = root
        .get(&format!("{base}?fieldSelector=roleRef.name%3Dview"))
        .await;
    assert_eq!(code, 400, "{bad}");
    assert_eq!(bad["message"], "field label not supported: roleRef.name");

    let watch = common::http()
        .get(format!("{}{base}?watch=true&timeoutSeconds=3", stack.base))
        .bearer_auth(format!("dev:{ROOT}"))
        .send()
        .await
        .expect("watch");
    assert_eq!(watch.status().as_u16(), 200);
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    let (code, body) = root
        .bind("team-a", "carol-view", "view", "carol@example.com")
        .await;
    assert_eq!(code, 201, "{body}");
    let text = watch.text().await.expect("stream");
    let events: Vec<(String, String)> = text
        .lines()
        .map(|l| {
            let e: Value = serde_json::from_str(l).expect("event");
            let name = e["object"]["metadata"]["name"]
                .as_str()
                .unwrap_or("")
                .to_string();
            (e["type"].as_str().unwrap_or("").to_string(), name)
        })
        .collect();
    let added = |n: &str| ("ADDED".to_string(), n.to_string());
    assert_eq!(
        events,
        [added("alice-edit"), added("bob-view"), added("carol-view")],
        "{text}"
    );
}

#[tokio::test]
async fn cloud_run_identity_without_a_token_is_unauthorized() {
    common::init();
    let mut args = default_args();
    args.identity = Some(k8sless::testing::IdentityMode::CloudRun);
    let stack = StackBuilder::new(args).start().await.expect("stack");
    let anonymous = Caller {
        base: stack.base.clone(),
        token: None,
    };
    let (code, body) = anonymous.get("/api/v1/namespaces/default/pods").await;
    assert_eq!(code, 401, "{body}");
    assert_eq!(body["message"], "Unauthorized");
    assert_eq!(body["reason"], "Unauthorized");
    // Health stays outside: Cloud Run's probes carry no token.
    let (code, _) = anonymous.get("/readyz").await;
    assert_eq!(code, 200);
}

#[tokio::test]
async fn admins_impersonate_and_others_may_not() {
    let (stack, root) = teams_stack().await;
    let alice = Caller::of(&stack.base, ALICE);
    root.bind("team-a", "alice-edit", "edit", ALICE).await;
    let as_user = |c: &Caller, who: &str| {
        let mut req = common::http()
            .post(format!(
                "{}/apis/authentication.k8s.io/v1/selfsubjectreviews",
                c.base
            ))
            .header("Impersonate-User", who)
            .json(&json!({"apiVersion": "authentication.k8s.io/v1", "kind": "SelfSubjectReview"}));
        if let Some(t) = &c.token {
            req = req.bearer_auth(t);
        }
        req.send()
    };
    let resp = as_user(&root, BOB).await.expect("request");
    assert_eq!(resp.status().as_u16(), 201);
    let body: Value = resp.json().await.expect("json");
    assert_eq!(body["status"]["userInfo"]["username"], BOB);
    let resp = as_user(&alice, ROOT).await.expect("request");
    assert_eq!(resp.status().as_u16(), 403);
    let body: Value = resp.json().await.expect("json");
    assert_eq!(
        body["message"],
        r#"users "root@example.com" is forbidden: User "alice@example.com" cannot impersonate resource "users" in API group "" at the cluster scope"#
    );
}
