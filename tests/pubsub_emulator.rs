//! End to end with the real Pub/Sub emulator: a topic with a push subscription to the
//! service's `/pubsub/push`, a report published to it, the record changes.
//!
//! The emulator's pushes carry no Authorization header, so a small proxy between the emulator
//! and the service adds the token Pub/Sub would (signed by the test key); the service runs
//! with verification on, and the report's identity token is checked as in production.
//!
//! Uses the emulator `scripts/test` started (`K8SLESS_TEST_PUBSUB_ENDPOINT`), else starts its
//! own, which needs `gcloud` (with the pubsub-emulator component) and `java`; without them the
//! test is skipped with a message, unless `K8SLESS_REQUIRE_TOOLS=1`, which makes their absence
//! fail.

mod common;

use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use base64::Engine;
use common::*;
use serde_json::json;

struct Emulator {
    child: Option<Child>,
    base: String,
}

impl Drop for Emulator {
    fn drop(&mut self) {
        // The emulator runs in its own process group (gcloud starts a JVM): end the group.
        if let Some(child) = self.child.as_mut() {
            let _ = Command::new("kill")
                .args(["-TERM", "--", &format!("-{}", child.id())])
                .status();
            let _ = child.wait();
        }
    }
}

fn missing_tools() -> Option<String> {
    for (tool, arg) in [("gcloud", "--version"), ("java", "-version")] {
        let ok = Command::new(tool)
            .arg(arg)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success());
        if !ok {
            return Some(format!("{tool} is not installed"));
        }
    }
    None
}

async fn start_emulator() -> Emulator {
    use std::os::unix::process::CommandExt;
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("free port")
        .port();
    let log = std::env::temp_dir().join(format!("k8sless-pubsub-emulator-{port}.log"));
    let out = std::fs::File::create(&log).expect("log file");
    let err = out.try_clone().expect("log file");
    let child = Command::new("gcloud")
        .args(["beta", "emulators", "pubsub", "start"])
        .arg(format!("--host-port=127.0.0.1:{port}"))
        .arg(format!("--project={PROJECT}"))
        .stdout(out)
        .stderr(err)
        .process_group(0)
        .spawn()
        .expect("start the emulator");
    let emulator = Emulator {
        child: Some(child),
        base: format!("http://127.0.0.1:{port}"),
    };
    let http = reqwest::Client::new();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(90);
    loop {
        if let Ok(r) = http.get(format!("{}/", emulator.base)).send().await {
            if r.status().is_success() {
                return emulator;
            }
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "the emulator did not start; see {}",
            log.display()
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

/// Pub/Sub's part the emulator does not play: the push's OIDC token.
async fn token_proxy(target: String, token: String, refused: Arc<AtomicUsize>) -> String {
    let http = reqwest::Client::new();
    let app = axum::Router::new().route(
        "/pubsub/push",
        axum::routing::post(move |body: axum::body::Bytes| {
            let (http, target, token, refused) =
                (http.clone(), target.clone(), token.clone(), refused.clone());
            async move {
                let r = http
                    .post(format!("{target}/pubsub/push"))
                    .bearer_auth(token)
                    .header("content-type", "application/json")
                    .body(body)
                    .send()
                    .await;
                let code = r.map(|r| r.status().as_u16()).unwrap_or(502);
                if (400..500).contains(&code) {
                    refused.fetch_add(1, Ordering::SeqCst);
                }
                axum::http::StatusCode::from_u16(code)
                    .unwrap_or(axum::http::StatusCode::BAD_GATEWAY)
            }
        }),
    );
    common::serve(app).await
}

#[tokio::test]
async fn reports_published_to_the_emulator_reach_the_record() {
    init();
    let shared = std::env::var("K8SLESS_TEST_PUBSUB_ENDPOINT")
        .ok()
        .filter(|e| !e.is_empty());
    let emulator = match shared {
        Some(base) => Emulator { child: None, base },
        None => {
            if let Some(why) = missing_tools() {
                missing(&why);
                return;
            }
            start_emulator().await
        }
    };
    let (issuer, stack, api) = verified().await;
    let refused = Arc::new(AtomicUsize::new(0));
    let proxy = token_proxy(
        stack.base.clone(),
        issuer.caller("/pubsub/push"),
        refused.clone(),
    )
    .await;

    let http = reqwest::Client::new();
    let project = format!("{}/v1/projects/{PROJECT}", emulator.base);
    let suffix = uuid::Uuid::new_v4().simple().to_string();
    let (topic, subscription) = (format!("reports-{suffix}"), format!("push-{suffix}"));
    let r = http
        .put(format!("{project}/topics/{topic}"))
        .json(&json!({}))
        .send()
        .await;
    assert!(r.is_ok_and(|r| r.status().is_success()), "create topic");
    let r = http
        .put(format!("{project}/subscriptions/{subscription}"))
        .json(
            &json!({"topic": format!("projects/{PROJECT}/topics/{topic}"),
            "pushConfig": {"pushEndpoint": format!("{proxy}/pubsub/push")},
            "ackDeadlineSeconds": 10}),
        )
        .send()
        .await;
    assert!(
        r.is_ok_and(|r| r.status().is_success()),
        "create subscription"
    );

    let target = api.create(pod("via-emulator")).await;
    let other = api.create(pod("bystander")).await;
    let vm = vm_of(&stack, &target).expect("vm");
    let other_vm = vm_of(&stack, &other).expect("other vm");
    let start = rfc3339_now();
    let forged = issuer.report(&target, &other_vm, 9, succeeded(&start));
    let genuine = issuer.report(&target, &vm, 1, running(&start));
    let b64 = |r: &k8sless::testing::Report| {
        base64::engine::general_purpose::STANDARD.encode(serde_json::to_vec(r).expect("json"))
    };
    let publish = json!({"messages": [
        {"data": b64(&forged), "attributes": {"k8sless-sequence": "9"}},
        {"data": b64(&genuine), "attributes": {"k8sless-sequence": "1", "k8sless-name": "via-emulator"}}
    ]});
    let r = http
        .post(format!("{project}/topics/{topic}:publish"))
        .json(&publish)
        .send()
        .await;
    assert!(r.is_ok_and(|r| r.status().is_success()), "publish");

    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    loop {
        let got = api.pod("via-emulator").await;
        if got["status"]["phase"] == "Running" && refused.load(Ordering::SeqCst) > 0 {
            break;
        }
        assert!(tokio::time::Instant::now() < deadline, "no delivery: {got}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    // The forged report (another VM's identity) keeps being refused; the pod stays Running.
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(api.pod("via-emulator").await["status"]["phase"], "Running");
    let _ = http
        .delete(format!("{project}/subscriptions/{subscription}"))
        .send()
        .await;
    let _ = http
        .delete(format!("{project}/topics/{topic}"))
        .send()
        .await;
    stack.stop().await;
    drop(emulator);
}
