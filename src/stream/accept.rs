//! The server's side of the upgrade: picks WebSocket (`Upgrade: websocket`, a subprotocol
//! from the caller's list) or SPDY/3.1 (`Upgrade: SPDY/3.1` with `X-Stream-Protocol-Version`
//! naming v4), answers 101, and once the connection is upgraded serves the session's client
//! side on the given [`Ends`] ([`super::ws::serve`] or [`super::spdy::serve`]).
//!
//! Negotiation follows apimachinery's httpstream.Handshake: the first version the client lists
//! that the server supports wins; none is a 403 naming both lists (as kubelet answers).

use axum::extract::FromRequestParts;
use axum::extract::Request;
use axum::extract::ws::WebSocketUpgrade;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use hyper_util::rt::TokioIo;

use super::{Ends, MAX_MESSAGE, StreamOptions, V4};

/// Why no upgrade was offered.
#[derive(Debug, thiserror::Error)]
pub(crate) enum AcceptError {
    /// Neither `Upgrade: websocket` nor `Upgrade: SPDY/3.1`.
    #[error("Upgrade request required")]
    NotUpgrade,
    /// No common protocol version (kubelet's wording).
    #[error(
        "unable to upgrade: unable to negotiate protocol: client supports {client:?}, server supports {server:?}"
    )]
    NoProtocol {
        /// What the client offered.
        client: Vec<String>,
        /// What this server speaks.
        server: Vec<String>,
    },
}

impl AcceptError {
    /// The status kubelet (and kube-apiserver) answer with.
    pub(crate) fn code(&self) -> StatusCode {
        match self {
            AcceptError::NotUpgrade => StatusCode::BAD_REQUEST,
            AcceptError::NoProtocol { .. } => StatusCode::FORBIDDEN,
        }
    }
}

/// Which protocol a request asks for, before anything is answered.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum Wire {
    /// A WebSocket subprotocol from the server's list.
    WebSocket(&'static str),
    /// SPDY/3.1 with v4.
    Spdy,
}

impl std::fmt::Display for Wire {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Wire::WebSocket(p) => write!(f, "WebSocket {p}"),
            Wire::Spdy => write!(f, "SPDY/3.1 {V4}"),
        }
    }
}

fn upgrade_token(headers: &HeaderMap) -> String {
    headers
        .get(header::UPGRADE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_ascii_lowercase()
}

/// The values of a header that lists them comma-separated (`Sec-WebSocket-Protocol`,
/// `X-Stream-Protocol-Version`), over all its lines.
pub(crate) fn listed(headers: &HeaderMap, name: &str) -> Vec<String> {
    headers
        .get_all(name)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(|p| p.trim().to_string())
        .filter(|p| !p.is_empty())
        .collect()
}

/// Chooses the protocol: WebSocket with one of `ws_protocols`, or SPDY with v4.
pub(crate) fn negotiate(
    headers: &HeaderMap,
    ws_protocols: &[&'static str],
) -> Result<Wire, AcceptError> {
    let token = upgrade_token(headers);
    let (client, server): (Vec<String>, Vec<&'static str>) = if token == "websocket" {
        (
            listed(headers, "sec-websocket-protocol"),
            ws_protocols.to_vec(),
        )
    } else if token.starts_with("spdy/3.1") {
        (listed(headers, "x-stream-protocol-version"), vec![V4])
    } else {
        return Err(AcceptError::NotUpgrade);
    };
    let chosen = client
        .iter()
        .find_map(|c| server.iter().find(|s| **s == c.as_str()).copied());
    match (chosen, token == "websocket") {
        (Some(p), true) => Ok(Wire::WebSocket(p)),
        (Some(_), false) => Ok(Wire::Spdy),
        (None, _) => Err(AcceptError::NoProtocol {
            client,
            server: server.into_iter().map(String::from).collect(),
        }),
    }
}

/// Answers 101 for `wire` and serves `ends` on the upgraded connection in a task of its own.
/// A connection that never upgrades drops `ends`, which ends the process side too.
pub(crate) async fn accept(
    request: Request,
    wire: Wire,
    opts: StreamOptions,
    ends: Ends,
) -> Response {
    match wire {
        Wire::WebSocket(protocol) => {
            let (mut parts, _) = request.into_parts();
            let ws = match WebSocketUpgrade::from_request_parts(&mut parts, &()).await {
                Ok(ws) => ws,
                Err(rejection) => return rejection.into_response(),
            };
            ws.protocols([protocol])
                .max_message_size(MAX_MESSAGE + 1)
                .max_frame_size(MAX_MESSAGE + 1)
                .on_upgrade(move |socket| super::ws::serve(socket, protocol, ends))
        }
        Wire::Spdy => {
            let mut request = request;
            let upgraded = hyper::upgrade::on(&mut request);
            tokio::spawn(async move {
                match upgraded.await {
                    Ok(io) => {
                        if let Err(e) = super::spdy::serve(TokioIo::new(io), opts, ends).await {
                            tracing::debug!(error = %crate::error::chain_of(&e), "SPDY session ended");
                        }
                    }
                    Err(e) => tracing::debug!(error = %e, "SPDY upgrade failed"),
                }
            });
            let mut response = StatusCode::SWITCHING_PROTOCOLS.into_response();
            let h = response.headers_mut();
            h.insert(header::CONNECTION, HeaderValue::from_static("Upgrade"));
            h.insert(header::UPGRADE, HeaderValue::from_static("SPDY/3.1"));
            h.insert("x-stream-protocol-version", HeaderValue::from_static(V4));
            response
        }
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// A request's headers from `(name, value)` pairs, repeated names kept in order.
    pub(crate) fn headers(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.append(*k, HeaderValue::from_static(v));
        }
        h
    }

    #[test]
    fn the_clients_first_supported_version_wins() {
        let ws = headers(&[
            ("upgrade", "websocket"),
            (
                "sec-websocket-protocol",
                "v5.channel.k8s.io, v4.channel.k8s.io",
            ),
        ]);
        assert_eq!(
            negotiate(&ws, &super::super::ws::PROTOCOLS).unwrap(),
            Wire::WebSocket("v5.channel.k8s.io")
        );
        // kubelet speaks WebSocket only up to v4.
        assert_eq!(negotiate(&ws, &[V4]).unwrap(), Wire::WebSocket(V4));
        let spdy = headers(&[
            ("upgrade", "SPDY/3.1"),
            ("x-stream-protocol-version", "v5.channel.k8s.io"),
            ("x-stream-protocol-version", "v4.channel.k8s.io"),
        ]);
        assert_eq!(negotiate(&spdy, &[V4]).unwrap(), Wire::Spdy);
    }

    #[test]
    fn no_common_version_is_refused_with_both_lists() {
        let old = headers(&[
            ("upgrade", "SPDY/3.1"),
            ("x-stream-protocol-version", "v3.channel.k8s.io"),
        ]);
        let err = negotiate(&old, &[V4]).unwrap_err();
        assert_eq!(err.code(), StatusCode::FORBIDDEN);
        assert!(
            err.to_string()
                .contains("client supports [\"v3.channel.k8s.io\"]"),
            "{err}"
        );
        assert!(matches!(
            negotiate(&HeaderMap::new(), &[V4]),
            Err(AcceptError::NotUpgrade)
        ));
    }
}
