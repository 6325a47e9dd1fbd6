//! A panic in a handler becomes a 500 `Status` and one error log line, never a dropped
//! connection: [`catch_panic`] polls the rest of the stack inside `catch_unwind` and renders
//! the panic as [`Error::Internal`], which the access-log middleware logs once with the panic's
//! message and location. While a request is polled, the process's panic hook stays quiet (the
//! default hook would print a second line on stderr); it records the location instead.
//! Panics elsewhere (background tasks, the CLI) print as usual.

use std::cell::{Cell, RefCell};
use std::future::Future;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::pin::Pin;
use std::sync::Once;
use std::task::{Context, Poll};

use axum::extract::Request;
use axum::response::{IntoResponse, Response};

use crate::error::Error;

thread_local! {
    /// Set while this thread polls a request.
    static IN_REQUEST: Cell<bool> = const { Cell::new(false) };
    /// Where the last request panic on this thread happened.
    static LOCATION: RefCell<String> = const { RefCell::new(String::new()) };
}

/// Installs the quiet hook once, chaining to the previous one outside requests.
fn install_hook() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            if IN_REQUEST.with(Cell::get) {
                let at = info
                    .location()
                    .map(|l| format!("{}:{}", l.file(), l.line()))
                    .unwrap_or_default();
                LOCATION.with(|l| *l.borrow_mut() = at);
            } else {
                previous(info);
            }
        }));
    });
}

/// The middleware (a step of `api::Front`, `next` the rest of the stack): see the module
/// documentation.
pub(crate) async fn catch_panic<F, Fut>(request: Request, next: F) -> Response
where
    F: FnOnce(Request) -> Fut,
    Fut: Future<Output = Response>,
{
    install_hook();
    // Pinned in this future's own state: boxing it was an allocation per request.
    let inner = std::pin::pin!(next(request));
    match (CatchUnwind { inner }).await {
        Ok(response) => response,
        Err(message) => {
            let at = LOCATION.with(|l| std::mem::take(&mut *l.borrow_mut()));
            Error::internal(format!("the handler panicked at {at}: {message}")).into_response()
        }
    }
}

/// A future whose panics come out as `Err(message)`.
struct CatchUnwind<'a, F> {
    inner: Pin<&'a mut F>,
}

impl<F: Future> Future for CatchUnwind<'_, F> {
    type Output = Result<F::Output, String>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let inner = self.inner.as_mut();
        let was = IN_REQUEST.with(|f| f.replace(true));
        let polled = catch_unwind(AssertUnwindSafe(|| inner.poll(cx)));
        IN_REQUEST.with(|f| f.set(was));
        match polled {
            Ok(Poll::Pending) => Poll::Pending,
            Ok(Poll::Ready(out)) => Poll::Ready(Ok(out)),
            Err(payload) => {
                let message = payload
                    .downcast_ref::<&str>()
                    .map(|s| (*s).to_string())
                    .or_else(|| payload.downcast_ref::<String>().cloned())
                    .unwrap_or_else(|| "a panic without a message".to_string());
                Poll::Ready(Err(message))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use axum::Router;
    use axum::body::Body;
    use axum::routing::get;
    use tower::ServiceExt;

    #[tokio::test]
    async fn a_panicking_handler_answers_a_500_status() {
        async fn boom() -> &'static str {
            let s = String::from("é");
            let _ = &s[..1];
            "unreachable"
        }
        let app = Router::new()
            .route("/boom", get(boom))
            .route("/ok", get(|| async { "ok" }))
            .layer(axum::middleware::from_fn(
                |request: axum::extract::Request, next: axum::middleware::Next| {
                    super::catch_panic(request, |request| next.run(request))
                },
            ));
        let req = |p: &str| {
            axum::http::Request::get(p)
                .body(Body::empty())
                .expect("request")
        };
        let res = app.clone().oneshot(req("/boom")).await.expect("answered");
        assert_eq!(res.status(), 500);
        let logged = res
            .extensions()
            .get::<crate::error::ErrorLogged>()
            .map(|l| l.0.clone())
            .unwrap_or_default();
        assert!(logged.contains("panicked at src/api/panic.rs"), "{logged}");
        assert!(
            logged.contains("byte index 1 is not a char boundary"),
            "{logged}"
        );
        let body = axum::body::to_bytes(res.into_body(), 1 << 16)
            .await
            .expect("body");
        let status: serde_json::Value = serde_json::from_slice(&body).expect("a Status");
        assert_eq!(status["kind"], "Status");
        assert_eq!(status["reason"], "InternalError");
        assert!(
            !status["message"]
                .as_str()
                .unwrap_or("")
                .contains("boundary")
        );
        let res = app.oneshot(req("/ok")).await.expect("answered");
        assert_eq!(res.status(), 200);
    }
}
