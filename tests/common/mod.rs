//! Shared by the integration tests: a stand-in for Google's token issuer (the test key of
//! tests/keys, its JWKS served from a local server that counts fetches), token minting, and
//! a stack with token verification on.

#![allow(dead_code)]

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use jsonwebtoken::{Algorithm, EncodingKey, Header};
use k8sless::testing::Instance;
use k8sless::testing::{Report, ReportInstance};
use k8sless::testing::{Stack, StackBuilder, default_args};
use serde_json::{Value, json};

pub const SERVICE_URL: &str = "https://k8sless.test";
pub const PUSH_SA: &str = "push@k8sless-test.iam.gserviceaccount.com";
pub const OWN_SA: &str = "k8sless@k8sless-test.iam.gserviceaccount.com";
pub const PROJECT: &str = "k8sless-dev";
const GOOGLE: &[u8] = include_bytes!("../keys/google-test.pem");
const ATTACKER: &[u8] = include_bytes!("../keys/attacker.pem");
const JWKS: &str = include_str!("../keys/jwks.json");

/// Google's stand-in.
pub struct Issuer {
    pub jwks_url: String,
    fetches: Arc<AtomicUsize>,
}

impl Issuer {
    /// Serves the JWKS (each answer delayed 200 ms, so concurrent verifiers overlap).
    pub async fn start() -> Issuer {
        init();
        let fetches = Arc::new(AtomicUsize::new(0));
        let counter = fetches.clone();
        let app = axum::Router::new().route(
            "/oauth2/v3/certs",
            axum::routing::get(move || {
                let counter = counter.clone();
                async move {
                    counter.fetch_add(1, Ordering::SeqCst);
                    tokio::time::sleep(Duration::from_millis(200)).await;
                    (
                        [
                            ("content-type", "application/json"),
                            ("cache-control", "public, max-age=3600"),
                        ],
                        JWKS,
                    )
                }
            }),
        );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let addr = listener.local_addr().expect("addr");
        tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Issuer {
            jwks_url: format!("http://{addr}/oauth2/v3/certs"),
            fetches,
        }
    }

    pub fn fetches(&self) -> usize {
        self.fetches.load(Ordering::SeqCst)
    }

    pub fn sign(&self, claims: &Value) -> String {
        sign(GOOGLE, claims)
    }

    pub fn forge(&self, claims: &Value) -> String {
        sign(ATTACKER, claims)
    }

    /// A valid caller token for `path`.
    pub fn caller(&self, path: &str) -> String {
        self.sign(&caller_claims(
            &format!("{SERVICE_URL}{path}"),
            PUSH_SA,
            7200, // two hours: tests move the service clock up to an hour ahead
        ))
    }

    /// A valid identity token of `vm`.
    pub fn identity(&self, vm: &Instance) -> String {
        self.sign(&identity_claims(vm, SERVICE_URL))
    }
}

fn sign(pem: &[u8], claims: &Value) -> String {
    let mut header = Header::new(Algorithm::RS256);
    header.kid = Some("k8sless-test-1".into());
    let key = EncodingKey::from_rsa_pem(pem).expect("pem");
    jsonwebtoken::encode(&header, claims, &key).expect("sign")
}

pub fn now() -> i64 {
    jiff::Timestamp::now().as_second()
}

pub fn caller_claims(aud: &str, email: &str, expires_in: i64) -> Value {
    json!({"iss": "https://accounts.google.com", "aud": aud, "azp": "1",
        "exp": now() + expires_in, "iat": now() - 10, "sub": "1",
        "email": email, "email_verified": true})
}

pub fn zone_of(vm: &Instance) -> String {
    vm.zone
        .as_deref()
        .and_then(|z| z.rsplit('/').next())
        .unwrap_or_default()
        .to_string()
}

pub fn identity_claims(vm: &Instance, aud: &str) -> Value {
    json!({"iss": "https://accounts.google.com", "aud": aud, "azp": "1",
        "exp": now() + 3600, "iat": now() - 5, "sub": "1",
        "google": {"compute_engine": {"project_id": PROJECT, "project_number": 1,
            "zone": zone_of(vm), "instance_id": vm.id.clone().unwrap_or_default(),
            "instance_name": vm.name, "instance_creation_timestamp": now() - 60}}})
}

/// Installs the rustls provider once (reqwest is built without one).
pub fn init() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        let _ = rustls::crypto::ring::default_provider().install_default();
    });
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

pub async fn stack(issuer: &Issuer) -> Stack {
    builder(issuer).start().await.expect("stack")
}

/// HTTP to a stack.
pub struct Api {
    pub http: reqwest::Client,
    pub base: String,
}

impl Api {
    pub fn new(stack: &Stack) -> Api {
        Api {
            http: reqwest::Client::new(),
            base: stack.base.clone(),
        }
    }

    pub async fn create(&self, pod: Value) -> Value {
        let r = self
            .http
            .post(format!("{}/api/v1/namespaces/default/pods", self.base))
            .json(&pod)
            .send()
            .await
            .expect("create");
        assert_eq!(r.status().as_u16(), 201, "create");
        r.json().await.expect("json")
    }

    pub async fn pod(&self, name: &str) -> Value {
        let r = self
            .http
            .get(format!(
                "{}/api/v1/namespaces/default/pods/{name}",
                self.base
            ))
            .send()
            .await
            .expect("get");
        r.json().await.expect("json")
    }

    /// POSTs `body` to `path` with an optional bearer token and extra headers.
    pub async fn post(
        &self,
        path: &str,
        token: Option<&str>,
        headers: &[(&str, &str)],
        body: String,
    ) -> (u16, Value) {
        let mut req = self.http.post(format!("{}{path}", self.base)).body(body);
        if !headers
            .iter()
            .any(|(k, _)| k.eq_ignore_ascii_case("content-type"))
        {
            req = req.header("content-type", "application/json");
        }
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        for (k, v) in headers {
            req = req.header(*k, *v);
        }
        let r = req.send().await.expect("post");
        let code = r.status().as_u16();
        (code, r.json().await.unwrap_or(Value::Null))
    }

    pub async fn push(&self, token: Option<&str>, report: &Report) -> u16 {
        let data = serde_json::to_vec(report).expect("report");
        let body = k8sless::testing::encode_push(
            &data,
            &Default::default(),
            &format!("m-{}", report.sequence),
            jiff::Timestamp::now(),
        );
        self.post("/pubsub/push", token, &[], body.to_string())
            .await
            .0
    }

    pub async fn gc(&self, token: Option<&str>) -> (u16, Value) {
        self.post("/gc", token, &[], String::new()).await
    }
}

pub fn pod(name: &str) -> Value {
    json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name},
        "spec": {"restartPolicy": "Never", "containers": [{"name": "c", "image": "busybox"}]}})
}

/// The VM of a pod, from the simulator.
pub fn vm_of(stack: &Stack, pod: &Value) -> Option<Instance> {
    let name = pod["spec"]["nodeName"].as_str()?.to_string();
    stack.sim.instances().into_iter().find(|i| i.name == name)
}

pub fn vm_named(stack: &Stack, name: &str) -> Option<Instance> {
    stack.sim.instances().into_iter().find(|i| i.name == name)
}

/// A report of `pod` from `vm`, with an identity token.
pub fn report(
    pod: &Value,
    vm: &Instance,
    seq: u64,
    status: Value,
    token: Option<String>,
) -> Report {
    Report {
        api_version: "k8sless.dev/v1".into(),
        kind: "PodReport".into(),
        uid: pod["metadata"]["uid"].as_str().unwrap_or_default().into(),
        namespace: "default".into(),
        name: pod["metadata"]["name"].as_str().unwrap_or_default().into(),
        instance: ReportInstance {
            name: vm.name.clone(),
            id: vm.id.clone().unwrap_or_default(),
            zone: zone_of(vm),
        },
        sequence: seq,
        r#final: matches!(status["phase"].as_str(), Some("Succeeded" | "Failed")),
        node_lost: false,
        observed_at: None,
        identity_token: token,
        status: serde_json::from_value(status).expect("status"),
    }
}

pub fn running(start: &str) -> Value {
    json!({"phase": "Running", "startTime": start,
        "conditions": [{"type": "Ready", "status": "True"}, {"type": "ContainersReady", "status": "True"}],
        "containerStatuses": [{"name": "c", "image": "busybox", "imageID": "sim://busybox", "ready": true,
            "restartCount": 0, "started": true, "state": {"running": {"startedAt": start}}}]})
}

pub fn succeeded(start: &str) -> Value {
    json!({"phase": "Succeeded", "startTime": start,
        "conditions": [{"type": "Ready", "status": "False"}],
        "containerStatuses": [{"name": "c", "image": "busybox", "imageID": "sim://busybox", "ready": false,
            "restartCount": 0, "started": false,
            "state": {"terminated": {"exitCode": 0, "reason": "Completed", "startedAt": start, "finishedAt": start}}}]})
}

pub fn pending() -> Value {
    json!({"phase": "Pending",
        "containerStatuses": [{"name": "c", "image": "busybox", "imageID": "", "ready": false,
            "restartCount": 0, "state": {"waiting": {"reason": "ContainerCreating"}}}]})
}

pub fn rfc3339_now() -> String {
    jiff::Timestamp::from_second(now())
        .expect("now")
        .to_string()
}

/// Prints a skip reason past the test harness' output capture.
pub fn skip(reason: &str) {
    use std::io::Write;
    let _ = writeln!(std::io::stderr(), "skipped: {reason}");
}

/// `Some(value)` of an environment variable naming a shared peer (scripts/test starts them),
/// or a printed skip; a failure when `K8SLESS_REQUIRE_TOOLS=1`.
pub fn peer(var: &str, what: &str) -> Option<String> {
    match std::env::var(var) {
        Ok(v) if !v.is_empty() => Some(v),
        _ => {
            let msg = format!("{what} not available: {var} is not set (scripts/test starts it)");
            if std::env::var("K8SLESS_REQUIRE_TOOLS").is_ok_and(|v| v == "1") {
                panic!("{msg}");
            }
            skip(&msg);
            None
        }
    }
}
