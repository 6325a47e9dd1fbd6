//! The one harness of every Rust suite (tests/*.rs include it as `mod common`): the
//! environment a test needs (tools, shared peers, fixtures; skipped with a printed reason, or
//! failing when `K8SLESS_REQUIRE_TOOLS=1`), stacks with and without token verification, an
//! HTTP client, pod JSON, and (in [`issuer`] and [`api`]) the token issuer and the HTTP calls
//! with the reports a guest sends.

#![allow(dead_code, unused_imports)]

pub mod api;
pub mod issuer;

use k8sless::testing::{
    AttachedDisk, AttachedDiskInitializeParams, GcsStore, Instance, NetworkInterface, RecordStore,
    Stack, StackBuilder, TokenSource, default_args,
};
use serde_json::{Value, json};

pub use api::*;
pub use issuer::*;
pub use k8sless::testing::{missing, skip, tools_required};

/// Installs the rustls provider once (reqwest is built without one).
pub fn init() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        let _ = rustls::crypto::ring::default_provider().install_default();
    });
}

/// `Some(value)` of an environment variable naming a shared peer (scripts/test starts them),
/// or [`missing`]: a printed skip, a failure when `K8SLESS_REQUIRE_TOOLS=1`.
pub fn peer(var: &str, what: &str) -> Option<String> {
    match std::env::var(var) {
        Ok(v) if !v.is_empty() => Some(v),
        _ => {
            missing(&format!(
                "{what} not available: {var} is not set (scripts/test starts it)"
            ));
            None
        }
    }
}

/// Whether a command exists on PATH; [`missing`] when it does not.
pub fn tool(name: &str) -> bool {
    let found = std::env::var_os("PATH")
        .map(|p| std::env::split_paths(&p).any(|d| d.join(name).is_file()))
        .unwrap_or(false);
    if !found {
        missing(&format!("{name} is not installed"));
    }
    found
}

/// A stack with defaults (explicit clock, zero timings, no guests, no token verification).
pub async fn stack() -> Stack {
    stack_with(|_| {}).await
}

/// A stack with defaults but for what `tweak` changes (guests, kubelet, a store, TLS ...).
pub async fn stack_with(tweak: impl FnOnce(&mut StackBuilder)) -> Stack {
    init();
    let mut b = StackBuilder::new(default_args());
    tweak(&mut b);
    b.start().await.expect("stack starts")
}

/// A stack with verification on, against `issuer`.
pub fn builder(issuer: &Issuer) -> StackBuilder {
    init();
    let mut args = default_args();
    args.service_url = Some(SERVICE_URL.into());
    args.push_service_account = Some(PUSH_SA.into());
    args.service_account = Some(OWN_SA.into());
    args.jwks_url = issuer.jwks_url.clone();
    args.verify_tokens = Some(true);
    args.compute_qps = 0.0;
    StackBuilder::new(args)
}

/// [`builder`] started.
pub async fn verified_stack(issuer: &Issuer) -> Stack {
    builder(issuer).start().await.expect("stack")
}

/// A fresh issuer, a [`verified_stack`] against it, and a client of that stack.
pub async fn verified() -> (Issuer, Stack, Api) {
    let issuer = Issuer::start().await;
    let stack = verified_stack(&issuer).await;
    let api = Api::new(&stack);
    (issuer, stack, api)
}

/// [`verified`], with `pod` created and its VM inserted: the pod as created and the VM.
pub async fn verified_on_vm(pod: Value) -> (Issuer, Stack, Api, Value, Instance) {
    let (issuer, stack, api) = verified().await;
    let (created, vm) = api.create_on_vm(&stack, pod).await;
    (issuer, stack, api, created, vm)
}

/// Awaits spawned creates of one pod: exactly one made it (201), every other was refused
/// with a conflict (409).
pub async fn assert_one_created(tasks: Vec<tokio::task::JoinHandle<u16>>) {
    let n = tasks.len();
    let mut codes = Vec::new();
    for t in tasks {
        codes.push(t.await.expect("task"));
    }
    assert_eq!(codes.iter().filter(|c| **c == 201).count(), 1, "{codes:?}");
    assert_eq!(
        codes.iter().filter(|c| **c == 409).count(),
        n - 1,
        "{codes:?}"
    );
}

/// A listener on a free loopback port, and its base URL (`http://127.0.0.1:PORT`).
pub async fn loopback() -> (tokio::net::TcpListener, String) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    (listener, format!("http://{addr}"))
}

/// Serves `app` on `listener` in the background.
pub fn serve_on(listener: tokio::net::TcpListener, app: axum::Router) {
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
}

/// Serves `app` on a free loopback port in the background; its base URL.
pub async fn serve(app: axum::Router) -> String {
    let (listener, base) = loopback().await;
    serve_on(listener, app);
    base
}

/// A runtime of two workers, for the tests that drive blocking tools (kubectl) beside a stack.
pub fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime")
}

/// The shared fake-gcs-server's endpoint (K8SLESS_TEST_GCS_ENDPOINT, started by scripts/test),
/// or a printed skip ([`peer`]); the rustls provider installed.
pub fn gcs_endpoint() -> Option<String> {
    init();
    peer("K8SLESS_TEST_GCS_ENDPOINT", "fake-gcs-server")
}

/// A new, empty bucket on the Cloud Storage server at `endpoint` (fake-gcs-server); its name.
pub async fn gcs_bucket(endpoint: &str) -> String {
    let name = format!("k8sless-test-{}", uuid::Uuid::new_v4().simple());
    let r = http()
        .post(format!("{endpoint}/storage/v1/b?project=test"))
        .json(&json!({ "name": name }))
        .send()
        .await
        .expect("create bucket");
    assert!(r.status().is_success(), "create bucket: {}", r.status());
    name
}

/// The production store on `bucket` at `endpoint`, without credentials.
pub fn gcs_store(endpoint: &str, bucket: &str, timeout: std::time::Duration) -> GcsStore {
    GcsStore::new(endpoint, bucket, TokenSource::Anonymous, timeout).expect("store")
}

/// The production store on a new bucket at `endpoint` (10 s timeouts).
pub async fn new_gcs_store(endpoint: &str) -> std::sync::Arc<dyn RecordStore> {
    let bucket = gcs_bucket(endpoint).await;
    std::sync::Arc::new(gcs_store(
        endpoint,
        &bucket,
        std::time::Duration::from_secs(10),
    ))
}

/// `pod`'s PodScheduled condition says Unschedulable, with a message naming `why`.
pub fn assert_unschedulable(pod: &Value, why: &str) {
    let cond = &pod["status"]["conditions"][0];
    assert_eq!(cond["status"], "False", "{cond}");
    assert_eq!(cond["reason"], "Unschedulable", "{cond}");
    assert!(
        cond["message"].as_str().unwrap_or("").contains(why),
        "{cond}"
    );
}

/// `method` on `path` of the service at `base`, with `body` as JSON: the status and the answer
/// as JSON (`Null` when it is not JSON).
pub async fn send(
    base: &str,
    method: reqwest::Method,
    path: &str,
    body: Option<Value>,
) -> (u16, Value) {
    let r = request(base, method, path, body).await;
    let code = r.status().as_u16();
    (code, r.json().await.unwrap_or(Value::Null))
}

/// The answer to `method` `path` at `base` with `body` as JSON, whole (for its headers).
pub async fn request(
    base: &str,
    method: reqwest::Method,
    path: &str,
    body: Option<Value>,
) -> reqwest::Response {
    let mut r = http().request(method, format!("{base}{path}"));
    if let Some(b) = body {
        r = r.json(&b);
    }
    r.send().await.expect("request")
}

/// [`send`] of a `GET`.
pub async fn get(base: &str, path: &str) -> (u16, Value) {
    send(base, reqwest::Method::GET, path, None).await
}

/// [`send`] of a `POST` of `body`.
pub async fn post(base: &str, path: &str, body: Value) -> (u16, Value) {
    send(base, reqwest::Method::POST, path, Some(body)).await
}

/// [`post`] of `pod` to the pods of `namespace`.
pub async fn post_pod(base: &str, namespace: &str, pod: Value) -> (u16, Value) {
    post(base, &format!("/api/v1/namespaces/{namespace}/pods"), pod).await
}

/// [`post_pod`] that must create the pod (201): the pod created.
pub async fn create_pod(base: &str, namespace: &str, pod: Value) -> Value {
    let (code, created) = post_pod(base, namespace, pod).await;
    assert_eq!(code, 201, "{created}");
    created
}

/// [`send`] of a `DELETE`.
pub async fn delete(base: &str, path: &str) -> (u16, Value) {
    send(base, reqwest::Method::DELETE, path, None).await
}

/// Creates namespace `ns` at `base`, then in it the ResourceQuota `quota` with `hard` (each must
/// be created: 201): the quota created.
pub async fn namespace_with_quota(base: &str, ns: &str, quota: &str, hard: Value) -> Value {
    let namespace = json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns}});
    let (code, created) = post(base, "/api/v1/namespaces", namespace).await;
    assert_eq!(code, 201, "namespace {ns}: {created}");
    let quota = json!({"apiVersion": "v1", "kind": "ResourceQuota", "metadata": {"name": quota},
                       "spec": {"hard": hard}});
    let path = format!("/api/v1/namespaces/{ns}/resourcequotas");
    let (code, created) = post(base, &path, quota).await;
    assert_eq!(code, 201, "quota in {ns}: {created}");
    created
}

/// The `metadata.name` of each item of a List, in order (panics if `list` has no items array).
pub fn item_names(list: &Value) -> Vec<&str> {
    let items = list["items"].as_array().expect("items");
    items
        .iter()
        .filter_map(|item| item["metadata"]["name"].as_str())
        .collect()
}

/// An HTTP client.
pub fn http() -> reqwest::Client {
    init();
    reqwest::Client::builder()
        .pool_max_idle_per_host(256)
        .build()
        .expect("client")
}

/// `GET url` with `http`, its body as JSON, whatever the status.
pub async fn get_json(http: &reqwest::Client, url: impl reqwest::IntoUrl) -> serde_json::Value {
    let r = http.get(url).send().await.expect("get");
    r.json().await.expect("json")
}

/// The smallest pod: one busybox container, `restartPolicy: Never`.
pub fn pod(name: &str) -> Value {
    json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name},
        "spec": {"restartPolicy": "Never", "containers": [{"name": "c", "image": "busybox"}]}})
}

/// A pod with a label and CPU and memory requests (most of the e2e suites).
pub fn labelled_pod(name: &str) -> Value {
    json!({
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name, "labels": {"app": "test"}},
        "spec": {
            "restartPolicy": "Never",
            "containers": [{"name": "main", "image": "busybox:1.36", "command": ["true"],
                            "resources": {"requests": {"cpu": "250m", "memory": "256Mi"}}}]
        }
    })
}

/// The VM of a pod, from the simulator.
pub fn vm_of(stack: &Stack, pod: &Value) -> Option<Instance> {
    vm_named(stack, pod["spec"]["nodeName"].as_str()?)
}

pub fn vm_named(stack: &Stack, name: &str) -> Option<Instance> {
    stack.sim.instances().into_iter().find(|i| i.name == name)
}

/// A minimal e2-small COS VM named `name` in `zone` with `labels`: a 10 GB pd-balanced boot
/// disk on the default network, the body a test inserts as the service would.
pub fn cos_vm(
    name: &str,
    zone: &str,
    labels: std::collections::BTreeMap<String, String>,
) -> Instance {
    Instance {
        name: name.into(),
        machine_type: format!("zones/{zone}/machineTypes/e2-small"),
        labels,
        disks: vec![AttachedDisk {
            boot: Some(true),
            auto_delete: Some(true),
            disk_type: Some("PERSISTENT".into()),
            initialize_params: Some(AttachedDiskInitializeParams {
                source_image: Some("projects/cos-cloud/global/images/family/cos-121-lts".into()),
                disk_size_gb: Some("10".into()),
                disk_type: Some(format!("zones/{zone}/diskTypes/pd-balanced")),
            }),
        }],
        network_interfaces: vec![NetworkInterface {
            network: Some("global/networks/default".into()),
            ..Default::default()
        }],
        ..Default::default()
    }
}
