//! The authorizer every API request passes: the built-in policy first (no I/O: admins,
//! `system:masters`, the self reviews and discovery), then the stored RBAC objects, read
//! through a per-instance cache.
//!
//! # Guarantees
//! - A write of an RBAC object through this instance is seen by its next check (the cache is
//!   dropped on every write).
//! - Another instance's write is seen within [`POLICY_TTL`]: like kube-apiserver's informer
//!   cache, RBAC here is eventually consistent across instances.
//! - One refresh at a time per instance (single-flight); concurrent checks wait for it.
//!
//! # Errors
//! A denial is [`forbidden`]: 403 worded as kube-apiserver words it. A store that cannot be
//! read is 503 (the client retries), never an allow.

use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use async_trait::async_trait;

use super::objects::RbacStore;
use super::policy::{Decision, Policy, PolicyObjects};
use super::request_info::RequestInfo;
use crate::auth::identity::User;
use crate::error::Error;

/// How long a stored-policy snapshot serves checks on one instance.
pub(crate) const POLICY_TTL: Duration = Duration::from_secs(5);

/// Where the stored RBAC objects come from.
#[async_trait]
pub(crate) trait PolicySource: Send + Sync + std::fmt::Debug {
    /// Every Role, ClusterRole, RoleBinding and ClusterRoleBinding.
    async fn load(&self) -> Result<PolicyObjects, Error>;
}

/// Authorizes requests.
#[derive(Debug)]
pub struct Authorizer {
    admins: Vec<String>,
    base: Policy,
    source: Option<RbacStore>,
    cached: RwLock<Option<(Instant, Arc<Policy>)>>,
    refresh: tokio::sync::Mutex<()>,
}

impl Authorizer {
    /// An authorizer with these admins, reading stored objects from `source`.
    pub(crate) fn new(admins: Vec<String>, source: Option<RbacStore>) -> Self {
        Authorizer {
            base: Policy::new(&admins, PolicyObjects::default()),
            admins,
            source,
            cached: RwLock::new(None),
            refresh: tokio::sync::Mutex::new(()),
        }
    }

    /// The stored RBAC objects.
    pub(crate) fn store(&self) -> Option<&RbacStore> {
        self.source.as_ref()
    }

    /// The configured admins.
    pub(crate) fn admins(&self) -> &[String] {
        &self.admins
    }

    /// Whether `user` may do what `info` asks.
    pub(crate) async fn check(
        &self,
        user: &User,
        info: &RequestInfo<'_>,
    ) -> Result<Decision, Error> {
        let base = self.base.check(user, info);
        if base.allowed || self.source.is_none() {
            return Ok(base);
        }
        Ok(self.stored().await?.check(user, info))
    }

    /// Forgets the snapshot (after a write of an RBAC object).
    pub(crate) fn invalidate(&self) {
        if let Ok(mut c) = self.cached.write() {
            *c = None;
        }
    }

    fn fresh(&self) -> Option<Arc<Policy>> {
        let cached = self.cached.read().ok()?;
        let (at, policy) = cached.as_ref()?;
        (at.elapsed() < POLICY_TTL).then(|| policy.clone())
    }

    /// The whole policy: built-ins, admins and stored objects (cached).
    pub(crate) async fn stored(&self) -> Result<Arc<Policy>, Error> {
        if let Some(p) = self.fresh() {
            return Ok(p);
        }
        let _single_flight = self.refresh.lock().await;
        if let Some(p) = self.fresh() {
            return Ok(p);
        }
        let Some(source) = &self.source else {
            return Ok(Arc::new(Policy::new(
                &self.admins,
                PolicyObjects::default(),
            )));
        };
        let policy = Arc::new(Policy::new(&self.admins, source.load().await?));
        if let Ok(mut c) = self.cached.write() {
            *c = Some((Instant::now(), policy.clone()));
        }
        Ok(policy)
    }
}

/// The 403 kube-apiserver answers (`responsewriters.Forbidden`, `forbiddenMessage` and
/// `apierrors.NewForbidden`):
/// `pods "web" is forbidden: User "bob@example.com" cannot get resource "pods" in API group ""
/// in the namespace "team-a"`, `... at the cluster scope`, `forbidden: User "x" cannot get path
/// "/metrics"`; the subresource joins the resource in the sentence (`"pods/status"`) but not
/// the qualified resource before `is forbidden`; `: <reason>` follows when the authorizer gave
/// one.
pub(crate) fn forbidden(user: &User, info: &RequestInfo<'_>, reason: &str) -> Error {
    let sentence = if !info.is_resource {
        format!(
            "User {:?} cannot {} path {:?}",
            user.name, info.verb, info.path
        )
    } else {
        let resource = if info.subresource.is_empty() {
            info.resource.to_string()
        } else {
            format!("{}/{}", info.resource, info.subresource)
        };
        let scope = if info.namespace.is_empty() {
            "at the cluster scope".to_string()
        } else {
            format!("in the namespace {:?}", info.namespace)
        };
        format!(
            "User {:?} cannot {} resource {:?} in API group {:?} {scope}",
            user.name, info.verb, resource, info.api_group
        )
    };
    let sentence = sanitize(&sentence);
    let error = if reason.is_empty() {
        sentence
    } else {
        format!("{sentence}: {reason}")
    };
    let qualified = match (&*info.resource, &*info.api_group) {
        ("", _) => String::new(),
        (r, "") => r.to_string(),
        (r, g) => format!("{r}.{g}"),
    };
    let message = match (qualified.is_empty(), info.name.is_empty()) {
        (true, _) => format!("forbidden: {error}"),
        (false, true) => format!("{qualified} is forbidden: {error}"),
        (false, false) => format!("{qualified} {:?} is forbidden: {error}", info.name),
    };
    Error::Denied {
        group: info.api_group.to_string(),
        resource: info.resource.to_string(),
        name: info.name.to_string(),
        message,
    }
}

/// kube-apiserver escapes `&`, `<` and `>` in the message (`sanitizer` in responsewriters).
fn sanitize(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

#[cfg(test)]
mod tests {
    use super::super::request_info::resolve;
    use super::*;

    fn msg(method: &str, path: &str) -> String {
        forbidden(
            &User::email("bob@example.com"),
            &resolve(method, path, None),
            "",
        )
        .to_string()
    }

    #[test]
    fn denials_are_worded_as_kube_apiserver_words_them() {
        assert_eq!(
            msg("POST", "/api/v1/namespaces/team-a/pods"),
            r#"pods is forbidden: User "bob@example.com" cannot create resource "pods" in API group "" in the namespace "team-a""#
        );
        assert_eq!(
            msg("GET", "/api/v1/pods"),
            r#"pods is forbidden: User "bob@example.com" cannot list resource "pods" in API group "" at the cluster scope"#
        );
        assert_eq!(
            msg("PUT", "/api/v1/namespaces/team-a/pods/web/status"),
            r#"pods "web" is forbidden: User "bob@example.com" cannot update resource "pods/status" in API group "" in the namespace "team-a""#
        );
        assert_eq!(
            msg(
                "POST",
                "/apis/rbac.authorization.k8s.io/v1/namespaces/a/rolebindings"
            ),
            r#"rolebindings.rbac.authorization.k8s.io is forbidden: User "bob@example.com" cannot create resource "rolebindings" in API group "rbac.authorization.k8s.io" in the namespace "a""#
        );
        assert_eq!(
            msg("GET", "/metrics"),
            r#"forbidden: User "bob@example.com" cannot get path "/metrics""#
        );
        let e = forbidden(
            &User::email("a@b.c"),
            &resolve("GET", "/api/v1/namespaces/x/pods/p", None),
            "RBAC: role.rbac.authorization.k8s.io \"r\" not found",
        );
        assert!(e.to_string().ends_with(
            r#"in the namespace "x": RBAC: role.rbac.authorization.k8s.io "r" not found"#
        ));
        let status = e.to_status();
        assert_eq!(status["code"], 403);
        assert_eq!(status["reason"], "Forbidden");
        assert_eq!(status["details"]["kind"], "pods");
        assert_eq!(status["details"]["name"], "p");
    }
}
