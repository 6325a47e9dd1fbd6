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

/// The attributes of one request.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub(crate) struct RequestInfo {
    /// Whether it names a resource (else `path` is what is authorized).
    pub(crate) is_resource: bool,
    /// The URL path (non-resource requests).
    pub(crate) path: String,
    /// `get`, `list`, `watch`, `create`, `update`, `patch`, `delete`, `deletecollection`; the
    /// lower-cased method for non-resource requests.
    pub(crate) verb: String,
    /// The API group (`""` for core).
    pub(crate) api_group: String,
    /// The version (`v1`).
    pub(crate) api_version: String,
    /// The resource (plural).
    pub(crate) resource: String,
    /// The subresource (`status`, `log`, `exec`, ...).
    pub(crate) subresource: String,
    /// The namespace (empty: cluster scope).
    pub(crate) namespace: String,
    /// The object's name (empty for collections).
    pub(crate) name: String,
}

/// Subresources of a Namespace that do not start a namespaced resource.
const NAMESPACE_SUBRESOURCES: [&str; 2] = ["status", "finalize"];

/// Resolves a request's attributes from its method, path and raw query.
pub(crate) fn resolve(method: &str, path: &str, query: Option<&str>) -> RequestInfo {
    let path = if path == "/pods" {
        "/api/v1/namespaces/default/pods"
    } else {
        path
    };
    let non_resource = || RequestInfo {
        path: path.to_string(),
        verb: method.to_ascii_lowercase(),
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
        path: path.to_string(),
        api_group: group.to_string(),
        api_version: version.to_string(),
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
    .to_string();
    if parts.first() == Some(&"watch") && parts.len() > 1 {
        info.verb = "watch".into();
        parts.remove(0);
    }
    if parts.first() == Some(&"namespaces") && parts.len() > 1 {
        info.namespace = parts[1].to_string();
        if parts.len() > 2 && !NAMESPACE_SUBRESOURCES.contains(&parts[2]) {
            parts.drain(..2);
        }
    }
    info.resource = parts.first().map(|s| s.to_string()).unwrap_or_default();
    info.name = parts.get(1).map(|s| s.to_string()).unwrap_or_default();
    info.subresource = parts.get(2).map(|s| s.to_string()).unwrap_or_default();
    if info.name.is_empty() {
        collection_verb(&mut info, query);
    }
    info
}

/// A collection's `get` is `list` (or `watch`), its `delete` is `deletecollection`; a
/// `metadata.name` field selector names the object.
fn collection_verb(info: &mut RequestInfo, query: Option<&str>) {
    let params = || {
        query
            .unwrap_or("")
            .split('&')
            .filter_map(|kv| kv.split_once('='))
    };
    match info.verb.as_str() {
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
            info.name = name.to_string();
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

    /// The attributes RBAC matches (path and version cleared).
    fn r(method: &str, path: &str, query: Option<&str>) -> RequestInfo {
        RequestInfo {
            path: String::new(),
            api_version: String::new(),
            ..resolve(method, path, query)
        }
    }

    fn res(
        verb: &str,
        group: &str,
        resource: &str,
        sub: &str,
        ns: &str,
        name: &str,
    ) -> RequestInfo {
        RequestInfo {
            is_resource: true,
            path: String::new(),
            verb: verb.into(),
            api_group: group.into(),
            api_version: String::new(),
            resource: resource.into(),
            subresource: sub.into(),
            namespace: ns.into(),
            name: name.into(),
        }
    }

    #[test]
    fn pods_and_their_subresources() {
        let p = "/api/v1/namespaces/team-a/pods";
        assert_eq!(
            r("POST", p, None),
            res("create", "", "pods", "", "team-a", "")
        );
        assert_eq!(r("GET", p, None), res("list", "", "pods", "", "team-a", ""));
        assert_eq!(
            r("GET", p, Some("watch=true&resourceVersion=5")),
            res("watch", "", "pods", "", "team-a", "")
        );
        assert_eq!(
            r("DELETE", p, None),
            res("deletecollection", "", "pods", "", "team-a", "")
        );
        assert_eq!(
            r("GET", &format!("{p}/web"), None),
            res("get", "", "pods", "", "team-a", "web")
        );
        assert_eq!(
            r("PUT", &format!("{p}/web/status"), None),
            res("update", "", "pods", "status", "team-a", "web")
        );
        assert_eq!(
            r("GET", &format!("{p}/web/log"), Some("follow=true")),
            res("get", "", "pods", "log", "team-a", "web")
        );
        assert_eq!(
            r("POST", &format!("{p}/web/exec"), None),
            res("create", "", "pods", "exec", "team-a", "web")
        );
        assert_eq!(
            r("GET", "/api/v1/pods", None),
            res("list", "", "pods", "", "", "")
        );
        assert_eq!(
            r("GET", "/api/v1/watch/namespaces/team-a/pods", None),
            res("watch", "", "pods", "", "team-a", "")
        );
        assert_eq!(
            r("POST", "/pods", None),
            res("create", "", "pods", "", "default", "")
        );
    }

    #[test]
    fn a_name_selector_names_the_object() {
        let q = Some("fieldSelector=metadata.name%3Dweb&watch=1");
        assert_eq!(
            r("GET", "/api/v1/namespaces/a/pods", q),
            res("watch", "", "pods", "", "a", "web")
        );
        let two = Some("fieldSelector=metadata.name%3Dweb%2Cstatus.phase%3DRunning");
        assert_eq!(
            r("GET", "/api/v1/namespaces/a/pods", two),
            res("list", "", "pods", "", "a", "")
        );
    }

    #[test]
    fn namespaces_are_their_own_namespace() {
        assert_eq!(
            r("GET", "/api/v1/namespaces", None),
            res("list", "", "namespaces", "", "", "")
        );
        assert_eq!(
            r("GET", "/api/v1/namespaces/team-a", None),
            res("get", "", "namespaces", "", "team-a", "team-a")
        );
        assert_eq!(
            r("PUT", "/api/v1/namespaces/team-a/finalize", None),
            res("update", "", "namespaces", "finalize", "team-a", "team-a")
        );
        assert_eq!(
            r("DELETE", "/api/v1/namespaces/team-a", None),
            res("delete", "", "namespaces", "", "team-a", "team-a")
        );
    }

    #[test]
    fn named_groups() {
        let rb = "/apis/rbac.authorization.k8s.io/v1/namespaces/team-a/rolebindings";
        assert_eq!(
            r("POST", rb, None),
            res(
                "create",
                "rbac.authorization.k8s.io",
                "rolebindings",
                "",
                "team-a",
                ""
            )
        );
        let crb = "/apis/rbac.authorization.k8s.io/v1/clusterrolebindings/x";
        assert_eq!(
            r("DELETE", crb, None),
            res(
                "delete",
                "rbac.authorization.k8s.io",
                "clusterrolebindings",
                "",
                "",
                "x"
            )
        );
        let ssar = "/apis/authorization.k8s.io/v1/selfsubjectaccessreviews";
        assert_eq!(
            r("POST", ssar, None),
            res(
                "create",
                "authorization.k8s.io",
                "selfsubjectaccessreviews",
                "",
                "",
                ""
            )
        );
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
            assert_eq!((i.verb.as_str(), i.path.as_str()), ("get", p));
        }
    }
}
