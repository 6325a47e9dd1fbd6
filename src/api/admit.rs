//! Admission of large bodies: a request that may carry more than [`SMALL_BODY`] bytes (its
//! `Content-Length` says so, or it has none on a method with a body) waits for one of
//! [`LARGE_BODIES_AT_ONCE`] slots before its body is read, and keeps it until its response is
//! built; a large body that may be YAML takes all the slots, since the YAML parser holds every
//! event of the document (some 80 bytes each, one per 2 bytes of a dense body) while it
//! decodes. Small requests never wait.
//!
//! This is what makes the memory bound in docs/security.md independent of the caller: without
//! it, 80 concurrent bodies at the 3 MiB limit, each decoding to up to 12 MiB and copied on
//! the way to a Pod, would need some 4 GB; with it, at most four are in memory at once and
//! the rest wait on their connections, their bodies unread.

use axum::extract::Request;
use axum::http::{Method, header};
use axum::response::Response;
use tokio::sync::Semaphore;

/// Bodies up to this many bytes are admitted at once (examples/hello.yaml is 357 bytes; what
/// `kubectl apply` sends for a typical pod, a few KB).
pub(crate) const SMALL_BODY: usize = 8 * 1024;
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
pub(crate) async fn admit<F, Fut>(request: Request, next: F) -> Response
where
    F: FnOnce(Request) -> Fut,
    Fut: std::future::Future<Output = Response>,
{
    // A guest's log upload (up to 16 MiB, never parsed) is bounded by its own four slots
    // (api/guest.rs); here it would hold every slot for as long as the VM takes to send.
    if !large(&request) || request.uri().path().starts_with("/guest/v1/") {
        return next(request).await;
    }
    let media = request
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let json = media.contains("json") && !media.contains("yaml");
    let slots = if json { 1 } else { LARGE_BODIES_AT_ONCE as u32 };
    // The semaphore is never closed, so acquiring only waits.
    let _slots = LARGE.acquire_many(slots).await;
    next(request).await
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
        assert!(large(&req(Method::POST, Some("9000"))));
        assert!(large(&req(Method::POST, Some("3000000"))));
        assert!(large(&req(Method::PATCH, None)));
        assert!(large(&req(Method::GET, Some("100000"))));
    }
}
