//! Compute Engine URLs and query strings, built without I/O so they can be unit-tested.

use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};

/// Characters left alone in a query value (RFC 3986 unreserved).
const QUERY: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

/// Percent-encodes one query value.
pub(crate) fn encode(value: &str) -> String {
    utf8_percent_encode(value, QUERY).to_string()
}

/// Builds URLs under one API base (`https://compute.googleapis.com/compute/v1`).
#[derive(Debug, Clone)]
pub(crate) struct Urls {
    base: String,
    project: String,
}

impl Urls {
    /// `base` without a trailing slash is expected; one is trimmed.
    pub(crate) fn new(base: &str, project: &str) -> Self {
        Urls {
            base: base.trim_end_matches('/').to_string(),
            project: project.to_string(),
        }
    }

    /// The project.
    pub(crate) fn project(&self) -> &str {
        &self.project
    }

    /// `.../projects/P/zones/Z/instances`.
    pub(crate) fn instances(&self, zone: &str) -> String {
        format!(
            "{}/projects/{}/zones/{}/instances",
            self.base, self.project, zone
        )
    }

    /// `.../instances/NAME`.
    pub(crate) fn instance(&self, zone: &str, name: &str) -> String {
        format!("{}/{}", self.instances(zone), name)
    }

    /// `.../instances/NAME/VERB` (stop, setLabels, setMetadata).
    pub(crate) fn instance_action(&self, zone: &str, name: &str, verb: &str) -> String {
        format!("{}/{}", self.instance(zone, name), verb)
    }

    /// `.../zones/Z/operations/OP`.
    pub(crate) fn operation(&self, zone: &str, operation: &str) -> String {
        format!(
            "{}/projects/{}/zones/{}/operations/{}",
            self.base, self.project, zone, operation
        )
    }

    /// `.../zones/Z/operations/OP/wait`.
    pub(crate) fn operation_wait(&self, zone: &str, operation: &str) -> String {
        format!("{}/wait", self.operation(zone, operation))
    }
}

/// A list filter: a conjunction of `field = "value"` terms, as Compute Engine's list filter
/// syntax spells them (`labels.k8sless = "true" AND status = "RUNNING"`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ListFilter {
    terms: Vec<(String, String)>,
    fields: Option<String>,
}

impl ListFilter {
    /// No filter.
    pub fn new() -> Self {
        Self::default()
    }
    /// `labels.KEY = "VALUE"`.
    pub fn label(mut self, key: &str, value: &str) -> Self {
        self.terms
            .push((format!("labels.{key}"), value.to_string()));
        self
    }
    /// `status = "VALUE"`.
    pub fn status(mut self, status: &str) -> Self {
        self.terms.push(("status".to_string(), status.to_string()));
        self
    }
    /// Partial response: only these fields (Google's `fields` syntax, e.g.
    /// `items(name,status),nextPageToken`), so a list does not carry every VM's metadata.
    pub fn fields(mut self, fields: &str) -> Self {
        self.fields = Some(fields.to_string());
        self
    }
    /// The `fields` parameter, if any.
    pub fn fields_param(&self) -> Option<&str> {
        self.fields.as_deref()
    }
    /// The filter expression, or `None` when empty.
    pub fn expression(&self) -> Option<String> {
        if self.terms.is_empty() {
            return None;
        }
        let parts: Vec<String> = self
            .terms
            .iter()
            .map(|(field, value)| {
                format!(
                    "({field} = \"{}\")",
                    value.replace('\\', "\\\\").replace('"', "\\\"")
                )
            })
            .collect();
        Some(parts.join(" AND "))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls() {
        let u = Urls::new("http://127.0.0.1:1/compute/v1/", "p");
        assert_eq!(
            u.instance("z", "vm"),
            "http://127.0.0.1:1/compute/v1/projects/p/zones/z/instances/vm"
        );
        assert_eq!(
            u.operation_wait("z", "op-1"),
            "http://127.0.0.1:1/compute/v1/projects/p/zones/z/operations/op-1/wait"
        );
        assert_eq!(
            u.instance_action("z", "vm", "setLabels"),
            format!("{}/setLabels", u.instance("z", "vm"))
        );
    }

    #[test]
    fn filter_expression() {
        assert_eq!(ListFilter::new().expression(), None);
        let f = ListFilter::new().label("k8sless", "true").status("RUNNING");
        assert_eq!(
            f.expression().as_deref(),
            Some("(labels.k8sless = \"true\") AND (status = \"RUNNING\")")
        );
        assert_eq!(encode("a b=\"c\""), "a%20b%3D%22c%22");
    }
}
