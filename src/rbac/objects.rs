//! The RBAC objects in the record store (`rbac.authorization.k8s.io/v1` Roles, RoleBindings,
//! ClusterRoles, ClusterRoleBindings) on the generic [`Objects`] of `objects/`, and the rules
//! kube-apiserver's RBAC registry adds to a write:
//!
//! - a binding's `roleRef` names a `Role` or `ClusterRole` of this group (422 otherwise), and
//!   its subjects are `User`, `Group` or `ServiceAccount`;
//! - no escalation (`pkg/registry/rbac/escalation_check.go`): a user may write a Role (or
//!   ClusterRole) only with every permission it grants, or the `escalate` verb on it; and a
//!   binding only to a role whose every permission they hold where the binding applies, or
//!   with the `bind` verb on that role. Without this, a namespace `admin` could bind
//!   `cluster-admin` in their namespace and raise their own ResourceQuota. The built-in roles
//!   cannot be changed: their names are taken by the built-ins whatever is stored.

use std::sync::Arc;

use async_trait::async_trait;
use k8s_openapi::api::rbac::v1::{
    ClusterRole, ClusterRoleBinding, PolicyRule, Role, RoleBinding, RoleRef, Subject,
};

use super::authorizer::PolicySource;
use super::policy::{Policy, PolicyObjects};
use super::request_info::RequestInfo;
use super::rules::{BUILTIN_CLUSTER_ROLES, RBAC_GROUP};
use crate::auth::identity::User;
use crate::error::{Cause, Error, Result};
use crate::objects::meta::NameRule;
use crate::objects::{Objects, StoredObject};
use crate::store::RecordStore;

fn role_ref_causes(r: &RoleRef) -> Vec<Cause> {
    let mut causes = Vec::new();
    if r.api_group != RBAC_GROUP {
        causes.push(Cause::not_supported(
            "roleRef.apiGroup",
            format!("{:?}: supported values: \"{RBAC_GROUP}\"", r.api_group),
        ));
    }
    if r.kind != "Role" && r.kind != "ClusterRole" {
        causes.push(Cause::not_supported(
            "roleRef.kind",
            format!("{:?}: supported values: \"Role\", \"ClusterRole\"", r.kind),
        ));
    }
    if r.name.is_empty() {
        causes.push(Cause::required("roleRef.name"));
    }
    causes
}

/// kube-apiserver's `ValidateRoleBindingUpdate` (and the ClusterRoleBinding one): a binding
/// names its role for life, so a grant cannot be swapped under its subjects. The value is
/// printed as Go's `%#v` prints `rbac.RoleRef`, as in kube-apiserver's message.
fn role_ref_unchanged(new: &RoleRef, old: &RoleRef) -> Vec<Cause> {
    if new == old {
        return Vec::new();
    }
    vec![Cause::invalid(
        "roleRef",
        format!(
            "rbac.RoleRef{{APIGroup:{:?}, Kind:{:?}, Name:{:?}}}: cannot change roleRef",
            new.api_group, new.kind, new.name
        ),
    )]
}

/// A binding's causes: its `roleRef`'s (a cluster-wide binding may name only a ClusterRole),
/// then its subjects'.
fn binding_causes(
    role_ref: &RoleRef,
    subjects: Option<&Vec<Subject>>,
    cluster: bool,
) -> Vec<Cause> {
    let mut causes = role_ref_causes(role_ref);
    if cluster && role_ref.kind == "Role" {
        causes.push(Cause::not_supported(
            "roleRef.kind",
            "\"Role\": supported values: \"ClusterRole\"",
        ));
    }
    causes.extend(subject_causes(subjects));
    causes
}

fn subject_causes(subjects: Option<&Vec<Subject>>) -> Vec<Cause> {
    let mut causes = Vec::new();
    for (i, s) in subjects.into_iter().flatten().enumerate() {
        if !matches!(s.kind.as_str(), "User" | "Group" | "ServiceAccount") {
            causes.push(Cause::not_supported(
                format!("subjects[{i}].kind"),
                format!(
                    "{:?}: supported values: \"ServiceAccount\", \"User\", \"Group\"",
                    s.kind
                ),
            ));
        }
        if s.name.is_empty() {
            causes.push(Cause::required(format!("subjects[{i}].name")));
        }
    }
    causes
}

impl StoredObject for Role {
    const RESOURCE: &'static str = "roles.rbac.authorization.k8s.io";
    const QUALIFIED_KIND: &'static str = "Role.rbac.authorization.k8s.io";
    const NAMESPACED: bool = true;
    const NAME_RULE: NameRule = NameRule::PathSegment;
}

impl StoredObject for ClusterRole {
    const RESOURCE: &'static str = "clusterroles.rbac.authorization.k8s.io";
    const QUALIFIED_KIND: &'static str = "ClusterRole.rbac.authorization.k8s.io";
    const NAMESPACED: bool = false;
    const NAME_RULE: NameRule = NameRule::PathSegment;
}

impl StoredObject for RoleBinding {
    const RESOURCE: &'static str = "rolebindings.rbac.authorization.k8s.io";
    const QUALIFIED_KIND: &'static str = "RoleBinding.rbac.authorization.k8s.io";
    const NAMESPACED: bool = true;
    const NAME_RULE: NameRule = NameRule::PathSegment;

    fn validate(&self) -> Vec<Cause> {
        binding_causes(&self.role_ref, self.subjects.as_ref(), false)
    }

    fn validate_update(&self, stored: &Self) -> Vec<Cause> {
        role_ref_unchanged(&self.role_ref, &stored.role_ref)
    }
}

impl StoredObject for ClusterRoleBinding {
    const RESOURCE: &'static str = "clusterrolebindings.rbac.authorization.k8s.io";
    const QUALIFIED_KIND: &'static str = "ClusterRoleBinding.rbac.authorization.k8s.io";
    const NAMESPACED: bool = false;
    const NAME_RULE: NameRule = NameRule::PathSegment;

    fn validate(&self) -> Vec<Cause> {
        binding_causes(&self.role_ref, self.subjects.as_ref(), true)
    }

    fn validate_update(&self, stored: &Self) -> Vec<Cause> {
        role_ref_unchanged(&self.role_ref, &stored.role_ref)
    }
}

/// The four kinds in one store.
#[derive(Debug, Clone)]
pub(crate) struct RbacStore {
    pub(crate) roles: Objects<Role>,
    pub(crate) cluster_roles: Objects<ClusterRole>,
    pub(crate) role_bindings: Objects<RoleBinding>,
    pub(crate) cluster_role_bindings: Objects<ClusterRoleBinding>,
}

impl RbacStore {
    /// The RBAC objects in `store`.
    pub(crate) fn new(store: Arc<dyn RecordStore>) -> Self {
        RbacStore {
            roles: Objects::new(store.clone()),
            cluster_roles: Objects::new(store.clone()),
            role_bindings: Objects::new(store.clone()),
            cluster_role_bindings: Objects::new(store),
        }
    }
}

#[async_trait]
impl PolicySource for RbacStore {
    async fn load(&self) -> Result<PolicyObjects> {
        let (roles, cluster_roles, role_bindings, cluster_role_bindings) = tokio::try_join!(
            self.roles.list(None),
            self.cluster_roles.list(None),
            self.role_bindings.list(None),
            self.cluster_role_bindings.list(None),
        )?;
        Ok(PolicyObjects {
            roles: roles.items,
            cluster_roles: cluster_roles.items,
            role_bindings: role_bindings.items,
            cluster_role_bindings: cluster_role_bindings.items,
        })
    }
}

/// Whether `name` is a built-in ClusterRole (never stored, never changed).
pub(crate) fn is_builtin(name: &str) -> bool {
    BUILTIN_CLUSTER_ROLES.iter().any(|(n, _)| *n == name)
}

/// The concrete requests a rule stands for: one per verb, group, resource and name (a `*`
/// stays a literal `*`, which only a `*` of the user's covers), or per verb and URL.
fn requests_of<'a>(rule: &'a PolicyRule, namespace: &'a str) -> Vec<RequestInfo<'a>> {
    let mut out = Vec::new();
    for verb in &rule.verbs {
        for url in rule.non_resource_urls.iter().flatten() {
            out.push(RequestInfo {
                verb: verb.into(),
                path: url.into(),
                ..RequestInfo::default()
            });
        }
        for group in rule.api_groups.iter().flatten() {
            for resource in rule.resources.iter().flatten() {
                let (resource, subresource) = resource.split_once('/').unwrap_or((resource, ""));
                let names: Vec<&str> = match rule.resource_names.as_deref() {
                    None | Some([]) => vec![""],
                    Some(names) => names.iter().map(String::as_str).collect(),
                };
                for name in names {
                    out.push(RequestInfo {
                        is_resource: true,
                        verb: verb.into(),
                        api_group: group.into(),
                        resource: resource.into(),
                        subresource: subresource.into(),
                        namespace: namespace.into(),
                        name: name.into(),
                        ..RequestInfo::default()
                    });
                }
            }
        }
    }
    out
}

/// The rules of `rules` that `user` does not hold in `namespace` (empty: cluster-wide).
pub(crate) fn not_held(
    policy: &Policy,
    user: &User,
    rules: &[PolicyRule],
    namespace: &str,
) -> Vec<PolicyRule> {
    rules
        .iter()
        .filter(|r| {
            requests_of(r, namespace)
                .iter()
                .any(|req| !policy.check(user, req).allowed)
        })
        .cloned()
        .collect()
}

/// The 403 of an escalation, worded as kube-apiserver's `ConfirmNoEscalation`.
pub(crate) fn escalation(resource: &str, name: &str, user: &User, missing: &[PolicyRule]) -> Error {
    let rules: Vec<String> = missing.iter().map(compact).collect();
    Error::Denied {
        group: RBAC_GROUP.into(),
        resource: resource.split('.').next().unwrap_or(resource).to_string(),
        name: name.to_string(),
        message: format!(
            "{resource} {name:?} is forbidden: user {:?} (groups={:?}) is attempting to grant RBAC permissions not currently held:\n{}",
            user.name,
            user.groups,
            rules.join("\n")
        ),
    }
}

/// A rule as Kubernetes' `rbac.CompactString` prints it.
fn compact(r: &PolicyRule) -> String {
    let mut parts = Vec::new();
    let list = |v: &[String]| {
        format!(
            "[{}]",
            v.iter()
                .map(|s| format!("{s:?}"))
                .collect::<Vec<_>>()
                .join(" ")
        )
    };
    if let Some(g) = &r.api_groups {
        parts.push(format!("APIGroups:{}", list(g)));
    }
    if let Some(res) = &r.resources {
        parts.push(format!("Resources:{}", list(res)));
    }
    if let Some(n) = r.resource_names.as_ref().filter(|n| !n.is_empty()) {
        parts.push(format!("ResourceNames:{}", list(n)));
    }
    if let Some(u) = &r.non_resource_urls {
        parts.push(format!("NonResourceURLs:{}", list(u)));
    }
    parts.push(format!("Verbs:{}", list(&r.verbs)));
    format!("{{{}}}", parts.join(", "))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn role_ref(kind: &str) -> RoleRef {
        RoleRef {
            api_group: RBAC_GROUP.into(),
            kind: kind.into(),
            name: "view".into(),
        }
    }

    /// Both bindings check their roleRef and subjects alike; only a ClusterRoleBinding refuses
    /// a Role (kube-apiserver's ValidateClusterRoleBinding).
    #[test]
    fn a_cluster_role_binding_may_not_name_a_role() {
        let fields =
            |causes: Vec<Cause>| -> Vec<String> { causes.into_iter().map(|c| c.field).collect() };
        assert!(binding_causes(&role_ref("Role"), None, false).is_empty());
        assert_eq!(
            fields(binding_causes(&role_ref("Role"), None, true)),
            ["roleRef.kind"]
        );
        assert!(binding_causes(&role_ref("ClusterRole"), None, true).is_empty());
        let nameless = vec![Subject {
            kind: "User".into(),
            name: String::new(),
            ..Subject::default()
        }];
        assert_eq!(
            fields(binding_causes(
                &role_ref("ClusterRole"),
                Some(&nameless),
                true
            )),
            ["subjects[0].name"]
        );
    }
}
