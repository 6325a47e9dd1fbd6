//! A snapshot of the RBAC objects, indexed for the per-request check, and the check itself.
//!
//! As kube-apiserver's RBAC authorizer (`rbac.go` `VisitRulesFor`), a request is allowed when
//! a ClusterRoleBinding, or a RoleBinding in the request's namespace, binds the user (by name,
//! or one of their groups) to a role with a rule that allows it. Nothing denies: no rule is no
//! permission. A binding to a role that does not exist grants nothing and is named in the
//! denial's reason (`RBAC: role.rbac.authorization.k8s.io "x" not found`), as Kubernetes does.
//!
//! Built in: `cluster-admin` bound to the group `system:masters` (Kubernetes' own binding),
//! `system:basic-user` and `system:discovery` bound to `system:authenticated`, and
//! `k8sless:admins`, a ClusterRoleBinding of `cluster-admin` to the `--admins` users.
//!
//! Bindings are indexed by subject, so a check costs a hash lookup per name and group of the
//! user plus the rules of the roles bound to them (docs/benchmarks.md).

use std::collections::HashMap;
use std::ops::ControlFlow;

use k8s_openapi::api::rbac::v1::{
    ClusterRole, ClusterRoleBinding, PolicyRule, Role, RoleBinding, RoleRef, Subject,
};

use super::request_info::RequestInfo;
use super::rules::{self, BUILTIN_CLUSTER_ROLES, RBAC_GROUP};
use crate::auth::identity::{AUTHENTICATED_GROUP, MASTERS_GROUP, User};

/// What a binding grants, where.
#[derive(Debug, Clone)]
struct Grant {
    /// `None` for a ClusterRoleBinding.
    namespace: Option<String>,
    role_ref: RoleRef,
}

/// The RBAC objects a check reads.
#[derive(Debug, Default)]
pub(crate) struct Policy {
    cluster_roles: HashMap<String, Vec<PolicyRule>>,
    roles: HashMap<(String, String), Vec<PolicyRule>>,
    /// `user:<name>` or `group:<name>` → what is granted to it.
    grants: HashMap<String, Vec<Grant>>,
}

/// The stored objects a [`Policy`] is built from.
#[derive(Debug, Default, Clone)]
pub(crate) struct PolicyObjects {
    /// Custom ClusterRoles (a built-in name wins).
    pub(crate) cluster_roles: Vec<ClusterRole>,
    /// Roles.
    pub(crate) roles: Vec<Role>,
    /// RoleBindings.
    pub(crate) role_bindings: Vec<RoleBinding>,
    /// ClusterRoleBindings.
    pub(crate) cluster_role_bindings: Vec<ClusterRoleBinding>,
}

/// A check's answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Decision {
    /// Allowed.
    pub(crate) allowed: bool,
    /// Why not, when there is more to say than "no rule" (Kubernetes' `RBAC: ...`).
    pub(crate) reason: String,
}

fn cluster_ref(name: &str) -> RoleRef {
    RoleRef {
        api_group: RBAC_GROUP.into(),
        kind: "ClusterRole".into(),
        name: name.into(),
    }
}

fn subject_key(s: &Subject) -> Option<String> {
    match s.kind.as_str() {
        "User" => Some(format!("user:{}", s.name)),
        "Group" => Some(format!("group:{}", s.name)),
        // Kubernetes service accounts do not exist here; Google service accounts are Users.
        _ => None,
    }
}

impl Policy {
    /// The built-in roles and bindings, the admins, and the stored objects.
    pub(crate) fn new(admins: &[String], objects: PolicyObjects) -> Self {
        let mut policy = Policy::default();
        for role in objects.cluster_roles {
            let name = role.metadata.name.unwrap_or_default();
            policy
                .cluster_roles
                .insert(name, role.rules.unwrap_or_default());
        }
        for (name, rules) in BUILTIN_CLUSTER_ROLES.iter() {
            policy.cluster_roles.insert(name.to_string(), rules.clone());
        }
        for role in objects.roles {
            let ns = role.metadata.namespace.unwrap_or_default();
            let name = role.metadata.name.unwrap_or_default();
            policy
                .roles
                .insert((ns, name), role.rules.unwrap_or_default());
        }
        let mut grant = |key: String, namespace: Option<String>, role_ref: RoleRef| {
            policy.grants.entry(key).or_default().push(Grant {
                namespace,
                role_ref,
            });
        };
        grant(
            format!("group:{MASTERS_GROUP}"),
            None,
            cluster_ref("cluster-admin"),
        );
        for builtin in ["system:basic-user", "system:discovery"] {
            grant(
                format!("group:{AUTHENTICATED_GROUP}"),
                None,
                cluster_ref(builtin),
            );
        }
        for admin in admins {
            grant(format!("user:{admin}"), None, cluster_ref("cluster-admin"));
        }
        for b in objects.cluster_role_bindings {
            for key in b.subjects.iter().flatten().filter_map(subject_key) {
                grant(key, None, b.role_ref.clone());
            }
        }
        for b in objects.role_bindings {
            let ns = b.metadata.namespace.clone().unwrap_or_default();
            for key in b.subjects.iter().flatten().filter_map(subject_key) {
                grant(key, Some(ns.clone()), b.role_ref.clone());
            }
        }
        policy
    }

    /// Whether `user` may do what `info` asks.
    pub(crate) fn check(&self, user: &User, info: &RequestInfo<'_>) -> Decision {
        let mut missing: Vec<String> = Vec::new();
        let mut allowed = false;
        self.each_grant(user, |g| {
            if let Some(ns) = &g.namespace
                && (info.namespace.is_empty() || *ns != info.namespace)
            {
                return ControlFlow::Continue(());
            }
            match self.rules_of(g) {
                Some(rules) if rules.iter().any(|r| rules::allows(r, info)) => {
                    allowed = true;
                    return ControlFlow::Break(());
                }
                Some(_) => {}
                None => missing.push(not_found(g)),
            }
            ControlFlow::Continue(())
        });
        if allowed {
            return Decision {
                allowed: true,
                reason: String::new(),
            };
        }
        let reason = match missing.len() {
            0 => String::new(),
            1 => format!("RBAC: {}", missing[0]),
            _ => format!("RBAC: [{}]", missing.join(", ")),
        };
        Decision {
            allowed: false,
            reason,
        }
    }

    /// Every rule `user` holds in `namespace` (empty: cluster-wide only), in binding order,
    /// duplicates dropped: what `kubectl auth can-i --list` shows (SelfSubjectRulesReview).
    pub(crate) fn rules_for(&self, user: &User, namespace: &str) -> Vec<PolicyRule> {
        let mut out: Vec<PolicyRule> = Vec::new();
        self.each_grant(user, |g| {
            if g.namespace.as_deref().is_some_and(|ns| ns != namespace) {
                return ControlFlow::Continue(());
            }
            for rule in self.rules_of(g).into_iter().flatten() {
                if !out.contains(rule) {
                    out.push(rule.clone());
                }
            }
            ControlFlow::Continue(())
        });
        out
    }

    /// Each grant bound to `user`, then to each of its groups, until `visit` breaks.
    fn each_grant(&self, user: &User, mut visit: impl FnMut(&Grant) -> ControlFlow<()>) {
        // One buffer for every key looked up (a key per group was an allocation each, on
        // every request).
        let mut key = String::new();
        let subjects = std::iter::once(("user:", user.name.as_str()))
            .chain(user.groups.iter().map(|g| ("group:", g.as_str())));
        for (kind, name) in subjects {
            key.clear();
            key.push_str(kind);
            key.push_str(name);
            for g in self.grants.get(key.as_str()).into_iter().flatten() {
                if visit(g).is_break() {
                    return;
                }
            }
        }
    }

    fn rules_of(&self, g: &Grant) -> Option<&Vec<PolicyRule>> {
        self.role_rules(&g.role_ref, g.namespace.as_deref())
    }

    /// The rules of the role `role_ref` names (a Role in `namespace`).
    pub(crate) fn role_rules(
        &self,
        role_ref: &RoleRef,
        namespace: Option<&str>,
    ) -> Option<&Vec<PolicyRule>> {
        match (role_ref.kind.as_str(), namespace) {
            ("ClusterRole", _) => self.cluster_roles.get(&role_ref.name),
            ("Role", Some(ns)) => self.roles.get(&(ns.to_string(), role_ref.name.clone())),
            _ => None,
        }
    }
}

fn not_found(g: &Grant) -> String {
    let kind = g.role_ref.kind.to_ascii_lowercase();
    format!("{kind}.{RBAC_GROUP} \"{}\" not found", g.role_ref.name)
}

/// A RoleBinding of `role` (a `role_kind`) to one user, named `name` in `ns` (the tests' and
/// the bench's policies are made of these).
#[cfg(test)]
pub(crate) fn binding(
    ns: &str,
    name: &str,
    role_kind: &str,
    role: &str,
    user: &str,
) -> RoleBinding {
    RoleBinding {
        metadata: k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta {
            namespace: Some(ns.into()),
            name: Some(name.into()),
            ..Default::default()
        },
        role_ref: RoleRef {
            api_group: RBAC_GROUP.into(),
            kind: role_kind.into(),
            name: role.into(),
        },
        subjects: Some(vec![Subject {
            api_group: Some(RBAC_GROUP.into()),
            kind: "User".into(),
            name: user.into(),
            namespace: None,
        }]),
    }
}

#[cfg(test)]
mod tests {
    use super::super::request_info::resolve;
    use super::*;

    fn policy() -> Policy {
        Policy::new(
            &["root@example.com".to_string()],
            PolicyObjects {
                role_bindings: vec![
                    binding(
                        "team-a",
                        "alice-edit",
                        "ClusterRole",
                        "edit",
                        "alice@example.com",
                    ),
                    binding(
                        "team-b",
                        "alice-ghost",
                        "Role",
                        "ghost",
                        "alice@example.com",
                    ),
                ],
                ..PolicyObjects::default()
            },
        )
    }

    fn allowed(user: &str, method: &str, path: &str) -> bool {
        policy()
            .check(&User::email(user), &resolve(method, path, None))
            .allowed
    }

    #[test]
    fn a_namespaced_binding_grants_in_its_namespace_only() {
        let alice = "alice@example.com";
        assert!(allowed(alice, "POST", "/api/v1/namespaces/team-a/pods"));
        assert!(allowed(
            alice,
            "GET",
            "/api/v1/namespaces/team-a/pods/x/log"
        ));
        assert!(allowed(alice, "GET", "/api/v1/namespaces/team-a"));
        assert!(!allowed(alice, "POST", "/api/v1/namespaces/team-b/pods"));
        assert!(
            !allowed(alice, "GET", "/api/v1/pods"),
            "a list across namespaces needs a cluster grant"
        );
        assert!(!allowed(
            alice,
            "PUT",
            "/api/v1/namespaces/team-a/pods/x/status"
        ));
        assert!(!allowed(alice, "GET", "/api/v1/namespaces"));
        assert!(allowed(
            alice,
            "POST",
            "/apis/authorization.k8s.io/v1/selfsubjectaccessreviews"
        ));
        assert!(allowed(alice, "GET", "/api/v1"));
    }

    #[test]
    fn admins_and_masters_are_cluster_admin_and_strangers_nothing() {
        assert!(allowed(
            "root@example.com",
            "PUT",
            "/api/v1/namespaces/x/pods/y/status"
        ));
        assert!(allowed("root@example.com", "GET", "/api/v1/pods"));
        let dev = User {
            name: "dev-admin".into(),
            groups: vec![MASTERS_GROUP.into()],
        };
        assert!(
            policy()
                .check(&dev, &resolve("DELETE", "/api/v1/namespaces/x", None))
                .allowed
        );
        assert!(!allowed(
            "bob@example.com",
            "GET",
            "/api/v1/namespaces/team-a/pods"
        ));
    }

    #[test]
    fn the_rules_a_user_holds_are_those_bound_where_they_ask() {
        let p = policy();
        let alice = User::email("alice@example.com");
        let in_a = p.rules_for(&alice, "team-a");
        let in_b = p.rules_for(&alice, "team-b");
        let wide = p.rules_for(&alice, "");
        assert!(in_a.iter().any(|r| {
            r.resources
                .as_deref()
                .is_some_and(|rs| rs.contains(&"pods".to_string()))
                && r.verbs.contains(&"create".to_string())
        }));
        assert!(!in_b.iter().any(|r| {
            r.resources
                .as_deref()
                .is_some_and(|rs| rs.contains(&"pods".to_string()))
        }));
        // The self reviews and discovery, everywhere.
        assert_eq!(in_b.len(), wide.len());
        assert!(wide.iter().any(|r| r.non_resource_urls.is_some()));
    }

    #[test]
    fn a_binding_to_a_missing_role_is_named_in_the_reason() {
        let d = policy().check(
            &User::email("alice@example.com"),
            &resolve("GET", "/api/v1/namespaces/team-b/pods", None),
        );
        assert!(!d.allowed);
        assert_eq!(
            d.reason,
            "RBAC: role.rbac.authorization.k8s.io \"ghost\" not found"
        );
    }
}
