//! The subset of Compute Engine's list filter language the simulator evaluates:
//! `field = value`, `field != value`, with optional parentheses and quotes, joined by `AND`
//! (or juxtaposition). Fields: `name`, `status`, `zone`, `labels.KEY`. Anything else is a 400,
//! as an unsupported filter should be loud, not silently match everything.

use crate::gce::types::Instance;

/// A parsed filter.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Filter {
    terms: Vec<Term>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct Term {
    field: String,
    negate: bool,
    value: String,
}

impl Filter {
    /// Parses a filter expression.
    pub fn parse(expr: &str) -> Result<Self, String> {
        let mut terms = Vec::new();
        let mut rest = expr.trim();
        while !rest.is_empty() {
            rest = rest.trim_start();
            if let Some(r) = rest.strip_prefix("AND ") {
                rest = r;
                continue;
            }
            let paren = rest.starts_with('(');
            if paren {
                rest = &rest[1..];
            }
            let (field, after) = split_field(rest)?;
            let after = after.trim_start();
            let (negate, after) = if let Some(a) = after.strip_prefix("!=") {
                (true, a)
            } else if let Some(a) = after.strip_prefix('=') {
                (false, a)
            } else {
                return Err(format!(
                    "invalid filter {expr:?}: expected = or != after {field:?}"
                ));
            };
            let (value, after) = split_value(after.trim_start())?;
            let mut after = after.trim_start();
            if paren {
                after = after
                    .strip_prefix(')')
                    .ok_or_else(|| format!("invalid filter {expr:?}: unbalanced parenthesis"))?;
            }
            if !(field == "name"
                || field == "status"
                || field == "zone"
                || field.starts_with("labels."))
            {
                return Err(format!(
                    "invalid filter {expr:?}: field {field:?} is not supported by the simulator"
                ));
            }
            terms.push(Term {
                field: field.to_string(),
                negate,
                value,
            });
            rest = after.trim_start();
        }
        Ok(Filter { terms })
    }

    /// Whether an instance matches.
    pub fn matches(&self, instance: &Instance) -> bool {
        self.terms.iter().all(|t| {
            let actual = match t.field.as_str() {
                "name" => Some(instance.name.as_str()),
                "status" => instance.status.map(|s| s.as_str()),
                "zone" => instance.zone_name(),
                f => f
                    .strip_prefix("labels.")
                    .and_then(|k| instance.labels.get(k))
                    .map(String::as_str),
            };
            (actual == Some(t.value.as_str())) != t.negate
        })
    }
}

fn split_field(s: &str) -> Result<(&str, &str), String> {
    let end = s
        .find(|c: char| c.is_whitespace() || c == '=' || c == '!')
        .unwrap_or(s.len());
    if end == 0 {
        return Err(format!("invalid filter: expected a field name at {s:?}"));
    }
    Ok((&s[..end], &s[end..]))
}

fn split_value(s: &str) -> Result<(String, &str), String> {
    if let Some(body) = s.strip_prefix('"') {
        let mut value = String::new();
        let mut chars = body.char_indices();
        while let Some((i, c)) = chars.next() {
            match c {
                '\\' => {
                    if let Some((_, escaped)) = chars.next() {
                        value.push(escaped);
                    }
                }
                '"' => return Ok((value, &body[i + 1..])),
                c => value.push(c),
            }
        }
        Err("invalid filter: unterminated string".to_string())
    } else {
        let end = s
            .find(|c: char| c.is_whitespace() || c == ')')
            .unwrap_or(s.len());
        Ok((s[..end].to_string(), &s[end..]))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::gce::types::InstanceStatus;

    fn vm(status: InstanceStatus, label: &str) -> Instance {
        let mut i = Instance {
            name: "vm".into(),
            status: Some(status),
            ..Default::default()
        };
        i.labels.insert("k8sless".into(), label.into());
        i
    }

    #[test]
    fn conjunctions_and_quotes() {
        let f =
            Filter::parse("(labels.k8sless = \"true\") AND (status = \"RUNNING\")").expect("parse");
        assert!(f.matches(&vm(InstanceStatus::Running, "true")));
        assert!(!f.matches(&vm(InstanceStatus::Terminated, "true")));
        assert!(!f.matches(&vm(InstanceStatus::Running, "false")));
        let g = Filter::parse("labels.k8sless=true status!=TERMINATED").expect("parse");
        assert!(g.matches(&vm(InstanceStatus::Running, "true")));
        assert!(!g.matches(&vm(InstanceStatus::Terminated, "true")));
        assert!(Filter::parse("cpuPlatform = x").is_err());
        assert!(Filter::parse("(status = RUNNING").is_err());
    }
}
