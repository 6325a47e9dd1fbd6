//! Unit tests of the Table rendering.

use super::*;
use serde_json::json;

/// Whether the client asked for a `Table` (v1 or v1beta1) ahead of plain JSON.
fn wants_table(accept: &str) -> bool {
    table_api_version(accept).is_some()
}

fn ts(s: &str) -> Timestamp {
    s.parse().expect("timestamp")
}

fn pod(spec: Value, status: Value) -> Pod {
    serde_json::from_value(json!({
        "metadata": {"name": "p", "namespace": "ns", "creationTimestamp": "2025-06-01T11:00:00Z", "labels": {"app": "x"}},
        "spec": spec,
        "status": status,
    }))
    .expect("pod")
}

const NOW: &str = "2025-06-01T12:00:00Z";

/// The Table of `pods` at [`NOW`], with no list metadata.
fn table_now(pods: &[Pod], include: IncludeObject, wide: bool) -> Value {
    pod_table(pods, include, wide, ts(NOW), ListMeta::default())
}

#[test]
fn table_has_the_api_server_columns_and_objects() {
    let p = pod(
        json!({"containers": [{"name": "c"}]}),
        json!({"phase": "Succeeded", "podIPs": [{"ip": "10.0.0.7"}]}),
    );
    let meta = ListMeta {
        resource_version: Some("42".into()),
        ..ListMeta::default()
    };
    let table = pod_table(
        std::slice::from_ref(&p),
        IncludeObject::Metadata,
        true,
        ts(NOW),
        meta,
    );
    assert_eq!(table["kind"], "Table");
    assert_eq!(table["apiVersion"], "meta.k8s.io/v1");
    assert_eq!(table["metadata"]["resourceVersion"], "42");
    let columns: Vec<String> = table["columnDefinitions"]
        .as_array()
        .expect("columns")
        .iter()
        .map(|c| {
            format!(
                "{}:{}",
                c["name"].as_str().unwrap_or_default(),
                c["priority"]
            )
        })
        .collect();
    let want =
        "Name:0 Ready:0 Status:0 Restarts:0 Age:0 IP:1 Node:1 Nominated Node:1 Readiness Gates:1";
    assert_eq!(columns.join(" "), want);
    let row = &table["rows"][0];
    let cells = json!([
        "p",
        "0/1",
        "Succeeded",
        "0",
        "60m",
        "10.0.0.7",
        "<none>",
        "<none>",
        "<none>"
    ]);
    assert_eq!(row["cells"], cells);
    assert_eq!(row["conditions"][0]["reason"], "Succeeded");
    assert_eq!(row["object"]["kind"], "PartialObjectMetadata");
    assert_eq!(row["object"]["metadata"]["namespace"], "ns");
    assert_eq!(row["object"]["metadata"]["labels"]["app"], "x");

    let full = table_now(std::slice::from_ref(&p), IncludeObject::Object, false);
    assert_eq!(full["rows"][0]["object"]["kind"], "Pod");
    assert_eq!(full["rows"][0]["cells"].as_array().map(Vec::len), Some(5));
    assert_eq!(full["columnDefinitions"].as_array().map(Vec::len), Some(5));
    let none = table_now(&[p], IncludeObject::None, true);
    assert!(none["rows"][0].get("object").is_none());
}

#[test]
fn restarts_show_when_the_last_one_happened() {
    let status = json!({"phase": "Running", "containerStatuses": [{
        "name": "c", "image": "i", "imageID": "", "ready": false, "restartCount": 2,
        "state": {"waiting": {"reason": "CrashLoopBackOff"}},
        "lastState": {"terminated": {"exitCode": 1, "finishedAt": "2025-06-01T11:55:00Z"}}}]});
    let p = pod(json!({"containers": [{"name": "c"}]}), status);
    let table = table_now(&[p], IncludeObject::Metadata, true);
    let cells = &table["rows"][0]["cells"];
    assert_eq!(cells[2], "CrashLoopBackOff");
    assert_eq!(cells[3], "2 (5m ago)");
    assert_eq!(cells[4], "60m");
}

#[test]
fn readiness_gates_count_true_conditions() {
    let p = pod(
        json!({"containers": [{"name": "c"}], "readinessGates": [{"conditionType": "a"}, {"conditionType": "b"}]}),
        json!({"conditions": [{"type": "a", "status": "True"}, {"type": "b", "status": "False"}]}),
    );
    assert_eq!(readiness_gates(&p), "1/2");
}

#[test]
fn include_object_and_table_negotiation() {
    assert_eq!(IncludeObject::from_query(None), Ok(IncludeObject::Metadata));
    assert_eq!(
        IncludeObject::from_query(Some("Object")),
        Ok(IncludeObject::Object)
    );
    assert_eq!(
        IncludeObject::from_query(Some("None")),
        Ok(IncludeObject::None)
    );
    assert!(IncludeObject::from_query(Some("all")).is_err());
    let kubectl = "application/json;as=Table;v=v1;g=meta.k8s.io,\
                   application/json;as=Table;v=v1beta1;g=meta.k8s.io,application/json";
    assert!(wants_table(kubectl));
    assert_eq!(table_api_version(kubectl), Some("meta.k8s.io/v1"));
    let beta = "application/json;as=Table;v=v1beta1;g=meta.k8s.io";
    assert_eq!(table_api_version(beta), Some("meta.k8s.io/v1beta1"));
    assert!(!wants_table("application/json"));
    assert!(!wants_table("application/yaml"));
    assert!(!wants_table(
        "application/json, application/json;as=Table;v=v1;g=meta.k8s.io"
    ));
}

#[test]
fn a_v1beta1_tables_rows_carry_v1beta1_partial_object_metadata() {
    let p = pod(
        json!({"containers": [{"name": "c"}]}),
        json!({"phase": "Pending"}),
    );
    for version in ["meta.k8s.io/v1", "meta.k8s.io/v1beta1"] {
        let body = pod_table_json(
            std::slice::from_ref(&p),
            IncludeObject::Metadata,
            false,
            ts(NOW),
            ListMeta::default(),
            version,
        )
        .expect("encodes");
        let table: Value = serde_json::from_slice(&body).expect("json");
        assert_eq!(table["apiVersion"], version);
        assert_eq!(table["rows"][0]["object"]["kind"], "PartialObjectMetadata");
        assert_eq!(table["rows"][0]["object"]["apiVersion"], version, "{table}");
        assert_eq!(table["rows"][0]["object"]["metadata"]["name"], "p");
    }
}
