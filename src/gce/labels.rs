//! Compute Engine's rules for resource names and labels, with Google's messages, and the
//! sanitizer that turns arbitrary text into a valid label value. One definition used by both
//! sides: the simulator enforces these rules on insert and setLabels, and the Pod → VM
//! translation follows them so the service never sends what Compute Engine would reject.

use std::collections::BTreeMap;

/// Most labels on one resource.
pub(crate) const LABELS_MAX: usize = 64;
/// Longest label key or value, and longest resource name.
pub(crate) const NAME_MAX: usize = 63;

/// RFC 1035 label, at most 63 characters: Compute Engine's resource names.
pub(crate) fn valid_resource_name(name: &str) -> bool {
    let b = name.as_bytes();
    !b.is_empty()
        && b.len() <= NAME_MAX
        && b[0].is_ascii_lowercase()
        && b.iter()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || *c == b'-')
        && b[b.len() - 1] != b'-'
}

/// Label key: starts with a lowercase letter; lowercase letters, digits, `_`, `-`; at most 63.
pub(crate) fn valid_label_key(key: &str) -> bool {
    let b = key.as_bytes();
    !b.is_empty()
        && b.len() <= NAME_MAX
        && (b[0].is_ascii_lowercase() || !b[0].is_ascii())
        && key.chars().all(label_char)
}

/// Label value: empty or lowercase letters, digits, `_`, `-`; at most 63.
pub(crate) fn valid_label_value(value: &str) -> bool {
    value.len() <= NAME_MAX && value.chars().all(label_char)
}

fn label_char(c: char) -> bool {
    c.is_ascii_lowercase()
        || c.is_ascii_digit()
        || c == '_'
        || c == '-'
        || (!c.is_ascii() && c.is_lowercase())
}

/// Checks labels; returns Google's message on the first problem.
pub(crate) fn check_labels(labels: &BTreeMap<String, String>) -> Result<(), String> {
    if labels.len() > LABELS_MAX {
        return Err(
            "Invalid value for field 'resource.labels': too many labels (maximum 64)".into(),
        );
    }
    for (k, v) in labels {
        if !valid_label_key(k) {
            return Err(format!(
                "Invalid value for field 'resource.labels': '{k}'. Label key is invalid."
            ));
        }
        if !valid_label_value(v) {
            return Err(format!(
                "Invalid value for field 'resource.labels': '{v}'. Label value is invalid."
            ));
        }
    }
    Ok(())
}

/// A Compute Engine label value from arbitrary text: ASCII lowercased, every character
/// outside `[a-z0-9_-]` replaced by `_`, at most 63 characters. Always valid.
pub fn sanitize_value(s: &str) -> String {
    s.chars()
        .map(|c| c.to_ascii_lowercase())
        .map(|c| {
            if c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '_' {
                c
            } else {
                '_'
            }
        })
        .take(NAME_MAX)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names() {
        assert!(valid_resource_name("k8s-default-hello-1a2b3c"));
        assert!(!valid_resource_name("1abc"));
        assert!(!valid_resource_name("abc-"));
        assert!(!valid_resource_name(&"a".repeat(64)));
        assert!(valid_resource_name(&"a".repeat(63)));
    }

    #[test]
    fn labels() {
        let mut l = BTreeMap::new();
        l.insert("k8sless".to_string(), "true".to_string());
        assert!(check_labels(&l).is_ok());
        l.insert("Bad".to_string(), "x".to_string());
        assert_eq!(
            check_labels(&l),
            Err("Invalid value for field 'resource.labels': 'Bad'. Label key is invalid.".into())
        );
    }

    #[test]
    fn sanitized_values_are_valid() {
        for s in ["My.App", "uid-1234", "", "UPPER/case:x", &"x".repeat(100)] {
            let v = sanitize_value(s);
            assert!(valid_label_value(&v), "{s:?} -> {v:?}");
        }
        assert_eq!(sanitize_value("My.App"), "my_app");
    }
}
