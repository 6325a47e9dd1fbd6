//! What an update (`PUT`, or the result of a `PATCH`) may change in a Pod.
//!
//! Kubernetes makes almost all of a pod immutable once created; we keep its rules and its
//! messages, since users and scripts match on them (`pkg/apis/core/validation` `ValidatePodUpdate`,
//! reimplemented): metadata labels and annotations may change; in the spec only container and
//! init container images, `activeDeadlineSeconds` (set when unset, or shortened, never lengthened
//! or removed), `tolerations` (additions, and `tolerationSeconds` of existing ones),
//! `terminationGracePeriodSeconds` (to 1 when it was negative) and `schedulingGates` (removals).
//! Anything else is one `FieldValueForbidden` cause on `spec` with Kubernetes' wording, followed
//! by a short list of what differs.
//!
//! The spec comparison follows apimachinery's semantic equality: a `null`, an empty list and an
//! empty map equal an absent field. Callers run [`prepare_pod_update`] first (what the API
//! server's `BeforeUpdate` does: keep status and system metadata from the stored pod) and apply
//! the same defaults as on create, so that a `PUT` of the original manifest is not a change.

use k8s_openapi::api::core::v1::Pod;
use serde_json::{Map, Value};

/// One field-level problem, as a Kubernetes `StatusCause`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldCause {
    /// The field path, e.g. `spec.activeDeadlineSeconds`.
    pub field: String,
    /// `FieldValueInvalid`, `FieldValueForbidden`, `FieldValueRequired`, ...
    pub reason: String,
    /// The message with its type prefix, e.g. `Forbidden: pod updates may not ...`.
    pub message: String,
}

impl FieldCause {
    fn forbidden(field: &str, detail: &str) -> Self {
        Self {
            field: field.into(),
            reason: "FieldValueForbidden".into(),
            message: format!("Forbidden: {detail}"),
        }
    }

    fn invalid(field: &str, value: &Value, detail: &str) -> Self {
        Self {
            field: field.into(),
            reason: "FieldValueInvalid".into(),
            message: format!("Invalid value: {value}: {detail}"),
        }
    }

    fn required(field: &str) -> Self {
        Self {
            field: field.into(),
            reason: "FieldValueRequired".into(),
            message: "Required value".into(),
        }
    }

    /// The `Status.message` Kubernetes builds from causes: `Pod "web" is invalid: spec: Forbidden: ...`,
    /// or `Pod "web" is invalid: [a: ..., b: ...]` for several.
    pub fn status_message(kind: &str, name: &str, causes: &[FieldCause]) -> String {
        let each: Vec<String> = causes
            .iter()
            .map(|c| format!("{}: {}", c.field, c.message))
            .collect();
        match each.as_slice() {
            [one] => format!("{kind} {name:?} is invalid: {one}"),
            many => format!("{kind} {name:?} is invalid: [{}]", many.join(", ")),
        }
    }
}

/// The fields an update may change, as Kubernetes 1.33 lists them in its rejection message.
pub(crate) const UPDATABLE_POD_SPEC_FIELDS: &str = "`spec.containers[*].image`,`spec.initContainers[*].image`,`spec.activeDeadlineSeconds`,`spec.tolerations` (only additions to existing tolerations),`spec.terminationGracePeriodSeconds` (allow it to be set to 1 if it was previously negative)";

/// Carries over what a client cannot change on update, as the API server does before validating:
/// the status (updated only through `/status`), `uid` when the client sent none, and
/// `creationTimestamp`, `deletionTimestamp`, `deletionGracePeriodSeconds`, `generation`.
pub(crate) fn prepare_pod_update(old: &Pod, new: &mut Pod) {
    new.status.clone_from(&old.status);
    let (old_meta, meta) = (&old.metadata, &mut new.metadata);
    if meta.uid.as_deref().unwrap_or_default().is_empty() {
        meta.uid.clone_from(&old_meta.uid);
    }
    if old_meta.creation_timestamp.is_some() {
        meta.creation_timestamp
            .clone_from(&old_meta.creation_timestamp);
    }
    if old_meta.deletion_timestamp.is_some() {
        meta.deletion_timestamp
            .clone_from(&old_meta.deletion_timestamp);
        meta.deletion_grace_period_seconds = old_meta.deletion_grace_period_seconds;
    }
    meta.generation = old_meta.generation;
}

/// Checks that `new` only changes what Kubernetes lets a pod update change.
///
/// # Errors
///
/// The causes, in Kubernetes' order and wording, when the update is not allowed.
pub(crate) fn validate_pod_update(old: &Pod, new: &Pod) -> Result<(), Vec<FieldCause>> {
    let mut causes = immutable_metadata(old, new);
    let old_spec = spec_json(old);
    let new_spec = spec_json(new);
    // Like Kubernetes, some problems end the check: what follows would only add noise.
    let checks = container_images(&old_spec, &new_spec, &mut causes)
        .and_then(|()| active_deadline(old, new, &mut causes));
    if checks.is_err() {
        return Err(causes);
    }
    causes.extend(tolerations(&old_spec, &new_spec));
    causes.extend(scheduling_gates(&old_spec, &new_spec));
    causes.extend(other_spec_changes(old_spec, &new_spec));
    if causes.is_empty() {
        Ok(())
    } else {
        Err(causes)
    }
}

/// Ends [`validate_pod_update`] early, with the causes found so far.
struct Stop;

/// Name, namespace and uid never change.
fn immutable_metadata(old: &Pod, new: &Pod) -> Vec<FieldCause> {
    let mut causes = Vec::new();
    for (field, a, b) in [
        ("metadata.name", &old.metadata.name, &new.metadata.name),
        (
            "metadata.namespace",
            &old.metadata.namespace,
            &new.metadata.namespace,
        ),
        ("metadata.uid", &old.metadata.uid, &new.metadata.uid),
    ] {
        if a != b {
            let value = b
                .as_deref()
                .map_or(Value::Null, |s| Value::String(s.into()));
            causes.push(FieldCause::invalid(field, &value, "field is immutable"));
        }
    }
    causes
}

/// The same containers (a different count stops the check); every image set and trimmed.
fn container_images(
    old_spec: &Map<String, Value>,
    new_spec: &Map<String, Value>,
    causes: &mut Vec<FieldCause>,
) -> Result<(), Stop> {
    for list in ["containers", "initContainers"] {
        let (old_list, new_list) = (items(old_spec, list), items(new_spec, list));
        if old_list.len() != new_list.len() {
            causes.push(FieldCause::forbidden(
                &format!("spec.{list}"),
                "pod updates may not add or remove containers",
            ));
            return Err(Stop);
        }
        for (i, container) in new_list.iter().enumerate() {
            let image = container
                .get("image")
                .and_then(Value::as_str)
                .unwrap_or_default();
            let field = format!("spec.{list}[{i}].image");
            if image.is_empty() {
                causes.push(FieldCause::required(&field));
            } else if image.trim() != image {
                causes.push(FieldCause::invalid(
                    &field,
                    &Value::String(image.into()),
                    "must not have leading or trailing whitespace",
                ));
            }
        }
    }
    Ok(())
}

/// `activeDeadlineSeconds` may be set or shortened, never lengthened (which stops the check)
/// or removed.
fn active_deadline(old: &Pod, new: &Pod, causes: &mut Vec<FieldCause>) -> Result<(), Stop> {
    let deadline = "spec.activeDeadlineSeconds";
    match (
        old.spec.as_ref().and_then(|s| s.active_deadline_seconds),
        new.spec.as_ref().and_then(|s| s.active_deadline_seconds),
    ) {
        (_, Some(n)) if !(0..=i64::from(i32::MAX)).contains(&n) => {
            causes.push(FieldCause::invalid(
                deadline,
                &n.into(),
                "must be between 0 and 2147483647, inclusive",
            ));
            return Err(Stop);
        }
        (Some(o), Some(n)) if o < n => {
            causes.push(FieldCause::invalid(
                deadline,
                &n.into(),
                "must be less than or equal to previous value",
            ));
            return Err(Stop);
        }
        (Some(_), None) => causes.push(FieldCause::invalid(
            deadline,
            &Value::Null,
            "must not update from a positive integer to nil value",
        )),
        _ => {}
    }
    Ok(())
}

/// Existing tolerations stay (only their `tolerationSeconds` may change); new ones may be added.
fn tolerations(old_spec: &Map<String, Value>, new_spec: &Map<String, Value>) -> Option<FieldCause> {
    let new_tolerations = items(new_spec, "tolerations");
    let without_seconds = |t: &Value| {
        let mut t = normalized(t);
        if let Value::Object(map) = &mut t {
            map.remove("tolerationSeconds");
        }
        t
    };
    let kept = |old_t: &Value| {
        new_tolerations
            .iter()
            .any(|n| without_seconds(n) == without_seconds(old_t))
    };
    (!items(old_spec, "tolerations").iter().all(kept)).then(|| {
        FieldCause::forbidden(
            "spec.tolerations",
            "existing toleration can not be modified except its tolerationSeconds",
        )
    })
}

/// Scheduling gates may only be removed.
fn scheduling_gates(
    old_spec: &Map<String, Value>,
    new_spec: &Map<String, Value>,
) -> Vec<FieldCause> {
    let old_gates = items(old_spec, "schedulingGates");
    items(new_spec, "schedulingGates")
        .into_iter()
        .filter(|gate| !old_gates.contains(gate))
        .map(|gate| {
            let name = gate.get("name").and_then(Value::as_str).unwrap_or_default();
            FieldCause::forbidden(
                "spec.schedulingGates",
                &format!("only deletion is allowed, but found new scheduling gate '{name}'"),
            )
        })
        .collect()
}

/// Everything else must be unchanged: the updatable fields are munged back to their old values
/// and the rest compared.
fn other_spec_changes(
    old_spec: Map<String, Value>,
    new_spec: &Map<String, Value>,
) -> Option<FieldCause> {
    let get = |spec: &Map<String, Value>, key: &str| spec.get(key).cloned().unwrap_or(Value::Null);
    let mut munged = new_spec.clone();
    for list in ["containers", "initContainers"] {
        if let Some(Value::Array(containers)) = munged.get_mut(list) {
            for (container, old_container) in containers.iter_mut().zip(items(&old_spec, list)) {
                if let Value::Object(c) = container {
                    c.insert(
                        "image".into(),
                        old_container.get("image").cloned().unwrap_or(Value::Null),
                    );
                }
            }
        }
    }
    for key in ["activeDeadlineSeconds", "tolerations", "schedulingGates"] {
        munged.insert(key.into(), get(&old_spec, key));
    }
    let grace = "terminationGracePeriodSeconds";
    if get(&old_spec, grace).as_i64().is_some_and(|g| g < 0)
        && get(new_spec, grace).as_i64() == Some(1)
    {
        munged.insert(grace.into(), get(&old_spec, grace));
    }
    let (old_norm, munged_norm) = (
        normalized(&Value::Object(old_spec)),
        normalized(&Value::Object(munged)),
    );
    if old_norm == munged_norm {
        return None;
    }
    let mut diff = Vec::new();
    describe_diff("spec", &old_norm, &munged_norm, &mut diff);
    let detail = format!(
        "pod updates may not change fields other than {UPDATABLE_POD_SPEC_FIELDS}\n{}",
        diff.join("\n")
    );
    Some(FieldCause::forbidden("spec", &detail))
}

fn spec_json(pod: &Pod) -> Map<String, Value> {
    match pod.spec.as_ref().map(serde_json::to_value) {
        Some(Ok(Value::Object(map))) => map,
        _ => Map::new(),
    }
}

fn items(spec: &Map<String, Value>, key: &str) -> Vec<Value> {
    match spec.get(key) {
        Some(Value::Array(items)) => items.clone(),
        _ => Vec::new(),
    }
}

/// Drops `null`, `[]` and `{}` members recursively: Kubernetes' semantic equality treats them as
/// absent.
fn normalized(value: &Value) -> Value {
    match value {
        Value::Object(map) => Value::Object(
            map.iter()
                .map(|(k, v)| (k.clone(), normalized(v)))
                .filter(|(_, v)| !is_empty(v))
                .collect(),
        ),
        Value::Array(items) => Value::Array(items.iter().map(normalized).collect()),
        other => other.clone(),
    }
}

fn is_empty(value: &Value) -> bool {
    match value {
        Value::Null => true,
        Value::Array(a) => a.is_empty(),
        Value::Object(o) => o.is_empty(),
        _ => false,
    }
}

/// Lists the leaf paths that differ, as `  path: old -> new` lines (at most 20).
fn describe_diff(path: &str, old: &Value, new: &Value, out: &mut Vec<String>) {
    if out.len() >= 20 || old == new {
        return;
    }
    match (old, new) {
        (Value::Object(a), Value::Object(b)) => {
            let mut keys: Vec<&String> = a.keys().chain(b.keys()).collect();
            keys.sort();
            keys.dedup();
            for key in keys {
                let (x, y) = (
                    a.get(key).unwrap_or(&Value::Null),
                    b.get(key).unwrap_or(&Value::Null),
                );
                describe_diff(&format!("{path}.{key}"), x, y, out);
            }
        }
        (Value::Array(a), Value::Array(b)) if a.len() == b.len() => {
            for (i, (x, y)) in a.iter().zip(b).enumerate() {
                describe_diff(&format!("{path}[{i}]"), x, y, out);
            }
        }
        _ => out.push(format!("  {path}: {old} -> {new}")),
    }
}

#[cfg(test)]
#[path = "rules_tests.rs"]
mod tests;
