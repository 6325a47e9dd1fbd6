//! `GET /api/v1/namespaces/{ns}/events` and `/api/v1/events`: Kubernetes `Event`s derived from
//! each pod record's history, so `kubectl describe pod` shows Scheduled, Started, Completed,
//! Failed, Preempted, Deleted with their times. Filtered by `fieldSelector` on `involvedObject.*`
//! (a selector naming the pod reads only that record).

use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use serde_json::{Value, json};

use super::event_table::event_table;
use super::pods::{json as json_response, table_request, table_response};
use super::{AppState, extract, respond};
use crate::error::{Error, Result};
use crate::pods::crud::read::ListOptions;
use crate::pods::record::PodRecord;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ListMeta;

/// `GET /api/v1/namespaces/{namespace}/events`.
pub async fn event_list(
    State(state): State<AppState>,
    Path(namespace): Path<String>,
    RawQuery(q): RawQuery,
    headers: HeaderMap,
) -> Response {
    respond(list(state, Some(namespace), q, &headers).await)
}

/// `GET /api/v1/events`.
pub async fn event_list_all(
    State(state): State<AppState>,
    RawQuery(q): RawQuery,
    headers: HeaderMap,
) -> Response {
    respond(list(state, None, q, &headers).await)
}

fn events_of(rec: &PodRecord) -> Vec<Value> {
    let meta = &rec.pod.metadata;
    let ns = meta.namespace.clone().unwrap_or_default();
    let name = meta.name.clone().unwrap_or_default();
    rec.events
        .iter()
        .enumerate()
        .map(|(i, e)| {
            let first = e.first.strftime("%Y-%m-%dT%H:%M:%SZ").to_string();
            let last = e.last.strftime("%Y-%m-%dT%H:%M:%SZ").to_string();
            json!({
                "apiVersion": "v1",
                "kind": "Event",
                "metadata": {
                    "name": format!("{name}.{:x}{i:02}", e.first.as_microsecond()),
                    "namespace": ns,
                    "uid": format!("{}-{i}", meta.uid.clone().unwrap_or_default()),
                    "resourceVersion": meta.resource_version.clone().unwrap_or_default(),
                    "creationTimestamp": first,
                },
                "involvedObject": {
                    "apiVersion": "v1",
                    "kind": "Pod",
                    "namespace": ns,
                    "name": name,
                    "uid": meta.uid.clone().unwrap_or_default(),
                    "resourceVersion": meta.resource_version.clone().unwrap_or_default(),
                },
                "reason": e.reason,
                "message": e.message,
                "type": e.event_type,
                "count": e.count,
                "firstTimestamp": first,
                "lastTimestamp": last,
                "source": {"component": "k8sless"},
                "reportingComponent": "k8sless",
                "reportingInstance": "",
            })
        })
        .collect()
}

async fn list(
    state: AppState,
    namespace: Option<String>,
    q: Option<String>,
    headers: &HeaderMap,
) -> Result<Response> {
    let query = extract::query(q.as_deref())?;
    let table = table_request(headers, &query)?;
    let mut wanted: Vec<(String, String)> = Vec::new();
    for term in query
        .get("fieldSelector")
        .map(String::as_str)
        .unwrap_or("")
        .split(',')
        .filter(|t| !t.trim().is_empty())
    {
        let (k, v) = term
            .split_once("==")
            .or_else(|| term.split_once('='))
            .ok_or_else(|| Error::bad_request(format!("invalid field selector {term:?}")))?;
        let k = k.trim();
        let ok = matches!(
            k,
            "involvedObject.kind"
                | "involvedObject.namespace"
                | "involvedObject.name"
                | "involvedObject.uid"
                | "involvedObject.apiVersion"
                | "involvedObject.resourceVersion"
                | "involvedObject.fieldPath"
                | "reason"
                | "type"
                | "source"
                | "metadata.namespace"
                | "metadata.name"
        );
        if !ok {
            return Err(Error::bad_request(format!(
                "field label not supported: {k}"
            )));
        }
        wanted.push((k.to_string(), v.trim().to_string()));
    }
    let pick = |k: &str| wanted.iter().find(|(f, _)| f == k).map(|(_, v)| v.clone());
    let ns = namespace
        .clone()
        .or_else(|| pick("involvedObject.namespace"));
    let records: Vec<PodRecord> = match (ns.as_deref(), pick("involvedObject.name")) {
        (Some(ns), Some(name)) => match state.pods.get_record(ns, &name).await {
            Ok(r) => vec![r],
            Err(Error::NotFound { .. }) => vec![],
            Err(e) => return Err(e),
        },
        _ => {
            state
                .pods
                .list(ns.as_deref(), &ListOptions::default())
                .await?
                .items
        }
    };
    let items: Vec<Value> = records
        .iter()
        .flat_map(events_of)
        .filter(|e| {
            wanted.iter().all(|(k, v)| {
                let path: Vec<&str> = k.split('.').collect();
                let actual = path
                    .iter()
                    .try_fold(e, |cur, p| cur.get(p))
                    .map(|x| match x {
                        Value::String(s) => s.clone(),
                        other => other.to_string(),
                    });
                actual.as_deref() == Some(v.as_str()) || (k == "source" && v == "k8sless")
            })
        })
        .collect();
    if let Some((version, include)) = table {
        let meta = ListMeta {
            resource_version: Some("0".to_string()),
            ..Default::default()
        };
        return Ok(table_response(
            version,
            event_table(&items, include, jiff::Timestamp::now(), meta),
        ));
    }
    Ok(json_response(
        StatusCode::OK,
        &json!({"apiVersion": "v1", "kind": "EventList", "metadata": {"resourceVersion": "0"}, "items": items}),
    ))
}
