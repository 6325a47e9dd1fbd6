//! Compute Engine audit log entries, however they arrive at `POST /events/compute`:
//!
//! - Eventarc's Cloud Audit Logs CloudEvent `google.cloud.audit.log.v1.written`, binary mode
//!   (`ce-*` headers, the LogEntry as the body) or structured mode (under `data`);
//! - a Log Router sink to a Pub/Sub topic with a push subscription (the LogEntry is the
//!   message's `data`), which also carries the system events Eventarc does not deliver
//!   (`compute.instances.preempted`, `compute.instances.hostError`), plain or wrapped by
//!   Eventarc as `messagePublished`.
//!
//! An entry counts only when it is what Cloud Audit Logs writes: its `logName` is exactly
//! `projects/<project>/logs/cloudaudit.googleapis.com%2Fsystem_event` (preemption, host error)
//! or `…%2Factivity` (deletion), and `protoPayload.serviceName` is `compute.googleapis.com`.
//! That alone does not make it true (docs/security.md): the pod layer still asks Compute Engine
//! before it fails a pod (`pods/lifecycle/terminate.rs`).
//!
//! Only three methods matter: `compute.instances.preempted`, `compute.instances.hostError`
//! and `v1.compute.instances.delete` (also `beta.`); everything else, entries for VMs that
//! are not k8sless' (names not starting with `k8s-`), entries of other projects and failed
//! calls decode to `None` and are acknowledged.

use axum::http::HeaderMap;
use serde_json::Value;

use super::EnvelopeError;
use super::pubsub::{self, MESSAGE_PUBLISHED};
use crate::pods::lifecycle::terminate::{VmIncident, VmIncidentKind};

/// The CloudEvent type of an audit log entry.
pub(crate) const AUDIT_LOG_WRITTEN: &str = "google.cloud.audit.log.v1.written";

/// The Admin Activity audit log (URL-encoded, as in `logName`): deletions.
const ACTIVITY_LOG: &str = "cloudaudit.googleapis.com%2Factivity";
/// The System Event audit log: preemptions and host errors.
const SYSTEM_EVENT_LOG: &str = "cloudaudit.googleapis.com%2Fsystem_event";

/// Decodes a delivery into the VM incident it reports, if it is one k8sless acts on.
pub(crate) fn decode_compute_incident(
    headers: &HeaderMap,
    body: &[u8],
    project: &str,
) -> Result<Option<VmIncident>, EnvelopeError> {
    let value: Value = serde_json::from_slice(body)
        .map_err(|e| EnvelopeError::caused("event", "body is not JSON", e))?;
    let ce_type = headers.get("ce-type").and_then(|v| v.to_str().ok());
    let structured = pubsub::is_structured_cloudevent(headers);
    let structured_type = structured
        .then(|| {
            value
                .get("type")
                .and_then(Value::as_str)
                .map(str::to_string)
        })
        .flatten();
    let ty = ce_type.map(str::to_string).or(structured_type);
    let entry: Value = match ty.as_deref() {
        Some(MESSAGE_PUBLISHED) => log_entry_from_push(&pubsub::decode_push(headers, body)?)?,
        Some(AUDIT_LOG_WRITTEN) if structured => value.get("data").cloned().unwrap_or(Value::Null),
        Some(AUDIT_LOG_WRITTEN) => value,
        Some(other) => {
            return Err(EnvelopeError::new(
                "event",
                format!("CloudEvent type {other:?} is not an audit log entry"),
            ));
        }
        None if value.get("message").is_some() => {
            log_entry_from_push(&pubsub::decode_push(headers, body)?)?
        }
        None => value,
    };
    from_log_entry(&entry, project)
}

fn log_entry_from_push(msg: &pubsub::PushMessage) -> Result<Value, EnvelopeError> {
    serde_json::from_slice(&msg.data)
        .map_err(|e| EnvelopeError::caused("log entry", "message data is not JSON", e))
}

fn text<'a>(v: &'a Value, path: &[&str]) -> Option<&'a str> {
    path.iter()
        .try_fold(v, |v, k| v.get(k))
        .and_then(Value::as_str)
}

/// The VM incident of one LogEntry (JSON form), if it is one k8sless acts on.
pub(crate) fn from_log_entry(
    entry: &Value,
    project: &str,
) -> Result<Option<VmIncident>, EnvelopeError> {
    let Some(payload) = entry.get("protoPayload") else {
        return Err(EnvelopeError::new("log entry", "no protoPayload"));
    };
    let method = text(payload, &["methodName"]).unwrap_or("");
    let (kind, log) = match method {
        "compute.instances.preempted" => (VmIncidentKind::Preempted, SYSTEM_EVENT_LOG),
        "compute.instances.hostError" => (VmIncidentKind::HostError, SYSTEM_EVENT_LOG),
        "v1.compute.instances.delete" | "beta.compute.instances.delete" => {
            (VmIncidentKind::Deleted, ACTIVITY_LOG)
        }
        _ => return Ok(None),
    };
    let log_name = text(entry, &["logName"]).unwrap_or("");
    if log_name != format!("projects/{project}/logs/{log}") {
        tracing::warn!(
            log_name,
            method,
            "a Compute Engine entry outside its audit log; ignored"
        );
        return Ok(None);
    }
    if text(payload, &["serviceName"]) != Some("compute.googleapis.com") {
        return Ok(None);
    }
    if payload
        .get("status")
        .and_then(|s| s.get("code"))
        .and_then(Value::as_i64)
        .is_some_and(|c| c != 0)
    {
        return Ok(None);
    }
    // projects/P/zones/Z/instances/N
    let resource = text(payload, &["resourceName"]).unwrap_or("");
    let parts: Vec<&str> = resource.trim_start_matches('/').split('/').collect();
    let find = |key: &str| {
        parts
            .iter()
            .position(|p| *p == key)
            .and_then(|i| parts.get(i + 1))
            .copied()
    };
    let labels = |k: &str| text(entry, &["resource", "labels", k]);
    let Some(name) = find("instances") else {
        return Err(EnvelopeError::new(
            "log entry",
            format!("resourceName {resource:?} names no instance"),
        ));
    };
    let zone = labels("zone").or(find("zones")).unwrap_or("").to_string();
    let entry_project = labels("project_id").or(find("projects")).unwrap_or("");
    let numeric = entry_project.chars().all(|c| c.is_ascii_digit());
    if !name.starts_with("k8s-") || (!numeric && entry_project != project) {
        return Ok(None);
    }
    Ok(Some(VmIncident {
        kind,
        zone,
        instance_name: name.to_string(),
        instance_id: labels("instance_id").map(str::to_string),
        principal: text(payload, &["authenticationInfo", "principalEmail"]).map(str::to_string),
    }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;
    use base64::Engine;

    fn entry(method: &str, vm: &str, who: &str) -> Value {
        serde_json::json!({
            "protoPayload": {
                "@type": "type.googleapis.com/google.cloud.audit.AuditLog",
                "methodName": method,
                "serviceName": "compute.googleapis.com",
                "resourceName": format!("projects/proj/zones/us-central1-a/instances/{vm}"),
                "authenticationInfo": {"principalEmail": who}
            },
            "resource": {"type": "gce_instance",
                "labels": {"instance_id": "42", "project_id": "proj", "zone": "us-central1-a"}},
            "logName": format!("projects/proj/logs/{}", if method.contains(".delete") {
                ACTIVITY_LOG
            } else {
                SYSTEM_EVENT_LOG
            })
        })
    }

    #[test]
    fn entries_outside_the_audit_logs_are_none() {
        let real = entry("compute.instances.preempted", "k8s-default-p-1234abcd", "x");
        assert!(from_log_entry(&real, "proj").expect("decode").is_some());
        for (path, value) in [
            // Written by anyone with logging.logWriter under a name of their own.
            ("logName", "projects/proj/logs/cloudaudit.googleapis.com"),
            (
                "logName",
                "projects/proj/logs/my-cloudaudit.googleapis.com%2Fsystem_event",
            ),
            (
                "logName",
                "projects/other/logs/cloudaudit.googleapis.com%2Fsystem_event",
            ),
            // A preemption is a system event, never an Admin Activity entry.
            (
                "logName",
                "projects/proj/logs/cloudaudit.googleapis.com%2Factivity",
            ),
        ] {
            let mut forged = real.clone();
            forged[path] = value.into();
            assert_eq!(from_log_entry(&forged, "proj"), Ok(None), "{value}");
        }
        let mut forged = real.clone();
        forged["protoPayload"]["serviceName"] = "logging.googleapis.com".into();
        assert_eq!(from_log_entry(&forged, "proj"), Ok(None));
    }

    #[test]
    fn binary_cloudevent_delete() {
        let mut h = HeaderMap::new();
        h.insert("ce-type", HeaderValue::from_static(AUDIT_LOG_WRITTEN));
        let body = entry(
            "v1.compute.instances.delete",
            "k8s-default-p-1234abcd",
            "a@b.c",
        );
        let ev = decode_compute_incident(&h, body.to_string().as_bytes(), "proj")
            .expect("decode")
            .expect("event");
        assert_eq!(ev.kind, VmIncidentKind::Deleted);
        assert_eq!(ev.zone, "us-central1-a");
        assert_eq!(ev.instance_id.as_deref(), Some("42"));
        assert_eq!(ev.principal.as_deref(), Some("a@b.c"));
    }

    #[test]
    fn log_router_sink_through_pubsub() {
        let data = entry(
            "compute.instances.preempted",
            "k8s-default-p-1234abcd",
            "system",
        );
        let push = serde_json::json!({"message": {
            "data": base64::engine::general_purpose::STANDARD.encode(data.to_string()),
            "messageId": "1"}, "subscription": "projects/proj/subscriptions/s"});
        let ev = decode_compute_incident(&HeaderMap::new(), push.to_string().as_bytes(), "proj")
            .expect("decode")
            .expect("event");
        assert_eq!(ev.kind, VmIncidentKind::Preempted);
    }

    #[test]
    fn irrelevant_entries_are_none() {
        let h = HeaderMap::new();
        for body in [
            entry("v1.compute.instances.insert", "k8s-default-p-1234abcd", "x"),
            entry("v1.compute.instances.delete", "web-1", "x"),
        ] {
            assert_eq!(
                decode_compute_incident(&h, body.to_string().as_bytes(), "proj"),
                Ok(None)
            );
        }
        let other = entry("compute.instances.hostError", "k8s-default-p-1234abcd", "x");
        assert_eq!(from_log_entry(&other, "another-project"), Ok(None));
        assert!(decode_compute_incident(&h, b"{}", "proj").is_err());
        let mut bad = HeaderMap::new();
        bad.insert(
            "ce-type",
            HeaderValue::from_static("google.cloud.storage.object.v1.finalized"),
        );
        assert!(decode_compute_incident(&bad, b"{}", "proj").is_err());
    }
}
