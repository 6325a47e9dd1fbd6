//! Who is calling and may they: the middleware on every Kubernetes API route (authenticate,
//! resolve the request's attributes, authorize, or answer 401/403 as kube-apiserver does), and
//! the two self reviews clients ask about themselves: `kubectl auth can-i`
//! (`SelfSubjectAccessReview`, authorization.k8s.io/v1) and `kubectl auth whoami`
//! (`SelfSubjectReview`, authentication.k8s.io/v1).
//!
//! The middleware sits on the router's Kubernetes routes as one `route_layer`, so every route
//! added there is covered by the same resolver (`rbac::request_info`) without naming it. The
//! push, guest and health routes carry their own checks (docs/security.md) and are outside it.

use std::convert::Infallible;
use std::task::{Context, Poll};

use axum::Extension;
use axum::body::Body;
use axum::extract::Request;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use jiff::Timestamp;
use k8s_openapi::api::authentication::v1::{SelfSubjectReview, SelfSubjectReviewStatus, UserInfo};
use k8s_openapi::api::authorization::v1::{
    NonResourceRule, ResourceRule, SelfSubjectAccessReview, SelfSubjectRulesReview,
    SubjectAccessReviewStatus, SubjectRulesReviewStatus,
};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;

use super::AppState;
use super::extract::body_value;
use super::object_write::ObjectWrite;
use super::pods::json;
use crate::auth::identity::User;
use crate::error::Error;
use crate::rbac::{self, RequestInfo};

/// What the middleware needs: the authenticator and the authorizer only ([`Checked`] clones
/// it per request; two `Arc`s are cheaper than the whole [`AppState`]).
#[derive(Clone)]
pub(crate) struct Guard {
    authn: std::sync::Arc<crate::auth::identity::Authenticator>,
    authz: std::sync::Arc<crate::rbac::Authorizer>,
}

impl Guard {
    /// The guard of `state`.
    pub(crate) fn of(state: &AppState) -> Self {
        Guard {
            authn: state.authn.clone(),
            authz: state.authz.clone(),
        }
    }
}

/// The guard as the routes' `route_layer`: [`Checked`] around each route.
impl<S> tower::Layer<S> for Guard {
    type Service = Checked<S>;

    fn layer(&self, inner: S) -> Checked<S> {
        Checked {
            guard: self.clone(),
            inner,
        }
    }
}

/// A route behind [`authorize`]. Hand-written, not `middleware::from_fn_with_state`, which
/// boxes the route it wraps again and its own future for each request (perf on `GET pod`,
/// docs/benchmarks.md).
#[derive(Clone)]
pub(crate) struct Checked<S> {
    guard: Guard,
    inner: S,
}

impl<S> tower::Service<Request> for Checked<S>
where
    S: tower::Service<Request, Response = Response, Error = Infallible> + Clone + Send + 'static,
    S::Future: Send,
{
    type Response = Response;
    type Error = Infallible;
    type Future = super::Answering;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: Request) -> Self::Future {
        // The service made ready is the one called; its clone stays for the next request
        // (tower's `Service` docs, "Be careful when cloning inner services").
        let clone = self.inner.clone();
        let ready = std::mem::replace(&mut self.inner, clone);
        let guard = self.guard.clone();
        Box::pin(async move {
            let next = |request| super::answer(ready, request);
            Ok(authorize(guard, request, next).await)
        })
    }
}

/// Authenticates and authorizes the request, then runs `next` (the route); the handler
/// finds the [`User`] in its extensions.
async fn authorize<F, Fut>(state: Guard, mut request: Request, next: F) -> Response
where
    F: FnOnce(Request) -> Fut,
    Fut: std::future::Future<Output = Response>,
{
    let user = match state
        .authn
        .authenticate(request.headers(), Timestamp::now())
        .await
    {
        Ok(user) => user,
        Err(e) => return e.into_response(),
    };
    let user = match impersonated(&state, user, request.headers()).await {
        Ok(user) => user,
        Err(e) => return e.into_response(),
    };
    crate::telemetry::request::record_user(&user.name);
    let uri = request.uri();
    let info = rbac::resolve(request.method().as_str(), uri.path(), uri.query());
    match state.authz.check(&user, &info).await {
        Ok(d) if d.allowed => {}
        Ok(d) => return rbac::forbidden(&user, &info, &d.reason).into_response(),
        Err(e) => return e.into_response(),
    }
    // A WebSocket exec, attach or port-forward is a GET, yet it starts a process: since
    // Kubernetes 1.31 (feature gate AuthorizePodWebsocketUpgradeCreatePermission, on by
    // default) kube-apiserver also asks for `create` on the subresource.
    if let Some(create) = websocket_upgrade_also_needs(&info) {
        match state.authz.check(&user, &create).await {
            Ok(d) if d.allowed => {}
            Ok(d) => return rbac::forbidden(&user, &create, &d.reason).into_response(),
            Err(e) => return e.into_response(),
        }
    }
    request.extensions_mut().insert(user);
    next(request).await
}

/// The `create` a GET of `pods/exec`, `pods/attach` or `pods/portforward` needs as well.
fn websocket_upgrade_also_needs<'a>(info: &rbac::RequestInfo<'a>) -> Option<rbac::RequestInfo<'a>> {
    let streaming = matches!(&*info.subresource, "exec" | "attach" | "portforward");
    (info.verb == "get" && info.resource == "pods" && info.api_group.is_empty() && streaming).then(
        || rbac::RequestInfo {
            verb: "create".into(),
            ..info.clone()
        },
    )
}

/// `Impersonate-User` / `Impersonate-Group` (kubectl `--as`, `--as-group`), as kube-apiserver's
/// impersonation filter: each needs the `impersonate` verb on `users` / `groups` with that name
/// (cluster-admin has it), else 403 `users "x" is forbidden: User "me" cannot impersonate
/// resource "users" in API group "" at the cluster scope`. The impersonated user is in
/// `system:authenticated` and the groups asked for. Without the headers, the caller.
async fn impersonated(state: &Guard, user: User, headers: &HeaderMap) -> Result<User, Error> {
    let Some(name) = headers
        .get("impersonate-user")
        .and_then(|v| v.to_str().ok())
        .filter(|v| !v.is_empty())
    else {
        return Ok(user);
    };
    let groups: Vec<String> = headers
        .get_all("impersonate-group")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .map(str::to_string)
        .collect();
    let asks = std::iter::once(("users", name.to_string()))
        .chain(groups.iter().map(|g| ("groups", g.clone())));
    for (resource, target) in asks {
        let info = RequestInfo {
            is_resource: true,
            verb: "impersonate".into(),
            resource: resource.into(),
            name: target.into(),
            ..RequestInfo::default()
        };
        if !state.authz.check(&user, &info).await?.allowed {
            return Err(rbac::forbidden(&user, &info, ""));
        }
    }
    let mut as_user = User::email(name);
    as_user.groups.extend(groups);
    Ok(as_user)
}

/// `POST /apis/authorization.k8s.io/v1/selfsubjectaccessreviews`: may I? (201, the review with
/// its status, as kube-apiserver answers).
pub(crate) async fn self_subject_access_review(w: Review) -> Result<Response, Error> {
    let Extension(user) = &w.parts;
    let mut review: SelfSubjectAccessReview =
        review_body(&w.state, &w.headers, w.body, "SelfSubjectAccessReview").await?;
    let state = &w.state;
    let info = review_attributes(&review)?;
    let decision = state.authz.check(user, &info).await?;
    review.status = Some(SubjectAccessReviewStatus {
        allowed: decision.allowed,
        reason: (!decision.reason.is_empty()).then_some(decision.reason),
        ..SubjectAccessReviewStatus::default()
    });
    Ok(json(StatusCode::CREATED, &review))
}

/// What a self review takes off its request: the caller, then the headers and the body (the
/// query is not read).
type Review = ObjectWrite<Extension<User>>;

/// A self review's body, decoded as `kind` (400 naming it when it is not one).
async fn review_body<R: serde::de::DeserializeOwned>(
    state: &AppState,
    headers: &HeaderMap,
    body: Body,
    kind: &str,
) -> Result<R, Error> {
    let value = body_value(headers, body, state.body_limit).await?;
    serde_json::from_value(value).map_err(|e| Error::bad_request(format!("{kind}: {e}")))
}

/// The attributes a review asks about; exactly one of resource and non-resource attributes.
fn review_attributes(review: &SelfSubjectAccessReview) -> Result<RequestInfo<'static>, Error> {
    let spec = &review.spec;
    match (&spec.resource_attributes, &spec.non_resource_attributes) {
        (Some(r), None) => Ok(RequestInfo {
            is_resource: true,
            verb: r.verb.clone().unwrap_or_default().into(),
            api_group: r.group.clone().unwrap_or_default().into(),
            api_version: r.version.clone().unwrap_or_default().into(),
            resource: r.resource.clone().unwrap_or_default().into(),
            subresource: r.subresource.clone().unwrap_or_default().into(),
            namespace: r.namespace.clone().unwrap_or_default().into(),
            name: r.name.clone().unwrap_or_default().into(),
            path: "".into(),
        }),
        (None, Some(n)) => Ok(RequestInfo {
            verb: n.verb.clone().unwrap_or_default().into(),
            path: n.path.clone().unwrap_or_default().into(),
            ..RequestInfo::default()
        }),
        _ => Err(Error::Invalid {
            kind: "SelfSubjectAccessReview",
            name: String::new(),
            causes: vec![crate::error::Cause::invalid(
                "spec.resourceAttributes",
                "exactly one of nonResourceAttributes or resourceAttributes must be specified",
            )],
        }),
    }
}

/// `POST /apis/authorization.k8s.io/v1/selfsubjectrulesreviews`: what may I do in this
/// namespace? (`kubectl auth can-i --list`; 201).
pub(crate) async fn self_subject_rules_review(w: Review) -> Result<Response, Error> {
    let Extension(user) = &w.parts;
    let mut review: SelfSubjectRulesReview =
        review_body(&w.state, &w.headers, w.body, "SelfSubjectRulesReview").await?;
    let state = &w.state;
    let namespace = review.spec.namespace.clone().unwrap_or_default();
    let rules = state.authz.stored().await?.rules_for(user, &namespace);
    let mut status = SubjectRulesReviewStatus::default();
    for r in rules {
        if let Some(urls) = r.non_resource_urls.filter(|u| !u.is_empty()) {
            status.non_resource_rules.push(NonResourceRule {
                non_resource_urls: Some(urls),
                verbs: r.verbs.clone(),
            });
        }
        if r.resources.as_ref().is_some_and(|rs| !rs.is_empty()) {
            status.resource_rules.push(ResourceRule {
                api_groups: r.api_groups,
                resource_names: r.resource_names,
                resources: r.resources,
                verbs: r.verbs,
            });
        }
    }
    review.status = Some(status);
    Ok(json(StatusCode::CREATED, &review))
}

/// `POST /apis/authentication.k8s.io/v1/selfsubjectreviews`: who am I? (201).
pub(crate) async fn self_subject_review(Extension(user): Extension<User>) -> Response {
    let review = SelfSubjectReview {
        metadata: k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta {
            creation_timestamp: Some(Time(Timestamp::now())),
            ..Default::default()
        },
        status: Some(SelfSubjectReviewStatus {
            user_info: Some(UserInfo {
                username: Some(user.name.clone()),
                groups: Some(user.groups.clone()),
                ..UserInfo::default()
            }),
        }),
    };
    json(StatusCode::CREATED, &review)
}

#[cfg(test)]
mod upgrade_tests {
    use super::*;

    #[test]
    fn a_websocket_exec_also_needs_create() {
        let exec = "/api/v1/namespaces/a/pods/web/exec";
        let get = rbac::resolve("GET", exec, Some("command=ls"));
        assert_eq!(
            websocket_upgrade_also_needs(&get).map(|i| i.verb),
            Some("create".into())
        );
        let post = rbac::resolve("POST", exec, Some("command=ls"));
        assert_eq!(
            websocket_upgrade_also_needs(&post),
            None,
            "a POST is create already"
        );
        let log = rbac::resolve("GET", "/api/v1/namespaces/a/pods/web/log", None);
        assert_eq!(websocket_upgrade_also_needs(&log), None);
    }
}
