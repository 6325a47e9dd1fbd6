//! `kubectl get events` as the API server prints it: a `Table` with LAST SEEN, TYPE, REASON,
//! OBJECT, MESSAGE (and, at priority 1 for `-o wide`, SUBOBJECT, SOURCE, FIRST SEEN, COUNT,
//! NAME), rows carrying each event's metadata so `-A` can add NAMESPACE.

use jiff::Timestamp;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ListMeta;
use serde_json::{Value, json};

use super::table::{IncludeObject, column, row_value, since, table_value};

/// The columns: name, format, priority (1: `-o wide` only), description.
const COLUMNS: [(&str, Option<&str>, u8, &str); 10] = [
    (
        "Last Seen",
        None,
        0,
        "The time at which the most recent occurrence of this event was recorded.",
    ),
    (
        "Type",
        None,
        0,
        "Type of this event (Normal, Warning), new types could be added in the future.",
    ),
    (
        "Reason",
        None,
        0,
        "This should be a short, machine understandable string that gives the reason for the transition into the object's current status.",
    ),
    ("Object", None, 0, "The object that this event is about."),
    (
        "Subobject",
        None,
        1,
        "The field of the object this event is about.",
    ),
    ("Source", None, 1, "The component reporting this event."),
    (
        "Message",
        None,
        0,
        "A human-readable description of the status of this operation.",
    ),
    (
        "First Seen",
        None,
        1,
        "The time at which the event was first recorded.",
    ),
    (
        "Count",
        None,
        1,
        "The number of times this event has occurred.",
    ),
    (
        "Name",
        Some("name"),
        1,
        "Name must be unique within a namespace.",
    ),
];

/// Renders `events` (Kubernetes `Event` JSON) as a `meta.k8s.io/v1` `Table`.
pub(crate) fn event_table(
    events: &[Value],
    include_object: IncludeObject,
    now: Timestamp,
    list_meta: ListMeta,
) -> Value {
    let columns: Vec<_> = COLUMNS
        .iter()
        .map(|(name, format, priority, description)| {
            column(name, "string", *format, *priority, description)
        })
        .collect();
    let rows: Vec<Value> = events
        .iter()
        .map(|e| event_row(e, include_object, now))
        .collect();
    table_value(list_meta, columns, rows)
}

fn event_row(e: &Value, include_object: IncludeObject, now: Timestamp) -> Value {
    let text = |v: &Value| v.as_str().unwrap_or_default().to_string();
    let age = |v: &Value| {
        v.as_str()
            .and_then(|s| s.parse::<Timestamp>().ok())
            .map_or_else(|| "<unknown>".to_string(), |t| since(t, now))
    };
    let involved = &e["involvedObject"];
    let object = format!(
        "{}/{}",
        text(&involved["kind"]).to_lowercase(),
        text(&involved["name"])
    );
    let cells = vec![
        json!(age(&e["lastTimestamp"])),
        json!(text(&e["type"])),
        json!(text(&e["reason"])),
        json!(object),
        json!(text(&involved["fieldPath"])),
        json!(text(&e["source"]["component"])),
        json!(text(&e["message"])),
        json!(age(&e["firstTimestamp"])),
        json!(e["count"].as_i64().unwrap_or(1).to_string()),
        json!(text(&e["metadata"]["name"])),
    ];
    row_value(json!(cells), include_object, e)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn columns_and_cells() {
        let e = json!({
            "metadata": {"name": "p.1", "namespace": "ns"},
            "involvedObject": {"kind": "Pod", "name": "p"},
            "reason": "Scheduled", "message": "m", "type": "Normal", "count": 2,
            "firstTimestamp": "2025-06-01T11:00:00Z", "lastTimestamp": "2025-06-01T11:59:00Z",
            "source": {"component": "k8sless"},
        });
        let now: Timestamp = "2025-06-01T12:00:00Z".parse().expect("ts");
        let t = event_table(&[e], IncludeObject::Metadata, now, ListMeta::default());
        let names: Vec<&str> = t["columnDefinitions"]
            .as_array()
            .expect("columns")
            .iter()
            .filter(|c| c["priority"] == 0)
            .filter_map(|c| c["name"].as_str())
            .collect();
        assert_eq!(names, ["Last Seen", "Type", "Reason", "Object", "Message"]);
        let cells = &t["rows"][0]["cells"];
        assert_eq!(cells[0], "60s");
        assert_eq!(cells[3], "pod/p");
        assert_eq!(cells[6], "m");
        assert_eq!(cells[8], "2");
        assert_eq!(t["rows"][0]["object"]["metadata"]["namespace"], "ns");
    }
}
