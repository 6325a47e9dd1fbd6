//! The stand-in's port-forward over WebSocket channels, as kubelet's websocket.go serves it
//! (the Python client's wire): the ports come from the `port` query (repeated or
//! comma-separated); port `i` has data channel `2i` and error channel `2i+1`, and the first
//! message on each is the port as two little-endian bytes. Each port gets one connection to
//! `localhost:PORT` (no network namespace: [`super::portforward`]); a refusal is written on
//! its error channel. The WebSocket closes when every port's connection has ended.

use std::sync::Arc;

use axum::extract::ws::{Message, WebSocket, WebSocketUpgrade};
use axum::extract::{FromRequestParts, Request};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use bytes::{BufMut, Bytes, BytesMut};
use futures_util::{SinkExt, StreamExt};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::sync::mpsc;

use super::SimNode;
use crate::stream::V4;

/// Ports one request may name (the channel is one byte).
const MAX_PORTS: usize = 64;

/// kubelet's `NewV4Options`: the `port` query, its words when it is missing or wrong.
fn ports(query: Option<&str>) -> Result<Vec<u16>, String> {
    let pairs: Vec<(String, String)> =
        serde_urlencoded::from_str(query.unwrap_or_default()).unwrap_or_default();
    let values: Vec<&String> = pairs
        .iter()
        .filter(|(n, _)| n == "port")
        .map(|(_, v)| v)
        .collect();
    if values.is_empty() {
        return Err("query parameter \"port\" is required".into());
    }
    let mut ports = Vec::new();
    for value in values {
        if value.is_empty() {
            return Err("query parameter \"port\" cannot be empty".into());
        }
        for p in value.split(',') {
            match p.parse::<u16>() {
                Ok(0) => return Err(format!("port {value:?} must be > 0")),
                Ok(port) => ports.push(port),
                Err(e) => return Err(format!("unable to parse {value:?} as a port: {e}")),
            }
        }
    }
    if ports.len() > MAX_PORTS {
        return Err(format!("at most {MAX_PORTS} ports"));
    }
    Ok(ports)
}

/// Serves one WebSocket port-forward request.
pub(super) async fn serve(node: Arc<SimNode>, request: Request) -> Response {
    let ports = match ports(request.uri().query()) {
        Ok(p) => p,
        Err(message) => return (StatusCode::BAD_REQUEST, message).into_response(),
    };
    let (mut parts, _) = request.into_parts();
    let ws = match WebSocketUpgrade::from_request_parts(&mut parts, &()).await {
        Ok(ws) => ws,
        Err(rejection) => return rejection.into_response(),
    };
    ws.protocols([V4])
        .on_upgrade(move |socket| channels(socket, node, ports))
}

fn message(channel: u8, data: &[u8]) -> Message {
    let mut m = BytesMut::with_capacity(1 + data.len());
    m.put_u8(channel);
    m.put_slice(data);
    Message::Binary(m.freeze())
}

async fn channels(socket: WebSocket, node: Arc<SimNode>, ports: Vec<u16>) {
    let (mut ws_tx, mut ws_rx) = socket.split();
    let (out_tx, mut out_rx) = mpsc::channel::<Message>(16);
    let writer = tokio::spawn(async move {
        while let Some(m) = out_rx.recv().await {
            if ws_tx.send(m).await.is_err() {
                return;
            }
        }
        let _ = ws_tx.send(Message::Close(None)).await;
    });
    let mut inbound = Vec::with_capacity(ports.len());
    let mut tasks = Vec::with_capacity(ports.len());
    for (i, port) in ports.iter().copied().enumerate() {
        let (tx, rx) = mpsc::channel::<Bytes>(16);
        inbound.push(tx);
        let data = (2 * i) as u8;
        let prefix = port.to_le_bytes();
        let _ = out_tx.send(message(data, &prefix)).await;
        let _ = out_tx.send(message(data + 1, &prefix)).await;
        tasks.push(tokio::spawn(one_port(
            node.clone(),
            port,
            data,
            rx,
            out_tx.clone(),
        )));
    }
    drop(out_tx);
    let reader = tokio::spawn(async move {
        while let Some(Ok(msg)) = ws_rx.next().await {
            let data = match msg {
                Message::Binary(d) => d,
                Message::Close(_) => break,
                _ => continue,
            };
            let Some((&channel, rest)) = data.split_first() else {
                continue;
            };
            // Only data channels carry anything towards the pod.
            if channel % 2 == 0 {
                if let Some(tx) = inbound.get(channel as usize / 2) {
                    let _ = tx.send(Bytes::copy_from_slice(rest)).await;
                }
            }
        }
    });
    for t in tasks {
        let _ = t.await;
    }
    reader.abort();
    let _ = writer.await;
}

async fn one_port(
    node: Arc<SimNode>,
    port: u16,
    channel: u8,
    mut inbound: mpsc::Receiver<Bytes>,
    out: mpsc::Sender<Message>,
) {
    let tcp = match super::portforward::dial(&node, port).await {
        Ok(tcp) => tcp,
        Err(words) => {
            let _ = out.send(message(channel + 1, words.as_bytes())).await;
            return;
        }
    };
    let (mut read, mut write) = tcp.into_split();
    let up = async move {
        while let Some(bytes) = inbound.recv().await {
            if write.write_all(&bytes).await.is_err() {
                break;
            }
        }
    };
    let down = async move {
        let mut buf = vec![0u8; 32 * 1024];
        while let Ok(n @ 1..) = read.read(&mut buf).await {
            if out.send(message(channel, &buf[..n])).await.is_err() {
                break;
            }
        }
    };
    // kubelet's PortForward returns when the pod's side closes.
    tokio::select! {
        () = down => {}
        () = up => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_port_query_is_read_with_kubelets_words() {
        assert_eq!(
            ports(Some("port=8080,80&port=443")).unwrap(),
            [8080, 80, 443]
        );
        assert_eq!(
            ports(None).unwrap_err(),
            "query parameter \"port\" is required"
        );
        assert!(
            ports(Some("port=x"))
                .unwrap_err()
                .contains("unable to parse \"x\"")
        );
        assert!(ports(Some("port=0")).unwrap_err().contains("must be > 0"));
    }
}
