//! What a stack's listener serves: the API exactly as `k8sless serve` serves it
//! ([`api::service`]), and, only when the simulator runs in-process, the simulator's routes
//! beside it, sent there by their path prefix before any of the API's layers. With
//! `--compute-endpoint` on a separate simulator a request takes the same path as in `serve`
//! (the simulator's router merged in front of the API's routed every request twice:
//! docs/benchmarks.md, "GET pod's request path").

use std::convert::Infallible;
use std::task::{Context, Poll};

use axum::body::Body;
use axum::extract::Request;
use axum::response::Response;

use crate::api;

/// Where the simulator's routes start (`sim::router`).
const SIM_PREFIXES: [&str; 2] = ["/compute/v1/", "/sim/"];

/// The API, and the in-process simulator's routes when there is one.
#[derive(Clone, Debug)]
pub(super) struct Served {
    pub(super) api: api::Front,
    pub(super) sim: Option<axum::Router>,
}

/// Whether `path` is one of the simulator's.
fn simulators(path: &str) -> bool {
    SIM_PREFIXES.iter().any(|p| path.starts_with(p))
}

/// Any body (`axum_server`'s TLS listener hands hyper's own), made an axum [`Body`] as
/// `axum::Router` does.
impl<B> tower::Service<axum::http::Request<B>> for Served
where
    B: axum::body::HttpBody<Data = bytes::Bytes> + Send + 'static,
    B::Error: Into<axum::BoxError>,
{
    type Response = Response;
    type Error = Infallible;
    type Future = api::Answering;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        self.api.poll_ready(cx)
    }

    fn call(&mut self, request: axum::http::Request<B>) -> Self::Future {
        let request: Request = request.map(Body::new);
        let sim = self.sim.as_ref();
        match sim.filter(|_| simulators(request.uri().path())) {
            Some(sim) => {
                use tower::ServiceExt;
                Box::pin(sim.clone().oneshot(request))
            }
            None => self.api.call(request),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_simulators_prefixes_go_to_it() {
        assert!(simulators("/compute/v1/projects/p/zones/z/instances"));
        assert!(simulators("/sim/stats"));
        assert!(!simulators("/api/v1/namespaces/default/pods/x"));
        assert!(!simulators("/simulated"));
        assert!(!simulators("/compute"));
    }
}
