//! Server-side printing: pods rendered as a `meta.k8s.io/v1` `Table`.
//!
//! `kubectl get` asks for `Accept: application/json;as=Table;v=v1;g=meta.k8s.io,...` and prints
//! whatever columns the server sends, so the columns and their values are ours to compute: the
//! Kubernetes API server's pod columns, NAME READY STATUS RESTARTS AGE, then IP NODE
//! NOMINATED NODE READINESS GATES at priority 1. The per-pod figures (READY "1/2", STATUS
//! `Init:0/1` / `CrashLoopBackOff` / `Terminating` ..., RESTARTS "2 (5m ago)", AGE) come from
//! [`super::pod_summary`], which reimplements the API server's `printPod`.
//!
//! The API server always sends all columns (priority 1 ones too) and lets kubectl hide priority-1
//! columns unless `-o wide`; routes should pass `wide = true` for the same behaviour. Each row carries
//! the object as `includeObject` asks (`PartialObjectMetadata` by default), from which kubectl takes
//! the NAMESPACE column of `-A` and the labels of `--show-labels`.
//!
//! Everything is a pure function of its inputs; `now` is passed in, so tests are deterministic.

use std::borrow::{Borrow, Cow};
use std::str::FromStr;

use jiff::Timestamp;
use k8s_openapi::api::core::v1::Pod;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{ListMeta, ObjectMeta};
use serde::Serialize;
use serde_json::Value;

use super::accept::negotiate;
use super::pod_summary::{PodSummary, human_duration};

/// What each table row carries in its `object` field (the `includeObject` query parameter).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(crate) enum IncludeObject {
    /// No object.
    None,
    /// A `PartialObjectMetadata` holding the pod's metadata (the default).
    #[default]
    Metadata,
    /// The whole pod.
    Object,
}

/// An `includeObject` value other than `None`, `Metadata`, `Object` or empty.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "includeObject: Unsupported value: {value:?}: supported values: \"None\", \"Metadata\", \"Object\""
)]
pub(crate) struct InvalidIncludeObject {
    /// The rejected value.
    pub value: String,
}

impl FromStr for IncludeObject {
    type Err = InvalidIncludeObject;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "" | "Metadata" => Ok(Self::Metadata),
            "None" => Ok(Self::None),
            "Object" => Ok(Self::Object),
            other => Err(InvalidIncludeObject {
                value: other.to_string(),
            }),
        }
    }
}

impl IncludeObject {
    /// Parses the optional `includeObject` query parameter; absent means `Metadata`.
    pub(crate) fn from_query(value: Option<&str>) -> Result<Self, InvalidIncludeObject> {
        value.map_or(Ok(Self::Metadata), str::parse)
    }
}

/// The `Table` apiVersion the client prefers among those we can produce (`"meta.k8s.io/v1"` or
/// `"meta.k8s.io/v1beta1"`), or `None` when plain JSON comes first (or nothing matches).
/// Both versions have the same shape; set the response's `apiVersion` (and the `v=` of its
/// `Content-Type`, `application/json;as=Table;v=…;g=meta.k8s.io`) to the answer.
pub(crate) fn table_api_version(accept: &str) -> Option<&'static str> {
    // What curl, wrk and most clients' `get` send, without parsing them into media ranges.
    if matches!(accept.trim(), "" | "*/*" | "application/json") {
        return None;
    }
    negotiate(accept, |range| {
        if range.is_json_as("Table", "meta.k8s.io", "v1") {
            Some(Some("meta.k8s.io/v1"))
        } else if range.is_json_as("Table", "meta.k8s.io", "v1beta1") {
            Some(Some("meta.k8s.io/v1beta1"))
        } else if range.accepts_plain_json() {
            Some(None)
        } else {
            None
        }
    })
    .flatten()
}

/// A `meta.k8s.io/v1` `Table` (k8s-openapi has no type for it), borrowing its pods: a list's
/// Table is serialized straight from the pods, not through a `Value` of each row.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct Table<'a> {
    kind: &'static str,
    api_version: &'static str,
    metadata: ListMeta,
    column_definitions: Vec<TableColumnDefinition>,
    rows: Vec<TableRow<'a>>,
}

/// One column of a `Table`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub(crate) struct TableColumnDefinition {
    name: &'static str,
    #[serde(rename = "type")]
    type_: &'static str,
    format: &'static str,
    description: &'static str,
    priority: u8,
}

/// One row of a `Table`: the cells (strings, each borrowed from the pod where it can be),
/// conditions of a finished pod, the object.
#[derive(Debug, Serialize)]
struct TableRow<'a> {
    cells: Vec<Cow<'a, str>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    conditions: Option<[TableRowCondition; 1]>,
    #[serde(skip_serializing_if = "Option::is_none")]
    object: Option<RowObject<'a>>,
}

/// A row's object: its metadata, or the whole pod.
#[derive(Debug, Serialize)]
#[serde(untagged)]
enum RowObject<'a> {
    Metadata(PartialObjectMetadata<'a>),
    Object(&'a Pod),
}

/// A `TableRowCondition`; only `Completed` is used.
#[derive(Debug, Serialize)]
struct TableRowCondition {
    #[serde(rename = "type")]
    type_: &'static str,
    status: &'static str,
    reason: &'static str,
    message: &'static str,
}

/// A `meta.k8s.io/v1` (or `v1beta1`) `PartialObjectMetadata` (k8s-openapi has no type for it).
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct PartialObjectMetadata<'a> {
    kind: &'static str,
    api_version: &'static str,
    metadata: &'a ObjectMeta,
}

/// The API server's pod columns: name, format, priority, description.
const POD_COLUMNS: [(&str, &str, u8, &str); 9] = [
    ("Name", "name", 0, "Name must be unique within a namespace."),
    (
        "Ready",
        "",
        0,
        "The aggregate readiness state of this pod for accepting traffic.",
    ),
    (
        "Status",
        "",
        0,
        "The aggregate status of the containers in this pod.",
    ),
    (
        "Restarts",
        "",
        0,
        "The number of times the containers in this pod have been restarted and when the last container in this pod has restarted.",
    ),
    (
        "Age",
        "",
        0,
        "CreationTimestamp is a timestamp representing the server time when this object was created.",
    ),
    (
        "IP",
        "",
        1,
        "podIP address allocated to the pod. Routable at least within the cluster. Empty if not yet allocated.",
    ),
    (
        "Node",
        "",
        1,
        "NodeName indicates in which node this pod is scheduled.",
    ),
    (
        "Nominated Node",
        "",
        1,
        "nominatedNodeName is set only when this pod preempts other pods on the node.",
    ),
    (
        "Readiness Gates",
        "",
        1,
        "If specified, all readiness gates will be evaluated for pod readiness.",
    ),
];

/// Renders `pods` as a `meta.k8s.io/v1` `Table` with the API server's pod columns.
///
/// `wide` includes the priority-1 columns (IP, NODE, NOMINATED NODE, READINESS GATES); the API
/// server always does, and kubectl hides them unless `-o wide`. `list_meta` becomes the table's
/// `metadata` (the list's `resourceVersion` and `continue`, or the pod's `resourceVersion` for
/// a single-object GET).
pub(crate) fn pod_table(
    pods: &[Pod],
    include_object: IncludeObject,
    wide: bool,
    now: Timestamp,
    list_meta: ListMeta,
) -> Value {
    let table = build_table(pods, include_object, wide, now, list_meta, "meta.k8s.io/v1");
    serde_json::to_value(table).unwrap_or(Value::Null)
}

/// [`pod_table`] as the JSON a response carries, with `api_version` (`meta.k8s.io/v1` or
/// `v1beta1`), serialized straight from the pods (owned or borrowed).
pub(crate) fn pod_table_json<P: Borrow<Pod>>(
    pods: &[P],
    include_object: IncludeObject,
    wide: bool,
    now: Timestamp,
    list_meta: ListMeta,
    api_version: &'static str,
) -> serde_json::Result<Vec<u8>> {
    let table = build_table(pods, include_object, wide, now, list_meta, api_version);
    serde_json::to_vec(&table)
}

fn build_table<'a, P: Borrow<Pod>>(
    pods: &'a [P],
    include_object: IncludeObject,
    wide: bool,
    now: Timestamp,
    list_meta: ListMeta,
    api_version: &'static str,
) -> Table<'a> {
    let column_definitions = POD_COLUMNS
        .iter()
        .filter(|(_, _, priority, _)| wide || *priority == 0)
        .map(|&(name, format, priority, description)| {
            column(name, "string", Some(format), priority, description)
        })
        .collect();
    Table {
        kind: "Table",
        api_version,
        metadata: list_meta,
        column_definitions,
        rows: pods
            .iter()
            .map(|pod| pod_row(pod.borrow(), include_object, wide, now, api_version))
            .collect(),
    }
}

/// A row of cells, with the object as `includeObject` asks: none, its metadata as a
/// `PartialObjectMetadata`, or the whole object.
pub(crate) fn row_value(cells: Value, include: IncludeObject, object: &Value) -> Value {
    let mut row = serde_json::json!({ "cells": cells });
    match include {
        IncludeObject::None => {}
        IncludeObject::Metadata => {
            row["object"] = serde_json::json!({
                "kind": "PartialObjectMetadata",
                "apiVersion": "meta.k8s.io/v1",
                "metadata": object["metadata"].clone(),
            });
        }
        IncludeObject::Object => row["object"] = object.clone(),
    }
    row
}

/// A `meta.k8s.io/v1` `Table` of rows rendered elsewhere (events, namespaces).
pub(crate) fn table_value(
    list_meta: ListMeta,
    columns: Vec<TableColumnDefinition>,
    rows: Vec<Value>,
) -> Value {
    serde_json::json!({
        "kind": "Table",
        "apiVersion": "meta.k8s.io/v1",
        "metadata": serde_json::to_value(list_meta).unwrap_or_else(|_| serde_json::json!({})),
        "columnDefinitions": columns,
        "rows": rows,
    })
}

/// A column definition (`format` empty when `None`).
pub(super) fn column(
    name: &'static str,
    kind: &'static str,
    format: Option<&'static str>,
    priority: u8,
    description: &'static str,
) -> TableColumnDefinition {
    TableColumnDefinition {
        name,
        type_: kind,
        format: format.unwrap_or(""),
        description,
        priority,
    }
}

/// The NAME column every kind's table opens with (kube-apiserver's text for `metadata.name`).
pub(super) fn name_column() -> TableColumnDefinition {
    column(
        "Name",
        "string",
        Some("name"),
        0,
        "Name must be unique within a namespace.",
    )
}

/// The AGE column (kube-apiserver's text for `metadata.creationTimestamp`).
pub(super) fn age_column() -> TableColumnDefinition {
    column(
        "Age",
        "string",
        None,
        0,
        "CreationTimestamp is a timestamp representing the server time when this object was created.",
    )
}

/// An AGE cell: the time since `metadata.creationTimestamp`, `<unknown>` without one.
pub(super) fn age(metadata: &ObjectMeta, now: Timestamp) -> String {
    metadata
        .creation_timestamp
        .as_ref()
        .map_or_else(|| "<unknown>".to_string(), |t| since(t.0, now))
}

/// A kind kept whole (namespaces, quotas) as a `Table` prints it: its columns, and each
/// object's cells.
pub(crate) trait Printed: Serialize {
    /// The columns, in order.
    fn columns() -> Vec<TableColumnDefinition>;
    /// One object's cells, one per column; `now` for its AGE.
    fn cells(&self, now: Timestamp) -> Value;
}

/// `items` as a `Table` of their kind's columns, each row with the object as `includeObject`
/// asks (the [`super::object_read::Printer`] of every [`Printed`] kind).
pub(crate) fn printed_table<K: Printed>(
    items: &[K],
    include_object: IncludeObject,
    now: Timestamp,
    list_meta: ListMeta,
) -> Value {
    let rows = items
        .iter()
        .map(|item| {
            row_value(
                item.cells(now),
                include_object,
                &serde_json::to_value(item).unwrap_or_default(),
            )
        })
        .collect();
    table_value(list_meta, K::columns(), rows)
}

/// A pod's row; its `PartialObjectMetadata` is of the Table's own group version
/// (`api_version`), as kube-apiserver's `asTable` sets it.
fn pod_row<'a>(
    pod: &'a Pod,
    include_object: IncludeObject,
    wide: bool,
    now: Timestamp,
    api_version: &'static str,
) -> TableRow<'a> {
    let summary = PodSummary::of(pod);
    let restarts = match summary.last_restart {
        Some(at) if summary.restarts != 0 => {
            format!("{} ({} ago)", summary.restarts, since(at, now))
        }
        _ => summary.restarts.to_string(),
    };
    let age = pod
        .metadata
        .creation_timestamp
        .as_ref()
        .map_or_else(|| "<unknown>".to_string(), |t| since(t.0, now));
    let mut cells: Vec<Cow<'_, str>> = Vec::with_capacity(if wide { 9 } else { 5 });
    cells.extend([
        Cow::Borrowed(pod.metadata.name.as_deref().unwrap_or_default()),
        Cow::Owned(format!("{}/{}", summary.ready, summary.total)),
        Cow::Owned(summary.reason),
        Cow::Owned(restarts),
        Cow::Owned(age),
    ]);
    if wide {
        let status = pod.status.as_ref();
        let ip = status.and_then(|s| s.pod_ips.as_ref()?.first().map(|ip| ip.ip.as_str()));
        let node = pod.spec.as_ref().and_then(|s| s.node_name.as_deref());
        let nominated = status.and_then(|s| s.nominated_node_name.as_deref());
        cells.extend([
            or_none(ip),
            or_none(node),
            or_none(nominated),
            Cow::Owned(readiness_gates(pod)),
        ]);
    }
    let completed = |reason, message| {
        Some([TableRowCondition {
            type_: "Completed",
            status: "True",
            reason,
            message,
        }])
    };
    let conditions = match pod.status.as_ref().and_then(|s| s.phase.as_deref()) {
        Some("Succeeded") => completed("Succeeded", "The pod has completed successfully."),
        Some("Failed") => completed("Failed", "The pod failed."),
        _ => None,
    };
    let object = match include_object {
        IncludeObject::None => None,
        IncludeObject::Metadata => Some(RowObject::Metadata(PartialObjectMetadata {
            kind: "PartialObjectMetadata",
            api_version,
            metadata: &pod.metadata,
        })),
        IncludeObject::Object => Some(RowObject::Object(pod)),
    };
    TableRow {
        cells,
        conditions,
        object,
    }
}

/// A cell's value, `<none>` when absent or empty.
fn or_none(s: Option<&str>) -> Cow<'_, str> {
    Cow::Borrowed(s.filter(|s| !s.is_empty()).unwrap_or("<none>"))
}

fn readiness_gates(pod: &Pod) -> String {
    let gates = pod
        .spec
        .as_ref()
        .and_then(|s| s.readiness_gates.as_deref())
        .unwrap_or_default();
    if gates.is_empty() {
        return "<none>".to_string();
    }
    let conditions = pod
        .status
        .as_ref()
        .and_then(|s| s.conditions.as_deref())
        .unwrap_or_default();
    let met = gates
        .iter()
        .filter(|gate| {
            conditions
                .iter()
                .find(|c| c.type_ == gate.condition_type)
                .is_some_and(|c| c.status == "True")
        })
        .count();
    format!("{met}/{}", gates.len())
}

pub(super) fn since(t: Timestamp, now: Timestamp) -> String {
    human_duration(now.duration_since(t))
}

#[cfg(test)]
#[path = "table_tests.rs"]
mod tests;

#[cfg(test)]
#[path = "table_bench.rs"]
mod bench;
