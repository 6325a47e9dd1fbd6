//! The stand-in's `/portForward/{namespace}/{pod}`, over kubelet's two framings: SPDY/3.1
//! with `portforward.k8s.io` (here) and WebSocket channels `v4.channel.k8s.io` with `?port=`
//! ([`super::portforward_ws`]).
//!
//! Over SPDY, as kubelet's streaming server (k8s.io/kubelet/pkg/cri/streaming/portforward,
//! httpstream.go): the client opens an `error` and a `data` stream per forwarded connection,
//! both with the headers `port` and `requestID`; once a pair is complete the stand-in
//! connects, and copies the data stream to and from that connection; when nothing listens it
//! writes the runtime's message on the error stream, as containerd words it (`failed to
//! connect to localhost:PORT inside namespace ...`), behind kubelet's `error forwarding port
//! PORT to pod ...`. Both streams end with FIN.
//!
//! **No network namespace.** A real pod's ports are in its sandbox's network namespace; the
//! stand-in's processes share the host's, so `localhost:PORT` is the test machine's loopback
//! (127.0.0.1, then ::1, as containerd tries tcp4 then tcp6). A test starts its listener there.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::{Path, Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::any;
use bytes::Bytes;
use hyper_util::rt::TokioIo;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use super::SimNode;
use crate::stream::portforward::PORTFORWARD;
use crate::stream::spdy::conn::{Accepted, Connection, Role};
use crate::stream::spdy::headers::header as spdy_header;

/// Open streams one connection may hold (two per forwarded connection).
const MAX_STREAMS: usize = 256;
/// Pairs waiting for their second stream.
const MAX_PENDING: usize = 128;
/// How long a pair may wait for its second stream (kubelet's stream creation timeout).
const PAIR_TIMEOUT: Duration = Duration::from_secs(30);
/// After one direction of a forwarded connection ends, how long the other may (containerd: 1 s).
const LINGER: Duration = Duration::from_secs(1);

/// kubelet's port-forward path, merged into the stand-in's routes.
pub(super) fn routes() -> Router<Arc<SimNode>> {
    Router::new().route("/portForward/{namespace}/{pod}", any(portforward))
}

async fn portforward(
    State(node): State<Arc<SimNode>>,
    Path((namespace, pod)): Path<(String, String)>,
    request: Request,
) -> Response {
    if namespace != node.namespace || pod != node.pod {
        return (
            StatusCode::NOT_FOUND,
            format!("pod not found (\"{namespace}/{pod}\")"),
        )
            .into_response();
    }
    let upgrade = request
        .headers()
        .get(header::UPGRADE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_ascii_lowercase();
    if upgrade == "websocket" {
        return super::portforward_ws::serve(node, request).await;
    }
    let offered: Vec<String> = request
        .headers()
        .get_all("x-stream-protocol-version")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(|v| v.trim().to_string())
        .collect();
    if !upgrade.starts_with("spdy/3.1") {
        return (StatusCode::BAD_REQUEST, "Upgrade request required").into_response();
    }
    if !offered.iter().any(|v| v == PORTFORWARD) {
        // apimachinery's httpstream.Handshake.
        let message = format!(
            "unable to upgrade: unable to negotiate protocol: client supports {offered:?}, server supports [\"{PORTFORWARD}\"]"
        );
        return (StatusCode::FORBIDDEN, message).into_response();
    }
    let mut request = request;
    let upgraded = hyper::upgrade::on(&mut request);
    tokio::spawn(async move {
        if let Ok(io) = upgraded.await {
            serve_spdy(TokioIo::new(io), node).await;
        }
    });
    let mut response = StatusCode::SWITCHING_PROTOCOLS.into_response();
    let h = response.headers_mut();
    h.insert(header::CONNECTION, HeaderValue::from_static("Upgrade"));
    h.insert(header::UPGRADE, HeaderValue::from_static("SPDY/3.1"));
    h.insert(
        "x-stream-protocol-version",
        HeaderValue::from_static(PORTFORWARD),
    );
    response
}

/// The two streams of one forwarded connection.
#[derive(Default)]
struct Pair {
    data: Option<Accepted>,
    error: Option<Accepted>,
    since: Option<tokio::time::Instant>,
}

/// Why a stream was refused (httpstream.go's httpStreamReceived).
fn check(stream: &Accepted) -> Result<(u16, bool), String> {
    let port = spdy_header(&stream.headers, "port").ok_or("\"port\" header is required")?;
    let port: u16 = port
        .parse()
        .map_err(|e| format!("unable to parse {port:?} as a port: {e}"))?;
    if port == 0 {
        return Err("port \"0\" must be > 0".into());
    }
    match spdy_header(&stream.headers, "streamtype") {
        Some("data") => Ok((port, true)),
        Some("error") => Ok((port, false)),
        Some(other) => Err(format!("invalid stream type {other:?}")),
        None => Err("\"streamType\" header is required".into()),
    }
}

async fn serve_spdy<IO>(io: IO, node: Arc<SimNode>)
where
    IO: tokio::io::AsyncRead + tokio::io::AsyncWrite + Send + 'static,
{
    let Ok(mut conn) = Connection::start_with(io, Role::Server, MAX_STREAMS) else {
        return;
    };
    let mut pairs: HashMap<String, Pair> = HashMap::new();
    while let Some(stream) = conn.accept().await {
        let now = tokio::time::Instant::now();
        pairs.retain(|_, p| p.since.is_none_or(|t| now - t < PAIR_TIMEOUT));
        let Ok((port, data)) = check(&stream) else {
            conn.reset(&stream.tx).await;
            continue;
        };
        let id = spdy_header(&stream.headers, "requestid")
            .unwrap_or_default()
            .to_string();
        if !pairs.contains_key(&id) && pairs.len() >= MAX_PENDING {
            conn.reset(&stream.tx).await;
            continue;
        }
        let pair = pairs.entry(id.clone()).or_default();
        pair.since.get_or_insert(now);
        let slot = if data {
            &mut pair.data
        } else {
            &mut pair.error
        };
        if slot.is_some() {
            conn.reset(&stream.tx).await;
            continue;
        }
        *slot = Some(stream);
        if pair.data.is_some() && pair.error.is_some() {
            if let Some(Pair {
                data: Some(d),
                error: Some(e),
                ..
            }) = pairs.remove(&id)
            {
                tokio::spawn(forward(node.clone(), port, d, e));
            }
        }
    }
}

/// What containerd and kubelet write on the error stream when `localhost:port` refuses.
pub(super) async fn dial(node: &SimNode, port: u16) -> Result<TcpStream, String> {
    let v4 = TcpStream::connect(("127.0.0.1", port)).await;
    let v4_err = match v4 {
        Ok(tcp) => return Ok(tcp),
        Err(e) => e,
    };
    let v6_err = match TcpStream::connect(("::1", port)).await {
        Ok(tcp) => return Ok(tcp),
        Err(e) => e,
    };
    let sandbox = &node.vm;
    Err(format!(
        "error forwarding port {port} to pod {sandbox}, uid : failed to execute portforward in network namespace \
         \"/var/run/netns/cni-{sandbox}\": failed to connect to localhost:{port} inside namespace \"{sandbox}\", \
         IPv4: dial tcp4 127.0.0.1:{port}: {} IPv6 dial tcp6 [::1]:{port}: {} ",
        go_words(&v4_err),
        go_words(&v6_err)
    ))
}

/// Go's words for a failed dial (`connect: connection refused`).
fn go_words(e: &std::io::Error) -> String {
    match e.kind() {
        std::io::ErrorKind::ConnectionRefused => "connect: connection refused".into(),
        _ => format!("connect: {e}"),
    }
}

async fn forward(node: Arc<SimNode>, port: u16, data: Accepted, error: Accepted) {
    match dial(&node, port).await {
        Err(message) => {
            let _ = error.tx.send(Bytes::from(message)).await;
            let _ = data.tx.finish().await;
        }
        Ok(tcp) => {
            let _ = tcp.set_nodelay(true);
            let (mut read, mut write) = tcp.into_split();
            let Accepted { tx, mut rx, .. } = data;
            let tx_down = tx.clone();
            let mut up = tokio::spawn(async move {
                while let Some(bytes) = rx.recv().await {
                    if write.write_all(&bytes).await.is_err() {
                        break;
                    }
                }
                let _ = write.shutdown().await;
            });
            let mut down = tokio::spawn(async move {
                let mut buf = vec![0u8; 32 * 1024];
                while let Ok(n @ 1..) = read.read(&mut buf).await {
                    if tx_down
                        .send(Bytes::copy_from_slice(&buf[..n]))
                        .await
                        .is_err()
                    {
                        break;
                    }
                }
            });
            // containerd: the first direction to end, then at most a second for the other.
            tokio::select! {
                _ = &mut up => { let _ = tokio::time::timeout(LINGER, &mut down).await; }
                _ = &mut down => { let _ = tokio::time::timeout(LINGER, &mut up).await; }
            }
            up.abort();
            down.abort();
            let _ = tx.finish().await;
        }
    }
    let _ = error.tx.finish().await;
}
