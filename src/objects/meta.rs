//! Kubernetes' rules for an object's metadata that every kind shares (apimachinery's
//! `ValidateObjectMeta`): the name, labels and annotations, with kube-apiserver's messages.

use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;

use super::names;
use crate::error::Cause;

/// Largest total size of an object's annotations (Kubernetes: 256 KiB, `TotalAnnotationSizeLimitB`).
pub(crate) const ANNOTATIONS_MAX: usize = 256 * 1024;

/// Which syntax a kind's names follow (kube-apiserver's per-kind `ValidateName`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum NameRule {
    /// A DNS-1123 label (namespaces).
    Label,
    /// A DNS-1123 subdomain (pods, resource quotas).
    Subdomain,
    /// Anything that is a path segment: not `.` or `..`, no `/` or `%` (RBAC objects,
    /// apimachinery's `ValidatePathSegmentName`).
    #[allow(dead_code, reason = "the RBAC kinds name their objects by it")]
    PathSegment,
}

impl NameRule {
    /// `Ok`, or the message kube-apiserver gives for a bad name.
    pub(crate) fn check(self, name: &str) -> Result<(), String> {
        match self {
            NameRule::Label => names::dns1123_label(name),
            NameRule::Subdomain => names::dns1123_subdomain(name),
            NameRule::PathSegment => path_segment(name),
        }
    }
}

/// apimachinery's `IsValidPathSegmentName`, with its messages.
fn path_segment(name: &str) -> Result<(), String> {
    if name == "." || name == ".." {
        return Err(format!("may not be '{name}'"));
    }
    for bad in ["/", "%"] {
        if name.contains(bad) {
            return Err(format!("may not contain '{bad}'"));
        }
    }
    Ok(())
}

/// The name (required, by `rule`): a cause for a missing or malformed one.
pub(crate) fn name(meta: &ObjectMeta, rule: NameRule, causes: &mut Vec<Cause>) {
    match meta.name.as_deref() {
        None | Some("") => causes.push(Cause::new(
            "FieldValueRequired",
            "metadata.name",
            "name or generateName is required",
        )),
        Some(name) => {
            if let Err(e) = rule.check(name) {
                causes.push(Cause::invalid("metadata.name", format!("{name:?}: {e}")));
            }
        }
    }
}

/// Label keys and values, annotation keys and the annotations' total size.
pub(crate) fn labels_and_annotations(meta: &ObjectMeta, causes: &mut Vec<Cause>) {
    if let Some(labels) = &meta.labels {
        for (k, v) in labels {
            if let Err(e) = names::qualified_name(k) {
                causes.push(Cause::invalid("metadata.labels", format!("{k:?}: {e}")));
            }
            if let Err(e) = names::validate_label_value(v) {
                causes.push(Cause::invalid(
                    format!("metadata.labels[{k}]"),
                    format!("{v:?}: {e}"),
                ));
            }
        }
    }
    if let Some(annotations) = &meta.annotations {
        let mut total = 0;
        for (k, v) in annotations {
            total += k.len() + v.len();
            if let Err(e) = names::qualified_name(&k.to_ascii_lowercase()) {
                causes.push(Cause::invalid(
                    "metadata.annotations",
                    format!("{k:?}: {e}"),
                ));
            }
        }
        if total > ANNOTATIONS_MAX {
            causes.push(Cause::too_long(
                "metadata.annotations",
                "may not be more than 262144 bytes",
            ));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn name_rules_are_kube_apiservers() {
        assert!(NameRule::Label.check("team-a").is_ok());
        assert!(NameRule::Label.check("a.b").is_err());
        assert!(NameRule::Subdomain.check("a.b").is_ok());
        assert!(NameRule::PathSegment.check("system:admin").is_ok());
        assert_eq!(
            NameRule::PathSegment.check(".."),
            Err("may not be '..'".to_string())
        );
        assert_eq!(
            NameRule::PathSegment.check("a/b"),
            Err("may not contain '/'".to_string())
        );
        let mut causes = Vec::new();
        name(&ObjectMeta::default(), NameRule::Label, &mut causes);
        assert_eq!(causes[0].field, "metadata.name");
    }
}
