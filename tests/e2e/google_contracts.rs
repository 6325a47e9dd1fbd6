//! Our calls against Google's published contracts: every request the Cloud Storage store
//! (upload, download, delete, list, ready) and the Cloud Logging reader (`entries:list`, both
//! orders, pages, a follower's read) send, recorded by a local server, checked against the
//! discovery documents in `../shared/fixtures` (`storage.v1.json`, `logging.v2.json`): the
//! method, the path, every query parameter and its enum values, every body field. A missing
//! document fails under `K8SLESS_REQUIRE_TOOLS=1` (`fixture`), else the test is skipped.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::{Request, State};
use axum::http::{HeaderMap, Method, StatusCode};
use axum::response::{IntoResponse, Response};
use k8sless::sim::schema::Discovery;
use k8sless::testing::ContainerRef;
use k8sless::testing::record::{self, PodRecord, VmState};
use k8sless::testing::{CloudLogging, LogSource, MemoryStore, RecordStore, TokenSource, fixture};
use serde_json::{Value, json};

use crate::common;

/// One request as it arrived: method, raw path, decoded query, body.
#[derive(Debug, Clone)]
struct Call {
    method: String,
    path: String,
    query: Vec<(String, String)>,
    body: Bytes,
}

#[derive(Clone, Default)]
struct Recorder {
    calls: Arc<Mutex<Vec<Call>>>,
}

/// Answers as Cloud Storage and Cloud Logging would, closely enough for the clients to go on.
async fn answer(State(r): State<Recorder>, req: Request) -> Response {
    let method = req.method().clone();
    let path = req.uri().path().to_string();
    let query: Vec<(String, String)> =
        serde_urlencoded::from_str(req.uri().query().unwrap_or("")).expect("query");
    let body = axum::body::to_bytes(req.into_body(), 1 << 20)
        .await
        .expect("body");
    r.calls.lock().unwrap().push(Call {
        method: method.to_string(),
        path: path.clone(),
        query: query.clone(),
        body,
    });
    let has = |k: &str| query.iter().any(|(q, _)| q == k);
    let object = json!({"name": "pods/default/a.json", "generation": "7"});
    match (method, path.as_str()) {
        (Method::POST, "/v2/entries:list") => axum::Json(json!({
            "entries": [{"timestamp": "2026-11-30T10:00:01Z", "jsonPayload": {"MESSAGE": "x"}}],
            "nextPageToken": "next"
        }))
        .into_response(),
        (Method::POST, p) if p.starts_with("/upload/") => axum::Json(object).into_response(),
        (Method::DELETE, _) => StatusCode::NO_CONTENT.into_response(),
        (Method::GET, p) if p.ends_with("/o") => {
            axum::Json(json!({"items": [object], "nextPageToken": ""})).into_response()
        }
        // Media without x-goog-generation, so a get also reads the object's metadata.
        (Method::GET, _) if has("alt") => (HeaderMap::new(), "{}").into_response(),
        (Method::GET, _) => axum::Json(object).into_response(),
        _ => StatusCode::NOT_FOUND.into_response(),
    }
}

/// The discovery document `name` and a recording server, or `None` (the test skips) where
/// the document is absent.
async fn start(name: &str) -> Option<(Discovery, Recorder, String)> {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let document = Discovery::load(&fixture(name)?).expect("discovery document");
    let r = Recorder::default();
    let app = axum::Router::new().fallback(answer).with_state(r.clone());
    Some((document, r, common::serve(app).await))
}

/// The discovery method a recorded call is (checked in full by `check_call`).
fn method_of(c: &Call) -> &'static str {
    let segments = c.path.trim_matches('/').split('/').count();
    match (c.method.as_str(), segments) {
        ("POST", _) if c.path.starts_with("/upload/") => "storage.objects.insert",
        ("POST", _) => "logging.entries.list",
        ("DELETE", _) => "storage.objects.delete",
        ("GET", 5) => "storage.objects.list",
        ("GET", _) => "storage.objects.get",
        _ => "unknown",
    }
}

#[tokio::test]
async fn storage_calls_match_the_discovery_document() {
    let Some((storage, r, endpoint)) = start("storage.v1.json").await else {
        return;
    };
    let s = common::gcs_store(&endpoint, "bkt", Duration::from_secs(5));
    s.ready().await.expect("ready");
    s.create("pods/default/a.json", Bytes::from_static(b"{}"))
        .await
        .expect("create");
    s.update("pods/default/a.json", Bytes::from_static(b"{}"), 7)
        .await
        .expect("update");
    // Records with their index in custom metadata, and a listing of indexes.
    let (indexed, body, index) = ("pods/default/i.json", Bytes::from_static(b"{}"), "{}");
    s.create_indexed(indexed, body.clone(), Some(index.into()))
        .await
        .expect("create indexed");
    s.update_indexed(indexed, body, Some(index.into()), 7)
        .await
        .expect("update indexed");
    s.get("pods/default/b.json").await.expect("get");
    s.list("pods/", None, 10).await.expect("list");
    s.list_entries("pods/", None, 10)
        .await
        .expect("list entries");
    let fresh = common::gcs_store(&endpoint, "bkt", Duration::from_secs(5));
    // A listing after a name, with nothing cached: startOffset, and downloads by generation.
    fresh
        .list("pods/", Some("pods/default/0.json"), 1)
        .await
        .expect("list after");
    s.delete("pods/default/a.json", Some(7))
        .await
        .expect("delete");
    s.delete("pods/default/a.json", None).await.expect("delete");

    let calls = r.calls.lock().unwrap().clone();
    let mut seen = std::collections::BTreeSet::new();
    let mut problems = Vec::new();
    for c in &calls {
        let id = method_of(c);
        seen.insert(id);
        problems.extend(storage.check_call(id, &c.method, &c.path, &c.query));
        if id == "storage.objects.insert" {
            // The multipart body's first part is the Object resource.
            let text = String::from_utf8_lossy(&c.body);
            let meta = text
                .split("\r\n\r\n")
                .nth(1)
                .and_then(|p| p.split("\r\n").next())
                .expect("metadata part");
            let meta: Value = serde_json::from_str(meta).expect("metadata json");
            problems.extend(storage.validate("Object", &meta, Some(id)));
        }
    }
    // The fields a listing asks for (`items(name,generation,metadata,size)`) are the Object's.
    let listed = calls
        .iter()
        .flat_map(|c| &c.query)
        .find(|(k, v)| k == "fields" && v.starts_with("items("))
        .map(|(_, v)| v.clone())
        .expect("a listing with fields");
    assert_eq!(listed, "items(name,generation,metadata,size),nextPageToken");
    let fields =
        json!({"name": "x", "generation": "1", "metadata": {"k8sless-ix1": "qwA"}, "size": "2"});
    problems.extend(storage.validate("Object", &fields, None));
    let indexed = calls
        .iter()
        .any(|c| String::from_utf8_lossy(&c.body).contains("\"k8sless-ix1\""));
    assert!(
        indexed,
        "an upload carried the packed index as custom metadata"
    );
    assert_eq!(problems, Vec::<String>::new(), "{calls:#?}");
    assert_eq!(
        seen.into_iter().collect::<Vec<_>>(),
        [
            "storage.objects.delete",
            "storage.objects.get",
            "storage.objects.insert",
            "storage.objects.list"
        ]
    );
    // Each query parameter the client uses was checked at least once.
    for key in [
        "uploadType",
        "ifGenerationMatch",
        "alt",
        "generation",
        "prefix",
        "maxResults",
        "fields",
        "startOffset",
    ] {
        assert!(
            calls.iter().any(|c| c.query.iter().any(|(k, _)| k == key)),
            "no call sent {key}"
        );
    }
    // A wrong call is caught, so the checks above mean something.
    assert!(
        !storage
            .check_call(
                "storage.objects.list",
                "GET",
                "/storage/v1/b/bkt/o",
                &[("maxResult".into(), "1".into())]
            )
            .is_empty()
    );
    assert!(
        !storage
            .check_call(
                "storage.objects.get",
                "GET",
                "/storage/v1/b/bkt/o/x",
                &[("alt".into(), "text".into())]
            )
            .is_empty()
    );
}

#[tokio::test]
async fn logging_calls_match_the_discovery_document() {
    let Some((logging, r, endpoint)) = start("logging.v2.json").await else {
        return;
    };
    let store: Arc<dyn RecordStore> = Arc::new(MemoryStore::new());
    let pod = serde_json::from_value(json!({"metadata": {"name": "demo", "namespace": "default"}}))
        .expect("pod");
    let vm = VmState {
        name: "k8s-default-demo-x".into(),
        inserted: true,
        instance_id: Some("111".into()),
        inserted_at: Some("2026-11-30T09:59:00Z".parse().expect("time")),
        ..Default::default()
    };
    store
        .create(
            &record::key("default", "demo"),
            PodRecord::new(pod, vm).encode().expect("encode"),
        )
        .await
        .expect("record");
    let mut s =
        CloudLogging::new(&endpoint, "proj", TokenSource::Anonymous, store).expect("client");
    s.max_pages = 2;
    // More than two pages: both orders and page tokens; then a follower's read.
    s.lines(ContainerRef::new("default", "demo", "main"))
        .await
        .expect("lines");
    s.lines_from(
        ContainerRef::new("default", "demo", "main"),
        "2026-11-30T10:00:01Z".parse().expect("time"),
    )
    .await
    .expect("lines from");

    let calls = r.calls.lock().unwrap().clone();
    assert_eq!(calls.len(), 5, "2 ascending, 2 descending, 1 from a time");
    let order_doc = logging.property_doc("ListLogEntriesRequest", "orderBy");
    let mut problems = Vec::new();
    for c in &calls {
        problems.extend(logging.check_call("logging.entries.list", &c.method, &c.path, &c.query));
        let body: Value = serde_json::from_slice(&c.body).expect("json body");
        problems.extend(logging.validate(
            "ListLogEntriesRequest",
            &body,
            Some("logging.entries.list"),
        ));
        // What the schema states in words: the two orders, no negative page size (and at most
        // 1000, which entries.list's reference states), the resource names.
        let order = body["orderBy"].as_str().unwrap_or("");
        if !order_doc.contains(&format!("\"{order}\"")) {
            problems.push(format!("orderBy {order:?} is not a permitted value"));
        }
        let size = body["pageSize"].as_u64().unwrap_or(0);
        if !(1..=1000).contains(&size) {
            problems.push(format!("pageSize {size}"));
        }
        if body["resourceNames"] != json!(["projects/proj"]) {
            problems.push(format!("resourceNames {}", body["resourceNames"]));
        }
    }
    assert_eq!(problems, Vec::<String>::new(), "{calls:#?}");
    let bodies: Vec<Value> = calls
        .iter()
        .map(|c| serde_json::from_slice(&c.body).expect("json"))
        .collect();
    assert!(bodies.iter().any(|b| b["orderBy"] == "timestamp desc"));
    assert!(bodies.iter().any(|b| b.get("pageToken").is_some()));
    assert!(
        bodies[4]["filter"].as_str().is_some_and(|f| f
            .starts_with("logName=\"projects/proj/logs/k8sless-containers\"")
            && f.ends_with("timestamp>=\"2026-11-30T10:00:01Z\"")),
        "{}",
        bodies[4]
    );
    // A wrong body is caught.
    assert!(
        !logging
            .validate(
                "ListLogEntriesRequest",
                &json!({"resourceNames": ["projects/p"], "order": "timestamp asc"}),
                Some("logging.entries.list"),
            )
            .is_empty()
    );
}
