//! Strategic merge patch for Pods (`application/strategic-merge-patch+json`).
//!
//! `kubectl apply` (client-side, from its second run on) and `kubectl edit` send strategic merge
//! patches: a merge patch whose lists are merged element by element by a per-field *merge key*
//! (containers by `name`, ports by `containerPort`, ...) instead of being replaced, plus
//! directives: `$patch: replace|delete` (on a map or a list element), `$retainKeys`,
//! `$deleteFromPrimitiveList/<field>` and `$setElementOrder/<field>`.
//!
//! This reimplements apimachinery's `strategicpatch` apply side (`mergeMap` and friends) on
//! `serde_json::Value`, including its ordering rules: elements named by the patch keep the
//! patch's (or `$setElementOrder`'s) order, elements only on the server keep theirs, and the two
//! are interleaved by their server positions. Which lists merge and by which key comes from
//! [`POD_PATCH_META`](super::patch_meta::POD_PATCH_META), which also feeds the `x-kubernetes-patch-*`
//! extensions of our OpenAPI document, so kubectl computes its patches with the metadata we apply
//! them with. A field not in the table merges as a plain map (objects) or is replaced (lists),
//! as in Go.

use serde_json::{Map, Value};

use super::list_order::{interleave, position, same_element};
use super::patch::PatchError;
use super::patch_meta::{POD, child_schema, list_meta};

const DIRECTIVE: &str = "$patch";
const RETAIN_KEYS: &str = "$retainKeys";
const DELETE_FROM_PRIMITIVE_LIST: &str = "$deleteFromPrimitiveList";
const SET_ELEMENT_ORDER: &str = "$setElementOrder";

/// Applies a strategic merge patch to a Pod (as JSON) and returns the patched Pod JSON.
///
/// # Errors
///
/// [`PatchError::Malformed`] when the patch is not an object or a directive is malformed, and
/// [`PatchError::Unprocessable`] when it cannot apply (list element without its merge key, lists
/// of lists, a key outside `$retainKeys`).
pub(crate) fn apply_strategic_merge_patch(
    original: &Value,
    patch: &Value,
) -> Result<Value, PatchError> {
    let Value::Object(patch) = patch else {
        return Err(PatchError::malformed(
            "a strategic merge patch must be a JSON object",
        ));
    };
    let original = match original {
        Value::Object(map) => map.clone(),
        _ => Map::new(),
    };
    merge_map(original, patch.clone(), Some(POD)).map(Value::Object)
}

fn merge_map(
    mut original: Map<String, Value>,
    mut patch: Map<String, Value>,
    schema: Option<&str>,
) -> Result<Map<String, Value>, PatchError> {
    if let Some(directive) = patch.remove(DIRECTIVE) {
        return match directive.as_str() {
            Some("replace") => Ok(patch),
            Some("delete") => Ok(Map::new()),
            _ => Err(PatchError::malformed(format!(
                "unknown patch type: {directive} in map: {}",
                Value::Object(patch)
            ))),
        };
    }
    apply_retain_keys(&mut original, &mut patch)?;
    apply_set_element_order(&mut original, &mut patch, schema)?;

    let mut deletions = Vec::new();
    for (key, patch_value) in patch {
        if let Some(rest) = key.strip_prefix(DELETE_FROM_PRIMITIVE_LIST) {
            let Some(field) = rest.strip_prefix('/') else {
                return Err(PatchError::malformed(
                    "invalid patch format for primitive list: missing '/'",
                ));
            };
            deletions.push((field.to_string(), patch_value));
            continue;
        }
        if patch_value.is_null() {
            original.remove(&key);
            continue;
        }
        let merged = match (original.remove(&key), patch_value) {
            (Some(Value::Object(orig)), Value::Object(p)) => Some(Value::Object(merge_map(
                orig,
                p,
                schema.and_then(|s| child_schema(s, &key)),
            )?)),
            (Some(Value::Array(orig)), Value::Array(p)) => match list_meta(schema, &key) {
                Some(meta) => Some(Value::Array(merge_list(
                    orig,
                    p,
                    schema.and_then(|s| child_schema(s, &key)),
                    meta.merge_key,
                )?)),
                None => Some(Value::Array(p)),
            },
            (_, mut p) => {
                discard_nulls(&mut p);
                remove_directives(p)
            }
        };
        if let Some(value) = merged {
            original.insert(key, value);
        }
    }
    for (field, to_delete) in deletions {
        let Value::Array(to_delete) = to_delete else {
            return Err(PatchError::malformed(
                "invalid patch format for primitive list: the value must be a list",
            ));
        };
        if let Some(Value::Array(list)) = original.get_mut(&field) {
            list.retain(|item| !to_delete.contains(item));
        }
    }
    Ok(original)
}

/// `$retainKeys`: every key of `patch` must be listed; keys of `original` not listed are cleared.
fn apply_retain_keys(
    original: &mut Map<String, Value>,
    patch: &mut Map<String, Value>,
) -> Result<(), PatchError> {
    let Some(retain) = patch.remove(RETAIN_KEYS) else {
        return Ok(());
    };
    let Value::Array(retain) = retain else {
        return Err(PatchError::malformed(
            "invalid patch format for retainKeys: the value must be a list of strings",
        ));
    };
    let listed = |k: &str| retain.iter().any(|r| r.as_str() == Some(k));
    for (key, value) in patch.iter() {
        if !value.is_null()
            && !key.starts_with(DELETE_FROM_PRIMITIVE_LIST)
            && !key.starts_with(SET_ELEMENT_ORDER)
            && !listed(key)
        {
            return Err(PatchError::unprocessable(format!(
                "the patch has field {key:?} that is not in $retainKeys"
            )));
        }
    }
    original.retain(|k, _| listed(k));
    Ok(())
}

/// `$setElementOrder/<field>`: merge the field's list as usual, then order its elements as the
/// directive lists them (server-only elements keep their relative place).
fn apply_set_element_order(
    original: &mut Map<String, Value>,
    patch: &mut Map<String, Value>,
    schema: Option<&str>,
) -> Result<(), PatchError> {
    let keys: Vec<String> = patch
        .keys()
        .filter(|k| k.starts_with(SET_ELEMENT_ORDER))
        .cloned()
        .collect();
    for key in keys {
        let Some(Value::Array(order)) = patch.remove(&key) else {
            return Err(PatchError::malformed(
                "invalid patch format for $setElementOrder: the value must be a list",
            ));
        };
        let Some(field) = key[SET_ELEMENT_ORDER.len()..].strip_prefix('/') else {
            return Err(PatchError::malformed(
                "invalid patch format for $setElementOrder: missing '/'",
            ));
        };
        let meta = list_meta(schema, field);
        let merge_key = meta.and_then(|m| m.merge_key);
        let orig_list = match original.get(field) {
            Some(Value::Array(list)) => Some(list.clone()),
            Some(_) => return Err(PatchError::unprocessable(format!("{field} is not a list"))),
            None => None,
        };
        let patch_list = match patch.remove(field) {
            Some(Value::Array(list)) => Some(list),
            Some(_) => {
                return Err(PatchError::unprocessable(format!(
                    "{field} in the patch is not a list"
                )));
            }
            None => None,
        };
        validate_against_order(patch_list.as_deref().unwrap_or_default(), &order, merge_key)?;
        let merged = match (orig_list.clone(), patch_list) {
            (Some(orig), None) => orig,
            (None, Some(p)) => match remove_directives(Value::Array(p)) {
                Some(Value::Array(list)) => list,
                _ => continue,
            },
            (Some(orig), Some(p)) => match meta {
                Some(_) => merge_list(
                    orig,
                    p,
                    child_schema(schema.unwrap_or_default(), field),
                    merge_key,
                )?,
                None => p,
            },
            (None, None) => continue,
        };
        let (in_order, server_only): (Vec<Value>, Vec<Value>) = merged
            .into_iter()
            .partition(|item| position(&order, item, merge_key).is_some());
        let server_order = orig_list.unwrap_or_default();
        original.insert(
            field.to_string(),
            Value::Array(interleave(
                in_order,
                server_only,
                &order,
                &server_order,
                merge_key,
            )),
        );
    }
    Ok(())
}

/// The patch list's elements (deletions aside) must appear in `order`, in the same relative order.
fn validate_against_order(
    patch: &[Value],
    order: &[Value],
    merge_key: Option<&str>,
) -> Result<(), PatchError> {
    let mut next = 0;
    for item in patch {
        if merge_key.is_some() && item.get(DIRECTIVE).is_some() {
            continue;
        }
        match order[next..]
            .iter()
            .position(|o| same_element(o, item, merge_key))
        {
            Some(offset) => next += offset + 1,
            None => {
                return Err(PatchError::malformed(
                    "invalid patch format: the order in the patch list doesn't match the $setElementOrder list",
                ));
            }
        }
    }
    Ok(())
}

/// Merges two lists of a `merge` strategy field: scalars are united, maps merged by `merge_key`.
fn merge_list(
    original: Vec<Value>,
    patch: Vec<Value>,
    schema: Option<&str>,
    merge_key: Option<&str>,
) -> Result<Vec<Value>, PatchError> {
    if original.is_empty() && patch.is_empty() {
        return Ok(original);
    }
    let all = || original.iter().chain(patch.iter());
    if all().any(Value::is_array) {
        return Err(PatchError::unprocessable(
            "lists of lists are not supported",
        ));
    }
    let of_maps = all().next().is_some_and(Value::is_object);
    if all().any(|v| v.is_object() != of_maps) {
        return Err(PatchError::unprocessable(
            "list element types are not identical",
        ));
    }
    if !of_maps {
        return Ok(merge_scalar_list(original, &patch));
    }
    let key = merge_key
        .ok_or_else(|| PatchError::unprocessable("cannot merge lists without merge key"))?;
    merge_map_list(original, patch, schema, key)
}

/// A list of scalars: the union, patch elements in the patch's order.
fn merge_scalar_list(original: Vec<Value>, patch: &[Value]) -> Vec<Value> {
    let mut merged = original.clone();
    for item in patch {
        if !merged.contains(item) {
            merged.push(item.clone());
        }
    }
    let (in_patch, server_only): (Vec<Value>, Vec<Value>) =
        merged.into_iter().partition(|item| patch.contains(item));
    interleave(in_patch, server_only, patch, &original, None)
}

/// A list of maps merged by `key`, with the `$patch` directives of its elements.
fn merge_map_list(
    original: Vec<Value>,
    patch: Vec<Value>,
    schema: Option<&str>,
    key: &str,
) -> Result<Vec<Value>, PatchError> {
    let key_of = |item: &Value| -> Result<Value, PatchError> {
        item.get(key).cloned().ok_or_else(|| {
            PatchError::unprocessable(format!(
                "map: {item} does not contain declared merge key: {key}"
            ))
        })
    };
    let mut merged = original;
    let mut plain = Vec::new();
    let mut replace = false;
    for item in patch {
        match item.get(DIRECTIVE).map(|d| d.as_str()) {
            None => plain.push(item),
            Some(Some("delete")) => {
                let value = key_of(&item)?;
                merged.retain(|m| m.get(key) != Some(&value));
            }
            Some(Some("replace")) => replace = true,
            Some(Some("merge")) => {
                return Err(PatchError::malformed(
                    "merging lists cannot yet be specified in the patch",
                ));
            }
            Some(_) => {
                return Err(PatchError::malformed(format!(
                    "unknown patch type in list element: {item}"
                )));
            }
        }
    }
    if replace {
        return Ok(plain);
    }
    // Server positions are taken before patch-only elements are appended (as in apimachinery).
    let server_order = merged.clone();
    for item in &plain {
        let value = key_of(item)?;
        match merged.iter().position(|m| m.get(key) == Some(&value)) {
            Some(i) => {
                let (Value::Object(orig), Value::Object(p)) = (merged[i].take(), item.clone())
                else {
                    return Err(PatchError::unprocessable(
                        "list element types are not identical",
                    ));
                };
                merged[i] = Value::Object(merge_map(orig, p, schema)?);
            }
            None => merged.extend(remove_directives(item.clone())),
        }
    }
    let (in_patch, server_only): (Vec<Value>, Vec<Value>) = merged
        .into_iter()
        .partition(|item| position(&plain, item, Some(key)).is_some());
    Ok(interleave(
        in_patch,
        server_only,
        &plain,
        &server_order,
        Some(key),
    ))
}

/// Drops `null` members everywhere (a null for a field the original lacks means nothing).
fn discard_nulls(value: &mut Value) {
    match value {
        Value::Object(map) => {
            map.retain(|_, v| !v.is_null());
            map.values_mut().for_each(discard_nulls);
        }
        Value::Array(items) => items.iter_mut().for_each(discard_nulls),
        _ => {}
    }
}

/// Strips directives from a value taken from the patch; `None` when the value itself is a
/// `$patch` directive. Directive keys (`$retainKeys`, `$setElementOrder/..`, ...) are dropped.
fn remove_directives(value: Value) -> Option<Value> {
    match value {
        Value::Object(map) if map.contains_key(DIRECTIVE) => None,
        Value::Object(map) => Some(Value::Object(
            map.into_iter()
                .filter(|(k, _)| !is_directive_key(k))
                .filter_map(|(k, v)| Some((k, remove_directives(v)?)))
                .collect(),
        )),
        Value::Array(items) => Some(Value::Array(
            items.into_iter().filter_map(remove_directives).collect(),
        )),
        other => Some(other),
    }
}

fn is_directive_key(key: &str) -> bool {
    key == RETAIN_KEYS
        || key.starts_with(SET_ELEMENT_ORDER)
        || key.starts_with(DELETE_FROM_PRIMITIVE_LIST)
}

#[cfg(test)]
#[path = "strategic_tests.rs"]
mod tests;
