//! port-forward's wires, as kube-apiserver proxies them (docs/exec.md, "port-forward"). Unlike
//! exec, nothing here is translated: kubelet speaks every framing a client asks for, so the
//! service forwards the client's upgrade to kubelet, answers with kubelet's choice, and then
//! copies bytes ([`pipe`]), as apimachinery's UpgradeAwareHandler does. Three wires:
//!
//! - [`Wire::Spdy`]: `Upgrade: SPDY/3.1` with `X-Stream-Protocol-Version: portforward.k8s.io`
//!   (kubectl before 1.31, and the fallback of later ones). After both 101s, SPDY flows
//!   unchanged: a data and an error stream per forwarded connection, each with the `port` and
//!   `requestID` headers, read by kubelet alone.
//! - [`Wire::Tunnel`]: WebSocket with the subprotocol `SPDY/3.1+portforward.k8s.io` (kubectl
//!   1.31 and later): the same SPDY bytes inside binary messages (client-go's
//!   TunnelingConnection writes one message per write). As kube-apiserver's TunnelingHandler
//!   does, the service upgrades kubelet to plain SPDY with the suffix as the version, and only
//!   then accepts the WebSocket, naming kubelet's version with the prefix back ([`tunnel`]).
//! - [`Wire::WebSocket`]: WebSocket channels (`v4.channel.k8s.io`; the Python client), one
//!   data and one error channel per port of the `ports` query, which kubelet serves itself:
//!   the client's handshake goes to kubelet, kubelet's `Sec-WebSocket-Accept` comes back.
//!
//! Bounded: header values forwarded are tokens ([`token`]) and at most [`MAX_VERSIONS`]; a
//! tunnel message is at most [`MAX_MESSAGE`] bytes; a pipe with no byte either way for
//! [`IDLE_TIMEOUT`] is closed.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use axum::extract::ws::{Message, WebSocket};
use axum::http::HeaderMap;
use bytes::Bytes;
use futures_util::stream::SplitSink;
use futures_util::{SinkExt, StreamExt};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::time::Instant;

use super::accept::AcceptError;

/// The SPDY protocol version of port-forward (`X-Stream-Protocol-Version`).
pub(crate) const PORTFORWARD: &str = "portforward.k8s.io";
/// What kubectl ≥ 1.31 puts before a SPDY version to ask for it inside WebSocket
/// (apimachinery's `WebsocketsSPDYTunnelingPrefix`).
pub(crate) const TUNNEL_PREFIX: &str = "SPDY/3.1+";
/// The largest tunnel message accepted: SPDY frames of Go's 32 KiB copies fit many times.
pub(crate) const MAX_MESSAGE: usize = super::MAX_MESSAGE;
/// Versions or subprotocols forwarded from one request.
pub(crate) const MAX_VERSIONS: usize = 8;
/// A pipe with no traffic either way for this long is closed (exec's bound).
pub(crate) const IDLE_TIMEOUT: Duration = super::ws::IDLE_TIMEOUT;
/// After one direction ends, how long the other may still drain.
const DRAIN: Duration = Duration::from_secs(5);

/// What the client asked for, with what is forwarded to kubelet.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Wire {
    /// SPDY/3.1 with these versions (kubelet picks).
    Spdy {
        /// `X-Stream-Protocol-Version` values, in the client's order.
        versions: Vec<String>,
    },
    /// SPDY inside WebSocket: the SPDY versions behind the prefix.
    Tunnel {
        /// The subprotocols without [`TUNNEL_PREFIX`].
        versions: Vec<String>,
    },
    /// WebSocket channels, served by kubelet.
    WebSocket {
        /// `Sec-WebSocket-Key`.
        key: String,
        /// `Sec-WebSocket-Version`.
        version: String,
        /// `Sec-WebSocket-Protocol` values, in the client's order.
        protocols: Vec<String>,
    },
}

impl std::fmt::Display for Wire {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Wire::Spdy { versions } => write!(f, "SPDY/3.1 {}", versions.join(",")),
            Wire::Tunnel { versions } => {
                write!(f, "WebSocket {TUNNEL_PREFIX}{}", versions.join(","))
            }
            Wire::WebSocket { protocols, .. } => write!(f, "WebSocket {}", protocols.join(",")),
        }
    }
}

/// Whether `value` may be forwarded as a header value: an HTTP token (with `/`, `+` and
/// `=` for versions and base64 keys), never CR or LF.
pub(crate) fn token(value: &str) -> bool {
    !value.is_empty()
        && value.len() <= 128
        && value
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"._-+/=".contains(&b))
}

/// The plain-token values of a comma-separated header, at most [`MAX_VERSIONS`].
fn listed(headers: &HeaderMap, name: &str) -> Vec<String> {
    super::accept::listed(headers, name)
        .into_iter()
        .filter(|p| token(p))
        .take(MAX_VERSIONS)
        .collect()
}

fn first(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .map(|v| v.trim().to_string())
        .filter(|v| token(v))
}

/// Reads the wire from the upgrade request. A WebSocket offering a `SPDY/3.1+…k8s.io`
/// subprotocol is a tunnel, as apimachinery's `IsWebSocketRequestWithTunnelingProtocol`.
pub(crate) fn negotiate(headers: &HeaderMap) -> Result<Wire, AcceptError> {
    let upgrade = first(headers, "upgrade")
        .unwrap_or_default()
        .to_ascii_lowercase();
    if upgrade == "websocket" {
        let protocols = listed(headers, "sec-websocket-protocol");
        let tunneled: Vec<String> = protocols
            .iter()
            .filter_map(|p| p.strip_prefix(TUNNEL_PREFIX))
            .filter(|p| p.ends_with(".k8s.io"))
            .map(str::to_string)
            .collect();
        if !tunneled.is_empty() {
            return Ok(Wire::Tunnel { versions: tunneled });
        }
        let (Some(key), Some(version)) = (
            first(headers, "sec-websocket-key"),
            first(headers, "sec-websocket-version"),
        ) else {
            return Err(AcceptError::NotUpgrade);
        };
        return Ok(Wire::WebSocket {
            key,
            version,
            protocols,
        });
    }
    if upgrade.starts_with("spdy/3.1") {
        let versions = listed(headers, "x-stream-protocol-version");
        if versions.is_empty() {
            return Err(AcceptError::NoProtocol {
                client: versions,
                server: vec![PORTFORWARD.to_string()],
            });
        }
        return Ok(Wire::Spdy { versions });
    }
    Err(AcceptError::NotUpgrade)
}

/// The request head asking kubelet for `wire` on `path_and_query`.
pub(crate) fn kubelet_head(wire: &Wire, host: &str, path_and_query: &str) -> String {
    let mut head = String::with_capacity(256);
    let spdy = |head: &mut String, versions: &[String]| {
        head.push_str(&format!(
            "POST {path_and_query} HTTP/1.1\r\nHost: {host}\r\nUser-Agent: k8sless\r\n\
             Content-Length: 0\r\nConnection: Upgrade\r\nUpgrade: SPDY/3.1\r\n"
        ));
        for v in versions {
            head.push_str(&format!("X-Stream-Protocol-Version: {v}\r\n"));
        }
    };
    match wire {
        Wire::Spdy { versions } | Wire::Tunnel { versions } => spdy(&mut head, versions),
        Wire::WebSocket {
            key,
            version,
            protocols,
        } => {
            head.push_str(&format!(
                "GET {path_and_query} HTTP/1.1\r\nHost: {host}\r\nUser-Agent: k8sless\r\n\
                 Connection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Key: {key}\r\n\
                 Sec-WebSocket-Version: {version}\r\n"
            ));
            if !protocols.is_empty() {
                head.push_str(&format!(
                    "Sec-WebSocket-Protocol: {}\r\n",
                    protocols.join(", ")
                ));
            }
        }
    }
    head.push_str("\r\n");
    head
}

/// The headers of kubelet's 101 the client gets back, for a raw pipe (SPDY or WebSocket):
/// the upgrade itself and what kubelet chose.
pub(crate) const SWITCHED_HEADERS: [&str; 5] = [
    "connection",
    "upgrade",
    "x-stream-protocol-version",
    "sec-websocket-accept",
    "sec-websocket-protocol",
];

/// When the pipe last carried a byte, for the idle bound.
#[derive(Debug)]
struct Activity {
    start: Instant,
    last_ms: AtomicU64,
}

impl Activity {
    fn new() -> Arc<Self> {
        Arc::new(Activity {
            start: Instant::now(),
            last_ms: AtomicU64::new(0),
        })
    }
    fn touch(&self) {
        let now = self.start.elapsed().as_millis() as u64;
        self.last_ms.store(now, Ordering::Relaxed);
    }
    fn idle(&self) -> Duration {
        let last = Duration::from_millis(self.last_ms.load(Ordering::Relaxed));
        self.start.elapsed().saturating_sub(last)
    }
    /// Resolves once nothing moved for `limit`.
    async fn expired(&self, limit: Duration) {
        loop {
            let idle = self.idle();
            if idle >= limit {
                return;
            }
            tokio::time::sleep(limit - idle).await;
        }
    }
}

/// Where one direction of a pipe delivers what it read: kubelet's or the client's byte stream
/// ([`Plain`]), or the client's WebSocket, a binary message a read ([`Messages`]). Its futures
/// are `Send` (spelled out, as an `async fn` in a trait would not promise it), so a direction
/// can be spawned whichever end it writes to.
trait Outlet: Send {
    /// Delivers `data`; `false` once the far end is gone.
    fn put(&mut self, data: &[u8]) -> impl Future<Output = bool> + Send;
    /// Ends the direction: shuts the write half down, or closes the WebSocket.
    fn finish(self) -> impl Future<Output = ()> + Send;
}

/// A byte stream's write half.
struct Plain<W>(W);

impl<W: AsyncWrite + Unpin + Send> Outlet for Plain<W> {
    async fn put(&mut self, data: &[u8]) -> bool {
        self.0.write_all(data).await.is_ok() && self.0.flush().await.is_ok()
    }
    async fn finish(mut self) {
        let _ = self.0.shutdown().await;
    }
}

/// A WebSocket's sending half: one binary message a read, a Close at the end.
struct Messages(SplitSink<WebSocket, Message>);

impl Outlet for Messages {
    async fn put(&mut self, data: &[u8]) -> bool {
        let msg = Message::Binary(Bytes::copy_from_slice(data));
        self.0.send(msg).await.is_ok()
    }
    async fn finish(mut self) {
        let _ = self.0.send(Message::Close(None)).await;
    }
}

/// The one read loop: copies what `from` yields to `to` until either end stops, marking
/// `activity` for the idle bound.
async fn copy<R, O>(mut from: R, mut to: O, activity: Arc<Activity>)
where
    R: AsyncRead + Unpin,
    O: Outlet,
{
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        match from.read(&mut buf).await {
            Ok(0) | Err(_) => break,
            Ok(n) => {
                activity.touch();
                if !to.put(&buf[..n]).await {
                    break;
                }
            }
        }
    }
    to.finish().await;
}

/// Copies bytes both ways between the client's upgraded connection and kubelet's until both
/// directions end (the other given [`DRAIN`] after the first) or nothing moves for `idle`.
pub(crate) async fn pipe<C, K>(client: C, kubelet: K, idle: Duration)
where
    C: AsyncRead + AsyncWrite + Send + 'static,
    K: AsyncRead + AsyncWrite + Send + 'static,
{
    let activity = Activity::new();
    let (client_r, client_w) = tokio::io::split(client);
    let (kubelet_r, kubelet_w) = tokio::io::split(kubelet);
    let up = tokio::spawn(copy(client_r, Plain(kubelet_w), activity.clone()));
    let down = tokio::spawn(copy(kubelet_r, Plain(client_w), activity.clone()));
    until_done(up, down, &activity, idle).await;
}

/// Carries kubelet's SPDY bytes inside the client's WebSocket: each binary message from the
/// client is written to kubelet, each read from kubelet goes out as one binary message. A
/// text message is a protocol error (client-go's TunnelingConnection refuses one too) and
/// ends the tunnel, as does either side closing or `idle` without traffic.
pub(crate) async fn tunnel<K>(socket: WebSocket, kubelet: K, idle: Duration)
where
    K: AsyncRead + AsyncWrite + Send + 'static,
{
    let activity = Activity::new();
    let (ws_tx, mut ws_rx) = socket.split();
    let (kubelet_r, kubelet_w) = tokio::io::split(kubelet);
    let up_activity = activity.clone();
    let up = tokio::spawn(async move {
        let mut to = Plain(kubelet_w);
        while let Some(Ok(msg)) = ws_rx.next().await {
            match msg {
                Message::Binary(data) => {
                    up_activity.touch();
                    if !to.put(&data).await {
                        break;
                    }
                }
                Message::Ping(_) | Message::Pong(_) => up_activity.touch(),
                Message::Text(_) | Message::Close(_) => break,
            }
        }
        to.finish().await;
    });
    let down = tokio::spawn(copy(kubelet_r, Messages(ws_tx), activity.clone()));
    until_done(up, down, &activity, idle).await;
}

/// Waits for one direction to end (then gives the other [`DRAIN`] to finish) or for `idle`
/// without traffic, then stops both.
async fn until_done(
    mut up: tokio::task::JoinHandle<()>,
    mut down: tokio::task::JoinHandle<()>,
    activity: &Activity,
    idle: Duration,
) {
    tokio::select! {
        _ = &mut up => { let _ = tokio::time::timeout(DRAIN, &mut down).await; }
        _ = &mut down => { let _ = tokio::time::timeout(DRAIN, &mut up).await; }
        () = activity.expired(idle) => {}
    }
    up.abort();
    down.abort();
}

#[cfg(test)]
#[path = "portforward_tests.rs"]
mod tests;
