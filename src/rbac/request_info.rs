//! What a request asks to do, in the terms RBAC matches: the verb, API group, resource,
//! subresource, namespace and name, resolved from the method and path alone, as
//! kube-apiserver's `RequestInfoFactory` does (k8s.io/apiserver/pkg/endpoints/request/
//! requestinfo.go). Applied once, in the middleware, to every route, so a route added later is
//! covered by the same table without naming it anywhere.
//!
//! - `/api/v1/...` is the core group (`""`), `/apis/<group>/<version>/...` a named group; a
//!   shorter path (`/api`, `/apis/rbac.authorization.k8s.io`) and anything outside both is a
//!   non-resource request, matched against `nonResourceURLs` with the lower-cased method as verb.
//! - Verbs: `POST` create, `GET`/`HEAD` get (list when no name; watch with `watch=true` or
//!   `watch=1`, or under the legacy `/watch/` prefix), `PUT` update, `PATCH` patch, `DELETE`
//!   delete (deletecollection when no name).
//! - `namespaces/<ns>/<resource>/...` is namespaced; `namespaces/<ns>` itself and its `status`
//!   and `finalize` subresources are the Namespace object, whose namespace is its own name (so
//!   a RoleBinding in `team-a` lets its subject read Namespace `team-a`).
//! - A list or watch with `fieldSelector=metadata.name=<n>` is about object `<n>` (how
//!   `kubectl get pod x -w` asks), so `resourceNames` rules match it.
//! - k8sless' shortcut `/pods` is `/api/v1/namespaces/default/pods`.

use std::borrow::Cow;

/// The attributes of one request. Each borrows from the request's path where it can (a
/// request resolved in the middleware allocates nothing for them); a review's or an
/// impersonation's attributes own theirs.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub(crate) struct RequestInfo<'a> {
    /// Whether it names a resource (else `path` is what is authorized).
    pub(crate) is_resource: bool,
    /// The URL path (non-resource requests).
    pub(crate) path: Cow<'a, str>,
    /// `get`, `list`, `watch`, `create`, `update`, `patch`, `delete`, `deletecollection`; the
    /// lower-cased method for non-resource requests.
    pub(crate) verb: Cow<'a, str>,
    /// The API group (`""` for core).
    pub(crate) api_group: Cow<'a, str>,
    /// The version (`v1`).
    pub(crate) api_version: Cow<'a, str>,
    /// The resource (plural).
    pub(crate) resource: Cow<'a, str>,
    /// The subresource (`status`, `log`, `exec`, ...).
    pub(crate) subresource: Cow<'a, str>,
    /// The namespace (empty: cluster scope).
    pub(crate) namespace: Cow<'a, str>,
    /// The object's name (empty for collections).
    pub(crate) name: Cow<'a, str>,
}

/// Subresources of a Namespace that do not start a namespaced resource.
const NAMESPACE_SUBRESOURCES: [&str; 2] = ["status", "finalize"];

/// Resolves a request's attributes from its method, path and raw query.
pub(crate) fn resolve<'a>(method: &str, path: &'a str, query: Option<&'a str>) -> RequestInfo<'a> {
    let path = if path == "/pods" {
        "/api/v1/namespaces/default/pods"
    } else {
        path
    };
    let non_resource = || RequestInfo {
        path: path.into(),
        verb: method.to_ascii_lowercase().into(),
        ..RequestInfo::default()
    };
    let mut parts: Vec<&str> = path.trim_matches('/').split('/').collect();
    let (group, version, rest) = match parts.first() {
        Some(&"api") if parts.len() >= 3 => ("", parts[1], 2),
        Some(&"apis") if parts.len() >= 4 => (parts[1], parts[2], 3),
        _ => return non_resource(),
    };
    parts.drain(..rest);
    let mut info = RequestInfo {
        is_resource: true,
        path: path.into(),
        api_group: group.into(),
        api_version: version.into(),
        ..RequestInfo::default()
    };
    info.verb = match method {
        "POST" => "create",
        "GET" | "HEAD" => "get",
        "PUT" => "update",
        "PATCH" => "patch",
        "DELETE" => "delete",
        _ => "",
    }
    .into();
    if parts.first() == Some(&"watch") && parts.len() > 1 {
        info.verb = "watch".into();
        parts.remove(0);
    }
    if parts.first() == Some(&"namespaces") && parts.len() > 1 {
        info.namespace = parts[1].into();
        if parts.len() > 2 && !NAMESPACE_SUBRESOURCES.contains(&parts[2]) {
            parts.drain(..2);
        }
    }
    let part = |i: usize| Cow::Borrowed(parts.get(i).copied().unwrap_or(""));
    info.resource = part(0);
    info.name = part(1);
    info.subresource = part(2);
    if info.name.is_empty() {
        collection_verb(&mut info, query);
    }
    info
}

/// A collection's `get` is `list` (or `watch`), its `delete` is `deletecollection`; a
/// `metadata.name` field selector names the object.
fn collection_verb(info: &mut RequestInfo<'_>, query: Option<&str>) {
    let params = || {
        query
            .unwrap_or("")
            .split('&')
            .filter_map(|kv| kv.split_once('='))
    };
    match &*info.verb {
        "get" => {
            let watch = params().any(|(k, v)| k == "watch" && (v == "true" || v == "1"));
            info.verb = if watch { "watch" } else { "list" }.into();
        }
        "delete" => info.verb = "deletecollection".into(),
        _ => {}
    }
    if info.verb == "list" || info.verb == "watch" {
        let selector = params()
            .find(|(k, _)| *k == "fieldSelector")
            .map(|(_, v)| decode(v))
            .unwrap_or_default();
        if let Some(name) = selector
            .strip_prefix("metadata.name=")
            .filter(|n| !n.contains(','))
        {
            info.name = name.to_string().into();
        }
    }
}

/// Percent-decoding of a query value (`+` is a space).
fn decode(v: &str) -> String {
    let bytes = v.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'%' if i + 2 < bytes.len() => {
                let hex = std::str::from_utf8(&bytes[i + 1..i + 3]).unwrap_or("");
                match u8::from_str_radix(hex, 16) {
                    Ok(b) => {
                        out.push(b);
                        i += 3;
                        continue;
                    }
                    Err(_) => out.push(b'%'),
                }
            }
            b'+' => out.push(b' '),
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A request (method, path, query) and the attributes RBAC matches on it: verb, API
    /// group, resource, subresource, namespace, name.
    type Case = (
        &'static str,
        &'static str,
        Option<&'static str>,
        [&'static str; 6],
    );

    const PODS: &str = "/api/v1/namespaces/team-a/pods";
    const BY_NAME: Option<&str> = Some("fieldSelector=metadata.name%3Dweb&watch=1");
    const BY_NAME_AND_PHASE: Option<&str> =
        Some("fieldSelector=metadata.name%3Dweb%2Cstatus.phase%3DRunning");
    const RBAC: &str = "rbac.authorization.k8s.io";
    const AUTHZ: &str = "authorization.k8s.io";

    // One request a line: a data table, kept out of rustfmt's reach so that it stays one.
    #[rustfmt::skip]
    const CASES: &[Case] = &[
        // Pods and their subresources.
        ("POST", PODS, None, ["create", "", "pods", "", "team-a", ""]),
        ("GET", PODS, None, ["list", "", "pods", "", "team-a", ""]),
        ("GET", PODS, Some("watch=true&resourceVersion=5"), ["watch", "", "pods", "", "team-a", ""]),
        ("DELETE", PODS, None, ["deletecollection", "", "pods", "", "team-a", ""]),
        ("GET", "/api/v1/namespaces/team-a/pods/web", None, ["get", "", "pods", "", "team-a", "web"]),
        ("PUT", "/api/v1/namespaces/team-a/pods/web/status", None, ["update", "", "pods", "status", "team-a", "web"]),
        ("GET", "/api/v1/namespaces/team-a/pods/web/log", Some("follow=true"), ["get", "", "pods", "log", "team-a", "web"]),
        ("POST", "/api/v1/namespaces/team-a/pods/web/exec", None, ["create", "", "pods", "exec", "team-a", "web"]),
        ("GET", "/api/v1/pods", None, ["list", "", "pods", "", "", ""]),
        ("GET", "/api/v1/watch/namespaces/team-a/pods", None, ["watch", "", "pods", "", "team-a", ""]),
        ("POST", "/pods", None, ["create", "", "pods", "", "default", ""]),
        // A name selector names the object, unless it selects more than the name.
        ("GET", "/api/v1/namespaces/a/pods", BY_NAME, ["watch", "", "pods", "", "a", "web"]),
        ("GET", "/api/v1/namespaces/a/pods", BY_NAME_AND_PHASE, ["list", "", "pods", "", "a", ""]),
        // Namespaces are their own namespace.
        ("GET", "/api/v1/namespaces", None, ["list", "", "namespaces", "", "", ""]),
        ("GET", "/api/v1/namespaces/team-a", None, ["get", "", "namespaces", "", "team-a", "team-a"]),
        ("PUT", "/api/v1/namespaces/team-a/finalize", None, ["update", "", "namespaces", "finalize", "team-a", "team-a"]),
        ("DELETE", "/api/v1/namespaces/team-a", None, ["delete", "", "namespaces", "", "team-a", "team-a"]),
        // Named groups.
        ("POST", "/apis/rbac.authorization.k8s.io/v1/namespaces/team-a/rolebindings", None, ["create", RBAC, "rolebindings", "", "team-a", ""]),
        ("DELETE", "/apis/rbac.authorization.k8s.io/v1/clusterrolebindings/x", None, ["delete", RBAC, "clusterrolebindings", "", "", "x"]),
        ("POST", "/apis/authorization.k8s.io/v1/selfsubjectaccessreviews", None, ["create", AUTHZ, "selfsubjectaccessreviews", "", "", ""]),
    ];

    #[test]
    fn resource_requests_resolve_to_their_attributes() {
        for (method, path, query, want) in CASES {
            let got = resolve(method, path, *query);
            let attributes = [
                &*got.verb,
                &*got.api_group,
                &*got.resource,
                &*got.subresource,
                &*got.namespace,
                &*got.name,
            ];
            assert!(got.is_resource, "{method} {path} {query:?}");
            assert_eq!(attributes, *want, "{method} {path} {query:?}");
        }
    }

    #[test]
    fn discovery_is_not_a_resource() {
        for p in [
            "/api",
            "/api/v1",
            "/apis",
            "/apis/rbac.authorization.k8s.io/v1",
            "/version",
            "/openapi/v3",
        ] {
            let i = resolve("GET", p, None);
            assert!(!i.is_resource, "{p}");
            assert_eq!((&*i.verb, &*i.path), ("get", p));
        }
    }
}
