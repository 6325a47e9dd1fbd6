//! The element order of a merged list, as apimachinery's strategic merge patch decides it.
//!
//! After a merge, elements the patch names (or `$setElementOrder` lists) follow the patch's
//! order; elements only on the server follow the server's; the two runs are then interleaved by
//! server position: a server element goes first only when the server had it before the patch
//! element it is compared with, and an element new to the server goes first otherwise
//! (`normalizeElementOrder` + `mergeSortedSlice` in `k8s.io/apimachinery`, reimplemented).

use serde_json::Value;

/// Where `item` sits in `list` (by merge key for maps, by value for scalars).
pub(crate) fn position(list: &[Value], item: &Value, merge_key: Option<&str>) -> Option<usize> {
    list.iter()
        .position(|candidate| same_element(candidate, item, merge_key))
}

/// Whether `a` and `b` are the same list element: equal merge keys for maps, equal values else.
pub(crate) fn same_element(a: &Value, b: &Value, merge_key: Option<&str>) -> bool {
    match merge_key {
        Some(key) if a.is_object() && b.is_object() => {
            a.get(key).is_some() && a.get(key) == b.get(key)
        }
        _ => a == b,
    }
}

/// Orders `patch_items` by `patch_order` and `server_items` by `server_order`, then interleaves
/// them: a server item goes before a patch item when it came before it on the server (the
/// apimachinery `normalizeElementOrder` + `mergeSortedSlice` rule).
pub(crate) fn interleave(
    mut patch_items: Vec<Value>,
    mut server_items: Vec<Value>,
    patch_order: &[Value],
    server_order: &[Value],
    key: Option<&str>,
) -> Vec<Value> {
    let rank = |order: &[Value], v: &Value| position(order, v, key).unwrap_or(usize::MAX);
    patch_items.sort_by_key(|v| rank(patch_order, v));
    server_items.sort_by_key(|v| rank(server_order, v));
    let mut out = Vec::with_capacity(patch_items.len() + server_items.len());
    let (mut left, mut right) = (
        server_items.into_iter().peekable(),
        patch_items.into_iter().peekable(),
    );
    loop {
        let take_left = match (left.peek(), right.peek()) {
            (Some(l), Some(r)) => match (
                position(server_order, l, key),
                position(server_order, r, key),
            ) {
                (Some(li), Some(ri)) => li < ri,
                _ => false,
            },
            (Some(_), None) => true,
            (None, Some(_)) => false,
            (None, None) => break,
        };
        let next = if take_left { left.next() } else { right.next() };
        out.extend(next);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn run(
        patch_items: Value,
        server_items: Value,
        patch_order: Value,
        server_order: Value,
    ) -> Value {
        let list = |v: Value| v.as_array().cloned().unwrap_or_default();
        let key = Some("name");
        let out = interleave(
            list(patch_items),
            list(server_items),
            &list(patch_order),
            &list(server_order),
            key,
        );
        Value::Array(out)
    }

    #[test]
    fn follows_apimachinery_ordering() {
        // "preserve the order from the patch in a merging list 2": server [1, 2, 3], patch [3, 1].
        let n = |name: &str| json!({"name": name});
        let out = run(
            json!([n("1"), n("3")]),
            json!([n("2")]),
            json!([n("3"), n("1")]),
            json!([n("1"), n("2"), n("3")]),
        );
        assert_eq!(out, json!([n("2"), n("3"), n("1")]));
        // A new element cannot be placed against the server's, so it goes first.
        let out = run(
            json!([n("new")]),
            json!([n("a"), n("b")]),
            json!([n("new")]),
            json!([n("a"), n("b")]),
        );
        assert_eq!(out, json!([n("new"), n("a"), n("b")]));
        // Scalars compare by value.
        let out = interleave(
            vec![json!(2), json!(3)],
            vec![json!(1)],
            &[json!(2), json!(3)],
            &[json!(1), json!(2)],
            None,
        );
        assert_eq!(out, [json!(1), json!(2), json!(3)]);
        assert!(same_element(
            &n("a"),
            &json!({"name": "a", "x": 1}),
            Some("name")
        ));
        assert!(!same_element(&json!({}), &json!({}), Some("name")));
        assert_eq!(position(&[n("a"), n("b")], &n("b"), Some("name")), Some(1));
    }
}
