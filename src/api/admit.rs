//! Admission of large bodies: a request that may carry more than [`SMALL_BODY`] bytes (its
//! `Content-Length` says so, or it has none on a method with a body) waits for one of
//! [`LARGE_BODIES_AT_ONCE`] slots before its body is read, and keeps it until its response is
//! built. Small requests never wait.
//!
//! This is what makes the memory bound in docs/security.md independent of the caller: without
//! it, 80 concurrent bodies at the 3 MiB limit, each decoding to four times its size and copied
//! twice on the way to a Pod, would need some 4 GB; with it, only four of them are in memory at
//! once and the rest wait on their connections, holding no body.

use axum::extract::Request;
use axum::http::{Method, header};
use axum::middleware::Next;
use axum::response::Response;
use tokio::sync::Semaphore;

/// Bodies up to this many bytes are admitted at once.
pub(crate) const SMALL_BODY: usize = 64 * 1024;
/// Larger bodies in memory at once, per process.
pub(crate) const LARGE_BODIES_AT_ONCE: usize = 4;

static LARGE: Semaphore = Semaphore::const_new(LARGE_BODIES_AT_ONCE);

/// Whether `request` may carry a large body.
fn large(request: &Request) -> bool {
    if matches!(
        *request.method(),
        Method::GET | Method::HEAD | Method::DELETE | Method::OPTIONS
    ) && request.headers().get(header::CONTENT_LENGTH).is_none()
    {
        return false;
    }
    match request
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok())
    {
        Some(len) => len > SMALL_BODY as u64,
        None => true,
    }
}

/// The middleware: see the module documentation.
pub(crate) async fn admit(request: Request, next: Next) -> Response {
    if !large(&request) {
        return next.run(request).await;
    }
    // The semaphore is never closed, so acquiring only waits.
    let _slot = LARGE.acquire().await;
    next.run(request).await
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::body::Body;

    #[test]
    fn which_requests_are_large() {
        let req = |m: Method, len: Option<&str>| {
            let mut b = axum::http::Request::builder().method(m).uri("/x");
            if let Some(l) = len {
                b = b.header(header::CONTENT_LENGTH, l);
            }
            b.body(Body::empty()).expect("request")
        };
        assert!(!large(&req(Method::GET, None)));
        assert!(!large(&req(Method::POST, Some("300"))));
        assert!(large(&req(Method::POST, Some("3000000"))));
        assert!(large(&req(Method::PATCH, None)));
        assert!(large(&req(Method::GET, Some("100000"))));
    }
}
