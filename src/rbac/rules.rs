//! Rule matching and the built-in ClusterRoles.
//!
//! Matching is Kubernetes' (`plugin/pkg/auth/authorizer/rbac/rbac.go` `RuleAllows` and
//! `rbacv1helpers`): a verb and a group match themselves or `*`; a resource matches itself
//! (`pods/status` for a subresource), `*`, or `*/<subresource>`; `resourceNames` (when
//! present) must contain the name; a non-resource URL matches itself, `*`, or a prefix
//! ending in `*`.
//!
//! The built-in roles keep Kubernetes' meaning (`bootstrappolicy/policy.go`, the
//! `aggregate-to-view`, `-edit` and `-admin` rules, and `cluster-admin`) for the resources
//! k8sless serves; rules about resources k8sless does not serve (deployments, secrets,
//! services...) are left out, as they can match nothing here:
//! - `view`: read pods, `pods/log`, `pods/status`, events, resourcequotas (and status), and
//!   the namespace itself (and its status).
//! - `edit`: `view`, plus every write on pods and read/write on `pods/attach`, `exec`,
//!   `portforward` and `proxy`, and `create` on `pods/eviction`. Not `pods/status`: only
//!   cluster-admin (in Kubernetes, the kubelet) writes a pod's status.
//! - `admin`: `edit`, plus Roles and RoleBindings in the namespace, and
//!   `localsubjectaccessreviews`. Not resourcequotas: a namespace admin cannot lift its quota.
//! - `cluster-admin`: everything.
//! - `system:basic-user` and `system:discovery` (bound to every authenticated user): the
//!   self reviews (`kubectl auth can-i`, `kubectl auth whoami`) and discovery.

use std::sync::LazyLock;

use k8s_openapi::api::rbac::v1::PolicyRule;

use super::request_info::RequestInfo;

const READ: &[&str] = &["get", "list", "watch"];
const WRITE: &[&str] = &["create", "update", "patch", "delete", "deletecollection"];
const READ_WRITE: &[&str] = &[
    "get",
    "list",
    "watch",
    "create",
    "update",
    "patch",
    "delete",
    "deletecollection",
];

/// The RBAC API group.
pub(crate) const RBAC_GROUP: &str = "rbac.authorization.k8s.io";

fn rule(verbs: &[&str], group: &str, resources: &[&str]) -> PolicyRule {
    PolicyRule {
        api_groups: Some(vec![group.to_string()]),
        resources: Some(resources.iter().map(|r| r.to_string()).collect()),
        verbs: verbs.iter().map(|v| v.to_string()).collect(),
        ..PolicyRule::default()
    }
}

fn urls(verbs: &[&str], urls: &[&str]) -> PolicyRule {
    PolicyRule {
        non_resource_urls: Some(urls.iter().map(|u| u.to_string()).collect()),
        verbs: verbs.iter().map(|v| v.to_string()).collect(),
        ..PolicyRule::default()
    }
}

fn view() -> Vec<PolicyRule> {
    vec![
        rule(READ, "", &["pods"]),
        rule(
            READ,
            "",
            &[
                "resourcequotas",
                "events",
                "pods/status",
                "resourcequotas/status",
                "namespaces/status",
                "pods/log",
            ],
        ),
        rule(READ, "", &["namespaces"]),
        rule(READ, "events.k8s.io", &["events"]),
    ]
}

fn edit() -> Vec<PolicyRule> {
    let escalating = ["pods/attach", "pods/proxy", "pods/exec", "pods/portforward"];
    let mut rules = view();
    rules.push(rule(READ, "", &escalating));
    rules.push(rule(
        WRITE,
        "",
        &[
            "pods",
            "pods/attach",
            "pods/proxy",
            "pods/exec",
            "pods/portforward",
        ],
    ));
    rules.push(rule(&["create"], "", &["pods/eviction"]));
    rules
}

fn admin() -> Vec<PolicyRule> {
    let mut rules = edit();
    rules.push(rule(
        &["create"],
        "authorization.k8s.io",
        &["localsubjectaccessreviews"],
    ));
    rules.push(rule(READ_WRITE, RBAC_GROUP, &["roles", "rolebindings"]));
    rules
}

fn cluster_admin() -> Vec<PolicyRule> {
    vec![rule(&["*"], "*", &["*"]), urls(&["*"], &["*"])]
}

fn basic_user() -> Vec<PolicyRule> {
    vec![
        rule(
            &["create"],
            "authorization.k8s.io",
            &["selfsubjectaccessreviews", "selfsubjectrulesreviews"],
        ),
        rule(
            &["create"],
            "authentication.k8s.io",
            &["selfsubjectreviews"],
        ),
    ]
}

fn discovery() -> Vec<PolicyRule> {
    vec![urls(
        &["get"],
        &[
            "/api",
            "/api/*",
            "/apis",
            "/apis/*",
            "/healthz",
            "/livez",
            "/openapi",
            "/openapi/*",
            "/readyz",
            "/version",
            "/version/",
        ],
    )]
}

/// The built-in ClusterRoles, by name.
pub(crate) static BUILTIN_CLUSTER_ROLES: LazyLock<Vec<(&'static str, Vec<PolicyRule>)>> =
    LazyLock::new(|| {
        vec![
            ("admin", admin()),
            ("cluster-admin", cluster_admin()),
            ("edit", edit()),
            ("system:basic-user", basic_user()),
            ("system:discovery", discovery()),
            ("view", view()),
        ]
    });

fn has(list: &[String], want: &str) -> bool {
    list.iter().any(|x| x == want || x == "*")
}

/// Whether `rule` allows the request.
pub(crate) fn allows(rule: &PolicyRule, info: &RequestInfo<'_>) -> bool {
    if !has(&rule.verbs, &info.verb) {
        return false;
    }
    if !info.is_resource {
        return rule.non_resource_urls.as_deref().is_some_and(|urls| {
            urls.iter().any(|u| match u.strip_suffix('*') {
                Some(prefix) => info.path.starts_with(prefix),
                None => *u == info.path,
            })
        });
    }
    let groups = rule.api_groups.as_deref().unwrap_or_default();
    if !has(groups, &info.api_group) {
        return false;
    }
    let resources = rule.resources.as_deref().unwrap_or_default();
    let resource_ok = if info.subresource.is_empty() {
        has(resources, &info.resource)
    } else {
        let combined = format!("{}/{}", info.resource, info.subresource);
        let any = format!("*/{}", info.subresource);
        resources
            .iter()
            .any(|r| *r == combined || *r == any || r == "*")
    };
    resource_ok
        && match rule.resource_names.as_deref() {
            None | Some([]) => true,
            Some(names) => names.iter().any(|n| *n == info.name),
        }
}

#[cfg(test)]
mod tests {
    use super::super::request_info::resolve;
    use super::*;

    fn role(name: &str) -> &'static [PolicyRule] {
        &BUILTIN_CLUSTER_ROLES
            .iter()
            .find(|(n, _)| *n == name)
            .expect("built-in")
            .1
    }

    fn may(role_name: &str, method: &str, path: &str) -> bool {
        let info = resolve(method, path, None);
        role(role_name).iter().any(|r| allows(r, &info))
    }

    #[test]
    fn the_built_in_roles_mean_what_they_mean_in_kubernetes() {
        let pods = "/api/v1/namespaces/a/pods";
        let rb = "/apis/rbac.authorization.k8s.io/v1/namespaces/a/rolebindings";
        let quota = "/api/v1/namespaces/a/resourcequotas";
        for (role, method, path, want) in [
            ("view", "GET", pods, true),
            ("view", "GET", "/api/v1/namespaces/a/pods/x/log", true),
            ("view", "POST", pods, false),
            ("view", "POST", "/api/v1/namespaces/a/pods/x/exec", false),
            ("edit", "POST", pods, true),
            ("edit", "DELETE", "/api/v1/namespaces/a/pods/x", true),
            ("edit", "POST", "/api/v1/namespaces/a/pods/x/exec", true),
            ("edit", "PUT", "/api/v1/namespaces/a/pods/x/status", false),
            ("edit", "POST", rb, false),
            ("edit", "POST", quota, false),
            ("admin", "POST", rb, true),
            ("admin", "POST", quota, false),
            ("admin", "GET", quota, true),
            (
                "cluster-admin",
                "PUT",
                "/api/v1/namespaces/a/pods/x/status",
                true,
            ),
            ("cluster-admin", "GET", "/metrics", true),
            (
                "system:discovery",
                "GET",
                "/apis/rbac.authorization.k8s.io/v1",
                true,
            ),
            ("system:discovery", "GET", "/metrics", false),
        ] {
            assert_eq!(may(role, method, path), want, "{role} {method} {path}");
        }
    }

    #[test]
    fn wildcard_subresources_and_resource_names() {
        let star_status = PolicyRule {
            resource_names: Some(vec!["web".into()]),
            ..rule(&["update"], "", &["*/status"])
        };
        let web = resolve("PUT", "/api/v1/namespaces/a/pods/web/status", None);
        let db = resolve("PUT", "/api/v1/namespaces/a/pods/db/status", None);
        let whole = resolve("PUT", "/api/v1/namespaces/a/pods/web", None);
        assert!(allows(&star_status, &web));
        assert!(!allows(&star_status, &db));
        assert!(!allows(&star_status, &whole));
    }
}
