//! Content negotiation on the `Accept` header, shared by discovery and tables.
//!
//! kubectl never sends a single media type: it lists what it can read, best first, for example
//! `application/json;as=Table;v=v1;g=meta.k8s.io,application/json;as=Table;v=v1beta1;g=meta.k8s.io,application/json`.
//! The server answers with the first one it can produce. [`media_ranges`] parses the header into
//! ranges ordered by preference (`q`, then position, as RFC 9110 asks), and [`negotiate`] walks
//! them with a caller-supplied classifier, so each endpoint states only what it can serve.
//! Parsing never fails: a malformed element is skipped, as a lenient server would.

/// One element of an `Accept` header: `type/subtype` plus its parameters (lowercased names).
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct MediaRange {
    /// The `type/subtype` part, lowercased, e.g. `application/json` or `*/*`.
    pub essence: String,
    /// Parameters other than `q`, in order, names lowercased, values unquoted.
    pub params: Vec<(String, String)>,
    /// The quality value, 0.0 to 1.0 (1.0 when absent).
    pub q: f32,
}

impl MediaRange {
    /// The value of parameter `name` (case-insensitive name), if present.
    pub(crate) fn param(&self, name: &str) -> Option<&str> {
        self.params
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// True for a range that plain JSON satisfies: `application/json`, `application/*` or `*/*`
    /// without an `as=` parameter (which would ask for a different kind of object).
    pub(crate) fn accepts_plain_json(&self) -> bool {
        matches!(
            self.essence.as_str(),
            "application/json" | "application/*" | "*/*"
        ) && self.param("as").is_none()
    }

    /// True when this range asks for JSON rendered `as` kind `kind` of group `group`, version
    /// `version` (the Kubernetes `as=`, `g=`, `v=` parameters).
    pub(crate) fn is_json_as(&self, kind: &str, group: &str, version: &str) -> bool {
        self.essence == "application/json"
            && self.param("as") == Some(kind)
            && self.param("g") == Some(group)
            && self.param("v") == Some(version)
    }
}

/// Parses an `Accept` header into media ranges, most preferred first. Ranges with `q=0` are
/// dropped (the client refuses them); an empty or absent header yields `*/*`.
pub(crate) fn media_ranges(accept: &str) -> Vec<MediaRange> {
    let mut ranges: Vec<MediaRange> = accept.split(',').filter_map(parse_range).collect();
    if accept.trim().is_empty() {
        ranges.push(MediaRange {
            essence: "*/*".into(),
            params: Vec::new(),
            q: 1.0,
        });
    }
    ranges.retain(|r| r.q > 0.0);
    // Stable sort keeps the client's order among equal q-values.
    ranges.sort_by(|a, b| b.q.partial_cmp(&a.q).unwrap_or(std::cmp::Ordering::Equal));
    ranges
}

fn parse_range(element: &str) -> Option<MediaRange> {
    let mut parts = element.split(';');
    let essence = parts.next()?.trim().to_ascii_lowercase();
    if !essence.contains('/') {
        return None;
    }
    let mut params = Vec::new();
    let mut q = 1.0_f32;
    for part in parts {
        let Some((name, value)) = part.split_once('=') else {
            continue;
        };
        let name = name.trim().to_ascii_lowercase();
        let value = value.trim().trim_matches('"').to_string();
        if name == "q" {
            q = value
                .parse::<f32>()
                .ok()
                .filter(|q| (0.0..=1.0).contains(q))?;
        } else {
            params.push((name, value));
        }
    }
    Some(MediaRange { essence, params, q })
}

/// Returns the first answer `classify` gives, trying ranges in preference order; `classify`
/// returns `None` for a range the endpoint cannot produce.
pub(crate) fn negotiate<T>(accept: &str, classify: impl Fn(&MediaRange) -> Option<T>) -> Option<T> {
    media_ranges(accept).iter().find_map(classify)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_parameters_and_orders_by_quality() {
        let ranges = media_ranges(
            "text/plain;q=0.5, application/json;as=Table;v=v1;g=meta.k8s.io , */*;q=0.1",
        );
        let essences: Vec<&str> = ranges.iter().map(|r| r.essence.as_str()).collect();
        assert_eq!(essences, ["application/json", "text/plain", "*/*"]);
        assert!(ranges[0].is_json_as("Table", "meta.k8s.io", "v1"));
        assert!(!ranges[0].accepts_plain_json());
        assert!(ranges[2].accepts_plain_json());
    }

    #[test]
    fn drops_refused_and_malformed_ranges() {
        let ranges =
            media_ranges("application/json;q=0, garbage, application/yaml;q=abc, application/yaml");
        assert_eq!(ranges.len(), 1);
        assert_eq!(ranges[0].essence, "application/yaml");
    }

    #[test]
    fn empty_header_means_anything() {
        assert!(media_ranges("")[0].accepts_plain_json());
        assert_eq!(
            negotiate("", |r| r.accepts_plain_json().then_some(1)),
            Some(1)
        );
    }

    #[test]
    fn quoted_values_and_case_are_normalised() {
        let ranges = media_ranges("Application/JSON; AS=\"Table\"; g=meta.k8s.io; v=v1");
        assert!(ranges[0].is_json_as("Table", "meta.k8s.io", "v1"));
    }
}
