//! `kubectl logs` of a running pod through Cloud Logging: the service's `CloudLogging` source
//! against a local implementation of `entries:list` that honors what the service relies on
//! (the filter terms it sends, `orderBy`, `pageSize`, `pageToken`), then the HTTP path of
//! `GET .../pods/NAME/log` (live logs while the pod runs, the archive once it finished,
//! tailLines, follow until the container ends).

use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use k8s_openapi::api::core::v1::{
    ContainerState, ContainerStateRunning, ContainerStateTerminated, ContainerStatus, PodStatus,
};
use k8sless::testing::CloudLogging;
use k8sless::testing::ContainerRef;
use k8sless::testing::MemoryStore;
use k8sless::testing::RecordStore;
use k8sless::testing::TokenSource;
use k8sless::testing::record::{self, PodRecord, VmState};
use k8sless::testing::{ArchivedLogs, LogSource, LogSources};
use k8sless::testing::{StackBuilder, default_args};
use serde_json::{Value, json};

const PROJECT: &str = "k8sless-dev";

/// The local `entries:list`.
#[derive(Clone, Default)]
struct Logging {
    entries: Arc<Mutex<Vec<Value>>>,
    requests: Arc<Mutex<Vec<Value>>>,
}

/// One filter term: field, operator, value.
fn terms(filter: &str) -> Result<Vec<(String, String, String)>, String> {
    filter
        .split(" AND ")
        .map(|t| {
            let (field, op, rest) = if let Some((f, v)) = t.split_once(">=") {
                (f, ">=", v)
            } else if let Some((f, v)) = t.split_once('=') {
                (f, "=", v)
            } else {
                return Err(format!("unsupported term {t:?}"));
            };
            let value = rest
                .strip_prefix('"')
                .and_then(|v| v.strip_suffix('"'))
                .ok_or(format!("unquoted value in {t:?}"))?;
            Ok((field.trim().to_string(), op.to_string(), value.to_string()))
        })
        .collect()
}

fn field<'a>(e: &'a Value, path: &str) -> Option<&'a str> {
    path.split('.').try_fold(e, |v, k| v.get(k))?.as_str()
}

fn ts(s: &str) -> jiff::Timestamp {
    s.parse().expect("timestamp")
}

fn matches(e: &Value, terms: &[(String, String, String)]) -> Result<bool, String> {
    for (f, op, v) in terms {
        let ok = match (f.as_str(), op.as_str()) {
            (
                "logName"
                | "resource.type"
                | "resource.labels.instance_id"
                | "jsonPayload.SYSLOG_IDENTIFIER",
                "=",
            ) => field(e, f) == Some(v.as_str()),
            ("timestamp", ">=") => field(e, "timestamp").is_some_and(|t| ts(t) >= ts(v)),
            _ => return Err(format!("unsupported term {f}{op}{v}")),
        };
        if !ok {
            return Ok(false);
        }
    }
    Ok(true)
}

async fn entries_list(
    State(l): State<Logging>,
    Json(body): Json<Value>,
) -> Result<Json<Value>, (StatusCode, String)> {
    let bad = |m: String| (StatusCode::BAD_REQUEST, m);
    l.requests.lock().unwrap().push(body.clone());
    if body["resourceNames"] != json!([format!("projects/{PROJECT}")]) {
        return Err(bad(format!("resourceNames {}", body["resourceNames"])));
    }
    let filter = body["filter"].as_str().unwrap_or("");
    let terms = terms(filter).map_err(bad)?;
    let desc = match body["orderBy"].as_str() {
        Some("timestamp asc") | None => false,
        Some("timestamp desc") => true,
        Some(o) => return Err(bad(format!("orderBy {o}"))),
    };
    let size = body["pageSize"].as_u64().unwrap_or(50).min(1000) as usize;
    // Tokens are opaque and bound to the query, as the service's are.
    let query = format!("{filter}|{desc}");
    let offset = match body["pageToken"].as_str() {
        None => 0,
        Some(t) => match t.split_once('|') {
            Some((n, q)) if q == query.len().to_string() => {
                n.parse().map_err(|_| bad("token".into()))?
            }
            _ => return Err(bad(format!("page token {t} is not for this query"))),
        },
    };
    let mut hits = Vec::new();
    for e in l.entries.lock().unwrap().iter() {
        if matches(e, &terms).map_err(bad)? {
            hits.push(e.clone());
        }
    }
    hits.sort_by_key(|e| {
        (
            ts(field(e, "timestamp").unwrap_or("1970-01-01T00:00:00Z")),
            field(e, "insertId").unwrap_or("").to_string(),
        )
    });
    if desc {
        hits.reverse();
    }
    let page: Vec<Value> = hits.iter().skip(offset).take(size).cloned().collect();
    let mut out = json!({ "entries": page });
    if offset + size < hits.len() {
        out["nextPageToken"] = json!(format!("{}|{}", offset + size, query.len()));
    }
    Ok(Json(out))
}

impl Logging {
    async fn start() -> (Logging, String) {
        // reqwest is built without a TLS provider; every test starts here.
        let _ = rustls::crypto::ring::default_provider().install_default();
        let l = Logging::default();
        let app = axum::Router::new()
            .route("/v2/entries:list", axum::routing::post(entries_list))
            .with_state(l.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        (l, format!("http://{addr}"))
    }

    /// An entry as the guest's `entries:write` makes it (docs/guest.md).
    fn add(&self, instance: &str, ident: &str, at: &str, text: &str) {
        self.add_to("k8sless-containers", instance, ident, at, text);
    }

    /// An entry in the log `log_id` (COS's agent ships the journal to `cos_system`).
    fn add_to(&self, log_id: &str, instance: &str, ident: &str, at: &str, text: &str) {
        let mut e = self.entries.lock().unwrap();
        let id = e.len();
        e.push(json!({
            "insertId": format!("i{id:05}"),
            "logName": format!("projects/{PROJECT}/logs/{log_id}"),
            "resource": {"type": "gce_instance", "labels": {"instance_id": instance, "zone": "us-central1-a", "project_id": PROJECT}},
            "timestamp": at,
            "jsonPayload": {"SYSLOG_IDENTIFIER": ident, "MESSAGE": text},
        }));
    }

    fn requests(&self) -> usize {
        self.requests.lock().unwrap().len()
    }
}

/// Entries for two containers on two instances, out of order, one before the window.
fn feed(l: &Logging) {
    l.add("111", "default/demo/main", "2026-11-30T10:00:05Z", "main 3");
    l.add("111", "default/demo/main", "2026-11-30T10:00:01Z", "main 1");
    l.add("111", "default/demo/side", "2026-11-30T10:00:02Z", "side 1");
    l.add(
        "222",
        "default/demo/main",
        "2026-11-30T10:00:02Z",
        "other vm",
    );
    l.add("111", "default/demo/main", "2026-11-30T10:00:03Z", "main 2");
    l.add(
        "111",
        "default/demo/main",
        "2026-11-30T09:00:00Z",
        "before window",
    );
    l.add(
        "222",
        "default/demo/side",
        "2026-11-30T10:00:04Z",
        "other side",
    );
    // The same line from the journal, forwarded by COS's agent at WARNING: not a second copy.
    l.add_to(
        "cos_system",
        "111",
        "default/demo/main",
        "2026-11-30T10:00:03Z",
        "journal copy",
    );
    for i in 4..=7 {
        l.add(
            "111",
            "default/demo/main",
            &format!("2026-11-30T10:00:{:02}Z", i * 2),
            &format!("main {i}"),
        );
    }
}

fn main_lines(from: usize, to: usize) -> Vec<String> {
    (from..=to).map(|i| format!("main {i}")).collect()
}

fn source(
    endpoint: &str,
    store: Arc<dyn RecordStore>,
    page_size: usize,
    max_pages: usize,
) -> CloudLogging {
    let mut s = CloudLogging::new(endpoint, PROJECT, TokenSource::Anonymous, store).unwrap();
    s.page_size = page_size;
    s.max_pages = max_pages;
    s
}

fn running_status() -> PodStatus {
    PodStatus {
        phase: Some("Running".into()),
        container_statuses: Some(vec![ContainerStatus {
            name: "main".into(),
            state: Some(ContainerState {
                running: Some(ContainerStateRunning::default()),
                ..Default::default()
            }),
            ..Default::default()
        }]),
        ..Default::default()
    }
}

fn vm_111() -> VmState {
    VmState {
        name: "k8s-default-demo-x".into(),
        zone: "us-central1-a".into(),
        inserted: true,
        inserted_at: Some(ts("2026-11-30T09:59:00Z")),
        instance_id: Some("111".into()),
        ..Default::default()
    }
}

/// The text of the lines `s` reads for container `container` of pod `default/pod` (`None`: the
/// source knows nothing of it).
async fn texts(s: &CloudLogging, pod: &str, container: &str) -> Option<Vec<String>> {
    let lines = s
        .lines(ContainerRef::new("default", pod, container))
        .await
        .unwrap()?;
    Some(lines.into_iter().map(|l| l.text).collect())
}

/// Stores the record of pod `default/name` on `vm`.
async fn put_record(store: &Arc<dyn RecordStore>, name: &str, vm: VmState) {
    let pod = serde_json::from_value(json!({"metadata": {"name": name, "namespace": "default"}}))
        .unwrap();
    let rec = PodRecord::new(pod, vm);
    store
        .create(&record::key("default", name), rec.encode().unwrap())
        .await
        .unwrap();
}

#[tokio::test]
async fn source_reads_one_containers_lines_in_order_across_pages() {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let (l, endpoint) = Logging::start().await;
    feed(&l);
    let store: Arc<dyn RecordStore> = Arc::new(MemoryStore::new());
    put_record(&store, "demo", vm_111()).await;

    let s = source(&endpoint, store.clone(), 3, 10);
    let lines = s
        .lines(ContainerRef::new("default", "demo", "main"))
        .await
        .unwrap()
        .unwrap();
    let text: Vec<String> = lines.iter().map(|l| l.text.clone()).collect();
    assert_eq!(text, main_lines(1, 7));
    assert_eq!(lines[0].time, Some(ts("2026-11-30T10:00:01Z")));
    assert_eq!(l.requests(), 3, "7 lines in pages of 3");
    let sent = l.requests.lock().unwrap()[0].clone();
    assert_eq!(sent["orderBy"], "timestamp asc");
    assert_eq!(
        sent["filter"],
        "logName=\"projects/k8sless-dev/logs/k8sless-containers\" AND resource.type=\"gce_instance\" AND resource.labels.instance_id=\"111\" AND jsonPayload.SYSLOG_IDENTIFIER=\"default/demo/main\" AND timestamp>=\"2026-11-30T09:54:00Z\""
    );

    assert_eq!(texts(&s, "demo", "side").await.unwrap(), ["side 1"]);

    // Longer than one call reads: the newest lines, still oldest first.
    let capped = source(&endpoint, store.clone(), 2, 2);
    assert_eq!(
        texts(&capped, "demo", "main").await.unwrap(),
        main_lines(4, 7)
    );

    // No record, or no instance id yet: this source knows nothing.
    assert!(texts(&s, "ghost", "main").await.is_none());
    put_record(&store, "new", VmState::default()).await;
    assert!(texts(&s, "new", "main").await.is_none());

    // The service's errors: 5xx is unavailable (503 to the client).
    let down = source("http://127.0.0.1:9", store.clone(), 3, 10);
    let err = down
        .lines(ContainerRef::new("default", "demo", "main"))
        .await
        .unwrap_err();
    assert_eq!(err.to_status()["code"], 503, "{err:?}");
}

/// The next chunk of a followed log, within 5 s.
async fn next_chunk(follow: &mut reqwest::Response) -> bytes::Bytes {
    tokio::time::timeout(Duration::from_secs(5), follow.chunk())
        .await
        .unwrap()
        .unwrap()
        .unwrap()
}

async fn get(http: &reqwest::Client, url: &str) -> (u16, String) {
    let r = http.get(url).send().await.unwrap();
    (r.status().as_u16(), r.text().await.unwrap())
}

#[tokio::test]
async fn kubectl_logs_reads_cloud_logging_while_running_and_follows_until_the_end() {
    let (l, endpoint) = Logging::start().await;
    feed(&l);
    let store: Arc<dyn RecordStore> = Arc::new(MemoryStore::new());
    let mut args = default_args();
    args.log_follow_interval = Duration::from_millis(200);
    let mut b = StackBuilder::new(args);
    b.store = Some(store.clone());
    b.logs = Some(LogSources(vec![
        Arc::new(ArchivedLogs {
            store: store.clone(),
        }),
        Arc::new(source(&endpoint, store.clone(), 3, 10)),
    ]));
    let stack = b.start().await.unwrap();
    let http = reqwest::Client::new();
    let pods = format!("{}/api/v1/namespaces/default/pods", stack.base);
    let r = http
        .post(&pods)
        .json(&json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "demo"},
            "spec": {"containers": [{"name": "main", "image": "busybox"}, {"name": "side", "image": "busybox"}]}}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 201, "{}", r.text().await.unwrap());
    record::modify(&store, "default", "demo", |r| {
        r.vm = vm_111();
        r.pod.status = Some(running_status());
        Ok(true)
    })
    .await
    .unwrap();

    let log = format!("{pods}/demo/log?container=main");
    let (code, body) = get(&http, &log).await;
    assert_eq!(code, 200, "{body}");
    assert_eq!(body, main_lines(1, 7).join("\n") + "\n");
    // An archived log (as the guest uploads it just before its final report) while the
    // record says Running: live logs still win.
    let uid = record::load(&store, "default", "demo")
        .await
        .unwrap()
        .pod
        .metadata
        .uid
        .unwrap();
    let archived = k8sless::testing::archive_key("default", "demo", &uid, "main");
    store
        .put(
            &archived,
            (main_lines(1, 9).join("\n") + "\n").into(),
            "text/plain",
        )
        .await
        .unwrap();
    let (_, body) = get(&http, &log).await;
    assert_eq!(
        body,
        main_lines(1, 7).join("\n") + "\n",
        "live logs win while running"
    );
    let (_, body) = get(&http, &format!("{log}&tailLines=2")).await;
    assert_eq!(body, "main 6\nmain 7\n");
    let (_, body) = get(&http, &format!("{log}&tailLines=1&timestamps=true")).await;
    // The entry's own timestamp (its exact rendering is the handler's business).
    assert!(
        body.starts_with("2026-11-30T10:00:14") && body.ends_with("Z main 7\n"),
        "{body}"
    );

    // Follow: what exists, then new lines, and the end when the record says the container ended.
    let mut follow = http
        .get(format!("{log}&follow=true&tailLines=1"))
        .send()
        .await
        .unwrap();
    assert_eq!(follow.status().as_u16(), 200);
    let first = next_chunk(&mut follow).await;
    assert_eq!(&first[..], b"main 7\n");
    l.add("111", "default/demo/main", "2026-11-30T10:00:20Z", "main 8");
    let next = next_chunk(&mut follow).await;
    assert_eq!(&next[..], b"main 8\n");
    // After the first read, a poll asks only from the last line handed on, one page.
    let polls: Vec<Value> = l.requests.lock().unwrap().clone();
    assert!(
        polls.iter().any(|r| r["filter"]
            .as_str()
            .is_some_and(|f| f.ends_with("timestamp>=\"2026-11-30T10:00:14Z\""))
            && r.get("pageToken").is_none()),
        "{polls:?}"
    );
    l.add("111", "default/demo/main", "2026-11-30T10:00:21Z", "main 9");
    record::modify(&store, "default", "demo", |r| {
        let mut s = running_status();
        s.phase = Some("Succeeded".into());
        if let Some(c) = s.container_statuses.as_mut().and_then(|c| c.first_mut()) {
            c.state = Some(ContainerState {
                terminated: Some(ContainerStateTerminated {
                    exit_code: 0,
                    reason: Some("Completed".into()),
                    ..Default::default()
                }),
                ..Default::default()
            });
        }
        r.pod.status = Some(s);
        Ok(true)
    })
    .await
    .unwrap();
    let rest = tokio::time::timeout(Duration::from_secs(5), follow.text())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(rest, "main 9\n", "the last lines, then the end");

    // Once the pod finished, the archive is the answer.
    let before = l.requests();
    let (_, body) = get(&http, &log).await;
    assert_eq!(body, main_lines(1, 9).join("\n") + "\n");
    assert_eq!(
        l.requests(),
        before,
        "no Cloud Logging call for an archived log"
    );
    stack.stop().await;
}
