//! The RBAC objects' flows, below HTTP: create, get, list, replace and delete of any of the
//! four kinds ([`RbacKind`]), with the escalation check of `objects.rs` before a write, the
//! built-in ClusterRoles served read-only beside the stored ones, and the authorizer's cache
//! dropped after every write, so this instance's next check sees it.

use k8s_openapi::api::rbac::v1::{
    ClusterRole, ClusterRoleBinding, PolicyRule, Role, RoleBinding, RoleRef,
};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;

use super::Authorizer;
use super::objects::{RbacStore, escalation, is_builtin, not_held};
use super::request_info::RequestInfo;
use super::rules::{BUILTIN_CLUSTER_ROLES, RBAC_GROUP};
use crate::auth::identity::User;
use crate::error::{Error, Result};
use crate::objects::{ObjectList, Objects, StoredObject};

/// What an RBAC object grants: rules (a role) or a role (a binding).
pub(crate) enum Grants<'a> {
    /// A Role's or ClusterRole's rules.
    Rules(&'a [PolicyRule]),
    /// A binding's role.
    Binding(&'a RoleRef),
}

/// One of the four RBAC kinds.
pub(crate) trait RbacKind: StoredObject + k8s_openapi::ListableResource {
    /// Its objects.
    fn objects(store: &RbacStore) -> &Objects<Self>;
    /// What it grants.
    fn grants(&self) -> Grants<'_>;
}

impl RbacKind for Role {
    fn objects(store: &RbacStore) -> &Objects<Self> {
        &store.roles
    }
    fn grants(&self) -> Grants<'_> {
        Grants::Rules(self.rules.as_deref().unwrap_or_default())
    }
}

impl RbacKind for ClusterRole {
    fn objects(store: &RbacStore) -> &Objects<Self> {
        &store.cluster_roles
    }
    fn grants(&self) -> Grants<'_> {
        Grants::Rules(self.rules.as_deref().unwrap_or_default())
    }
}

impl RbacKind for RoleBinding {
    fn objects(store: &RbacStore) -> &Objects<Self> {
        &store.role_bindings
    }
    fn grants(&self) -> Grants<'_> {
        Grants::Binding(&self.role_ref)
    }
}

impl RbacKind for ClusterRoleBinding {
    fn objects(store: &RbacStore) -> &Objects<Self> {
        &store.cluster_role_bindings
    }
    fn grants(&self) -> Grants<'_> {
        Grants::Binding(&self.role_ref)
    }
}

/// The built-in ClusterRoles as objects (`kubectl get clusterroles`, `describe clusterrole`).
pub(crate) fn builtin_cluster_roles() -> Vec<ClusterRole> {
    BUILTIN_CLUSTER_ROLES
        .iter()
        .map(|(name, rules)| ClusterRole {
            metadata: ObjectMeta {
                name: Some(name.to_string()),
                labels: Some(
                    [(
                        "kubernetes.io/bootstrapping".to_string(),
                        "rbac-defaults".to_string(),
                    )]
                    .into(),
                ),
                resource_version: Some("0".into()),
                ..ObjectMeta::default()
            },
            rules: Some(rules.clone()),
            aggregation_rule: None,
        })
        .collect()
}

fn builtin_refused(name: &str) -> Error {
    Error::MethodNotAllowed {
        message: format!(
            "clusterroles.rbac.authorization.k8s.io {name:?} is a built-in ClusterRole of k8sless and cannot be changed; create a ClusterRole of another name"
        ),
    }
}

fn is_builtin_of<K: RbacKind>(name: &str) -> bool {
    K::KIND == "ClusterRole" && is_builtin(name)
}

impl Authorizer {
    fn rbac(&self) -> Result<&RbacStore> {
        self.store()
            .ok_or_else(|| Error::internal("RBAC objects have no store"))
    }

    /// 403 unless `user` may write `obj` (in `namespace`) without escalating (`objects.rs`).
    pub(crate) async fn rbac_admit<K: RbacKind>(
        &self,
        user: &User,
        namespace: Option<&str>,
        obj: &K,
    ) -> Result<()> {
        let name = obj.metadata().name.clone().unwrap_or_default();
        let ns = namespace.unwrap_or("");
        let (verb, role_resource, role_name, rules) = match obj.grants() {
            Grants::Rules(rules) => {
                let resource = if K::NAMESPACED {
                    "roles"
                } else {
                    "clusterroles"
                };
                ("escalate", resource, name.clone(), rules.to_vec())
            }
            Grants::Binding(role_ref) => {
                let resource = if role_ref.kind == "Role" {
                    "roles"
                } else {
                    "clusterroles"
                };
                let policy = self.stored().await?;
                let rules = policy.role_rules(role_ref, namespace).cloned();
                let escape = self.may(user, "bind", resource, &role_ref.name, ns).await?;
                if escape {
                    return Ok(());
                }
                let Some(rules) = rules else {
                    return Err(Error::NotFound {
                        kind: if role_ref.kind == "Role" {
                            "roles.rbac.authorization.k8s.io"
                        } else {
                            "clusterroles.rbac.authorization.k8s.io"
                        },
                        name: role_ref.name.clone(),
                    });
                };
                ("bind", resource, role_ref.name.clone(), rules)
            }
        };
        if verb == "escalate" && self.may(user, verb, role_resource, &role_name, ns).await? {
            return Ok(());
        }
        let policy = self.stored().await?;
        let missing = not_held(&policy, user, &rules, ns);
        if missing.is_empty() {
            Ok(())
        } else {
            Err(escalation(K::RESOURCE, &name, user, &missing))
        }
    }

    async fn may(
        &self,
        user: &User,
        verb: &str,
        resource: &str,
        name: &str,
        namespace: &str,
    ) -> Result<bool> {
        let info = RequestInfo {
            is_resource: true,
            verb: verb.into(),
            api_group: RBAC_GROUP.into(),
            resource: resource.into(),
            namespace: namespace.into(),
            name: name.into(),
            ..RequestInfo::default()
        };
        Ok(self.check(user, &info).await?.allowed)
    }

    /// Runs a write of the RBAC objects, then drops the cached policy whatever its outcome (a
    /// failed write may have been written all the same).
    async fn invalidating<T>(
        &self,
        write: impl std::future::Future<Output = Result<T>>,
    ) -> Result<T> {
        let written = write.await;
        self.invalidate();
        written
    }

    /// Creates an RBAC object.
    ///
    /// # Errors
    /// 403 for an escalation; `Objects::create`'s (422, 409, ...).
    pub(crate) async fn rbac_create<K: RbacKind>(
        &self,
        user: &User,
        namespace: Option<&str>,
        obj: K,
    ) -> Result<K> {
        let name = obj.metadata().name.clone().unwrap_or_default();
        if is_builtin_of::<K>(&name) {
            return Err(Error::AlreadyExists {
                kind: K::RESOURCE,
                name,
            });
        }
        self.rbac_admit(user, namespace, &obj).await?;
        self.invalidating(K::objects(self.rbac()?).create(namespace, obj))
            .await
    }

    /// Replaces an RBAC object (`PUT`).
    ///
    /// # Errors
    /// 403 for an escalation; 405 for a built-in ClusterRole; `Objects::replace`'s.
    pub(crate) async fn rbac_replace<K: RbacKind>(
        &self,
        user: &User,
        namespace: Option<&str>,
        name: &str,
        obj: K,
    ) -> Result<K> {
        if is_builtin_of::<K>(name) {
            return Err(builtin_refused(name));
        }
        self.rbac_admit(user, namespace, &obj).await?;
        self.invalidating(K::objects(self.rbac()?).replace(namespace, name, obj))
            .await
    }

    /// Deletes an RBAC object, returning it.
    ///
    /// # Errors
    /// 405 for a built-in ClusterRole; `Objects::delete`'s.
    pub(crate) async fn rbac_delete<K: RbacKind>(
        &self,
        namespace: Option<&str>,
        name: &str,
    ) -> Result<K> {
        if is_builtin_of::<K>(name) {
            return Err(builtin_refused(name));
        }
        self.invalidating(K::objects(self.rbac()?).delete(namespace, name, None))
            .await
    }

    /// Reads one RBAC object (a built-in ClusterRole too).
    ///
    /// # Errors
    /// 404; the store's.
    pub(crate) async fn rbac_get<K: RbacKind>(
        &self,
        namespace: Option<&str>,
        name: &str,
    ) -> Result<K> {
        if is_builtin_of::<K>(name) {
            return builtin_as::<K>(name);
        }
        K::objects(self.rbac()?).get(namespace, name).await
    }

    /// Lists RBAC objects of a namespace (`None`: all); ClusterRoles include the built-ins.
    ///
    /// # Errors
    /// The store's.
    pub(crate) async fn rbac_list<K: RbacKind>(
        &self,
        namespace: Option<&str>,
    ) -> Result<ObjectList<K>> {
        let mut list = K::objects(self.rbac()?).list(namespace).await?;
        if K::KIND == "ClusterRole" {
            let mut all: Vec<K> = Vec::new();
            for role in builtin_cluster_roles() {
                let name = role.metadata.name.clone().unwrap_or_default();
                all.push(builtin_as::<K>(&name)?);
            }
            all.extend(
                list.items
                    .into_iter()
                    .filter(|k| !is_builtin(k.metadata().name.as_deref().unwrap_or(""))),
            );
            all.sort_by(|a, b| a.metadata().name.cmp(&b.metadata().name));
            list.items = all;
        }
        Ok(list)
    }
}

/// A built-in ClusterRole as `K` (which is ClusterRole whenever this is called).
fn builtin_as<K: RbacKind>(name: &str) -> Result<K> {
    let role = builtin_cluster_roles()
        .into_iter()
        .find(|r| r.metadata.name.as_deref() == Some(name))
        .ok_or_else(|| Error::internal(format!("no built-in ClusterRole {name}")))?;
    let value =
        serde_json::to_value(role).map_err(|e| Error::internal_from("built-in ClusterRole", e))?;
    serde_json::from_value(value).map_err(|e| Error::internal_from("built-in ClusterRole", e))
}
