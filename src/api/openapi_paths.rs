//! The `paths` of our OpenAPI document: the pod and event operations we serve (namespaces and
//! quotas: [`super::openapi_objects`]), with their
//! parameters, bodies and responses, each tagged with `x-kubernetes-group-version-kind` and
//! `x-kubernetes-action` as Kubernetes does (see [`super::openapi`] for why kubectl needs them).
//!
//! Only what the server implements is listed: no `deletecollection`, no server-side apply
//! (`application/apply-patch+yaml`), no protobuf or CBOR, no `/watch/` paths (watches are
//! `?watch=true` on the list operations).

use k8s_openapi::api::core::v1::{Event, Namespace, Pod};
use serde_json::{Map, Value, json};

use super::openapi::{EVENT_SCHEMA, POD_SCHEMA, gvk, schema_ref};

pub(super) fn param(name: &str, location: &str, kind: &str, description: &str) -> Value {
    let mut p = json!({ "name": name, "in": location, "description": description, "schema": { "type": kind, "uniqueItems": true } });
    if location == "path" {
        p["required"] = true.into();
    }
    p
}

pub(super) fn query(name: &str, kind: &str, description: &str) -> Value {
    param(name, "query", kind, description)
}

pub(super) fn list_params() -> Vec<Value> {
    vec![
        query(
            "allowWatchBookmarks",
            "boolean",
            "allowWatchBookmarks requests watch events with type \"BOOKMARK\".",
        ),
        query(
            "continue",
            "string",
            "The continue option should be set when retrieving more results from the server.",
        ),
        query(
            "fieldSelector",
            "string",
            "A selector to restrict the list of returned objects by their fields. Defaults to everything.",
        ),
        query(
            "labelSelector",
            "string",
            "A selector to restrict the list of returned objects by their labels. Defaults to everything.",
        ),
        query(
            "limit",
            "integer",
            "limit is a maximum number of responses to return for a list call.",
        ),
        query(
            "resourceVersion",
            "string",
            "resourceVersion sets a constraint on what resource versions a request may be served from.",
        ),
        query(
            "timeoutSeconds",
            "integer",
            "Timeout for the list/watch call.",
        ),
        query(
            "watch",
            "boolean",
            "Watch for changes to the described resources and return them as a stream of add, update, and remove notifications.",
        ),
    ]
}

fn dry_run_param() -> Value {
    query(
        "dryRun",
        "string",
        "When present, indicates that modifications should not be persisted. Valid values are: - All: all dry run stages will be processed",
    )
}

pub(super) fn write_params() -> Vec<Value> {
    vec![
        dry_run_param(),
        query(
            "fieldManager",
            "string",
            "fieldManager is a name associated with the actor or entity that is making these changes.",
        ),
        query(
            "fieldValidation",
            "string",
            "fieldValidation instructs the server on how to handle objects in the request containing unknown or duplicate fields. Valid values are: - Ignore: drop them silently - Warn (the default): drop them and return a warning header for each - Strict: fail the request with a BadRequest listing them.",
        ),
    ]
}

pub(super) fn delete_params() -> Vec<Value> {
    vec![
        dry_run_param(),
        query(
            "gracePeriodSeconds",
            "integer",
            "The duration in seconds before the object should be deleted.",
        ),
        query(
            "propagationPolicy",
            "string",
            "Whether and how garbage collection will be performed.",
        ),
    ]
}

fn log_params() -> Vec<Value> {
    vec![
        query(
            "container",
            "string",
            "The container for which to stream logs. Defaults to only container if there is one container in the pod.",
        ),
        query(
            "follow",
            "boolean",
            "Follow the log stream of the pod. Defaults to false.",
        ),
        query(
            "limitBytes",
            "integer",
            "If set, the number of bytes to read from the server before terminating the log output.",
        ),
        query(
            "previous",
            "boolean",
            "Return previous terminated container logs. Defaults to false.",
        ),
        query(
            "sinceSeconds",
            "integer",
            "A relative time in seconds before the current time from which to show logs.",
        ),
        query(
            "tailLines",
            "integer",
            "If set, the number of lines from the end of the logs to show.",
        ),
        query(
            "timestamps",
            "boolean",
            "If true, add an RFC3339 timestamp at the beginning of every line of log output.",
        ),
    ]
}

pub(super) fn content(schema: Value, types: &[&str]) -> Value {
    Value::Object(
        types
            .iter()
            .map(|t| ((*t).to_string(), json!({ "schema": schema })))
            .collect(),
    )
}

pub(super) fn responses(schema: &str, codes: &[(&str, &str)], types: &[&str]) -> Value {
    let mut out: Map<String, Value> = codes
        .iter()
        .map(|(code, text)| {
            (
                (*code).to_string(),
                json!({ "description": text, "content": content(schema_ref(schema), types) }),
            )
        })
        .collect();
    out.insert("401".into(), json!({ "description": "Unauthorized" }));
    Value::Object(out)
}

/// One operation. `kind` is the GVK it is about; `body` the request body content.
pub(super) fn operation(
    id: &str,
    action: &str,
    description: &str,
    kind: &Value,
    params: Vec<Value>,
    body: Option<Value>,
    responses: Value,
) -> Value {
    let mut op = json!({
        "description": description,
        "operationId": id,
        "tags": ["core_v1"],
        "responses": responses,
        "x-kubernetes-action": action,
        "x-kubernetes-group-version-kind": kind,
    });
    if !params.is_empty() {
        op["parameters"] = Value::Array(params);
    }
    if let Some(body) = body {
        op["requestBody"] = json!({ "content": body, "required": action != "delete" });
    }
    op
}

/// The shared pieces of the operations: group-version-kinds, media types, parameters.
pub(super) struct Ops {
    pod: Value,
    event: Value,
    pub(super) ns: Value,
    pub(super) namespace: Value,
    pub(super) pretty: Value,
}

pub(super) const JSON_ONLY: &[&str] = &["application/json"];
pub(super) const LIST_TYPES: &[&str] = &["application/json", "application/json;stream=watch"];
pub(super) const OK: [(&str, &str); 1] = [("200", "OK")];
pub(super) const WRITTEN: [(&str, &str); 2] = [("200", "OK"), ("201", "Created")];
pub(super) const CREATED: [(&str, &str); 3] =
    [("200", "OK"), ("201", "Created"), ("202", "Accepted")];
pub(super) const DELETED: [(&str, &str); 2] = [("200", "OK"), ("202", "Accepted")];

fn pod_body() -> Option<Value> {
    Some(content(schema_ref(POD_SCHEMA), &["*/*"]))
}

pub(super) fn patch_body() -> Option<Value> {
    let patch = schema_ref("io.k8s.apimachinery.pkg.apis.meta.v1.Patch");
    Some(content(
        patch,
        &[
            "application/json-patch+json",
            "application/merge-patch+json",
            "application/strategic-merge-patch+json",
        ],
    ))
}

impl Ops {
    fn new() -> Self {
        Ops {
            pod: gvk::<Pod>(""),
            event: gvk::<Event>(""),
            ns: gvk::<Namespace>(""),
            namespace: param(
                "namespace",
                "path",
                "string",
                "object name and auth scope, such as for teams and projects",
            ),
            pretty: query(
                "pretty",
                "string",
                "If 'true', then the output is pretty printed.",
            ),
        }
    }

    pub(super) fn scoped(&self) -> Value {
        json!([self.namespace, self.pretty])
    }

    pub(super) fn named(&self, what: &str) -> Vec<Value> {
        vec![
            param("name", "path", "string", &format!("name of the {what}")),
            self.namespace.clone(),
            self.pretty.clone(),
        ]
    }

    fn list_pods(&self, id: &str) -> Value {
        list("Pod", POD_SCHEMA, &self.pod, id)
    }

    fn list_events(&self, id: &str) -> Value {
        list("Event", EVENT_SCHEMA, &self.event, id)
    }

    fn read(&self, id: &str, what: &str) -> Value {
        let description = format!("read {what} of the specified Pod");
        let answers = responses(POD_SCHEMA, &OK, JSON_ONLY);
        operation(id, "get", &description, &self.pod, vec![], None, answers)
    }

    fn replace(&self, id: &str, what: &str) -> Value {
        let description = format!("replace {what} of the specified Pod");
        self.write(id, "put", &description, pod_body())
    }

    fn patch(&self, id: &str, what: &str) -> Value {
        let description = format!("partially update {what} of the specified Pod");
        self.write(id, "patch", &description, patch_body())
    }

    /// A write of the Pod (`put`, `patch`) taking `body`.
    fn write(&self, id: &str, action: &str, description: &str, body: Option<Value>) -> Value {
        let answers = responses(POD_SCHEMA, &WRITTEN, JSON_ONLY);
        operation(
            id,
            action,
            description,
            &self.pod,
            write_params(),
            body,
            answers,
        )
    }
}

pub(super) fn paths() -> Value {
    let ops = Ops::new();
    let mut all = pod_paths(&ops);
    for more in [other_paths(&ops), super::openapi_objects::paths(&ops)] {
        if let (Value::Object(all), Value::Object(more)) = (&mut all, more) {
            all.extend(more);
        }
    }
    all
}

fn pod_paths(ops: &Ops) -> Value {
    let pod = &ops.pod;
    json!({
        "/api/v1/namespaces/{namespace}/pods": {
            "parameters": ops.scoped(),
            "get": ops.list_pods("listCoreV1NamespacedPod"),
            "post": operation("createCoreV1NamespacedPod", "post", "create a Pod", pod, write_params(), pod_body(), responses(POD_SCHEMA, &CREATED, JSON_ONLY)),
        },
        "/api/v1/namespaces/{namespace}/pods/{name}": {
            "parameters": ops.named("Pod"),
            "get": ops.read("readCoreV1NamespacedPod", "the object"),
            "put": ops.replace("replaceCoreV1NamespacedPod", "the object"),
            "patch": ops.patch("patchCoreV1NamespacedPod", "the object"),
            "delete": operation("deleteCoreV1NamespacedPod", "delete", "delete a Pod", pod, delete_params(),
                Some(content(schema_ref("io.k8s.apimachinery.pkg.apis.meta.v1.DeleteOptions"), &["*/*"])), responses(POD_SCHEMA, &DELETED, JSON_ONLY)),
        },
        "/api/v1/namespaces/{namespace}/pods/{name}/status": {
            "parameters": ops.named("Pod"),
            "get": ops.read("readCoreV1NamespacedPodStatus", "status"),
            "put": ops.replace("replaceCoreV1NamespacedPodStatus", "status"),
            "patch": ops.patch("patchCoreV1NamespacedPodStatus", "status"),
        },
        "/api/v1/namespaces/{namespace}/pods/{name}/log": {
            "parameters": ([ops.named("Pod"), log_params()].concat()),
            "get": operation("readCoreV1NamespacedPodLog", "get", "read log of the specified Pod", pod, vec![], None,
                json!({ "200": { "description": "OK", "content": content(json!({"type": "string"}), &["text/plain"]) }, "401": { "description": "Unauthorized" } })),
        },
        "/api/v1/pods": {
            "parameters": [ops.pretty],
            "get": ops.list_pods("listCoreV1PodForAllNamespaces"),
        },
    })
}

fn other_paths(ops: &Ops) -> Value {
    json!({
        "/api/v1/namespaces/{namespace}/events": {
            "parameters": ops.scoped(),
            "get": ops.list_events("listCoreV1NamespacedEvent"),
        },
        "/api/v1/namespaces/{namespace}/events/{name}": {
            "parameters": ops.named("Event"),
            "get": operation("readCoreV1NamespacedEvent", "get", "read the specified Event", &ops.event, vec![], None, responses(EVENT_SCHEMA, &OK, JSON_ONLY)),
        },
        "/api/v1/events": {
            "parameters": [ops.pretty],
            "get": ops.list_events("listCoreV1EventForAllNamespaces"),
        },
    })
}

/// The `list` operation of `kind` (its schema, its group/version/kind): a List or a watch.
fn list(kind: &str, schema: &str, gvk: &Value, id: &str) -> Value {
    let description = format!("list or watch objects of kind {kind}");
    let answers = responses(&format!("{schema}List"), &OK, LIST_TYPES);
    operation(id, "list", &description, gvk, list_params(), None, answers)
}
