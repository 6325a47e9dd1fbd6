//! `/livez` (the process serves) and `/readyz` (it can reach its record store and is not
//! shutting down).

use std::sync::atomic::Ordering;

use axum::extract::State;
use axum::http::StatusCode;

use super::AppState;

/// Always 200 while the process serves.
pub(crate) async fn livez() -> &'static str {
    "ok"
}

/// 200 when the record store answers and shutdown has not begun.
pub(crate) async fn readyz(State(state): State<AppState>) -> (StatusCode, String) {
    if state.shutting_down.load(Ordering::SeqCst) {
        return (StatusCode::SERVICE_UNAVAILABLE, "shutting down".into());
    }
    match state.pods.ready().await {
        Ok(()) => (StatusCode::OK, "ok".into()),
        Err(e) => (
            StatusCode::SERVICE_UNAVAILABLE,
            format!("record store: {e}"),
        ),
    }
}
