//! Google's partial-response `fields` parameter (`items(name,status),nextPageToken`), so the
//! simulator answers what Compute Engine would: only the fields asked for.

use std::collections::BTreeMap;

use serde_json::Value;

/// A parsed selector: each key, with the selector of its sub-fields (`None`: all of it).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Fields(BTreeMap<String, Option<Fields>>);

impl Fields {
    /// Parses `a,b(c,d),e/f` (`e/f` is `e(f)`).
    pub fn parse(spec: &str) -> Result<Fields, String> {
        let chars: Vec<char> = spec.chars().filter(|c| !c.is_whitespace()).collect();
        let mut pos = 0;
        let fields = Self::parse_list(&chars, &mut pos)?;
        if pos != chars.len() {
            return Err(format!(
                "fields {spec:?}: unexpected {:?} at {pos}",
                chars[pos]
            ));
        }
        Ok(fields)
    }

    fn parse_list(chars: &[char], pos: &mut usize) -> Result<Fields, String> {
        let mut out = Fields::default();
        loop {
            let start = *pos;
            while *pos < chars.len() && !matches!(chars[*pos], ',' | '(' | ')' | '/') {
                *pos += 1;
            }
            let name: String = chars[start..*pos].iter().collect();
            if name.is_empty() {
                return Err("fields: empty name".into());
            }
            let sub = match chars.get(*pos) {
                Some('(') => {
                    *pos += 1;
                    let sub = Self::parse_list(chars, pos)?;
                    if chars.get(*pos) != Some(&')') {
                        return Err("fields: missing ')'".into());
                    }
                    *pos += 1;
                    Some(sub)
                }
                Some('/') => {
                    *pos += 1;
                    Some(Self::parse_list_one(chars, pos)?)
                }
                _ => None,
            };
            out.merge(name, sub);
            if chars.get(*pos) == Some(&',') {
                *pos += 1;
                continue;
            }
            return Ok(out);
        }
    }

    fn parse_list_one(chars: &[char], pos: &mut usize) -> Result<Fields, String> {
        // `a/b/c`: one path; stop before a ',' or ')' that belongs to the outer list.
        let start = *pos;
        while *pos < chars.len() && !matches!(chars[*pos], ',' | ')' | '(') {
            *pos += 1;
        }
        let path: String = chars[start..*pos].iter().collect();
        let mut parts = path.rsplit('/');
        let last = parts.next().unwrap_or_default().to_string();
        let mut tree = Fields::default();
        tree.merge(last, None);
        for p in parts {
            let mut up = Fields::default();
            up.merge(p.to_string(), Some(tree));
            tree = up;
        }
        Ok(tree)
    }

    fn merge(&mut self, name: String, sub: Option<Fields>) {
        match (self.0.get_mut(&name), sub) {
            (Some(Some(have)), Some(more)) => {
                for (k, v) in more.0 {
                    have.merge(k, v);
                }
            }
            (Some(slot), None) => *slot = None,
            (Some(None), Some(_)) => {}
            (None, sub) => {
                self.0.insert(name, sub);
            }
        }
    }

    /// Whether `name` is selected at this level.
    pub fn selects(&self, name: &str) -> bool {
        self.0.contains_key(name)
    }

    /// The selector of `name`'s sub-fields, if it has one.
    pub fn sub(&self, name: &str) -> Option<&Fields> {
        self.0.get(name).and_then(Option::as_ref)
    }

    /// Keeps only the selected fields of `value` (arrays: of each element).
    pub fn prune(&self, value: &mut Value) {
        match value {
            Value::Object(map) => {
                map.retain(|k, _| self.0.contains_key(k));
                for (k, v) in map.iter_mut() {
                    if let Some(Some(sub)) = self.0.get(k) {
                        sub.prune(v);
                    }
                }
            }
            Value::Array(items) => items.iter_mut().for_each(|v| self.prune(v)),
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prunes_like_google() {
        let f = Fields::parse("items(name,labels),nextPageToken,kind/x").expect("parse");
        let mut v = serde_json::json!({"kind": {"x": 1, "y": 2}, "id": "1", "nextPageToken": "t",
            "items": [{"name": "a", "metadata": {"items": []}, "labels": {"k": "v"}}]});
        f.prune(&mut v);
        assert_eq!(
            v,
            serde_json::json!({"kind": {"x": 1}, "nextPageToken": "t",
                "items": [{"name": "a", "labels": {"k": "v"}}]})
        );
        assert!(f.sub("items").is_some_and(|i| !i.selects("metadata")));
        assert!(Fields::parse("items(").is_err());
        assert!(Fields::parse("a,,b").is_err());
    }
}
