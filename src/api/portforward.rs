//! `GET|POST .../pods/{name}/portforward`: the client's wire read
//! ([`crate::stream::portforward::negotiate`]), the pod's kubelet upgraded the same way through
//! `pods::`, and the two joined: a byte pipe for SPDY and WebSocket channels (kubelet's 101
//! headers answered back), SPDY carried in binary messages for kubectl ≥ 1.31's tunnel
//! (docs/exec.md, "port-forward"). kubelet is asked first, as kube-apiserver's TunnelingHandler
//! does, so its refusal reaches the client as an HTTP error, not as a closed WebSocket.

use axum::extract::ws::WebSocketUpgrade;
use axum::extract::{FromRequestParts, Path, Request, State};
use axum::http::{HeaderName, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use hyper_util::rt::TokioIo;

use super::exec::refused;
use super::{AppState, respond};
use crate::error::{Error, Result};
use crate::pods::portforward::{KubeletForward, parse_ports};
use crate::stream::portforward::{
    self, IDLE_TIMEOUT, MAX_MESSAGE, SWITCHED_HEADERS, TUNNEL_PREFIX, Wire,
};

/// `.../pods/{name}/portforward`.
pub(crate) async fn pod_portforward(
    State(state): State<AppState>,
    Path((namespace, name)): Path<(String, String)>,
    request: Request,
) -> Response {
    respond(connect(state, namespace, name, request).await)
}

async fn connect(
    state: AppState,
    namespace: String,
    name: String,
    request: Request,
) -> Result<Response> {
    let ports = parse_ports(request.uri().query())?;
    let wire = portforward::negotiate(request.headers()).map_err(refused)?;
    if let Wire::Tunnel { .. } = wire {
        // The WebSocket handshake is checked before kubelet is dialled.
        let (mut parts, _) = request.into_parts();
        let ws = WebSocketUpgrade::from_request_parts(&mut parts, &())
            .await
            .map_err(|r| Error::bad_request(r.body_text()))?;
        let kubelet = state
            .pods
            .portforward_open(&state.exec, &namespace, &name, &wire, &ports)
            .await?;
        tracing::info!(verb = "portforward", protocol = %wire, "stream session");
        return Ok(tunnel(ws, kubelet));
    }
    let kubelet = state
        .pods
        .portforward_open(&state.exec, &namespace, &name, &wire, &ports)
        .await?;
    tracing::info!(verb = "portforward", protocol = %wire, "stream session");
    Ok(pipe(request, kubelet))
}

/// Accepts the WebSocket naming kubelet's SPDY version behind the tunnel prefix, then carries
/// the SPDY bytes in binary messages.
fn tunnel(ws: WebSocketUpgrade, kubelet: KubeletForward) -> Response {
    let version = kubelet
        .switched
        .header("x-stream-protocol-version")
        .unwrap_or(portforward::PORTFORWARD);
    ws.protocols([format!("{TUNNEL_PREFIX}{version}")])
        .max_message_size(MAX_MESSAGE)
        .max_frame_size(MAX_MESSAGE)
        .on_upgrade(move |socket| async move {
            let KubeletForward {
                io, permit, slot, ..
            } = kubelet;
            portforward::tunnel(socket, io, IDLE_TIMEOUT).await;
            drop((permit, slot));
        })
}

/// Answers 101 with kubelet's upgrade headers and pipes the two connections once the
/// client's is upgraded.
fn pipe(mut request: Request, kubelet: KubeletForward) -> Response {
    let upgraded = hyper::upgrade::on(&mut request);
    let mut response = StatusCode::SWITCHING_PROTOCOLS.into_response();
    for (name, value) in &kubelet.switched.headers {
        if !SWITCHED_HEADERS.contains(&name.to_ascii_lowercase().as_str()) {
            continue;
        }
        if let (Ok(n), Ok(v)) = (
            HeaderName::from_bytes(name.as_bytes()),
            HeaderValue::from_str(value),
        ) {
            response.headers_mut().append(n, v);
        }
    }
    tokio::spawn(async move {
        let KubeletForward {
            io, permit, slot, ..
        } = kubelet;
        match upgraded.await {
            Ok(client) => portforward::pipe(TokioIo::new(client), io, IDLE_TIMEOUT).await,
            Err(e) => tracing::debug!(error = %e, "port-forward upgrade failed"),
        }
        drop((permit, slot));
    });
    response
}
