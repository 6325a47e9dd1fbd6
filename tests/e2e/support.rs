//! Shared helpers: tool checks that skip or fail, a started stack, an HTTP client.

use std::sync::Once;

use k8sless::testing::{Stack, StackBuilder, default_args};

/// Installs the rustls provider once.
pub fn init() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        let _ = rustls::crypto::ring::default_provider().install_default();
    });
}

/// Prints a skip reason past the test harness' output capture, so it shows in every run.
pub fn skip(reason: &str) {
    use std::io::Write;
    let _ = writeln!(std::io::stderr(), "skipped: {reason}");
}

/// Whether CI demands every tool.
pub fn tools_required() -> bool {
    std::env::var("K8SLESS_REQUIRE_TOOLS").is_ok_and(|v| v == "1")
}

/// `Some(value)` of an environment variable naming a shared peer, or a printed skip
/// (a failure when tools are required).
pub fn peer(var: &str, what: &str) -> Option<String> {
    match std::env::var(var) {
        Ok(v) if !v.is_empty() => Some(v),
        _ => {
            let msg = format!("{what} not available: {var} is not set (scripts/test starts it)");
            if tools_required() {
                panic!("{msg}");
            }
            skip(&msg);
            None
        }
    }
}

/// Whether a command exists on PATH; prints a skip (or fails when required).
pub fn tool(name: &str) -> bool {
    let found = std::env::var_os("PATH")
        .map(|p| std::env::split_paths(&p).any(|d| d.join(name).is_file()))
        .unwrap_or(false);
    if !found {
        let msg = format!("{name} is not installed");
        if tools_required() {
            panic!("{msg}");
        }
        skip(&msg);
    }
    found
}

/// A stack with defaults (explicit clock, zero timings, no guests).
pub async fn stack() -> Stack {
    init();
    StackBuilder::new(default_args())
        .start()
        .await
        .expect("stack starts")
}

/// An HTTP client.
pub fn http() -> reqwest::Client {
    init();
    reqwest::Client::builder()
        .pool_max_idle_per_host(256)
        .build()
        .expect("client")
}

/// The pod JSON used by most tests.
pub fn pod(name: &str) -> serde_json::Value {
    serde_json::json!({
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
