//! Pub/Sub push deliveries of guest reports, in the two forms Google sends them:
//!
//! - a push subscription's JSON body, `{"message": {"data", "attributes", "messageId",
//!   "publishTime", ...}, "subscription": ...}` (the emulator also sends the snake_case
//!   duplicates `message_id` and `publish_time`);
//! - Eventarc's CloudEvent `google.cloud.pubsub.topic.v1.messagePublished`, in binary mode
//!   (`ce-*` headers, the same JSON as the body) or structured mode
//!   (`application/cloudevents+json`, the same JSON under `data`).
//!
//! Decoding is pure: the handler verifies the caller first and the report's identity after.

use std::collections::BTreeMap;

use axum::http::HeaderMap;
use base64::Engine;
use base64::engine::general_purpose::{GeneralPurpose, GeneralPurposeConfig};
use base64::engine::{DecodePaddingMode, general_purpose};
use jiff::Timestamp;
use serde::Deserialize;
use serde_json::Value;

use super::EnvelopeError;
use crate::pods::lifecycle::report::Report;

/// The CloudEvent type of a Pub/Sub message delivered by Eventarc.
pub(crate) const MESSAGE_PUBLISHED: &str = "google.cloud.pubsub.topic.v1.messagePublished";

/// One delivered message.
#[derive(Debug, Clone, Default, PartialEq)]
pub(crate) struct PushMessage {
    /// The decoded `data`.
    pub(crate) data: Vec<u8>,
    /// Attributes.
    pub(crate) attributes: BTreeMap<String, String>,
    /// Message id.
    pub(crate) message_id: String,
    /// When Pub/Sub accepted the message (the push's caller vouches for it).
    pub(crate) publish_time: Option<Timestamp>,
    /// `projects/P/subscriptions/S`, when given.
    pub(crate) subscription: Option<String>,
}

#[derive(Deserialize)]
struct WireBody {
    message: WireMessage,
    #[serde(default)]
    subscription: Option<String>,
}

#[derive(Deserialize)]
struct WireMessage {
    #[serde(default)]
    data: Option<String>,
    #[serde(default)]
    attributes: Option<BTreeMap<String, String>>,
    #[serde(default, rename = "messageId")]
    message_id: Option<String>,
    #[serde(default, rename = "message_id")]
    message_id_snake: Option<String>,
    #[serde(default, rename = "publishTime")]
    publish_time: Option<String>,
    #[serde(default, rename = "publish_time")]
    publish_time_snake: Option<String>,
}

/// Standard base64, padded or not (Pub/Sub pads; be lenient).
const BASE64: GeneralPurpose = GeneralPurpose::new(
    &base64::alphabet::STANDARD,
    GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent),
);

fn header<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers.get(name).and_then(|v| v.to_str().ok())
}

/// Whether the body is a structured-mode CloudEvent.
pub(crate) fn is_structured_cloudevent(headers: &HeaderMap) -> bool {
    header(headers, "content-type").is_some_and(|c| c.starts_with("application/cloudevents+json"))
}

/// Decodes a push (plain, binary CloudEvent or structured CloudEvent).
pub(crate) fn decode_push(headers: &HeaderMap, body: &[u8]) -> Result<PushMessage, EnvelopeError> {
    let value: Value = serde_json::from_slice(body)
        .map_err(|e| EnvelopeError::caused("Pub/Sub push", "body is not JSON", e))?;
    let (value, ce_time) = if is_structured_cloudevent(headers) {
        let ty = value.get("type").and_then(Value::as_str).unwrap_or("");
        if ty != MESSAGE_PUBLISHED {
            return Err(EnvelopeError::new(
                "Pub/Sub push",
                format!("CloudEvent type {ty:?}, expected {MESSAGE_PUBLISHED}"),
            ));
        }
        let time = value
            .get("time")
            .and_then(Value::as_str)
            .map(str::to_string);
        (value.get("data").cloned().unwrap_or(Value::Null), time)
    } else if let Some(ty) = header(headers, "ce-type") {
        if ty != MESSAGE_PUBLISHED {
            return Err(EnvelopeError::new(
                "Pub/Sub push",
                format!("CloudEvent type {ty:?}, expected {MESSAGE_PUBLISHED}"),
            ));
        }
        (value, header(headers, "ce-time").map(str::to_string))
    } else {
        (value, None)
    };
    from_value(value, ce_time)
}

/// Decodes the `{"message": ..., "subscription": ...}` JSON.
pub(crate) fn from_value(
    value: Value,
    fallback_time: Option<String>,
) -> Result<PushMessage, EnvelopeError> {
    let wire: WireBody = serde_json::from_value(value)
        .map_err(|e| EnvelopeError::caused("Pub/Sub push", "not a push body", e))?;
    let m = wire.message;
    let data = match m.data.as_deref() {
        Some(d) => BASE64
            .decode(d)
            .or_else(|_| general_purpose::URL_SAFE_NO_PAD.decode(d.trim_end_matches('=')))
            .map_err(|e| EnvelopeError::caused("Pub/Sub push", "data is not base64", e))?,
        None => Vec::new(),
    };
    let publish_time =
        match m.publish_time.or(m.publish_time_snake).or(fallback_time) {
            Some(t) => Some(t.parse::<Timestamp>().map_err(|e| {
                EnvelopeError::caused("Pub/Sub push", format!("publishTime {t:?}"), e)
            })?),
            None => None,
        };
    Ok(PushMessage {
        data,
        attributes: m.attributes.unwrap_or_default(),
        message_id: m.message_id.or(m.message_id_snake).unwrap_or_default(),
        publish_time,
        subscription: wire.subscription,
    })
}

/// The guest report a message carries (docs/guest-protocol.md): `k8sless.dev/v1 PodReport`,
/// with attributes, when present, that agree with the body.
pub(crate) fn decode_report(msg: &PushMessage) -> Result<Report, EnvelopeError> {
    let report: Report = serde_json::from_slice(&msg.data)
        .map_err(|e| EnvelopeError::caused("pod report", "not a PodReport", e))?;
    if (!report.api_version.is_empty() && report.api_version != "k8sless.dev/v1")
        || (!report.kind.is_empty() && report.kind != "PodReport")
    {
        return Err(EnvelopeError::new(
            "pod report",
            format!("unknown {}/{}", report.api_version, report.kind),
        ));
    }
    if report.namespace.is_empty() || report.name.is_empty() || report.uid.is_empty() {
        return Err(EnvelopeError::new(
            "pod report",
            "namespace, name and uid are required",
        ));
    }
    let sequence = report.sequence.to_string();
    let fin = report.r#final.to_string();
    for (attr, body) in [
        ("k8sless-uid", report.uid.as_str()),
        ("k8sless-namespace", report.namespace.as_str()),
        ("k8sless-name", report.name.as_str()),
        ("k8sless-sequence", sequence.as_str()),
        ("k8sless-final", fin.as_str()),
    ] {
        if let Some(a) = msg.attributes.get(attr) {
            if a != body {
                return Err(EnvelopeError::new(
                    "pod report",
                    format!("attribute {attr}={a:?} disagrees with the body ({body:?})"),
                ));
            }
        }
    }
    Ok(report)
}

/// The push JSON for `data` (dev mode's in-process deliveries and tests).
pub fn encode_push(
    data: &[u8],
    attributes: &BTreeMap<String, String>,
    message_id: &str,
    publish_time: Timestamp,
) -> Value {
    serde_json::json!({
        "message": {
            "data": general_purpose::STANDARD.encode(data),
            "attributes": attributes,
            "messageId": message_id,
            "publishTime": publish_time.to_string(),
        },
        "subscription": "projects/k8sless-dev/subscriptions/k8sless-reports",
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    fn report_json() -> Vec<u8> {
        serde_json::to_vec(&serde_json::json!({
            "apiVersion": "k8sless.dev/v1", "kind": "PodReport",
            "uid": "u", "namespace": "default", "name": "p", "sequence": 2,
            "status": {"phase": "Running"}
        }))
        .expect("json")
    }

    #[test]
    fn plain_push_with_both_spellings() {
        let body = serde_json::json!({
            "message": {"data": general_purpose::STANDARD.encode(report_json()),
                "messageId": "1", "message_id": "1",
                "publishTime": "2024-01-01T00:00:00.123Z", "publish_time": "2024-01-01T00:00:00.123Z",
                "attributes": {"k8sless-sequence": "2"}},
            "subscription": "projects/p/subscriptions/s"
        });
        let msg = decode_push(&HeaderMap::new(), body.to_string().as_bytes()).expect("push");
        assert_eq!(msg.message_id, "1");
        assert!(msg.publish_time.is_some());
        let r = decode_report(&msg).expect("report");
        assert_eq!(r.sequence, 2);
    }

    #[test]
    fn cloudevent_binary_and_structured() {
        let inner = encode_push(&report_json(), &BTreeMap::new(), "7", Timestamp::UNIX_EPOCH);
        let mut h = HeaderMap::new();
        h.insert("ce-type", HeaderValue::from_static(MESSAGE_PUBLISHED));
        h.insert("ce-time", HeaderValue::from_static("2024-01-01T00:00:00Z"));
        let msg = decode_push(&h, inner.to_string().as_bytes()).expect("binary");
        assert_eq!(
            decode_report(&msg).map(|r| r.name).ok().as_deref(),
            Some("p")
        );

        let mut h = HeaderMap::new();
        h.insert(
            "content-type",
            HeaderValue::from_static("application/cloudevents+json"),
        );
        let ce =
            serde_json::json!({"specversion": "1.0", "type": MESSAGE_PUBLISHED, "data": inner});
        assert!(decode_push(&h, ce.to_string().as_bytes()).is_ok());

        let mut h = HeaderMap::new();
        h.insert(
            "ce-type",
            HeaderValue::from_static("google.cloud.storage.object.v1.finalized"),
        );
        assert!(decode_push(&h, inner.to_string().as_bytes()).is_err());
    }

    #[test]
    fn malformed_and_inconsistent_are_rejected() {
        assert!(decode_push(&HeaderMap::new(), b"not json").is_err());
        assert!(decode_push(&HeaderMap::new(), br#"{"message": {"data": "%%%"}}"#).is_err());
        let mut attrs = BTreeMap::new();
        attrs.insert("k8sless-name".to_string(), "other".to_string());
        let msg = PushMessage {
            data: report_json(),
            attributes: attrs,
            ..Default::default()
        };
        assert!(decode_report(&msg).is_err());
        let msg = PushMessage {
            data: br#"{"apiVersion": "v2", "kind": "PodReport", "uid": "u", "namespace": "n", "name": "p", "sequence": 1}"#.to_vec(),
            ..Default::default()
        };
        assert!(decode_report(&msg).is_err());
    }
}
