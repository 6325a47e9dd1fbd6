//! What authentication and authorization cost per request (docs/benchmarks.md, "RBAC"):
//! ns per check (the policy alone, and through the authorizer's cache), ns per authentication
//! (dev, a Cloud Run token, a verified Google token), and `GET` pod throughput with wrk
//! through the router with and without the middleware. Ignored (it is a measurement):
//!
//! ```text
//! cargo test --release --lib rbac::bench -- --ignored --nocapture
//! ```

use std::time::Instant;

use jiff::Timestamp;
use k8s_openapi::api::rbac::v1::RoleBinding;

use super::policy::{Policy, PolicyObjects};
use super::request_info::resolve;
use crate::auth::identity::{Authenticator, IdentityMode, User};

const ITERATIONS: u32 = 200_000;

fn binding(ns: &str, user: &str, role: &str) -> RoleBinding {
    super::policy::binding(ns, &format!("{user}-{role}"), "ClusterRole", role, user)
}

/// 1,000 teams of 3 users each, bound in their own namespace, and alice in team-a.
fn objects() -> PolicyObjects {
    let mut role_bindings = vec![binding("team-a", "alice@example.com", "edit")];
    for team in 0..1000 {
        for user in 0..3 {
            role_bindings.push(binding(
                &format!("team-{team}"),
                &format!("u{user}@team{team}.example"),
                "edit",
            ));
        }
    }
    PolicyObjects {
        role_bindings,
        ..PolicyObjects::default()
    }
}

fn per_call(mut f: impl FnMut() -> bool) -> f64 {
    let started = Instant::now();
    let mut allowed = 0u32;
    for _ in 0..ITERATIONS {
        allowed += u32::from(std::hint::black_box(f()));
    }
    let ns = started.elapsed().as_nanos() as f64 / f64::from(ITERATIONS);
    assert!(
        allowed == 0 || allowed == ITERATIONS,
        "a check changed its mind"
    );
    ns
}

#[test]
#[ignore = "a measurement: cargo test --release --lib rbac::bench -- --ignored --nocapture"]
fn ns_per_check() {
    let policy = Policy::new(&["root@example.com".into()], objects());
    let alice = User::email("alice@example.com");
    let bob = User::email("bob@example.com");
    let root = User::email("root@example.com");
    let get = resolve("GET", "/api/v1/namespaces/team-a/pods/web", None);
    let resolve_ns =
        per_call(|| resolve("GET", "/api/v1/namespaces/team-a/pods/web", None).is_resource);
    let admin_ns = per_call(|| policy.check(&root, &get).allowed);
    let alice_ns = per_call(|| policy.check(&alice, &get).allowed);
    let bob_ns = per_call(|| policy.check(&bob, &get).allowed);
    println!("rbac bench: resolve request info: {resolve_ns:.0} ns");
    println!("rbac bench: check, admin (--admins): {admin_ns:.0} ns");
    println!("rbac bench: check, alice allowed by a RoleBinding among 3,001: {alice_ns:.0} ns");
    println!("rbac bench: check, bob denied: {bob_ns:.0} ns");
}

#[tokio::test]
#[ignore = "a measurement: cargo test --release --lib rbac::bench -- --ignored --nocapture"]
async fn ns_per_authentication() {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let dev =
        Authenticator::new(IdentityMode::Dev, "http://127.0.0.1:9/unused", vec![]).expect("dev");
    let google = Authenticator::new(
        IdentityMode::Google,
        "http://127.0.0.1:9/unused",
        vec!["https://k8sless.example".into()],
    )
    .expect("google");
    google
        .keys()
        .expect("keys")
        .install(include_bytes!("../../tests/keys/jwks.json"))
        .expect("jwks");
    let cloud_run = Authenticator::new(IdentityMode::CloudRun, "http://127.0.0.1:9/unused", vec![])
        .expect("cloud run");
    let now = Timestamp::now().as_second();
    let claims = serde_json::json!({"iss": "https://accounts.google.com", "aud": "https://k8sless.example",
        "exp": now + 3600, "iat": now, "email": "alice@example.com", "email_verified": true, "sub": "1"});
    let signed = crate::auth::test_tokens::sign(crate::auth::test_tokens::GOOGLE, claims);
    let stripped = format!(
        "{}.SIGNATURE_REMOVED_BY_GOOGLE",
        signed.rsplit_once('.').expect("jwt").0
    );
    let headers = |token: &str| {
        let mut h = axum::http::HeaderMap::new();
        h.insert(
            "authorization",
            format!("Bearer {token}").parse().expect("header"),
        );
        h
    };
    for (what, authn, h) in [
        ("dev token", &dev, headers("dev:alice@example.com")),
        ("Cloud Run (stripped) token", &cloud_run, headers(&stripped)),
        (
            "Google token verified in process (RS256)",
            &google,
            headers(&signed),
        ),
    ] {
        let n = 2_000u32;
        let started = Instant::now();
        for _ in 0..n {
            let user = authn
                .authenticate(&h, Timestamp::now())
                .await
                .expect("authenticates");
            assert_eq!(user.name, "alice@example.com");
        }
        let ns = started.elapsed().as_nanos() as f64 / f64::from(n);
        println!("rbac bench: authenticate, {what}: {:.1} µs", ns / 1000.0);
    }
}

/// Requests per second wrk reaches on `url` (2 threads, 32 connections, 5 s).
fn wrk(url: &str, token: Option<&str>) -> Option<f64> {
    let mut cmd = std::process::Command::new("wrk");
    cmd.args(["-t2", "-c32", "-d5s", "--latency"]);
    if let Some(t) = token {
        cmd.args(["-H", &format!("Authorization: Bearer {t}")]);
    }
    let out = cmd.arg(url).output().ok()?;
    let text = String::from_utf8_lossy(&out.stdout).to_string();
    if text.contains("Non-2xx") {
        panic!("wrk saw errors on {url}: {text}");
    }
    let rps = text
        .lines()
        .find_map(|l| l.strip_prefix("Requests/sec:"))
        .and_then(|v| v.trim().parse().ok());
    let p99 = text
        .lines()
        .find(|l| l.trim_start().starts_with("99%"))
        .unwrap_or("")
        .trim()
        .to_string();
    println!("rbac bench:   {url} token={token:?}: {rps:?} req/s, p99 {p99}");
    rps
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "a measurement: cargo test --release --lib rbac::bench -- --ignored --nocapture"]
async fn get_pod_throughput_with_and_without_authorization() {
    if std::process::Command::new("wrk")
        .arg("--version")
        .output()
        .is_err()
    {
        crate::testing::missing("wrk is not installed (Debian package wrk)");
        return;
    }
    let mut args = crate::testing::default_args();
    args.admins = "root@example.com".into();
    let stack = crate::testing::StackBuilder::new(args)
        .start()
        .await
        .expect("stack");
    let state = stack.state.clone();
    let root = User::email("root@example.com");
    for b in objects().role_bindings {
        let ns = b.metadata.namespace.clone();
        state
            .authz
            .rbac_create(&root, ns.as_deref(), b)
            .await
            .expect("binding");
    }
    let pod = serde_json::json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "web"},
        "spec": {"restartPolicy": "Never", "containers": [{"name": "c", "image": "busybox:1.36"}]}});
    let created = reqwest::Client::new()
        .post(format!("{}/api/v1/namespaces/team-a/pods", stack.base))
        .json(&pod)
        .send()
        .await
        .expect("create");
    assert_eq!(created.status().as_u16(), 201);
    let serve = |app: axum::Router| async move {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let addr = listener.local_addr().expect("addr");
        tokio::spawn(async move { axum::serve(listener, app).await });
        format!("http://{addr}/api/v1/namespaces/team-a/pods/web")
    };
    let unchecked = serve(crate::api::router_unchecked(state.clone())).await;
    let checked = serve(crate::api::router(state.clone())).await;
    let runs = tokio::task::spawn_blocking(move || {
        (
            wrk(&unchecked, None),
            wrk(&checked, None),
            wrk(&checked, Some("dev:alice@example.com")),
        )
    })
    .await
    .expect("wrk");
    println!(
        "rbac bench: GET pod req/s without the middleware {:?}, dev admin {:?}, alice by RoleBinding {:?}",
        runs.0, runs.1, runs.2
    );
}
