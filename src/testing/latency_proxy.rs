//! `k8sless latency-proxy` (hidden): a reverse proxy that adds a fixed delay to every request,
//! so benchmarks see Cloud Storage's round-trip time on a loopback fake-gcs-server
//! (`scripts/bench --store-latency`). It forwards method, path, query, headers and body as
//! they are; the delay is spent before forwarding, once per request. `GET /_proxy/requests`
//! answers how many requests it forwarded (so a benchmark counts the store calls a walk
//! made). Test and benchmark tool only: production never starts it.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use axum::body::Body;
use axum::extract::{Request, State};
use axum::response::Response;

/// Headers a proxy must not forward (hop-by-hop) or that the client recomputes.
const SKIP: &[&str] = &[
    "host",
    "connection",
    "content-length",
    "transfer-encoding",
    "keep-alive",
];

#[derive(Clone)]
struct Proxy {
    http: reqwest::Client,
    upstream: String,
    delay: Duration,
    forwarded: Arc<AtomicU64>,
}

/// Serves on `listen`, forwarding to `upstream` (`http://127.0.0.1:4443`) after `delay`.
pub async fn run(
    listen: &str,
    upstream: &str,
    delay: Duration,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), String> {
    let http = crate::http::client("http client", |b| b.pool_max_idle_per_host(1024))?;
    let proxy = Proxy {
        http,
        upstream: upstream.trim_end_matches('/').to_string(),
        delay,
        forwarded: Arc::default(),
    };
    let app = axum::Router::new().fallback(forward).with_state(proxy);
    let listener = tokio::net::TcpListener::bind(listen)
        .await
        .map_err(|e| format!("listen on {listen}: {e}"))?;
    axum::serve(listener, app)
        .with_graceful_shutdown(shutdown)
        .await
        .map_err(|e| format!("server: {e}"))
}

async fn forward(State(p): State<Proxy>, req: Request) -> Response {
    if req.uri().path() == "/_proxy/requests" {
        return status(200, p.forwarded.load(Ordering::SeqCst).to_string());
    }
    p.forwarded.fetch_add(1, Ordering::SeqCst);
    let (parts, body) = req.into_parts();
    let body = match axum::body::to_bytes(body, usize::MAX).await {
        Ok(b) => b,
        Err(e) => return status(400, format!("reading the request: {e}")),
    };
    tokio::time::sleep(p.delay).await;
    let path = parts
        .uri
        .path_and_query()
        .map(|pq| pq.as_str())
        .unwrap_or("/");
    let mut out = p
        .http
        .request(parts.method, format!("{}{path}", p.upstream));
    for (name, value) in &parts.headers {
        if !SKIP.contains(&name.as_str()) {
            out = out.header(name, value);
        }
    }
    let answer = match out.body(body).send().await {
        Ok(a) => a,
        Err(e) => return status(502, format!("upstream: {e}")),
    };
    let mut response = Response::builder().status(answer.status());
    for (name, value) in answer.headers() {
        if !SKIP.contains(&name.as_str()) {
            response = response.header(name, value);
        }
    }
    match answer.bytes().await {
        Ok(bytes) => response
            .body(Body::from(bytes))
            .unwrap_or_else(|e| status(502, format!("answer: {e}"))),
        Err(e) => status(502, format!("upstream body: {e}")),
    }
}

fn status(code: u16, message: String) -> Response {
    Response::builder()
        .status(code)
        .body(Body::from(message))
        .unwrap_or_default()
}
