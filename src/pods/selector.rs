//! Label selectors (`=`, `==`, `!=`, `in`, `notin`, exists, `!`exists) and the field
//! selectors Kubernetes supports for list and watch: pods' indexed fields, and for every other
//! kind `metadata.name` and `metadata.namespace` (kube-apiserver's default field set).

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::Pod;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;

use crate::error::Error;

#[derive(Debug, Clone, PartialEq, Eq)]
enum Op {
    In(Vec<String>),
    NotIn(Vec<String>),
    Exists,
    DoesNotExist,
}

/// A parsed label selector (an empty one matches everything).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LabelSelector {
    reqs: Vec<(String, Op)>,
}

impl LabelSelector {
    /// Parses `a=b,c!=d,e in (f,g),!h,i`.
    pub fn parse(s: &str) -> Result<Self, Error> {
        let mut reqs = Vec::new();
        for term in split_top(s) {
            let term = term.trim();
            if term.is_empty() {
                continue;
            }
            let bad = || {
                Error::bad_request(format!(
                    "unable to parse requirement: invalid label selector {term:?}"
                ))
            };
            let req = if let Some(key) = term.strip_prefix('!') {
                (key.trim().to_string(), Op::DoesNotExist)
            } else if let Some((k, v)) = term.split_once("!=") {
                (k.trim().to_string(), Op::NotIn(vec![v.trim().to_string()]))
            } else if let Some((k, v)) = term.split_once("==") {
                (k.trim().to_string(), Op::In(vec![v.trim().to_string()]))
            } else if let Some((k, v)) = term.split_once('=') {
                (k.trim().to_string(), Op::In(vec![v.trim().to_string()]))
            } else if let Some((k, rest)) = split_word(term, " notin ") {
                (k, Op::NotIn(set(rest).ok_or_else(bad)?))
            } else if let Some((k, rest)) = split_word(term, " in ") {
                (k, Op::In(set(rest).ok_or_else(bad)?))
            } else {
                (term.to_string(), Op::Exists)
            };
            if req.0.is_empty() || crate::pods::crud::names::qualified_name(&req.0).is_err() {
                return Err(Error::bad_request(format!(
                    "unable to parse requirement: invalid label key {:?}",
                    req.0
                )));
            }
            reqs.push(req);
        }
        Ok(LabelSelector { reqs })
    }

    /// Whether labels match.
    pub fn matches(&self, labels: Option<&BTreeMap<String, String>>) -> bool {
        self.reqs.iter().all(|(key, op)| {
            let v = labels.and_then(|l| l.get(key));
            match op {
                Op::In(vals) => v.is_some_and(|v| vals.contains(v)),
                Op::NotIn(vals) => v.is_none_or(|v| !vals.contains(v)),
                Op::Exists => v.is_some(),
                Op::DoesNotExist => v.is_none(),
            }
        })
    }

    /// Whether it matches everything.
    pub fn is_empty(&self) -> bool {
        self.reqs.is_empty()
    }
}

fn split_word(term: &str, word: &str) -> Option<(String, String)> {
    let idx = term.find(word)?;
    Some((
        term[..idx].trim().to_string(),
        term[idx + word.len()..].trim().to_string(),
    ))
}

fn set(s: String) -> Option<Vec<String>> {
    let inner = s.trim().strip_prefix('(')?.strip_suffix(')')?;
    Some(
        inner
            .split(',')
            .map(|v| v.trim().to_string())
            .filter(|v| !v.is_empty())
            .collect(),
    )
}

/// Splits on commas outside parentheses.
fn split_top(s: &str) -> Vec<&str> {
    let mut parts = Vec::new();
    let mut depth = 0i32;
    let mut start = 0;
    for (i, c) in s.char_indices() {
        match c {
            '(' => depth += 1,
            ')' => depth -= 1,
            ',' if depth == 0 => {
                parts.push(&s[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    parts.push(&s[start..]);
    parts
}

/// A parsed field selector over the fields Kubernetes indexes for pods.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FieldSelector {
    reqs: Vec<(String, bool, String)>,
}

/// Fields a pod field selector may use.
pub(crate) const POD_FIELDS: &[&str] = &[
    "metadata.name",
    "metadata.namespace",
    "status.phase",
    "spec.nodeName",
    "spec.restartPolicy",
    "spec.schedulerName",
    "spec.serviceAccountName",
    "spec.hostNetwork",
    "status.podIP",
    "status.nominatedNodeName",
];

/// Fields every kind's field selector may use (kube-apiserver's `DefaultClusterScopedAttr` and
/// `DefaultNamespaceScopedAttr`).
pub(crate) const OBJECT_FIELDS: &[&str] = &["metadata.name", "metadata.namespace"];

impl FieldSelector {
    /// Parses a pod field selector: `metadata.name=x,status.phase!=Running`.
    pub fn parse(s: &str) -> Result<Self, Error> {
        Self::parse_of(s, POD_FIELDS)
    }

    /// Whether an object of another kind matches ([`OBJECT_FIELDS`] only).
    pub(crate) fn matches_meta(&self, meta: &ObjectMeta) -> bool {
        self.reqs.iter().all(|(field, negate, value)| {
            let actual = match field.as_str() {
                "metadata.name" => meta.name.as_deref(),
                "metadata.namespace" => meta.namespace.as_deref(),
                _ => None,
            };
            (actual.unwrap_or_default() == value) != *negate
        })
    }

    /// Parses a field selector over `fields`: 400 `field label not supported: x` for another.
    pub(crate) fn parse_of(s: &str, fields: &[&str]) -> Result<Self, Error> {
        let mut reqs = Vec::new();
        for term in s.split(',').map(str::trim).filter(|t| !t.is_empty()) {
            let (field, negate, value) = if let Some((f, v)) = term.split_once("!=") {
                (f, true, v)
            } else if let Some((f, v)) = term.split_once("==") {
                (f, false, v)
            } else if let Some((f, v)) = term.split_once('=') {
                (f, false, v)
            } else {
                return Err(Error::bad_request(format!(
                    "invalid selector: '{term}'; can't understand '{term}'"
                )));
            };
            let field = field.trim();
            if !fields.contains(&field) {
                return Err(Error::bad_request(format!(
                    "field label not supported: {field}"
                )));
            }
            reqs.push((field.to_string(), negate, value.trim().to_string()));
        }
        Ok(FieldSelector { reqs })
    }

    /// Whether a pod matches.
    pub fn matches(&self, pod: &Pod) -> bool {
        self.reqs.iter().all(|(field, negate, value)| {
            let actual = field_value(pod, field);
            (actual == *value) != *negate
        })
    }

    /// The value required for `metadata.name`/`metadata.namespace`, if the selector pins it.
    pub fn pinned(&self, field: &str) -> Option<&str> {
        self.reqs
            .iter()
            .find(|(f, negate, _)| f == field && !negate)
            .map(|(_, _, v)| v.as_str())
    }
}

fn field_value(pod: &Pod, field: &str) -> String {
    let spec = pod.spec.as_ref();
    let status = pod.status.as_ref();
    match field {
        "metadata.name" => pod.metadata.name.clone().unwrap_or_default(),
        "metadata.namespace" => pod.metadata.namespace.clone().unwrap_or_default(),
        "status.phase" => status.and_then(|s| s.phase.clone()).unwrap_or_default(),
        "spec.nodeName" => spec.and_then(|s| s.node_name.clone()).unwrap_or_default(),
        "spec.restartPolicy" => spec
            .and_then(|s| s.restart_policy.clone())
            .unwrap_or_default(),
        "spec.schedulerName" => spec
            .and_then(|s| s.scheduler_name.clone())
            .unwrap_or_default(),
        "spec.serviceAccountName" => spec
            .and_then(|s| s.service_account_name.clone())
            .unwrap_or_default(),
        "spec.hostNetwork" => spec
            .and_then(|s| s.host_network)
            .unwrap_or(false)
            .to_string(),
        "status.podIP" => status.and_then(|s| s.pod_ip.clone()).unwrap_or_default(),
        "status.nominatedNodeName" => status
            .and_then(|s| s.nominated_node_name.clone())
            .unwrap_or_default(),
        _ => String::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn labels(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn label_operators() {
        let l = labels(&[("app", "web"), ("tier", "front")]);
        let m = |s: &str| LabelSelector::parse(s).expect(s).matches(Some(&l));
        assert!(m("app=web"));
        assert!(m("app==web"));
        assert!(!m("app!=web"));
        assert!(m("app in (web, api)"));
        assert!(!m("app notin (web,api)"));
        assert!(m("tier"));
        assert!(!m("!tier"));
        assert!(m("!missing"));
        assert!(m("app=web,tier in (front),!missing"));
        assert!(m(""));
        assert!(LabelSelector::parse("app in web").is_err());
    }

    #[test]
    fn field_selectors() {
        let pod: Pod = serde_json::from_value(serde_json::json!({
            "metadata": {"name": "a", "namespace": "ns"},
            "spec": {"containers": [], "nodeName": "vm"},
            "status": {"phase": "Running"}
        }))
        .expect("pod");
        let m = |s: &str| FieldSelector::parse(s).expect(s).matches(&pod);
        assert!(m("metadata.name=a"));
        assert!(m("status.phase!=Pending,spec.nodeName=vm"));
        assert!(!m("metadata.namespace==other"));
        assert!(FieldSelector::parse("spec.foo=x").is_err());
    }
}
